"""TF Serving's Predict, GetModelMetadata and GetModelStatus, without a
transport: protos in, protos out, `RequestError` (a gRPC status code and a
message) for a refused request.

The gRPC servicers (`amr_tf.model_server.server`) and the REST API
(`amr_tf.model_server.rest`) are thin layers over a `ServingCore` each (one
repository, a `transport` label for the metrics), so both transports answer
alike. A `ModelSpec` names the newest version, a version, or a version label
(TF Serving's `version_label`; GetModelStatus reports the version a label
names, where TF Serving ignores the label).
"""

import contextlib
import time

import grpc
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2

from amr_tf.tfserving import predict as predict_lib
from amr_tf.tfserving.contract import SIGNATURE_DEF_FIELD
from amr_tf.tfserving.predict import RequestError


class ServingCore:
    """Answers requests from a `ModelRepository`.

    Args:
        repository: the served models.
        metrics: the server's `ServingMetrics`, or None.
        transport: the metrics' transport label ("grpc" or "rest").
    """

    def __init__(self, repository, metrics=None, transport="grpc"):
        self.repository = repository
        self._metrics = metrics
        self._transport = transport

    @contextlib.contextmanager
    def _observed(self, api, model_spec):
        """Counts the request answered inside the block, and its latency."""
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            yield
        except RequestError as error:
            code = error.code
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            raise
        finally:
            if self._metrics:
                self._metrics.observe(self._transport, api, model_spec, code,
                                      time.perf_counter() - start)

    def _version(self, model_spec):
        """The version a `ModelSpec` names; None for the newest.

        Raises:
            RequestError: INVALID_ARGUMENT for an unknown version label.
        """
        choice = model_spec.WhichOneof("version_choice")
        if choice == "version_label":
            try:
                return self.repository.label_version(
                    model_spec.name, model_spec.version_label)
            except ValueError as error:
                raise predict_lib.invalid(str(error)) from None
        return model_spec.version.value if choice == "version" else None

    def servable(self, model_spec):
        """The loaded version a `ModelSpec` names.

        Raises:
            RequestError: NOT_FOUND, or INVALID_ARGUMENT for an unknown
                version label.
        """
        version = self._version(model_spec)
        try:
            return self.repository.get(model_spec.name, version)
        except KeyError as error:
            raise RequestError(grpc.StatusCode.NOT_FOUND, error.args[0]) from None

    def predict(self, request):
        """A `PredictRequest` -> `PredictResponse`."""
        with self._observed("predict", request.model_spec):
            servable = self.servable(request.model_spec)
            signature_name, outputs = predict_lib.predict(
                servable.bundle, request, self.repository.max_batch_size)
            return predict_lib.predict_response(
                served_spec(servable), signature_name, outputs)

    def metadata(self, request):
        """A `GetModelMetadataRequest` -> `GetModelMetadataResponse` holding
        the served version's `SignatureDefMap`."""
        with self._observed("metadata", request.model_spec):
            return self._metadata(request)

    def _metadata(self, request):
        servable = self.servable(request.model_spec)
        fields = set(request.metadata_field)
        if fields != {SIGNATURE_DEF_FIELD}:
            raise predict_lib.invalid(
                f"metadata_field must be [{SIGNATURE_DEF_FIELD!r}], "
                f"got {sorted(fields)}")
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.CopyFrom(served_spec(servable))
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in servable.bundle.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(signature_def)
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response

    def model_status(self, request):
        """A `GetModelStatusRequest` -> `GetModelStatusResponse`."""
        with self._observed("status", request.model_spec):
            return self._model_status(request)

    def _model_status(self, request):
        spec = request.model_spec
        if not spec.name:
            raise predict_lib.invalid("Missing model name in request.")
        version = self._version(spec)
        try:
            statuses = self.repository.status(spec.name, version)
        except KeyError as error:
            raise RequestError(grpc.StatusCode.NOT_FOUND, error.args[0]) from None
        response = get_model_status_pb2.GetModelStatusResponse()
        response.model_version_status.extend(
            status.to_proto() for status in statuses)
        return response


def served_spec(servable):
    """The `ModelSpec` of a loaded version: its name and version."""
    spec = model_pb2.ModelSpec(name=servable.name)
    spec.version.value = servable.version
    return spec
