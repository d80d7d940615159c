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

The gRPC port also serves the standard health service (`grpc.health.v1`):
the server ("") and each model name are SERVING while that model (every
model, for "") has an available version, NOT_SERVING otherwise and after
`stop()`; "ModelService" and "PredictionService" (the names TF Serving's
--enable_grpc_healthcheck_service sets) are SERVING until `stop()`.
`ModelService.HandleReloadConfigRequest` replaces the models and labels;
with `config_file`, the file is re-read every `config_poll_seconds`
(TF Serving's --model_config_file_poll_wait_seconds) and applied when it
changed. Metrics: `amr_tf.model_server.metrics`.
"""

import concurrent.futures
import logging
import threading

import grpc
from grpc_health.v1 import health
from grpc_health.v1 import health_pb2
from grpc_health.v1 import health_pb2_grpc
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from amr_tf.model_server.metrics import ServingMetrics
from amr_tf.model_server.repository import LOAD_RETRY_SECONDS
from amr_tf.model_server.repository import ModelRepository
from amr_tf.model_server.repository import ModelSource
from amr_tf.model_server.repository import sources_from_config
from amr_tf.model_server.repository import sources_from_config_file
from amr_tf.model_server.rest import RestServer
from amr_tf.model_server.service import ServingCore
from amr_tf.tfserving.predict import RequestError
from amr_tf.web.server import IDLE_TIMEOUT_SECONDS

_LOG = logging.getLogger(__name__)

# The services TF Serving's --enable_grpc_healthcheck_service marks SERVING.
TF_SERVING_HEALTH_NAMES = ("ModelService", "PredictionService")

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
    """`GetModelStatus` over a `ServingCore`; `HandleReloadConfigRequest`
    through `reload(sources)`."""

    def __init__(self, core, reload):
        self.core = core
        self._reload = reload

    def GetModelStatus(self, request, context):
        return _answer(self.core.model_status, request, context)

    def HandleReloadConfigRequest(self, request, context):
        """As TF Serving: the status goes in the response and the RPC's."""
        response = model_management_pb2.ReloadConfigResponse()
        config = request.config
        if config.WhichOneof("config") != "model_config_list":
            error = RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "ServerModelConfig type not supported by "
                "HandleReloadConfigRequest. Only ModelConfigList is currently "
                "supported")
        else:
            try:
                self._reload(sources_from_config(config))
                return response
            except ValueError as failed:
                error = RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                                     str(failed))
        response.status.error_code = getattr(error_codes_pb2, error.code.name)
        response.status.error_message = str(error)
        context.set_code(error.code)
        context.set_details(str(error))
        return response


class ModelServer:
    """A running server: gRPC on `host:port`, REST on `host:rest_port` if
    given, a version-polling thread and, with `config_file`, a config-polling
    one.

    Args:
        sources: the `ModelSource`s to serve, or a dict model name -> base
            path (each with the default version policy).
        host: address to bind; loopback by default.
        port: gRPC port; 0 picks a free one (see `self.port`).
        rest_port: REST port; None: no REST; 0 picks a free one.
        poll_seconds: how often to look for new versions; 0 never.
        max_batch_size: largest batch a request may carry.
        max_workers: requests handled at once, per transport.
        config_file: the models.config `sources` came from, re-read every
            `config_poll_seconds` (0: never).
        config_poll_seconds: see `config_file`.
        max_load_retries: `ModelRepository`'s.
        load_retry_seconds: `ModelRepository`'s.
        allow_labels_for_unavailable: `ModelRepository`'s.
        rest_idle_timeout: seconds a REST connection may stay inactive.
        batching: `BatchingParameters` of TF Serving's session-level
            batching (`--enable_batching`), or None: each request runs
            alone (exports batch in their graph; export/README.md).

    Raises:
        ValueError: a model has no loadable version, or a label points at an
            unavailable version.
        OSError: a port cannot be bound.
    """

    def __init__(self, sources, host="127.0.0.1", port=8500, rest_port=None,
                 poll_seconds=1.0, max_batch_size=1024, max_workers=16,
                 config_file=None, config_poll_seconds=0.0, max_load_retries=0,
                 load_retry_seconds=LOAD_RETRY_SECONDS,
                 allow_labels_for_unavailable=False,
                 rest_idle_timeout=IDLE_TIMEOUT_SECONDS, batching=None):
        if isinstance(sources, dict):
            sources = [ModelSource(name, path) for name, path in sources.items()]
        self.health = health.HealthServicer()
        self.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        self._health_names = set()
        self._serving = True  # Until stop().
        self.repository = None
        self.repository = ModelRepository(
            sources, max_batch_size, max_load_retries, load_retry_seconds,
            allow_labels_for_unavailable, on_change=self._update_health,
            batching=batching)
        self._update_health()
        self.metrics = ServingMetrics(lambda: self.repository.model_names)
        self._server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=max_workers),
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
        core = ServingCore(self.repository, self.metrics, "grpc")
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(core), self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(core, self.reload), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot bind {host}:{port}")
        self.address = f"{host}:{self.port}"
        self.rest = (None if rest_port is None else RestServer(
            ServingCore(self.repository, self.metrics, "rest"), host,
            rest_port, max_workers=max_workers,
            idle_timeout=rest_idle_timeout, metrics=self.metrics))
        self._config_file = config_file
        self._config_text = config_file and _read(config_file)
        self._stopped = threading.Event()
        self._pollers = [
            threading.Thread(target=self._every, args=(seconds, poll),
                             daemon=True)
            for seconds, poll in ((poll_seconds, self.repository.poll),
                                  (config_poll_seconds, self._poll_config))
            if seconds]

    def _update_health(self):
        """Each model name SERVING while it has an available version; ""
        while every model has one; all NOT_SERVING once stopped."""
        if self.repository is None:  # Still loading the first versions.
            return
        names = self.repository.model_names
        serving = {name: self._serving and self.repository.serving(name)
                   for name in names}
        serving.update({name: False for name in self._health_names - set(names)})
        serving[""] = self._serving and all(serving[name] for name in names)
        serving.update(dict.fromkeys(TF_SERVING_HEALTH_NAMES, self._serving))
        self._health_names |= set(names)
        for name, up in serving.items():
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING if up
                            else health_pb2.HealthCheckResponse.NOT_SERVING)

    def reload(self, sources):
        """Serves `sources` instead (`ModelRepository.reload`)."""
        self.repository.reload(sources)
        self._update_health()

    def _poll_config(self):
        text = _read(self._config_file)
        if text != self._config_text:
            self._config_text = text
            try:
                self.reload(sources_from_config_file(self._config_file))
            except ValueError as error:
                _LOG.error("%s not applied: %s", self._config_file, error)

    def start(self):
        self._server.start()
        if self.rest:
            self.rest.start()
        for poller in self._pollers:
            poller.start()
        return self

    def _every(self, seconds, poll):
        while not self._stopped.wait(seconds):
            poll()

    def stop(self, grace=None):
        self._stopped.set()
        self._serving = False
        self._update_health()
        if self.rest:
            self.rest.stop()
        self._server.stop(grace).wait()

    def wait(self):
        self._server.wait_for_termination()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def _read(path):
    """The text of a models.config, to see whether it changed."""
    with open(path, encoding="utf-8") as stream:
        return stream.read()
