"""A small gRPC model server with TF Serving's `PredictionService` API.

For local development and tests only: production uses TF Serving itself
(see export/README.md), which this server imitates for `Predict` and
`GetModelMetadata` (the other methods answer UNIMPLEMENTED):

    python -m amr_tf.serving.server --model_base_path=export/models/amr --port=8500

It serves the newest version under the base path (or `model_spec.version`),
polls for new versions, and answers bad requests with TF Serving's status
codes: unknown model NOT_FOUND, unknown signature FAILED_PRECONDITION, and a
missing or extra input, wrong dtype, rank or shape, mismatched or empty
batch, or a batch over `--max_batch_size` INVALID_ARGUMENT naming the input.
These are checked on the declared shapes before any value is decoded; the
exported graph then refuses NaN/Inf values and an alpha outside [0, 1]
(INVALID_ARGUMENT too). As in TF Serving, a message may be up to 2 GB:
`--max_batch_size`, not gRPC's 4 MB default, limits a request.
"""

import concurrent.futures
import os
import re
import subprocess
import sys
import threading

import grpc
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging
from google.protobuf import text_format
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from amr_tf.cli import fail
from amr_tf.cli import parse_flags
from amr_tf.cli import reject_extra_arguments
from amr_tf.serving.repository import ModelRepository

DEFAULT_SIGNATURE = "serving_default"
SIGNATURE_DEF_FIELD = "signature_def"
# As TF Serving: --max_batch_size, not gRPC's 4 MB default, limits a request.
MAX_MESSAGE_BYTES = 2**31 - 1


class RequestError(Exception):
    """A request the server refuses: a gRPC status code and a message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _invalid(message):
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _shape_text(dims):
    return "(" + ", ".join(str(d) for d in dims) + ")"


def request_tensors(request_inputs, signature_def, max_batch_size):
    """Checks a request's inputs against a `SignatureDef`; returns tensors.

    Keys, dtypes, shapes and the batch size are checked on the protos'
    declared shapes before any value is decoded, so a request declaring a
    huge batch is refused without allocating it.

    Args:
        request_inputs: map input key -> `TensorProto` of the request.
        signature_def: the `SignatureDef` being called.
        max_batch_size: largest batch accepted.

    Returns:
        Input key -> `tf.Tensor`.

    Raises:
        RequestError: INVALID_ARGUMENT with a message naming the input.
    """
    _check_input_keys(set(request_inputs), set(signature_def.inputs))
    shapes = {key: _checked_shape(key, request_inputs[key],
                                  signature_def.inputs[key])
              for key in sorted(signature_def.inputs)}
    _check_batch_size(shapes, max_batch_size)
    return {key: _to_tensor(key, request_inputs[key]) for key in shapes}


def _check_input_keys(sent, expected):
    """Raises INVALID_ARGUMENT naming missing and unknown input keys."""
    if sent == expected:
        return
    problems = []
    if expected - sent:
        problems.append(f"missing input(s) {', '.join(sorted(expected - sent))}")
    if sent - expected:
        problems.append(f"unknown input(s) {', '.join(sorted(sent - expected))}")
    raise _invalid(f"{'; '.join(problems)}: the signature takes "
                   f"{', '.join(sorted(expected))}")


def _checked_shape(key, proto, info):
    """The declared shape of input `key` after checking its dtype and shape
    against the signature's `TensorInfo` (-1 dims accept any size)."""
    if proto.dtype != info.dtype:
        got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "no dtype"
        raise _invalid(f"input {key}: expects "
                       f"{tf.dtypes.as_dtype(info.dtype).name}, got {got}")
    want = [d.size for d in info.tensor_shape.dim]
    got = [d.size for d in proto.tensor_shape.dim]
    if (proto.tensor_shape.unknown_rank or len(got) != len(want)
            or any(size < 0 for size in got)
            or any(w not in (-1, g) for w, g in zip(want, got))):
        got_text = "unknown" if proto.tensor_shape.unknown_rank else _shape_text(got)
        raise _invalid(f"input {key}: expects shape {_shape_text(want)} "
                       f"(-1: any), got {got_text}")
    return got


