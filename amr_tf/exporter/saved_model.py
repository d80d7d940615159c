"""Writing a trained model as a TF Serving SavedModel version folder.

    <export_base>/<version>/saved_model.pb
                           /variables/
                           /assets/amr_metadata.json
                           /assets.extra/tf_serving_warmup_requests

The folder appears atomically: the SavedModel is written into a hidden
staging folder beside it, loaded back the way TF Serving loads it (session
restore, then every warm-up request, one per signature), then renamed into
place. TF Serving loads only folders with integer names, so a crash or a
failed check at any point leaves nothing it would try to serve.
"""

import dataclasses
import json
import os
import tempfile
import uuid

import tensorflow as tf

from amr_tf.core.errors import UsageError
from amr_tf.core.errors import WriteError
from amr_tf.core.errors import write_failure_reason
from amr_tf.exporter.signatures import ServingModule
from amr_tf.tfserving import batching_parameters
from amr_tf.tfserving import warmup
from amr_tf.tfserving.bundle import read_signature_defs
from amr_tf.tfserving.metadata import METADATA_ASSET
from amr_tf.tfserving.metadata import METADATA_FORMAT
from amr_tf.tfserving.version_folders import version_path

# The in-graph batcher's settings of every export (TF Serving's text format;
# export/batching_parameters.txt links here).
BATCHING_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "batching_parameters.txt")
DEFAULT_BATCHING = batching_parameters.read(BATCHING_FILE)


def model_metadata(module, config, info, version, training_step,
                   flag_text=""):
    """What a client needs to know about an export, as a JSON-able dict."""
    return {
        "format": METADATA_FORMAT,
        "version": version,
        "training_step": training_step,
        "dataset": info.name,
        "input_shape": list(info.input_shape),
        "latent_shape": list(config.arch.latent_shape(info.input_shape)),
        "value_range": [-1.0, 1.0],
        "attribute_names": list(info.attribute_names),
        "objective": config.objective,
        "mixer": module.mixer.name,
        "signatures": sorted(module.signatures()),
        "batching": (dataclasses.asdict(module.batching)
                     if module.batching else None),
        "flags": flag_text,
    }


def export_saved_model(model, config, info, export_base, version=None,
                       flag_text="", batching=DEFAULT_BATCHING):
    """Exports `model`'s serving signatures as `<export_base>/<version>`.

    Args:
        model: a trained `AdversarialAutoencoder`.
        config: its `TrainConfig`.
        info: its dataset's `DatasetInfo`.
        export_base: the model base path TF Serving watches.
        version: integer version; default the training step.
        flag_text: the run's flags, stored in the metadata.
        batching: the in-graph batcher's `BatchingParameters` (default:
            `BATCHING_FILE`), or None to run each request on its own.

    Returns:
        The path of the new version folder.

    Raises:
        UsageError: the version is not a positive integer or already exists
            (versions are immutable; existing ones are never touched).
    """
    if version is None:
        version = model.completed_iterations()
    if not isinstance(version, int) or version < 1:
        raise UsageError(f"export version must be a positive integer, got {version!r}")
    final_path = version_path(export_base, version)
    if tf.io.gfile.exists(final_path):
        raise UsageError(f"{final_path} already exists: export versions are "
                         "immutable, pass another --export_version")
    tf.io.gfile.makedirs(export_base)
    staging_path = os.path.join(export_base, f".{version}.staging-{uuid.uuid4().hex}")
    module = ServingModule(model, info.input_shape,
                           config.arch.latent_shape(info.input_shape), batching)
    metadata = model_metadata(module, config, info, version,
                              model.completed_iterations(), flag_text)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            metadata_file = os.path.join(scratch, METADATA_ASSET)
            with open(metadata_file, "w") as stream:
                json.dump(metadata, stream, indent=2)
            module.metadata = tf.saved_model.Asset(metadata_file)
            tf.saved_model.save(module, staging_path,
                                signatures=module.signatures())
        _write_warmup_file(staging_path)
        warmup.load_version(staging_path, max_batch_size=1).close()
        tf.io.gfile.rename(staging_path, final_path)
    except (OSError, tf.errors.OpError) as error:
        _remove(staging_path)
        raise WriteError(
            f"cannot write export {final_path}: "
            f"{write_failure_reason(error)}; the versions already in "
            f"{export_base} are unchanged") from error
    except BaseException:
        _remove(staging_path)
        raise
    return final_path


def _write_warmup_file(path):
    """Writes one warm-up request per signature of the SavedModel at `path`."""
    warmup.write_warmup_file(
        path, warmup.warmup_requests(read_signature_defs(path)))


def _remove(path):
    if tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)
