"""TF Serving's REST API (what it serves on port 8501) over a `ServingCore`.

    GET  /v1/models/NAME[/versions/N|/labels/L]            model status
    GET  /v1/models/NAME[/versions/N|/labels/L]/metadata   the SignatureDefMap
    POST /v1/models/NAME[/versions/N|/labels/L]:predict    {"instances": ...}
                                      (rows) or {"inputs": ...} (columns)
    GET  /monitoring/prometheus/metrics    the server's Prometheus metrics

Bodies, answers and messages are TF Serving's (its g3doc/api_rest.md and
http_rest_api_handler.cc): a predict body becomes the `PredictRequest` TF
Serving builds from it (TensorProtos of the signature's dtypes) and goes
through the same `ServingCore.predict` as gRPC, so both transports share
every check. A refused request gets `{"error": message}` and the HTTP
status TF Serving gives its code (INVALID_ARGUMENT and FAILED_PRECONDITION
400, NOT_FOUND 404). NaN, Infinity and -Infinity are JSON tokens both ways;
an output float is written as its float64 repr, so float32 -> JSON ->
float32 is exact. A string input takes JSON strings or `{"b64": "<base64>"}`
objects (binary data, such as encoded images); a string output whose key
ends in `_bytes` is written as `{"b64": ...}`, another as a JSON string
(TF Serving's json_tensor.cc). Served by `amr_tf.web.server` (waitress:
bounded workers, keep-alive, idle connections closed after `idle_timeout`,
chunked bodies dechunked), JSON by orjson (`amr_tf.web.json_codec`). Unlike
TF Serving: inputs must be float or string, `:classify` and `:regress`
answer 501, and bodies over `MAX_BODY_BYTES` are refused unread.
"""

import base64
import binascii
import collections
import json
import logging
import re
import urllib.parse

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2

from amr_tf.model_server.metrics import METRICS_PATH
from amr_tf.tfserving import contract
from amr_tf.tfserving.contract import SIGNATURE_DEF_FIELD
from amr_tf.tfserving.predict import RequestError
from amr_tf.tfserving.predict import invalid
from amr_tf.web import json_codec
from amr_tf.web.server import IDLE_TIMEOUT_SECONDS
from amr_tf.web.server import WSGIServer
from amr_tf.web.server import status_line
from amr_tf.web.server import too_large_answer

_LOG = logging.getLogger(__name__)

# TF Serving's paths (http_rest_api_util.cc), matched against the path and
# query as sent; anything else under /v1/ is a "Malformed request".
API_PATH = re.compile(r"/v1/.*", re.IGNORECASE)
_VERSION = r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
PREDICTION_PATH = re.compile(
    r"/v1/models/(?P<name>[^/:]+)" + _VERSION
    + r":(?P<method>classify|regress|predict)", re.IGNORECASE)
STATUS_PATH = re.compile(
    r"/v1/models(?:/(?P<name>[^/:]+))?" + _VERSION
    + r"(?:/(?P<subresource>metadata))?", re.IGNORECASE)

