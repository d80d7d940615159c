"""Exported models on disk, loaded and kept current as TF Serving does.

A model is a base path holding integer version folders (SavedModels). Its
version policy (TF Serving's `model_version_policy`; default: the latest
one version) names the versions that should be served: the *aspired*
versions. `poll()` compares them with what is loaded and acts as TF
Serving's default `AvailabilityPreservingPolicy`:

- a loaded version that is no longer aspired (superseded, or deleted from
  disk) is unloaded once an aspired version is available, or at once when
  no version is aspired at all (every folder deleted);
- otherwise the highest aspired version not yet tried is loaded: through the
  session path (`SavedModelBundle`), then its warm-up requests are replayed;
  only then is it served.

So a broken new version never replaces the one being served. As in TF
Serving, a load that fails is tried again `max_load_retries` times,
`load_retry_seconds` apart (TF Serving's --max_num_load_retries and
--load_retry_interval_micros), then the version ends with its error in the
model status and the old version stays; it is not tried again while it stays
aspired, and is forgotten when it stops being aspired (a folder written
again under a new number loads). States are TF Serving's
`ModelVersionStatus` states (LOADING, AVAILABLE, UNLOADING, END), reported
by `status()`.

`version_labels` (a models.config's label -> version map) name versions
for requests, with TF Serving's rule (server_core.cc): a label may point
only at an AVAILABLE version, except that with
`allow_labels_for_unavailable` a label not yet assigned (or assigned to the
same version) may point at any version. `reload()` replaces the models and
labels, as TF Serving's ReloadConfig.
"""

import dataclasses
import logging
import threading
import time

import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import file_system_storage_path_source_pb2
from tensorflow_serving.config import model_server_config_pb2

from amr_tf.model_server.batching import BatchingSession
from amr_tf.tfserving.bundle import LoadError
from amr_tf.tfserving.bundle import SavedModelBundle
from amr_tf.tfserving.version_folders import list_versions
from amr_tf.tfserving.version_folders import version_path
from amr_tf.tfserving.warmup import load_version

_LOG = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State
VersionPolicy = (file_system_storage_path_source_pb2
                 .FileSystemStoragePathSourceConfig.ServableVersionPolicy)


@dataclasses.dataclass(frozen=True)
class Servable:
    """One loaded, warmed-up version of a model.

    Attributes:
        name: model name clients ask for.
        version: integer version (the folder name).
        bundle: its `SavedModelBundle`; `bundle.signature_defs` are what
            GetModelMetadata returns.
    """

    name: str
    version: int
    bundle: SavedModelBundle


# TF Serving's defaults of --max_num_load_retries and
# --load_retry_interval_micros (one minute).
MAX_LOAD_RETRIES = 5
LOAD_RETRY_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """A model to serve: its name, base path, version policy and version
    labels (label -> version)."""

    name: str
    base_path: str
    version_policy: VersionPolicy = dataclasses.field(
        default_factory=VersionPolicy)
    version_labels: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """The state of one version, and the error it ended with (or "")."""

    version: int
    state: int
    error: str = ""

    def to_proto(self):
        """As a `ModelVersionStatus` (error code UNKNOWN when it failed)."""
        proto = get_model_status_pb2.ModelVersionStatus(
            version=self.version, state=self.state)
        proto.status.error_code = (error_codes_pb2.UNKNOWN if self.error
                                   else error_codes_pb2.OK)
        proto.status.error_message = self.error
        return proto


def aspired_versions(policy, on_disk):
    """The versions `policy` serves out of the sorted versions `on_disk`."""
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(on_disk)
    if choice == "specific":
        return set(policy.specific.versions) & set(on_disk)
    num_versions = policy.latest.num_versions or 1
    return set(on_disk[-num_versions:])


def sources_from_config(config):
    """The `ModelSource`s of a `ModelServerConfig`."""
    return [ModelSource(model.name, model.base_path, model.model_version_policy,
                        dict(model.version_labels))
            for model in config.model_config_list.config]


