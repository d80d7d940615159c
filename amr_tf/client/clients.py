"""Clients of a served model's `mix` endpoint, for TF Serving or the
stand-in (`amr_tf.model_server`): `ServingClient` over gRPC, `RestClient`
over TF Serving's REST API, with the same methods, and the image helpers
that load a file as the model takes it. `mix` sends float tensors;
`mix_files` sends the image files as bytes to `mix_bytes`, which decodes
them in the graph by the same rule as `decode_image`. `amr-client`
(`amr_tf.cli.client`) is the command.
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from amr_tf.core.errors import UsageError
from amr_tf.figures import drawing
from amr_tf.tfserving import contract
from amr_tf.tfserving import images as images_lib
from amr_tf.tfserving.contract import SIGNATURE_DEF_FIELD


class ServingError(Exception):
    """A request the REST API refused: its HTTP status and TF Serving's
    message (the `"error"` of the answer)."""

    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class BaseClient:
    """The `mix` helpers both clients share, over their `signature_defs()`
    and `predict(signature, inputs)`."""

    def input_shape(self, signature=contract.MIX,
                    key=contract.SIGNATURES[contract.MIX].inputs[0]):
        """Shape of one example of `key` (no batch axis), e.g. (H, W, C)."""
        info = self.signature_defs()[signature].inputs[key]
        return tuple(dim.size for dim in info.tensor_shape.dim[1:])

    def mix(self, images_a, images_b, alpha):
        """Decoded mixes (N, H, W, C) in [-1, 1] of two image batches.

        Args:
            images_a, images_b: (N, H, W, C) float32 in [-1, 1].
            alpha: the weight of a, a scalar or (N,) in [0, 1].
        """
        images_a = np.asarray(images_a, np.float32)
        alpha = np.broadcast_to(np.asarray(alpha, np.float32), images_a.shape[:1])
        signature = contract.SIGNATURES[contract.MIX]
        outputs = self.predict(contract.MIX, dict(zip(signature.inputs, (
            images_a, np.asarray(images_b, np.float32),
            np.ascontiguousarray(alpha)))))
        return outputs[signature.outputs[0]]

    def interpolate(self, image_a, image_b, steps):
        """`steps` decoded mixes (steps, H, W, C) from a (alpha 1) to b (0),
        in one request."""
        alphas = np.linspace(1.0, 0.0, steps, dtype=np.float32)
        return self.mix(np.repeat(image_a[None], steps, axis=0),
                        np.repeat(image_b[None], steps, axis=0), alphas)

    def mix_files(self, files_a, files_b, alpha):
        """Decoded mixes as PNG files (N,) of two batches of image files,
        through `mix_bytes`.

        Args:
            files_a, files_b: N encoded images each (PNG or JPEG bytes, any
                size), decoded by the server as `decode_image` does.
            alpha: the weight of a, a scalar or (N,) in [0, 1].
        """
        files_a = _files(files_a)
        alpha = np.broadcast_to(np.asarray(alpha, np.float32), files_a.shape)
        signature = contract.SIGNATURES[contract.MIX_BYTES]
        outputs = self.predict(contract.MIX_BYTES, dict(zip(
            signature.inputs,
            (files_a, _files(files_b), np.ascontiguousarray(alpha)))))
        return outputs[signature.outputs[0]]

    def interpolate_files(self, file_a, file_b, steps):
        """`steps` decoded mixes as PNG files (steps,) from a (alpha 1) to b
        (0), in one `mix_bytes` request."""
        alphas = np.linspace(1.0, 0.0, steps, dtype=np.float32)
        return self.mix_files([file_a] * steps, [file_b] * steps, alphas)


class ServingClient(BaseClient):
    """Calls a model's signatures through `PredictionService` over gRPC.

    Args:
        server: "host:port" of TF Serving or `amr_tf.serving.server`.
        model_name: the served model's name.
        version: a model version; None asks for the newest.
        timeout: seconds per call.
    """

    def __init__(self, server, model_name="amr", version=None, timeout=30.0):
        # Answers to large batches exceed gRPC's 4 MB default.
        self.channel = grpc.insecure_channel(
            server, options=[("grpc.max_receive_message_length", -1)])
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.model_name = model_name
        self.version = version
        self.timeout = timeout

    def _model_spec(self, spec, signature_name=None):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = self.version
        if signature_name is not None:
            spec.signature_name = signature_name

    def signature_defs(self):
        """Signature name -> `SignatureDef` of the served version."""
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._model_spec(request.model_spec)
        request.metadata_field.append(SIGNATURE_DEF_FIELD)
        response = self.stub.GetModelMetadata(request, timeout=self.timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
        return dict(signature_map.signature_def)

    def predict(self, signature, inputs):
        """Calls `signature` on NumPy `inputs`; returns NumPy outputs by key.

        Raises:
            grpc.RpcError: the server's status, e.g. INVALID_ARGUMENT.
        """
        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, signature)
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        response = self.stub.Predict(request, timeout=self.timeout)
        return {key: tf.make_ndarray(proto)
                for key, proto in response.outputs.items()}

    def close(self):
        self.channel.close()


class RestClient(BaseClient):
    """Calls a model's signatures through TF Serving's REST API (JSON).

    Args:
        server: "host:port" of the REST API (TF Serving's --rest_api_port).
        model_name: the served model's name.
        version: a model version; None asks for the newest.
        timeout: seconds per call.
    """

    def __init__(self, server="localhost:8501", model_name="amr", version=None,
                 timeout=30.0):
        self.url = (f"http://{server}/v1/models/"
                    f"{urllib.parse.quote(model_name, safe='')}")
        if version is not None:
            self.url += f"/versions/{version}"
        self.timeout = timeout
        self._signatures = None  # For the output keys and dtypes of answers.

    def call(self, url, document=None):
        """GETs `url`, or POSTs `document` as JSON to it; returns the JSON
        answer.

        Raises:
            ServingError: the server refused the request.
        """
        data = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            raise ServingError(error.code, _error_message(error)) from None

    def signature_defs(self):
        """Signature name -> `SignatureDef` of the served version."""
        metadata = self.call(self.url + "/metadata")["metadata"]
        signature_map = json_format.ParseDict(
            metadata[SIGNATURE_DEF_FIELD], get_model_metadata_pb2.SignatureDefMap())
        return dict(signature_map.signature_def)

    def predict(self, signature, inputs):
        """Calls `signature` on NumPy `inputs` (sent in the columnar format);
        returns NumPy outputs by key, of the signature's dtypes.

        Raises:
            ServingError: the server's HTTP status and message.
        """
        answer = self.call(self.url + ":predict", {
            "signature_name": signature,
            "inputs": {key: _json_value(value)
                       for key, value in inputs.items()}})
        if self._signatures is None or signature not in self._signatures:
            self._signatures = self.signature_defs()
        infos = self._signatures[signature].outputs
        outputs = answer["outputs"]
        if len(infos) == 1:  # A single output comes without its key.
            outputs = {next(iter(infos)): outputs}
        return {key: _array(value, tf.dtypes.as_dtype(infos[key].dtype))
                for key, value in outputs.items()}

    def close(self):
        """Nothing to release: each call has its own connection."""


def _files(files):
    """Encoded files as the object array (N,) a string input takes (NumPy
    would strip their trailing NUL bytes in a bytes array)."""
    array = np.empty(len(files), object)
    array[:] = [bytes(data) for data in files]
    return array


def _json_value(value):
    """An input as JSON: nested lists of numbers, or of `{"b64": ...}` for
    strings (TF Serving's binary values)."""
    array = np.asarray(value)
    if array.dtype.kind not in "OS":
        return array.tolist()
    return np.frompyfunc(
        lambda data: {"b64": base64.b64encode(data).decode("ascii")}, 1, 1
    )(array).tolist()


def _array(value, dtype):
    """An output's JSON as a NumPy array of `dtype`: strings from JSON text
    or `{"b64": ...}` (the `_bytes` outputs) as an object array of bytes."""
    if dtype != tf.string:
        return np.asarray(value, dtype.as_numpy_dtype)
    return np.frompyfunc(
        lambda item: (base64.b64decode(item["b64"]) if isinstance(item, dict)
                      else item.encode()), 1, 1)(np.asarray(value, object))


def _error_message(error):
    """TF Serving's message in the body of an `HTTPError`, else the body."""
    body = error.read().decode(errors="replace")
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return body.strip() or error.reason


def load_image(path, shape):
    """Reads a PNG/JPEG/GIF/BMP file as float32 `shape` (H, W, C) in [-1, 1]
    (see `decode_image`).

    Raises:
        UsageError: unreadable or non-image file, or `shape` is not (H, W, C).
    """
    return decode_image(read_file(path), shape, path)


def read_file(path):
    """The bytes of an image file.

    Raises:
        UsageError: it cannot be read.
    """
    try:
        return tf.io.read_file(path).numpy()
    except tf.errors.OpError as error:
        raise UsageError(f"cannot read image {path}: {_reason(error)}") from None


def decode_image(data, shape, name="image"):
    """Decodes PNG/JPEG/GIF/BMP bytes as float32 `shape` (H, W, C) in [-1, 1].

    The image is cropped about its centre to the aspect ratio of `shape`,
    then resized with antialiasing: `amr_tf.tfserving.images.decode_image`,
    the rule the `_bytes` signatures run in the graph.

    Args:
        data: the encoded image, bytes or a string tensor.
        shape: (H, W, C) of one example.
        name: what error messages call the image, e.g. its path.

    Raises:
        UsageError: not an image, or `shape` is not (H, W, C).
    """
    if len(shape) != 3:
        raise UsageError(f"the model takes examples of shape {shape}, not images")
    try:
        return images_lib.decode_image(data, shape).numpy()
    except (tf.errors.OpError, ValueError) as error:
        raise UsageError(f"cannot read image {name}: {_reason(error)}") from None


def png_images(files):
    """PNG files (N,) (the `_bytes` outputs) as float32 (N, H, W, C) in
    [-1, 1], the inverse of their 8-bit rounding."""
    return np.stack([tf.io.decode_png(data).numpy() for data in files]
                    ).astype(np.float32) / 127.5 - 1.0


def _reason(error):
    """The first line of an error's message, or ""."""
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def save_images(path, images):
    """Writes (N, H, W, C) images in [-1, 1] side by side as one PNG."""
    grid = drawing.tile(np.asarray(images)[None], padding=0 if len(images) == 1 else 1)
    tf.io.write_file(path, tf.io.encode_png(grid))