# TF Serving's `ToHTTPStatusCode` (http_server.cc).
HTTP_STATUS = {
    grpc.StatusCode.CANCELLED: 499,  # Client Closed Request.
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

# Bodies over this are refused before they are read (TF Serving has no
# limit; `--max_batch_size` limits what the server runs either way).
MAX_BODY_BYTES = 256 * 2**20

MAX_VERSION = 2**63 - 1  # Versions are int64.

# The JSON numbers a float input accepts (TF Serving's `IsLosslessDecimal`):
# TF Serving's name of the dtype, its NumPy dtype, the largest integer it
# holds exactly and its largest finite value. TF Serving also converts ints
# and bools; the served signatures take floats and strings only.
FloatType = collections.namedtuple("FloatType",
                                   ["name", "numpy", "max_int", "max_value"])
FLOAT_TYPES = {
    types_pb2.DT_FLOAT: FloatType("float", np.float32, 2**24 - 1,
                                  float(np.finfo(np.float32).max)),
    types_pb2.DT_DOUBLE: FloatType("double", np.float64, 2**53 - 1,
                                   float(np.finfo(np.float64).max)),
}


class RestServer(WSGIServer):
    """TF Serving's REST API on `host:port`, answered by `core`, and the
    Prometheus metrics of `metrics` at `METRICS_PATH`.

    Args:
        core: the `ServingCore` the gRPC services use too.
        host: address to bind; loopback by default.
        port: port to bind; 0 picks a free one (see `self.port`).
        max_workers: requests handled at once.
        max_body_bytes: largest request body read.
        idle_timeout: seconds a connection may stay without activity.
        metrics: the server's `ServingMetrics`; None: no metrics path.

    Raises:
        OSError: `host:port` cannot be bound.
    """

    def __init__(self, core, host="127.0.0.1", port=8501, max_workers=16,
                 max_body_bytes=MAX_BODY_BYTES,
                 idle_timeout=IDLE_TIMEOUT_SECONDS, metrics=None):
        self.core = core
        self.metrics = metrics
        super().__init__(self._app, host, port, threads=max_workers,
                         idle_timeout=idle_timeout,
                         max_body_bytes=max_body_bytes, too_large=_too_large)

    def _app(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ["REQUEST_URI"]  # As sent, query included.
        if self.metrics and method == "GET" and path == METRICS_PATH:
            return self.metrics.wsgi_app(environ, start_response)
        try:
            status, data = answer(self.core, method, path,
                                  environ["wsgi.input"].read())
        except Exception as error:  # pylint: disable=broad-except
            _LOG.exception("REST %s %s failed", method, path)
            status, data = error_answer(RequestError(
                grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}"))
        if self.metrics:
            self.metrics.rest_requests.labels(str(status)).inc()
        start_response(status_line(status), [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data)))])
        return [data]


def _too_large(size, limit):
    """A body over the limit is INVALID_ARGUMENT, as a batch over
    --max_batch_size is (TF Serving itself has no body limit)."""
    return (HTTP_STATUS[grpc.StatusCode.INVALID_ARGUMENT],
            too_large_answer(size, limit)[1])


def answer(core, method, path, body):
    """One request as TF Serving answers it.

    Args:
        core: the `ServingCore`.
        method: the HTTP method, e.g. "POST".
        path: the path and query as sent, e.g. "/v1/models/amr:predict".
        body: the request body, bytes.

    Returns:
        `(HTTP status, UTF-8 JSON text)`.
    """
    if not API_PATH.fullmatch(path):  # TF Serving's HTTP server: no handler.
        return 404, json_codec.dumps({"error": f"Not Found: {method} {path}"})
    try:
        document = _route(core, method, path, body)
    except RequestError as error:
        return error_answer(error)
    return 200, json_codec.dumps(document, indent=method == "GET")


def error_answer(error):
    """`(HTTP status, {"error": message} UTF-8 text)` of a `RequestError`."""
    return HTTP_STATUS.get(error.code, 500), json_codec.dumps(
        {"error": str(error)})


def _route(core, method, path, body):
    """The JSON document answering a request under /v1/."""
    found = (PREDICTION_PATH.fullmatch(path) if method == "POST" else
             STATUS_PATH.fullmatch(path) if method == "GET" else None)
    if not found:
        raise invalid(f"Malformed request: {method} {path}")
    spec = _model_spec(found)
    if method == "POST":
        if found["method"] == "predict":
            return predict_json(core, spec, body)
        if found["method"] in ("classify", "regress"):
            raise RequestError(grpc.StatusCode.UNIMPLEMENTED,
                               f"{found['method']} is not served here: the "
                               "signatures are predict signatures")
        raise invalid(f"Malformed request: {method} {path}")
    if not spec.name:
        raise invalid("Missing model name in request.")
    if found["subresource"]:
        return metadata_json(core, spec)
    return status_json(core, spec)


def _model_spec(found):
    """The `ModelSpec` of a matched path: its name, version or label."""
    spec = model_pb2.ModelSpec(name=urllib.parse.unquote(found["name"] or ""))
    if found["version"]:
        if int(found["version"]) > MAX_VERSION:
            raise invalid(f"Failed to convert version: {found['version']} "
                          "to numeric.")
        spec.version.value = int(found["version"])
    if found["label"]:
        spec.version_label = urllib.parse.unquote(found["label"])
    return spec


def _message_dict(message, **options):
    """A proto as TF Serving prints it: every field without presence."""
    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, **options)


def status_json(core, spec):
    """GetModelStatusResponse JSON: `{"model_version_status": [{"version":
    "2", "state": "AVAILABLE", "status": {"error_code": "OK", ...}}]}`."""
    request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
    return _message_dict(core.model_status(request))


