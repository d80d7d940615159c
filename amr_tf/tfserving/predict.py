"""One `PredictRequest` against one loaded version, as TF Serving answers it.

Both transports of the stand-in server (gRPC and REST) and the warm-up
replay go through `predict`, so they share every check and message. Keys,
dtypes, shapes and the batch size are checked on the request's declared
shapes before any value is decoded, so a request declaring a huge batch is
refused without allocating it; the exported graph then refuses NaN/Inf
values and an `alpha` / `mask` / `selector` outside [0, 1].
"""

import re

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from amr_tf.tfserving import contract

# The `method_name` of the signatures `Predict` runs (SavedModels may hold
# others, such as TF2's `__saved_model_init_op`).
PREDICT_METHOD_NAME = "tensorflow/serving/predict"


class RequestError(Exception):
    """A request the server refuses: a gRPC status code and a message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def invalid(message):
    """An INVALID_ARGUMENT `RequestError`."""
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


def predict(bundle, request, max_batch_size):
    """Answers `request` with the `SavedModelBundle` it names.

    Args:
        bundle: the loaded version the request's `model_spec` resolved to.
        request: a `PredictRequest`.
        max_batch_size: largest batch accepted.

    Returns:
        `(signature_name, outputs)`: the signature run (the default one when
        the request names none) and output key -> NumPy array.

    Raises:
        RequestError: FAILED_PRECONDITION for an unknown signature,
            INVALID_ARGUMENT naming the input for a bad one.
    """
    signature_name = (request.model_spec.signature_name
                      or contract.DEFAULT_SIGNATURE_KEY)
    signature_def = bundle.signature_defs.get(signature_name)
    if signature_def is None:
        raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                           f'Serving signature key "{signature_name}" not found.')
    if signature_def.method_name != PREDICT_METHOD_NAME:
        raise RequestError(
            grpc.StatusCode.INTERNAL,
            f"Expected prediction signature method_name to be "
            f"{PREDICT_METHOD_NAME}. Was: {signature_def.method_name}")
    feeds = request_arrays(request.inputs, signature_def, max_batch_size)
    wanted = set(request.output_filter) or set(signature_def.outputs)
    unknown = wanted - set(signature_def.outputs)
    if unknown:
        raise invalid(f"output_filter names unknown output(s) "
                      f"{', '.join(sorted(unknown))}")
    try:
        outputs = bundle.run(signature_name, feeds, sorted(wanted))
    except tf.errors.InvalidArgumentError as error:
        raise invalid(graph_error_message(error)) from None
    return signature_name, outputs


def predict_response(model_spec, signature_name, outputs):
    """The `PredictResponse` of `predict`'s result for a resolved spec."""
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(model_spec)
    response.model_spec.signature_name = signature_name
    for key, value in outputs.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return response


def request_arrays(request_inputs, signature_def, max_batch_size):
    """Checks a request's inputs against a `SignatureDef`; returns arrays.

    Args:
        request_inputs: map input key -> `TensorProto` of the request.
        signature_def: the `SignatureDef` being called.
        max_batch_size: largest batch accepted.

    Returns:
        Input key -> NumPy array.

    Raises:
        RequestError: INVALID_ARGUMENT with a message naming the input.
    """
    _check_input_keys(set(request_inputs), set(signature_def.inputs))
    shapes = {key: _checked_shape(key, request_inputs[key],
                                  signature_def.inputs[key])
              for key in sorted(signature_def.inputs)}
    _check_batch_size(shapes, max_batch_size)
    return {key: _to_array(key, request_inputs[key]) for key in shapes}


def _check_input_keys(sent, expected):
    """Raises INVALID_ARGUMENT naming missing and unknown input keys."""
    if sent == expected:
        return
    problems = []
    if expected - sent:
        problems.append(f"missing input(s) {', '.join(sorted(expected - sent))}")
    if sent - expected:
        problems.append(f"unknown input(s) {', '.join(sorted(sent - expected))}")
    raise invalid(f"{'; '.join(problems)}: the signature takes "
                  f"{', '.join(sorted(expected))}")


def _shape_text(dims):
    return "(" + ", ".join(str(d) for d in dims) + ")"


def _checked_shape(key, proto, info):
    """The declared shape of input `key` after checking its dtype and shape
    against the signature's `TensorInfo` (-1 dims accept any size)."""
    if proto.dtype != info.dtype:
        got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "no dtype"
        raise invalid(f"input {key}: expects "
                      f"{tf.dtypes.as_dtype(info.dtype).name}, got {got}")
    want = [d.size for d in info.tensor_shape.dim]
    got = [d.size for d in proto.tensor_shape.dim]
    if (proto.tensor_shape.unknown_rank or len(got) != len(want)
            or any(size < 0 for size in got)
            or any(w not in (-1, g) for w, g in zip(want, got))):
        got_text = "unknown" if proto.tensor_shape.unknown_rank else _shape_text(got)
        raise invalid(f"input {key}: expects shape {_shape_text(want)} "
                      f"(-1: any), got {got_text}")
    return got


def _check_batch_size(shapes, max_batch_size):
    """Inputs with a batch axis share one batch size in [1, max]."""
    batch_sizes = {key: shape[0] for key, shape in shapes.items() if shape}
    if len(set(batch_sizes.values())) > 1:
        sizes = ", ".join(f"{key} {size}" for key, size in batch_sizes.items())
        raise invalid(f"inputs must share their batch size, got {sizes}")
    batch_size = next(iter(batch_sizes.values()), None)
    if batch_size == 0:
        raise invalid("empty batch: every input has batch size 0")
    if batch_size is not None and batch_size > max_batch_size:
        raise invalid(f"batch size {batch_size} is over this server's "
                      f"--max_batch_size={max_batch_size}")


def _to_array(key, proto):
    """Decodes a checked `TensorProto`; its values must fill its shape."""
    try:
        return tf.make_ndarray(proto)
    except Exception as error:  # Values that do not fill the declared shape.
        raise invalid(f"input {key}: malformed TensorProto ({error})") from None


def graph_error_message(error):
    """The client-facing line of a `tf.errors.OpError` raised by a graph.

    Assertions in the exported graph name the input ("alpha: values must
    lie between 0 and 1"); they reach here wrapped in TF's node report,
    and other errors (the batcher's "Task size N is larger than ...")
    followed by the failing node ("[[{{node ...}}]]"), which is dropped.
    """
    found = re.search(r"assertion failed: \[([^\]]*)\]", error.message)
    if found:
        return found.group(1)
    lines = [line.strip() for line in error.message.splitlines()
             if line.strip() and not line.strip().startswith("[[")]
    return lines[-1] if lines else type(error).__name__
