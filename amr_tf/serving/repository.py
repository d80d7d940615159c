"""Exported models on disk, loaded and kept current like TF Serving does.

A model is a base path holding integer version folders (SavedModels). The
newest loadable version is served by default; older ones load on request.
`poll()` picks up a new version folder without a restart; a version that
fails to load is reported and never replaces the one being served.
"""

import dataclasses
import os
import threading

import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import saved_model_pb2


@dataclasses.dataclass(frozen=True)
class Servable:
    """One loaded version of a model.

    Attributes:
        name: model name clients ask for.
        version: integer version (the folder name).
        signatures: signature name -> concrete function.
        signature_defs: signature name -> `SignatureDef` proto, as the
            SavedModel stores them (what GetModelMetadata returns).
    """

    name: str
    version: int
    signatures: dict
    signature_defs: dict


def list_versions(base_path):
    """Integer version folders under `base_path`, ascending; [] if none."""
    if not tf.io.gfile.isdir(base_path):
        return []
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(base_path))
    return sorted(int(name) for name in names if name.isdigit())


def load_servable(name, base_path, version):
    """Loads `<base_path>/<version>` as a `Servable`."""
    path = os.path.join(base_path, str(version))
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(path, "saved_model.pb"), "rb") as stream:
        proto.ParseFromString(stream.read())
    serve_graphs = [graph for graph in proto.meta_graphs
                    if "serve" in graph.meta_info_def.tags]
    if not serve_graphs:
        raise ValueError(f"{path} has no 'serve' meta graph")
    loaded = tf.saved_model.load(path, tags=["serve"])
    return Servable(name, version, dict(loaded.signatures),
                    dict(serve_graphs[0].signature_def))


class ModelRepository:
    """Thread-safe map of model name -> served versions.

    Args:
        base_paths: model name -> base path.

    Raises:
        ValueError: a model has no loadable version at start-up.
    """

    def __init__(self, base_paths):
        self._base_paths = dict(base_paths)
        self._lock = threading.Lock()
        self._latest = {}     # name -> Servable being served by default.
        self._versions = {}   # (name, version) -> Servable.
        self._failed = set()  # (name, version) that did not load.
        self.poll()
        missing = sorted(set(self._base_paths) - set(self._latest))
        if missing:
            raise ValueError(
                "no loadable version for model(s) "
                + ", ".join(f"{name} under {self._base_paths[name]}"
                            for name in missing))

    @property
    def model_names(self):
        return sorted(self._base_paths)

    def poll(self):
        """Loads any version newer than the one served; returns what changed
        as a list of (name, version) newly served."""
        changed = []
        for name, base_path in self._base_paths.items():
            current = self._latest.get(name)
            for version in reversed(list_versions(base_path)):
                if current is not None and version <= current.version:
                    break
                if (name, version) in self._failed:
                    continue
                servable = self._try_load(name, base_path, version)
                if servable is not None:
                    with self._lock:
                        self._latest[name] = servable
                        self._versions[(name, version)] = servable
                    changed.append((name, version))
                    break
        return changed

    def _try_load(self, name, base_path, version):
        try:
            servable = load_servable(name, base_path, version)
        except Exception as error:  # A broken export must not stop serving.
            logging.error("model %s version %d failed to load, not served: %s",
                          name, version, error)
            self._failed.add((name, version))
            return None
        logging.info("serving model %s version %d", name, version)
        return servable

    def get(self, name, version=None):
        """The `Servable` for `name` (the newest, or `version`).

        Raises:
            KeyError: unknown model or version, with a message for the client.
        """
        if name not in self._base_paths:
            raise KeyError(f"Servable not found for request: Latest({name})")
        if version is None:
            with self._lock:
                return self._latest[name]
        with self._lock:
            servable = self._versions.get((name, version))
        if servable is not None:
            return servable
        if (version not in list_versions(self._base_paths[name])
                or (name, version) in self._failed):
            raise KeyError(
                f"Servable not found for request: Specific({name}, {version})")
        servable = self._try_load(name, self._base_paths[name], version)
        if servable is None:
            raise KeyError(
                f"Servable not found for request: Specific({name}, {version})")
        with self._lock:
            self._versions[(name, version)] = servable
        return servable