def metadata_json(core, spec):
    """`{"model_spec": {...}, "metadata": {"signature_def": SignatureDefMap}}`
    with proto field names, as TF Serving prints it (the Any unpacked)."""
    request = get_model_metadata_pb2.GetModelMetadataRequest(
        model_spec=spec, metadata_field=[SIGNATURE_DEF_FIELD])
    response = core.metadata(request)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    return {
        "model_spec": _message_dict(response.model_spec,
                                    preserving_proto_field_name=True),
        "metadata": {SIGNATURE_DEF_FIELD: _message_dict(
            signature_map, preserving_proto_field_name=True)},
    }


def predict_json(core, spec, body):
    """Answers a predict body: `{"predictions": [...]}` for rows (one per
    example), `{"outputs": ...}` for columns."""
    document = _parse_json(body)
    request = predict_pb2.PredictRequest(model_spec=spec)
    if "signature_name" in document:
        if not isinstance(document["signature_name"], str):
            raise invalid(f"JSON Value: {_text(document)} not formatted "
                          "correctly. 'signature_name' key must be a string "
                          "value.")
        request.model_spec.signature_name = document["signature_name"]
    infos = _input_infos(core, request.model_spec)
    rows = _fill_inputs(document, infos, request.inputs)
    response = core.predict(request)
    return _outputs_json(response.outputs, rows)


def _parse_json(body):
    """The JSON object of a request body (NaN and Infinity allowed)."""
    if not body:
        raise invalid("JSON Parse error: The document is empty")
    try:
        document = json_codec.loads(body)
    except json.JSONDecodeError as error:
        raise invalid(f"JSON Parse error: {error.msg} at offset: "
                      f"{error.pos}") from None
    except UnicodeDecodeError as error:
        raise invalid(f"JSON Parse error: {error.reason} at offset: "
                      f"{error.start}") from None
    except RecursionError:
        raise invalid("JSON Parse error: nested too deeply") from None
    if not isinstance(document, dict):
        raise invalid(f"JSON Value: {_text(document)} Is not object")
    return document


def _text(value):
    """A JSON value as error messages quote it."""
    return json.dumps(value)


def _input_infos(core, spec):
    """Input key -> `TensorInfo` of the signature `spec` names (TF Serving's
    `GetInfoMap`: NOT_FOUND for the model, INVALID_ARGUMENT for the name)."""
    bundle = core.servable(spec).bundle
    name = spec.signature_name or contract.DEFAULT_SIGNATURE_KEY
    signature_def = bundle.signature_defs.get(name)
    if signature_def is None:
        raise invalid(f'Serving signature name: "{name}" not found in '
                      "signature def")
    if not signature_def.inputs:
        raise invalid("Failed to get input map for signature: "
                      f"{spec.signature_name or 'DEFAULT'}")
    return signature_def.inputs


def _fill_inputs(document, infos, tensors):
    """Fills `tensors` (key -> TensorProto) from "instances" or "inputs";
    returns whether the request was in row format."""
    if "instances" in document and "inputs" in document:
        raise invalid(f"JSON Value: {_text(document)} Not formatted correctly "
                      "expecting only one of 'inputs' or 'instances' keys to "
                      "exist ")
    if "inputs" in document:
        _fill_from_inputs(document["inputs"], infos, tensors)
        return False
    if "instances" not in document:
        raise invalid("Missing 'inputs' or 'instances' key")
    instances = document["instances"]
    if not isinstance(instances, list):
        raise invalid(f"JSON Value: {_text(document)} Excepting 'instances' "
                      "to be an list/array")
    if not instances:
        raise invalid(f"JSON Value: {_text(document)} No values in "
                      "'instances' array")
    _fill_from_instances(instances, infos, tensors)
    return True


def _is_b64(value):
    """TF Serving's binary value: `{"b64": "<base64 text>"}`."""
    return (isinstance(value, dict) and len(value) == 1
            and isinstance(value.get("b64"), str))


def _is_object(value):
    return isinstance(value, dict) and not _is_b64(value)


