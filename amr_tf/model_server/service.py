"""TF Serving's Predict, GetModelMetadata and GetModelStatus, without a
transport: protos in, protos out, `RequestError` (a gRPC status code and a
message) for a refused request.

The gRPC servicers (`amr_tf.serving.server`) and the REST API
(`amr_tf.model_server.rest`) are thin layers over one `ServingCore`, so both
transports answer alike.
"""

import grpc
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2

from amr_tf.tfserving import predict as predict_lib
from amr_tf.tfserving.contract import SIGNATURE_DEF_FIELD
from amr_tf.tfserving.predict import RequestError

VERSION_LABELS_UNSUPPORTED = "version labels are not supported, use version"


class ServingCore:
    """Answers requests from a `ModelRepository`.

    Args:
        repository: the served models.
    """

    def __init__(self, repository):
        self.repository = repository

    def servable(self, model_spec):
        """The loaded version a `ModelSpec` names.

        Raises:
            RequestError: NOT_FOUND, or INVALID_ARGUMENT for a version label.
        """
        if model_spec.WhichOneof("version_choice") == "version_label":
            raise predict_lib.invalid(VERSION_LABELS_UNSUPPORTED)
        version = (model_spec.version.value
                   if model_spec.HasField("version") else None)
        try:
            return self.repository.get(model_spec.name, version)
        except KeyError as error:
            raise RequestError(grpc.StatusCode.NOT_FOUND, error.args[0]) from None

    def predict(self, request):
        """A `PredictRequest` -> `PredictResponse`."""
        servable = self.servable(request.model_spec)
        signature_name, outputs = predict_lib.predict(
            servable.bundle, request, self.repository.max_batch_size)
        return predict_lib.predict_response(
            served_spec(servable), signature_name, outputs)

    def metadata(self, request):
        """A `GetModelMetadataRequest` -> `GetModelMetadataResponse` holding
        the served version's `SignatureDefMap`."""
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
        spec = request.model_spec
        if not spec.name:
            raise predict_lib.invalid("Missing model name in request.")
        if spec.WhichOneof("version_choice") == "version_label":
            raise predict_lib.invalid(VERSION_LABELS_UNSUPPORTED)
        version = spec.version.value if spec.HasField("version") else None
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
