"""TF Serving's warm-up file: requests replayed before a version goes live.

Each export writes `assets.extra/tf_serving_warmup_requests`, a TFRecord file
of `PredictionLog` protos holding one `PredictRequest` per signature (batch
1, every value valid). TF Serving runs them before it serves the version and
refuses the version if one fails; `amr_tf.model_server.repository` does the same,
so a version that cannot answer its own signatures never goes live, and the
first real request does not pay for graph initialisation.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from amr_tf.tfserving import contract
from amr_tf.tfserving.bundle import LoadError
from amr_tf.tfserving.bundle import SavedModelBundle
from amr_tf.tfserving.predict import PREDICT_METHOD_NAME
from amr_tf.tfserving.predict import RequestError
from amr_tf.tfserving.predict import predict

# TF Serving reads at most this many warm-up records.
MAX_RECORDS = 1000


def warmup_requests(signature_defs):
    """One valid batch-1 `PredictRequest` per predict signature, by name.

    Inputs take their declared shape with the batch axis 1; `alpha`, `mask`
    and `selector` are 0.5, string inputs (encoded images) `WARMUP_IMAGE`,
    everything else 0 (a valid image and latent).
    """
    requests = []
    for name in sorted(signature_defs):
        if signature_defs[name].method_name != PREDICT_METHOD_NAME:
            continue
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = name
        for key, info in signature_defs[name].inputs.items():
            shape = [max(dim.size, 1) for dim in info.tensor_shape.dim]
            dtype = tf.dtypes.as_dtype(info.dtype)
            if dtype == tf.string:
                value = np.empty(shape, object)
                value.fill(warmup_image())  # np.full would strip NULs.
            else:
                value = np.full(shape, 0.5 if key in contract.UNIT_INTERVAL_INPUTS
                                else 0.0, dtype.as_numpy_dtype)
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        requests.append(request)
    return requests


def warmup_image():
    """The encoded image of the warm-up requests: a 64 x 64 gray RGB PNG
    (its crop to any aspect ratio up to 64:1 is not empty)."""
    return tf.io.encode_png(tf.fill([64, 64, 3], tf.constant(128, tf.uint8))
                            ).numpy()


def write_warmup_file(export_dir, requests):
    """Writes `requests` as the warm-up file of the version at `export_dir`."""
    path = os.path.join(export_dir, contract.WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog()
            log.predict_log.request.CopyFrom(request)
            writer.write(log.SerializeToString())


def read_warmup_file(export_dir):
    """The `PredictRequest`s of a version's warm-up file; [] without one.

    Raises:
        LoadError: the file is not a TFRecord file of `PredictionLog`s with
            predict requests, or holds more than TF Serving reads.
    """
    path = os.path.join(export_dir, contract.WARMUP_FILE)
    if not tf.io.gfile.exists(path):
        return []
    requests = []
    try:
        for index, record in enumerate(tf.data.TFRecordDataset(path)):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                raise LoadError(f"{path} record {index} is not a predict_log")
            requests.append(log.predict_log.request)
    except (tf.errors.OpError, ValueError) as error:  # DecodeError: ValueError.
        raise LoadError(f"{path} is not a TFRecord file of PredictionLog: "
                        f"{str(error).strip().splitlines()[0]}") from None
    if len(requests) > MAX_RECORDS:
        raise LoadError(f"{path} holds {len(requests)} records; TF Serving "
                        f"reads at most {MAX_RECORDS}")
    return requests


def replay(bundle, requests, max_batch_size):
    """Runs every warm-up request on `bundle`, as TF Serving does at load.

    Raises:
        LoadError: a request failed, naming its signature and the error.
    """
    for request in requests:
        name = (request.model_spec.signature_name
                or contract.DEFAULT_SIGNATURE_KEY)
        try:
            predict(bundle, request, max_batch_size)
            continue
        except RequestError as error:
            reason = f"{error.code.name}: {error}"
        except tf.errors.OpError as error:
            reason = error.message.strip().splitlines()[0]
        raise LoadError(f"warm-up request for signature {name!r} failed: "
                        f"{reason}")


def load_version(path, max_batch_size):
    """Loads the version folder `path` as TF Serving does, warm-up included.

    Returns:
        Its `SavedModelBundle`.

    Raises:
        LoadError: it cannot be loaded, or a warm-up request failed.
    """
    bundle = SavedModelBundle(path)
    try:
        replay(bundle, read_warmup_file(path), max_batch_size)
    except LoadError:
        bundle.close()
        raise
    return bundle