def _fill_from_inputs(inputs, infos, tensors):
    """Columnar format: one value for a single input, else an object with a
    value per input key (extra keys are ignored, as in TF Serving)."""
    if not _is_object(inputs):
        if len(infos) > 1:
            raise invalid("inputs is a plain value/list, but expecting an "
                          "object as multiple input tensors required as per "
                          "tensorinfo_map")
        (key, info), = infos.items()
        tensors[key].CopyFrom(tf.make_tensor_proto(_array(inputs, info.dtype)))
        return
    for key in sorted(infos):
        if key not in inputs:
            raise invalid(f"Missing named input: {key} in 'inputs' object.")
        tensors[key].CopyFrom(tf.make_tensor_proto(
            _array(inputs[key], infos[key].dtype)))


def _fill_from_instances(instances, infos, tensors):
    """Row format: one example per instance, an object with a value per
    input key, or the value itself for a single input. Examples of a key
    must share their shape; they are stacked on a new batch axis."""
    if not isinstance(instances[0], dict) and len(infos) > 1:
        raise invalid("instances is a plain list, but expecting list of "
                      "objects as multiple input tensors required as per "
                      "tensorinfo_map")
    keyed = _is_object(instances[0])
    only_key = sorted(infos)[0]  # Of a single-input signature.
    examples = collections.defaultdict(list)  # key -> arrays, one per instance
    for index, instance in enumerate(instances):
        if keyed and not _is_object(instance):
            raise invalid(f"Expecting object but got list at item {index} of "
                          "input list")
        if not keyed and _is_object(instance):
            raise invalid(f"Expecting value/list but got object at item "
                          f"{index} of input list")
        if not keyed:
            _add_example(examples, only_key, instance, infos,
                         f"Failed to process element: {index} of 'instances' "
                         "list. Error: ")
            continue
        for key, value in instance.items():
            _add_example(examples, key, value, infos,
                         f"Failed to process element: {index} key: {key} of "
                         "'instances' list. Error: ")
        if set(instance) != set(infos):
            raise invalid(f"Failed to process element: {index} of 'instances' "
                          f"list. JSON object: {_text(instance)} keys must be "
                          f"equal to: {','.join(sorted(infos))}")
    for key, arrays in examples.items():
        tensors[key].CopyFrom(tf.make_tensor_proto(np.stack(arrays)))


def _add_example(examples, key, value, infos, context):
    """Appends one instance's `value` of input `key` to `examples`; an
    error is INVALID_ARGUMENT `context` + the status it came with."""
    try:
        if key not in infos:
            raise invalid(f"JSON object: does not have named input: {key}")
        array = _array(value, infos[key].dtype)
        if examples[key]:
            first = examples[key][0]
            if array.size != first.size:
                raise invalid(f"Expecting tensor size: {first.size} but got: "
                              f"{array.size}")
            if array.shape != first.shape:
                raise invalid(f"Expecting shape {_shape_text(first.shape)} "
                              f"but got: {_shape_text(array.shape)}")
    except RequestError as error:
        raise invalid(f"{context}{error.code.name}: {error}") from None
    examples[key].append(array)


def _shape_text(shape):
    return "[" + ",".join(str(size) for size in shape) + "]"


def _array(value, dtype):
    """A value or nested lists as a NumPy array of the TF `dtype`.

    The shape is read down the first elements ([[1, 2], [3, 4]]: (2, 2));
    every list must match it (no ragged lists) and every leaf be a JSON
    number the dtype holds, or for a string dtype a JSON string or a
    `{"b64": ...}` object, as TF Serving's `FillTensorProto` demands.
    """
    if dtype == types_pb2.DT_STRING:
        shape = _dense_shape(value)
        return _strings(_leaves(value, shape)).reshape(shape)
    float_type = FLOAT_TYPES.get(dtype)
    if float_type is None:
        raise RequestError(grpc.StatusCode.UNIMPLEMENTED,
                           f"Conversion of JSON Value: {_text(value)} to "
                           f"type: {tf.dtypes.as_dtype(dtype).name}")
    shape = _dense_shape(value)
    values = _numbers(_leaves(value, shape), float_type)
    return values.astype(float_type.numpy).reshape(shape)


def _strings(leaves):
    """`leaves` as an object array of bytes: a JSON string as its UTF-8
    bytes, a `{"b64": ...}` object as the bytes it encodes."""
    values = np.empty(len(leaves), object)
    for index, leaf in enumerate(leaves):
        if isinstance(leaf, str):
            values[index] = leaf.encode()
        elif _is_b64(leaf):
            values[index] = _b64_decode(leaf["b64"])
        elif isinstance(leaf, dict):
            raise invalid(f"JSON Value: {_text(leaf)} not formatted correctly "
                          "for base64 data")
        else:
            raise invalid(f"JSON Value: {_text(leaf)} Type: {_json_type(leaf)} "
                          "is not of expected type: string")
    return values


