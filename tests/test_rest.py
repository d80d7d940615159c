"""TF Serving's REST API on the stand-in server: both JSON formats answer
bitwise what gRPC answers, errors carry TF Serving's statuses and messages,
and the REST client and CLI work against it."""

import http.client
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from amr_tf.client import clients as client_lib
from amr_tf.model_server import rest
from amr_tf.model_server import server as server_lib
from benchmarks.serving_load import mix_concurrently

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (16, 16, 3)
MAX_BATCH = 8
SIGNATURES = {"mix", "encode", "decode", "reconstruct", "mix_latents",
              "mix_bernoulli", "mix_attributes", "serving_default"}


@pytest.fixture(scope="module")
def served(tiny_run, tmp_path_factory):
    """The tiny run's export (version 2) behind gRPC and REST on loopback;
    yields the server and a gRPC client, whose answers are the reference."""
    base = tmp_path_factory.mktemp("models") / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    server = server_lib.ModelServer({"amr": str(base)}, port=0, rest_port=0,
                                    poll_seconds=0,
                                    max_batch_size=MAX_BATCH).start()
    grpc_client = client_lib.ServingClient(server.address, "amr")
    yield server, grpc_client
    grpc_client.close()
    server.stop()


def call(server, method, path, document=None, body=None, headers=None):
    """One HTTP request to the REST port; returns (status, content type,
    parsed JSON answer)."""
    if document is not None:
        body = json.dumps(document)
    connection = http.client.HTTPConnection("127.0.0.1", server.rest.port,
                                            timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        text = response.read()
    finally:
        connection.close()
    return response.status, response.getheader("Content-Type"), json.loads(text)


def post(server, path, document):
    status, content_type, answer = call(server, "POST", path, document)
    assert (status, content_type) == (200, "application/json"), answer
    return answer


def _mix_inputs(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (2, batch, *IMAGE_SHAPE)).astype(np.float32)
    alpha = np.linspace(0.2, 0.8, batch, dtype=np.float32)
    return {"images_a": images[0], "images_b": images[1], "alpha": alpha}


def columns(inputs):
    return {key: value.tolist() for key, value in inputs.items()}


def rows(inputs):
    batch = len(next(iter(inputs.values())))
    return [{key: value[index].tolist() for key, value in inputs.items()}
            for index in range(batch)]


def assert_bitwise_equal(answer, expected):
    """JSON numbers read as float32 have exactly the bits of `expected`."""
    answer = np.asarray(answer, np.float32)
    assert answer.shape == expected.shape
    np.testing.assert_array_equal(answer.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("path, signature", [
    ("/v1/models/amr:predict", "mix"),
    ("/v1/models/amr/versions/2:predict", "mix"),
    ("/v1/models/amr:predict", None),  # serving_default, which is mix.
])
def test_mix_in_both_formats_equals_grpc_bitwise(served, path, signature):
    server, grpc_client = served
    inputs = _mix_inputs()
    expected = grpc_client.predict("mix", inputs)
    named = {} if signature is None else {"signature_name": signature}
    outputs = post(server, path, {**named, "inputs": columns(inputs)})["outputs"]
    assert set(outputs) == {"images", "latents"}
    predictions = post(server, path, {**named, "instances": rows(inputs)})[
        "predictions"]
    assert len(predictions) == 2
    assert all(set(example) == {"images", "latents"} for example in predictions)
    for key in ("images", "latents"):
        assert_bitwise_equal(outputs[key], expected[key])
        assert_bitwise_equal([example[key] for example in predictions],
                             expected[key])


@pytest.mark.parametrize("signature, output", [
    ("encode", "latents"), ("reconstruct", "images")])
def test_one_input_signature_takes_plain_values_and_answers_plain_values(
        served, signature, output):
    server, grpc_client = served
    images = _mix_inputs(batch=3)["images_a"]
    expected = grpc_client.predict(signature, {"images": images})[output]
    path = "/v1/models/amr:predict"
    answers = [
        post(server, path, {"signature_name": signature,
                            "inputs": images.tolist()})["outputs"],
        post(server, path, {"signature_name": signature,
                            "inputs": {"images": images.tolist()}})["outputs"],
        post(server, path, {"signature_name": signature,
                            "instances": [image.tolist() for image in images]}
             )["predictions"],
        post(server, path, {"signature_name": signature,
                            "instances": rows({"images": images})})["predictions"],
    ]
    for answer in answers:  # One output: its value, without its key.
        assert isinstance(answer, list)
        assert_bitwise_equal(answer, expected)


def test_a_chunked_body_is_read(served):
    server, grpc_client = served
    inputs = _mix_inputs(batch=1)
    text = json.dumps({"signature_name": "mix", "inputs": columns(inputs)})
    chunks = [text[start:start + 1000].encode()
              for start in range(0, len(text), 1000)]
    connection = http.client.HTTPConnection("127.0.0.1", server.rest.port,
                                            timeout=60)
    connection.request("POST", "/v1/models/amr:predict", body=iter(chunks),
                       encode_chunked=True)
    answer = json.loads(connection.getresponse().read())
    connection.close()
    assert_bitwise_equal(answer["outputs"]["images"],
                         grpc_client.predict("mix", inputs)["images"])


@pytest.mark.parametrize("path", ["/v1/models/amr", "/v1/models/amr/versions/2"])
def test_model_status_is_tf_serving_json(served, path):
    server, _ = served
    assert call(server, "GET", path) == (200, "application/json", {
        "model_version_status": [{
            "version": "2", "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]})


@pytest.mark.parametrize("path", ["/v1/models/amr/metadata",
                                  "/v1/models/amr/versions/2/metadata"])
def test_metadata_is_the_signature_def_map_in_tf_serving_layout(served, path):
    server, grpc_client = served
    status, content_type, answer = call(server, "GET", path)
    assert (status, content_type) == (200, "application/json")
    assert set(answer) == {"model_spec", "metadata"}
    assert answer["model_spec"] == {"name": "amr", "signature_name": "",
                                    "version": "2"}
    assert set(answer["metadata"]) == {"signature_def"}
    signature_defs = answer["metadata"]["signature_def"]["signature_def"]
    assert SIGNATURES <= set(signature_defs)
    mix = signature_defs["mix"]
    assert mix["method_name"] == "tensorflow/serving/predict"
    assert set(mix["inputs"]) == {"images_a", "images_b", "alpha"}
    assert mix["inputs"]["images_a"]["dtype"] == "DT_FLOAT"
    assert mix["inputs"]["images_a"]["tensor_shape"] == {
        "dim": [{"size": size, "name": ""} for size in ("-1", "16", "16", "3")],
        "unknown_rank": False}
    assert mix["inputs"]["alpha"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""}]
    rest_client = client_lib.RestClient(server.rest.address, "amr")
    assert rest_client.signature_defs() == grpc_client.signature_defs()


def _images(batch, value=0.0):
    return np.full((batch, *IMAGE_SHAPE), value, np.float32).tolist()


def _mix_body(**changes):
    """A columnar mix body; a change of None removes that input."""
    inputs = {**columns(_mix_inputs()), **changes}
    return {"signature_name": "mix",
            "inputs": {key: value for key, value in inputs.items()
                       if value is not None}}


def _ragged_images():
    images = _images(1)
    images[0][3] = images[0][3][:15]  # Row 3 has 15 pixels.
    return images[0]


ROW = rows(_mix_inputs())
PREDICT = "/v1/models/amr:predict"


@pytest.mark.parametrize("method, path, body, status, message", [
    ("POST", PREDICT, '{"instances": [1,', 400,
     "JSON Parse error: Expecting value at offset: 17"),
    ("POST", PREDICT, "", 400, "JSON Parse error: The document is empty"),
    ("POST", PREDICT, "[1, 2]", 400, "JSON Value: [1, 2] Is not object"),
    ("POST", PREDICT, {"signature_name": "mix"}, 400,
     "Missing 'inputs' or 'instances' key"),
    ("POST", PREDICT, {"signature_name": 3, "inputs": []}, 400,
     'JSON Value: {"signature_name": 3, "inputs": []} not formatted correctly. '
     "'signature_name' key must be a string value."),
    ("POST", PREDICT, {"signature_name": "swap", "inputs": {}}, 400,
     'Serving signature name: "swap" not found in signature def'),
    ("POST", "/v1/models/other:predict", _mix_body(), 404,
     "Servable not found for request: Latest(other)"),
    ("POST", "/v1/models/amr/versions/5:predict", _mix_body(), 404,
     "Servable not found for request: Specific(amr, 5)"),
    ("POST", "/v1/models/amr/labels/stable:predict", _mix_body(), 400,
     "Unrecognized servable version label: stable"),
    ("POST", PREDICT, _mix_body(images_a=_images(2)[0]), 400,
     "input images_a: expects shape (-1, 16, 16, 3) (-1: any), got (16, 16, 3)"),
    ("POST", PREDICT, _mix_body(images_a=_images(2, float("nan"))), 400,
     "images_a: values must be finite, not NaN or Inf"),
    ("POST", PREDICT, _mix_body(alpha=[float("inf"), 0.5]), 400,
     "alpha: values must be finite, not NaN or Inf"),
    ("POST", PREDICT, _mix_body(alpha=[1.5, 0.5]), 400,
     "alpha: values must lie between 0 and 1"),
    ("POST", PREDICT, _mix_body(alpha=[0.5]), 400,
     "inputs must share their batch size, got alpha 1, images_a 2, images_b 2"),
    ("POST", PREDICT, _mix_body(images_a=_images(9), images_b=_images(9),
                                alpha=[0.5] * 9), 400,
     f"batch size 9 is over this server's --max_batch_size={MAX_BATCH}"),
    ("POST", PREDICT, _mix_body(alpha=None), 400,
     "Missing named input: alpha in 'inputs' object."),
    ("POST", PREDICT, {"instances": [
        {key: value for key, value in example.items() if key != "alpha"}
        for example in ROW]}, 400,
     "Failed to process element: 0 of 'instances' list. JSON object: "
     + json.dumps({key: value for key, value in ROW[0].items()
                   if key != "alpha"})
     + " keys must be equal to: alpha,images_a,images_b"),
    ("POST", PREDICT, {"instances": [ROW[0], {**ROW[1], "alpha": "high"}]}, 400,
     "Failed to process element: 1 key: alpha of 'instances' list. Error: "
     'INVALID_ARGUMENT: JSON Value: "high" Type: String is not of expected '
     "type: float"),
    ("POST", PREDICT, {"instances": [ROW[0], {**ROW[1], "images_a": ROW[1][
        "images_a"][:15]}]}, 400,
     "Failed to process element: 1 key: images_a of 'instances' list. Error: "
     "INVALID_ARGUMENT: Expecting tensor size: 768 but got: 720"),
    ("POST", PREDICT, {"instances": [{**ROW[0], "images_a": _ragged_images()}]},
     400,
     "Failed to process element: 0 key: images_a of 'instances' list. Error: "
     "INVALID_ARGUMENT: Encountered list at unexpected size: 15 at level: 1 "
     "expected size: 16"),
    ("POST", PREDICT, {"instances": [ROW[0], [0.5]]}, 400,
     "Expecting object but got list at item 1 of input list"),
    ("POST", PREDICT, {"signature_name": "encode", "instances": [
        _images(1)[0], {"images": _images(1)[0]}]}, 400,
     "Expecting value/list but got object at item 1 of input list"),
    ("POST", PREDICT, {"signature_name": "encode",
                       "instances": [_images(1)[0], _images(1)[0][:4]]}, 400,
     "Failed to process element: 1 of 'instances' list. Error: "
     "INVALID_ARGUMENT: Expecting tensor size: 768 but got: 192"),
    ("POST", PREDICT, {"instances": [[0.5]]}, 400,
     "instances is a plain list, but expecting list of objects as multiple "
     "input tensors required as per tensorinfo_map"),
    ("POST", PREDICT, _mix_body(alpha=[1e39, 0.5]), 400,
     "Cannot convert JSON value: 1e+39 to float without loss of precision."),
    ("POST", PREDICT, _mix_body(alpha=[[0.5], 0.5]), 400,
     "JSON Value: 0.5 found at incorrect level: 2 in the JSON DOM. Expected at "
     "level: 2"),
    ("POST", PREDICT, _mix_body(alpha=[True, 0.5]), 400,
     "JSON Value: true Type: True is not of expected type: float"),
    ("POST", PREDICT, {"inputs": [], "instances": []}, 400,
     "JSON Value: {\"inputs\": [], \"instances\": []} Not formatted correctly "
     "expecting only one of 'inputs' or 'instances' keys to exist "),
    ("POST", "/v1/models/amr:explode", {}, 400,
     "Malformed request: POST /v1/models/amr:explode"),
    ("POST", "/v1/models/amr:classify", {}, 501,
     "classify is not served here: the signatures are predict signatures"),
    ("PUT", "/v1/models/amr", None, 400, "Malformed request: PUT /v1/models/amr"),
    ("GET", "/v1/models/amr:predict", None, 400,
     "Malformed request: GET /v1/models/amr:predict"),
    ("GET", "/v1/models", None, 400, "Missing model name in request."),
    ("GET", "/v1/models/other", None, 404,
     "Could not find any versions of model other"),
    ("GET", "/v1/models/amr/versions/5", None, 404,
     "Could not find version 5 of model amr"),
    ("GET", "/v1/models/other/metadata", None, 404,
     "Servable not found for request: Latest(other)"),
    ("GET", "/v1/models/amr/versions/99999999999999999999", None, 400,
     "Failed to convert version: 99999999999999999999 to numeric."),
    ("GET", "/index.html", None, 404, "Not Found: GET /index.html"),
])
def test_refused_requests_get_tf_serving_status_and_message(
        served, method, path, body, status, message):
    server, _ = served
    document, text = (None, body) if isinstance(body, str) else (body, None)
    assert call(server, method, path, document, text) == (
        status, "application/json", {"error": message})
    assert call(server, "GET", "/v1/models/amr")[0] == 200  # Still serving.


def test_a_body_over_the_limit_is_refused_unread(served):
    server, _ = served
    size = 10**12  # Declared, never sent.
    assert call(server, "POST", PREDICT,
                headers={"Content-Length": str(size)}) == (
        400, "application/json",
        {"error": f"request body of {size} bytes is over this server's limit "
                  f"of {rest.MAX_BODY_BYTES} bytes"})


def test_an_address_in_use_cannot_be_bound(served):
    server, _ = served
    with pytest.raises(OSError, match=f"^cannot bind 127.0.0.1:{server.rest.port}$"):
        rest.RestServer(None, "127.0.0.1", server.rest.port)


def test_rest_client_answers_as_the_grpc_client(served):
    server, grpc_client = served
    rest_client = client_lib.RestClient(server.rest.address, "amr", version=2)
    inputs = _mix_inputs(seed=3)
    assert rest_client.input_shape() == IMAGE_SHAPE
    mixed = rest_client.mix(inputs["images_a"], inputs["images_b"], 0.4)
    assert mixed.dtype == np.float32
    assert_bitwise_equal(mixed, grpc_client.mix(
        inputs["images_a"], inputs["images_b"], 0.4))
    latents = rest_client.predict("encode", {"images": inputs["images_a"]})
    assert set(latents) == {"latents"}
    assert_bitwise_equal(latents["latents"], grpc_client.predict(
        "encode", {"images": inputs["images_a"]})["latents"])
    strip = rest_client.interpolate(inputs["images_a"][0], inputs["images_b"][0], 3)
    assert strip.shape == (3, *IMAGE_SHAPE)
    with pytest.raises(client_lib.ServingError) as raised:
        rest_client.mix(np.full_like(inputs["images_a"], np.nan),
                        inputs["images_b"], 0.5)
    assert (raised.value.status, raised.value.message) == (
        400, "images_a: values must be finite, not NaN or Inf")
    missing = client_lib.RestClient(server.rest.address, "amr", version=5)
    with pytest.raises(client_lib.ServingError) as raised:
        missing.mix(inputs["images_a"], inputs["images_b"], 0.5)
    assert (raised.value.status, raised.value.message) == (
        404, "Servable not found for request: Specific(amr, 5)")


LOAD_CLIENTS = 16
LOAD_REQUESTS = 100


def test_sixteen_concurrent_rest_clients_get_the_same_answers(served):
    server, grpc_client = served
    inputs = _mix_inputs(batch=1, seed=4)
    alphas = np.linspace(0.0, 1.0, LOAD_CLIENTS)
    expected = [grpc_client.mix(inputs["images_a"], inputs["images_b"], alpha)
                for alpha in alphas]
    # The deadline separates a lost request from a slow one: 16 clients and
    # the server share one process's GIL on 2 cores (latency is measured by
    # benchmarks/serving_latency.py, not here).
    results = mix_concurrently(
        server.rest.address, inputs["images_a"], inputs["images_b"], alphas,
        LOAD_REQUESTS, client_class=client_lib.RestClient, timeout=300.0)
    answers = [answer for session in results for _, answer in session]
    assert len(answers) == LOAD_CLIENTS * LOAD_REQUESTS
    errors = [answer for answer in answers if isinstance(answer, Exception)]
    assert not errors, f"{len(errors)} errors, first: {errors[0]}"
    for session, want in zip(results, expected):
        for _, answer in session:
            assert_bitwise_equal(answer, want)


def run_module(module, *args):
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
        text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_client_cli_over_rest_writes_a_mix_and_reports_refusals(served, tmp_path):
    server, _ = served
    for name, value in (("a", 250), ("b", 10)):
        tf.io.write_file(str(tmp_path / f"{name}.png"), tf.io.encode_png(
            np.full((24, 24, 3), value, np.uint8)))
    common = ["--transport=rest", f"--server={server.rest.address}",
              f"--image_a={tmp_path / 'a.png'}", f"--image_b={tmp_path / 'b.png'}"]
    single = run_module("amr_tf.serving.client", *common, "--model_name=amr",
                        f"--output={tmp_path / 'mix.png'}")
    assert single.returncode == 0, single.stderr[-2000:]
    mix = tf.io.decode_png(tf.io.read_file(str(tmp_path / "mix.png"))).numpy()
    assert mix.shape == IMAGE_SHAPE
    refused = run_module("amr_tf.serving.client", *common, "--model_name=nope")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {server.rest.address} answered HTTP 404: Servable not found "
        "for request: Latest(nope)")