def sources_from_config_file(path):
    """The `ModelSource`s of a TF Serving `models.config` text proto."""
    config = model_server_config_pb2.ModelServerConfig()
    with tf.io.gfile.GFile(path) as stream:
        text_format.Parse(stream.read(), config)
    return sources_from_config(config)


class ModelRepository:
    """Thread-safe map of model name -> the versions it serves.

    Args:
        sources: the `ModelSource`s to serve.
        max_batch_size: largest batch of a request (warm-up included).
        max_load_retries: loads tried again after a version fails to load
            (0: none; amr-serve's flag defaults to TF Serving's 5).
        load_retry_seconds: seconds between those tries.
        allow_labels_for_unavailable: TF Serving's
            --allow_version_labels_for_unavailable_models.
        on_change: called (no arguments) after a version changes state.
        batching: `BatchingParameters` of TF Serving's session-level
            batching (`BatchingSession`) around each loaded version, or None.

    Raises:
        ValueError: a model has no loadable version at start-up, or a label
            points at a version that is not available.
    """

    def __init__(self, sources, max_batch_size=1024, max_load_retries=0,
                 load_retry_seconds=LOAD_RETRY_SECONDS,
                 allow_labels_for_unavailable=False, on_change=None,
                 batching=None):
        self._max_batch_size = max_batch_size
        self._batching = batching
        self._max_load_retries = max_load_retries
        self._load_retry_seconds = load_retry_seconds
        self._allow_labels_for_unavailable = allow_labels_for_unavailable
        self._on_change = on_change or (lambda: None)
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._sources = {}
        self._labels = {}  # name -> {label: version}
        self._ready = {}  # name -> {version: Servable}
        self._statuses = {}  # name -> {version: VersionStatus}
        self._failed = {}  # name -> versions aspired that failed
        self.reload(sources)
        missing = sorted(name for name, ready in self._ready.items() if not ready)
        if missing:
            raise ValueError(
                "no loadable version for model(s) "
                + ", ".join(f"{name} under {self._sources[name].base_path}"
                            for name in missing))

    def reload(self, sources):
        """Serves `sources` instead of the models served now: new models
        load, models left out unload, labels are replaced (checked against
        the versions available before the new models load, as TF Serving
        does). Returns once every model has converged.

        Raises:
            ValueError: a label points at a version that is not available
                (nothing is changed then).
        """
        sources = {source.name: source for source in sources}
        with self._poll_lock:
            labels = self._checked_labels(sources)
            for name in sorted(set(self._sources) - set(sources)):
                for version in sorted(self._ready[name]):
                    self._unload(name, version)
                self._failed[name].clear()  # Tried afresh if it comes back.
            with self._lock:
                for name in sources:
                    self._ready.setdefault(name, {})
                    self._statuses.setdefault(name, {})
                    self._failed.setdefault(name, set())
                self._sources = sources
                self._labels = labels
            self._poll_locked()

    def _checked_labels(self, sources):
        """name -> {label: version} of `sources`, by TF Serving's rule."""
        labels = {}
        for name, source in sources.items():
            for label, version in sorted(source.version_labels.items()):
                assigned = self._labels.get(name, {}).get(label, version)
                allowed = (self._allow_labels_for_unavailable
                           and assigned == version)
                if not allowed and version not in self._ready.get(name, {}):
                    raise ValueError(
                        f"Request to assign label to version {version} of "
                        f"model {name}, which is not currently available for "
                        "inference")
                labels.setdefault(name, {})[label] = version
        return labels

    @property
    def model_names(self):
        return sorted(self._sources)

    @property
    def max_batch_size(self):
        return self._max_batch_size

    def poll(self):
        """Brings every model in line with its aspired versions.

        Returns:
            The (name, version) pairs that became available, in order.
        """
        with self._poll_lock:
            return self._poll_locked()

    def _poll_locked(self):
        changed = []
        for name, source in self._sources.items():
            aspired = aspired_versions(source.version_policy,
                                       list_versions(source.base_path))
            changed += [(name, version)
                        for version in self._converge(name, aspired)]
        return changed

    def _converge(self, name, aspired):
        """Unloads and loads versions of `name` until nothing is left to do;
        returns the versions loaded."""
        ready = self._ready[name]
        failed = self._failed[name]
        loaded = []
        while True:
            unaspired = sorted(version for version in ready
                               if version not in aspired)
            aspired_ready = any(version in aspired for version in ready)
            if unaspired and (not aspired or aspired_ready or len(unaspired) > 1):
                self._unload(name, unaspired[0])
                continue
            untried = sorted(aspired - set(ready) - failed)
            if not untried:
                break
            if self._load(name, untried[-1]):
                loaded.append(untried[-1])
            else:
                failed.add(untried[-1])
        failed &= aspired  # Forgotten once no longer aspired.
        return loaded

    def _set_status(self, name, status):
        with self._lock:
            self._statuses[name][status.version] = status
        self._on_change()

    def _load(self, name, version):
        path = version_path(self._sources[name].base_path, version)
        self._set_status(name, VersionStatus(version, State.LOADING))
        for retry in range(self._max_load_retries + 1):
            if retry:
                time.sleep(self._load_retry_seconds)
            try:
                bundle = load_version(path, self._max_batch_size)
                break
            except LoadError as error:
                message = str(error)
                _LOG.error("model %s version %d failed to load (try %d of %d): "
                           "%s", name, version, retry + 1,
                           self._max_load_retries + 1, message)
        else:
            self._set_status(name, VersionStatus(version, State.END, message))
            return False
        if self._batching:
            bundle = BatchingSession(bundle, self._batching)
        with self._lock:
            self._ready[name][version] = Servable(name, version, bundle)
            self._statuses[name][version] = VersionStatus(version, State.AVAILABLE)
        self._on_change()
        _LOG.info("serving model %s version %d", name, version)
        return True

    def _unload(self, name, version):
        # Requests in flight keep their `Servable`; its session closes when
        # the last of them lets go of it.
        self._set_status(name, VersionStatus(version, State.UNLOADING))
        with self._lock:
            del self._ready[name][version]
            self._statuses[name][version] = VersionStatus(version, State.END)
        self._on_change()
        _LOG.info("unloaded model %s version %d", name, version)

    def serving(self, name):
        """Whether model `name` is configured and has an available version."""
        with self._lock:
            return name in self._sources and bool(self._ready.get(name))

    def label_version(self, name, label):
        """The version `label` names for model `name`.

        Raises:
            ValueError: no such label, with TF Serving's message.
        """
        with self._lock:
            version = self._labels.get(name, {}).get(label)
        if version is None:
            raise ValueError(f"Unrecognized servable version label: {label}")
        return version

    def get(self, name, version=None):
        """The `Servable` for `name`: its newest available version, or
        `version`.

        Raises:
            KeyError: unknown model or version not available, with TF
                Serving's message.
        """
        with self._lock:
            ready = self._ready.get(name, {})
            if version is None:
                if not ready:
                    raise KeyError(f"Servable not found for request: Latest({name})")
                return ready[max(ready)]
            if version not in ready:
                raise KeyError(
                    f"Servable not found for request: Specific({name}, {version})")
            return ready[version]

    def status(self, name, version=None):
        """The `VersionStatus`es of `name` (every version it has seen, newest
        first), or of one version.

        Raises:
            KeyError: unknown model or version, with TF Serving's message.
        """
        with self._lock:
            statuses = self._statuses.get(name)
            if not statuses:
                raise KeyError(f"Could not find any versions of model {name}")
            if version is None:
                return [statuses[v] for v in sorted(statuses, reverse=True)]
            if version not in statuses:
                raise KeyError(f"Could not find version {version} of model {name}")
            return [statuses[version]]