def _b64_decode(text):
    """Standard base64, padding optional (as absl's `Base64Unescape`)."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("Unable to base64 decode") from None


def _dense_shape(value):
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _leaves(value, shape):
    """The values of nested lists of `shape`, in row-major order."""
    nodes = [value]
    for level, size in enumerate(shape):
        children = []
        for node in nodes:
            if not isinstance(node, list):
                raise invalid(f"JSON Value: {_text(node)} found at incorrect "
                              f"level: {level + 1} in the JSON DOM. Expected "
                              f"at level: {len(shape)}")
            if len(node) != size:
                raise invalid(f"Encountered list at unexpected size: "
                              f"{len(node)} at level: {level} expected size: "
                              f"{size}")
            children.extend(node)
        nodes = children
    if list in set(map(type, nodes)):
        raise invalid(f"Encountered list at unexpected level: {len(shape)} "
                      f"expected < {len(shape)}")
    return nodes


def _json_type(value):
    """rapidjson's name of the type of a JSON value that is not a list."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return str(value)  # "True" or "False".
    if isinstance(value, dict):
        return "Object"
    return "String" if isinstance(value, str) else "Number"


def _numbers(leaves, float_type):
    """`leaves` as float64, if each is a JSON number `float_type` holds
    (TF Serving's `IsLosslessDecimal`): NaN and +-Infinity; an integer up
    to `max_int` in size; another number within the dtype's range."""
    kinds = set(map(type, leaves))
    if not kinds <= {int, float}:  # A bool, string, null or object.
        leaf = next(leaf for leaf in leaves if type(leaf) not in (int, float))
        raise invalid(f"JSON Value: {_text(leaf)} Type: {_json_type(leaf)} "
                      f"is not of expected type: {float_type.name}")
    if int in kinds:
        _check_lossless(next((leaf for leaf in leaves if type(leaf) is int
                              and abs(leaf) > float_type.max_int), None),
                        float_type)
    values = np.array(leaves, np.float64)
    out_of_range = np.isfinite(values) & (np.abs(values) > float_type.max_value)
    if out_of_range.any():
        _check_lossless(leaves[np.argmax(out_of_range)], float_type)
    return values


def _check_lossless(lossy, float_type):
    """Raises INVALID_ARGUMENT for a `lossy` value; None passes."""
    if lossy is not None:
        raise invalid(f"Cannot convert JSON value: {_text(lossy)} to "
                      f"{float_type.name} without loss of precision.")


def _outputs_json(outputs, rows):
    """`{"predictions": [...]}` (rows) or `{"outputs": ...}` (columns) of
    output key -> TensorProto; one output is written without its key."""
    arrays = {key: tf.make_ndarray(outputs[key]) for key in sorted(outputs)}
    if not arrays:
        raise invalid("Cannot convert empty tensor map to JSON")
    if rows:
        _check_batch_sizes(arrays)
    lists = {key: _json_values(key, array) for key, array in arrays.items()}
    if len(lists) == 1:
        (value,) = lists.values()
    elif rows:
        value = [dict(zip(lists, example)) for example in zip(*lists.values())]
    else:
        value = lists
    return {"predictions" if rows else "outputs": value}


def _json_values(key, array):
    """An output array as nested lists: strings as `{"b64": ...}` when the
    key ends in `_bytes`, else as text (TF Serving's `IsNamedTensorBytes`)."""
    if array.dtype != object:
        return array.tolist()
    if contract.is_bytes_key(key):
        convert = np.frompyfunc(
            lambda value: {"b64": base64.b64encode(value).decode("ascii")}, 1, 1)
    else:
        convert = np.frompyfunc(
            lambda value: value.decode(errors="replace"), 1, 1)
    converted = convert(array)
    return converted.tolist() if isinstance(converted, np.ndarray) else converted


def _check_batch_sizes(arrays):
    batch_size = None
    for key, array in arrays.items():
        if not array.ndim:
            raise invalid(f"Tensor name: {key} has no shape information ")
        if batch_size is not None and array.shape[0] != batch_size:
            raise invalid(f"Tensor name: {key} has inconsistent batch size: "
                          f"{array.shape[0]} expecting: {batch_size}")
        batch_size = array.shape[0]