def _check_batch_size(shapes, max_batch_size):
    """Inputs with a batch axis share one batch size in [1, max]."""
    batch_sizes = {key: shape[0] for key, shape in shapes.items() if shape}
    if len(set(batch_sizes.values())) > 1:
        sizes = ", ".join(f"{key} {size}" for key, size in batch_sizes.items())
        raise _invalid(f"inputs must share their batch size, got {sizes}")
    batch_size = next(iter(batch_sizes.values()), None)
    if batch_size == 0:
        raise _invalid("empty batch: every input has batch size 0")
    if batch_size is not None and batch_size > max_batch_size:
        raise _invalid(f"batch size {batch_size} is over this server's "
                       f"--max_batch_size={max_batch_size}")


def _to_tensor(key, proto):
    """Decodes a checked `TensorProto`; its values must fill its shape."""
    try:
        array = tf.make_ndarray(proto)
    except Exception as error:  # Values that do not fill the declared shape.
        raise _invalid(f"input {key}: malformed TensorProto ({error})") from None
    return tf.constant(array, dtype=proto.dtype)


def graph_error_message(error):
    """The client-facing line of a `tf.errors.OpError` raised by a graph.

    Assertions in the exported graph name the input ("alpha must lie in
    [0, 1]"); they reach here wrapped in TF's node and stack report.
    """
    found = re.search(r"assertion failed: \[([^\]]*)\]", error.message)
    if found:
        return found.group(1)
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata` over a `ModelRepository`."""

    def __init__(self, repository, max_batch_size=1024):
        self.repository = repository
        self.max_batch_size = max_batch_size

    def _servable(self, model_spec):
        if model_spec.WhichOneof("version_choice") == "version_label":
            raise _invalid("version labels are not supported, use version")
        version = (model_spec.version.value
                   if model_spec.HasField("version") else None)
        try:
            return self.repository.get(model_spec.name, version)
        except KeyError as error:
            raise RequestError(grpc.StatusCode.NOT_FOUND, error.args[0]) from None

    @staticmethod
    def _fill_spec(spec, servable, signature_name=None):
        spec.name = servable.name
        spec.version.value = servable.version
        if signature_name is not None:
            spec.signature_name = signature_name

    def Predict(self, request, context):
        try:
            servable = self._servable(request.model_spec)
            signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
            if signature_name not in servable.signatures:
                raise RequestError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f'Serving signature key "{signature_name}" not found.')
            signature_def = servable.signature_defs[signature_name]
            inputs = request_tensors(request.inputs, signature_def,
                                     self.max_batch_size)
            try:
                outputs = servable.signatures[signature_name](**inputs)
            except tf.errors.InvalidArgumentError as error:
                raise _invalid(graph_error_message(error)) from None
            wanted = set(request.output_filter) or set(outputs)
            unknown = wanted - set(outputs)
            if unknown:
                raise _invalid(f"output_filter names unknown output(s) "
                               f"{', '.join(sorted(unknown))}")
        except RequestError as error:
            context.abort(error.code, str(error))
        response = predict_pb2.PredictResponse()
        self._fill_spec(response.model_spec, servable, signature_name)
        for key in wanted:
            response.outputs[key].CopyFrom(
                tf.make_tensor_proto(np.asarray(outputs[key])))
        return response

    def GetModelMetadata(self, request, context):
        try:
            servable = self._servable(request.model_spec)
            fields = set(request.metadata_field)
            if fields != {SIGNATURE_DEF_FIELD}:
                raise _invalid(f"metadata_field must be [{SIGNATURE_DEF_FIELD!r}], "
                               f"got {sorted(fields)}")
        except RequestError as error:
            context.abort(error.code, str(error))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        self._fill_spec(response.model_spec, servable)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in servable.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(signature_def)
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response


class ModelServer:
    """A running server: gRPC on `host:port` plus a version-polling thread.

    Args:
        base_paths: model name -> model base path.
        host: address to bind; loopback by default.
        port: 0 picks a free port (see `self.port`).
        poll_seconds: how often to look for new versions; 0 never.
        max_batch_size: largest batch a request may carry.
        max_workers: requests handled at once.
    """

    def __init__(self, base_paths, host="127.0.0.1", port=8500, poll_seconds=1.0,
                 max_batch_size=1024, max_workers=16):
        self.repository = ModelRepository(base_paths)
        self._server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=max_workers),
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(self.repository, max_batch_size), self._server)
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot bind {host}:{port}")
        self.address = f"{host}:{self.port}"
        self._poll_seconds = poll_seconds
        self._stopped = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)

    def start(self):
        self._server.start()
        if self._poll_seconds:
            self._poller.start()
        return self

    def _poll(self):
        while not self._stopped.wait(self._poll_seconds):
            self.repository.poll()

    def stop(self, grace=None):
        self._stopped.set()
        self._server.stop(grace).wait()

    def wait(self):
        self._server.wait_for_termination()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def base_paths_from_config_file(path):
    """Model name -> base path from a TF Serving `models.config` file."""
    config = model_server_config_pb2.ModelServerConfig()
    with tf.io.gfile.GFile(path) as stream:
        text_format.Parse(stream.read(), config)
    return {model.name: model.base_path
            for model in config.model_config_list.config}


def spawn(model_base_path, *flag_args):
    """Starts this server in a subprocess on a free loopback port.

    Args:
        model_base_path: the model "amr"'s base path.
        *flag_args: more flags, e.g. "--max_batch_size=8".

    Returns:
        `(process, address)` once it serves; the caller terminates it.

    Raises:
        RuntimeError: the server exited first, with its first stdout line.
    """
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    python_path = os.pathsep.join(
        filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "amr_tf.serving.server",
         f"--model_base_path={model_base_path}", "--port=0", *flag_args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": python_path})
    line = process.stdout.readline()
    if " on " not in line:
        process.kill()
        process.wait()
        raise RuntimeError(f"the server did not start: {line.strip()!r}")
    return process, line.rsplit(" on ", 1)[1].split()[0]


def rss_bytes(pid):
    """Resident memory of process `pid` in bytes (Linux: /proc VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS for process {pid}")


def _define_flags():
    flags.DEFINE_string("model_base_path", None,
                        "Folder of integer version folders (an export base).")
    flags.DEFINE_string("model_name", "amr", "Name clients ask for.")
    flags.DEFINE_string("model_config_file", None,
                        "A TF Serving models.config instead of "
                        "--model_base_path/--model_name.")
    flags.DEFINE_string("host", "127.0.0.1",
                        "Address to bind (loopback by default; 0.0.0.0 for all).")
    flags.DEFINE_integer("port", 8500, "gRPC port; 0 picks a free one.")
    flags.DEFINE_float("file_system_poll_wait_seconds", 1.0,
                       "Seconds between looks for new versions; 0 never.")
    flags.DEFINE_integer("max_batch_size", 1024,
                         "Largest batch a request may carry.")


def main(argv):
    values = flags.FLAGS
    reject_extra_arguments(argv)
    if bool(values.model_base_path) == bool(values.model_config_file):
        fail("pass one of --model_base_path or --model_config_file")
    logging.set_verbosity(logging.INFO)
    try:
        base_paths = (base_paths_from_config_file(values.model_config_file)
                      if values.model_config_file
                      else {values.model_name: values.model_base_path})
        server = ModelServer(
            base_paths, host=values.host, port=values.port,
            poll_seconds=values.file_system_poll_wait_seconds,
            max_batch_size=values.max_batch_size)
    except (ValueError, OSError) as error:
        fail(str(error).splitlines()[0])
    server.start()
    for name in server.repository.model_names:
        servable = server.repository.get(name)
        print(f"Serving model {name} version {servable.version} "
              f"({', '.join(sorted(servable.signatures))}) on "
              f"{server.address} (gRPC)", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop(grace=1.0)


if __name__ == "__main__":
    _define_flags()
    app.run(main, flags_parser=parse_flags)
