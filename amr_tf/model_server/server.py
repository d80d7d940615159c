"""The TF Serving stand-in: gRPC `PredictionService` / `ModelService` and the
REST API over a `ModelRepository`, for development and the tests.

Production uses TF Serving itself (export/README.md); `amr-serve`
(`amr_tf.cli.serve`) is this server's command. It loads each version the way
TF Serving does (a session-based `SavedModelBundle`, the "serve" tag,
signature tensor names, warm-up replay), so an export it serves is one TF
Serving can serve. Bad requests get TF Serving's status codes: unknown model
or version NOT_FOUND, unknown signature FAILED_PRECONDITION, a malformed
input INVALID_ARGUMENT naming it. As in TF Serving, a gRPC message may be up
to 2 GB: `max_batch_size`, not gRPC's 4 MB default, limits a request.
"""

import concurrent.futures
import threading

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from amr_tf.model_server.repository import ModelRepository
from amr_tf.model_server.repository import ModelSource
from amr_tf.model_server.rest import RestServer
from amr_tf.model_server.service import ServingCore
from amr_tf.tfserving.predict import RequestError

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
        batching: `BatchingParameters` of TF Serving's session-level
            batching (`--enable_batching`), or None: each request runs
            alone (exports batch in their graph; export/README.md).

    Raises:
        ValueError: a model has no loadable version.
        OSError: a port cannot be bound.
    """

    def __init__(self, sources, host="127.0.0.1", port=8500, rest_port=None,
                 poll_seconds=1.0, max_batch_size=1024, max_workers=16,
                 batching=None):
        if isinstance(sources, dict):
            sources = [ModelSource(name, path) for name, path in sources.items()]
        self.repository = ModelRepository(sources, max_batch_size, batching)
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
