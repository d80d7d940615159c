"""A stand-in for TF Serving: its gRPC and REST APIs over exported models.

For local development and tests only: production uses TF Serving itself
(see export/README.md). This server loads each version the way TF Serving
does (a session-based `SavedModelBundle`, the "serve" tag, signature tensor
names, warm-up replay), so an export it serves is one TF Serving can serve:

    python -m amr_tf.serving.server --model_base_path=export/models/amr \
        --port=8500 --rest_api_port=8501

gRPC: `PredictionService.Predict` and `GetModelMetadata`, and
`ModelService.GetModelStatus` (other methods answer UNIMPLEMENTED). REST
(with `--rest_api_port`): `GET /v1/models/NAME[/versions/N][/metadata]`
and `POST /v1/models/NAME[/versions/N]:predict` (`amr_tf.serving.rest`).
It serves the newest version under the base path (TF Serving's default
version policy; `--model_config_file` may set another), picks up new
versions and deleted ones, and answers bad requests with TF Serving's
status codes: unknown model or version NOT_FOUND, unknown signature
FAILED_PRECONDITION, and a missing or extra input, wrong dtype, rank or
shape, mismatched or empty batch, a batch over `--max_batch_size`, NaN/Inf
values or an alpha outside [0, 1] INVALID_ARGUMENT naming the input. As in
TF Serving, a gRPC message may be up to 2 GB: `--max_batch_size`, not
gRPC's 4 MB default, limits a request.
"""

import concurrent.futures
import threading

import grpc
from absl import flags
from absl import logging
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from amr_tf.cli import fail
from amr_tf.cli import reject_extra_arguments
from amr_tf.cli import run_main
from amr_tf.serving.predict import PREDICT_METHOD_NAME
from amr_tf.serving.predict import RequestError
from amr_tf.serving.repository import ModelRepository
from amr_tf.serving.repository import ModelSource
from amr_tf.serving.repository import sources_from_config_file
from amr_tf.serving.rest import RestServer
from amr_tf.serving.service import ServingCore

# As TF Serving: --max_batch_size, not gRPC's 4 MB default, limits a request.
MAX_MESSAGE_BYTES = 2**31 - 1


def _answer(method, request, context):
    """Calls a `ServingCore` method; a `RequestError` aborts the RPC."""
    try:
        return method(request)
    except RequestError as error:
        context.abort(error.code, str(error))


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata` over a `ServingCore`."""

    def __init__(self, core):
        self.core = core

    def Predict(self, request, context):
        return _answer(self.core.predict, request, context)

    def GetModelMetadata(self, request, context):
        return _answer(self.core.metadata, request, context)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus` over a `ServingCore` (no config reloads)."""

    def __init__(self, core):
        self.core = core

    def GetModelStatus(self, request, context):
        return _answer(self.core.model_status, request, context)


class ModelServer:
    """A running server: gRPC on `host:port`, REST on `host:rest_port` if
    given, and a version-polling thread.

    Args:
        sources: the `ModelSource`s to serve, or a dict model name -> base
            path (each with the default version policy).
        host: address to bind; loopback by default.
        port: gRPC port; 0 picks a free one (see `self.port`).
        rest_port: REST port; None: no REST; 0 picks a free one.
        poll_seconds: how often to look for new versions; 0 never.
        max_batch_size: largest batch a request may carry.
        max_workers: requests handled at once, per transport.

    Raises:
        ValueError: a model has no loadable version.
        OSError: a port cannot be bound.
    """

    def __init__(self, sources, host="127.0.0.1", port=8500, rest_port=None,
                 poll_seconds=1.0, max_batch_size=1024, max_workers=16):
        if isinstance(sources, dict):
            sources = [ModelSource(name, path) for name, path in sources.items()]
        self.repository = ModelRepository(sources, max_batch_size)
        core = ServingCore(self.repository)
        self._server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=max_workers),
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(core), self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(core), self._server)
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot bind {host}:{port}")
        self.address = f"{host}:{self.port}"
        self.rest = (None if rest_port is None else
                     RestServer(core, host, rest_port, max_workers=max_workers))
        self._poll_seconds = poll_seconds
        self._stopped = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)

    def start(self):
        self._server.start()
        if self.rest:
            self.rest.start()
        if self._poll_seconds:
            self._poller.start()
        return self

    def _poll(self):
        while not self._stopped.wait(self._poll_seconds):
            self.repository.poll()

    def stop(self, grace=None):
        self._stopped.set()
        if self.rest:
            self.rest.stop()
        self._server.stop(grace).wait()

    def wait(self):
        self._server.wait_for_termination()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


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
    flags.DEFINE_integer("rest_api_port", None,
                         "REST port (TF Serving's is 8501); unset: no REST; "
                         "0 picks a free one.")
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
        sources = (sources_from_config_file(values.model_config_file)
                   if values.model_config_file
                   else [ModelSource(values.model_name, values.model_base_path)])
        server = ModelServer(
            sources, host=values.host, port=values.port,
            rest_port=values.rest_api_port,
            poll_seconds=values.file_system_poll_wait_seconds,
            max_batch_size=values.max_batch_size)
    except (ValueError, OSError) as error:
        fail(str(error).splitlines()[0])
    server.start()
    endpoints = f"{server.address} (gRPC)"
    if server.rest:
        endpoints += f" and {server.rest.address} (REST)"
    for name in server.repository.model_names:
        servable = server.repository.get(name)
        signatures = sorted(
            key for key, signature in servable.bundle.signature_defs.items()
            if signature.method_name == PREDICT_METHOD_NAME)
        print(f"Serving model {name} version {servable.version} "
              f"({', '.join(signatures)}) on {endpoints}", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop(grace=1.0)


def run():
    """The `amr-serve` console script."""
    _define_flags()
    run_main(main)


if __name__ == "__main__":
    run()
