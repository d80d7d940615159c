"""Images as encoded bytes: the `_bytes` signatures decode PNG/JPEG files in
the graph exactly as the client's `decode_image` does and answer PNG files
within 8-bit quantisation of the float signatures; a value that is not an
image is INVALID_ARGUMENT naming its input over every path (session bundle,
gRPC, REST, `saved_model_cli`); the REST API reads `{"b64": ...}` and writes
`_bytes` outputs as `{"b64": ...}` in both formats, as TF Serving does."""

import base64
import http.client
import json
import pathlib
import shutil
import subprocess
import sys

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from amr_tf.client import clients as client_lib
from amr_tf.figures import drawing
from amr_tf.model_server import server as server_lib
from amr_tf.tfserving import contract
from amr_tf.tfserving import images as images_lib
from amr_tf.tfserving.bundle import SavedModelBundle
from amr_tf.tfserving.predict import RequestError
from amr_tf.tfserving.predict import predict

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (16, 16, 3)
QUANTUM = 0.5 / 127.5  # Largest change of a value in [-1, 1] written as 8 bits.
NOT_AN_IMAGE = "a value is not a PNG or JPEG image, or is corrupt"


def _fixed_files():
    """Encoded images of several sizes and channel counts, by name."""
    rng = np.random.default_rng(7)

    def pixels(*shape):
        return rng.integers(0, 256, shape, np.uint8)

    return {
        "rgb_png_20x24": tf.io.encode_png(pixels(20, 24, 3)).numpy(),
        "gray_png_40x10": tf.io.encode_png(pixels(40, 10, 1)).numpy(),
        "rgba_png_9x13": tf.io.encode_png(pixels(9, 13, 4)).numpy(),
        "rgb_jpeg_17x31": tf.io.encode_jpeg(pixels(17, 31, 3)).numpy(),
        "gray_jpeg_16x16": tf.io.encode_jpeg(pixels(16, 16, 1)).numpy(),
    }


FILES = _fixed_files()


def _bad_files():
    png = FILES["rgb_png_20x24"]
    flipped = bytearray(png)
    flipped[png.index(b"IDAT") + 20] ^= 0xFF
    jpeg = FILES["rgb_jpeg_17x31"]
    return {"empty": b"", "text": b"hello", "truncated_png": png[:len(png) // 2],
            "corrupt_png": bytes(flipped), "truncated_jpeg": jpeg[:len(jpeg) // 2],
            "gif_header_only": b"GIF89a"}


BAD_FILES = _bad_files()


def _objects(files):
    array = np.empty(len(files), object)
    array[:] = list(files)
    return array


@pytest.mark.parametrize("shape", [(16, 16, 3), (12, 8, 1), (8, 12, 3)])
def test_graph_decode_equals_the_client_decode(shape):
    """The batch decode of the exported graph (a `tf.function` on a string
    (None,) input) gives bitwise the client's eager `decode_image`."""
    decode = tf.function(
        lambda data: images_lib.decode_images(data, shape, "images_bytes"),
        input_signature=[tf.TensorSpec([None], tf.string)])
    in_graph = decode(_objects(FILES.values())).numpy()
    for index, (name, data) in enumerate(FILES.items()):
        expected = client_lib.decode_image(data, shape, name)
        assert expected.shape == shape and expected.dtype == np.float32
        np.testing.assert_array_equal(in_graph[index], expected, err_msg=name)


def test_the_crop_keeps_the_centre_of_the_aspect_ratio():
    """A 20 x 40 image with a white centre square: a square model keeps
    only the square; a 1:2 model keeps the whole image."""
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255
    data = tf.io.encode_png(wide).numpy()
    np.testing.assert_allclose(client_lib.decode_image(data, (8, 8, 3)), 1.0,
                               atol=1e-5)
    whole = client_lib.decode_image(data, (4, 8, 3))
    np.testing.assert_allclose(whole[:, 3:5], 1.0, atol=1e-5)
    np.testing.assert_allclose(whole[:, [0, 7]], -1.0, atol=1e-5)


def test_png_outputs_round_as_drawing_to_uint8():
    images = np.random.default_rng(1).uniform(-1.2, 1.2, (3, 5, 7, 3)
                                              ).astype(np.float32)
    images[0, 0, 0] = [-1.0, 1.0, 0.0]
    files = images_lib.encode_png(images).numpy()
    for data, image in zip(files, images):
        np.testing.assert_array_equal(tf.io.decode_png(data).numpy(),
                                      drawing.to_uint8(image))


@pytest.fixture(scope="module")
def bundle(tiny_run):
    """The tiny export as TF Serving loads it (session, serve tag)."""
    loaded = SavedModelBundle(tiny_run.export_path)
    yield loaded
    loaded.close()


def _float_inputs(name, files_a, files_b, extra):
    """The float signature's inputs: the files decoded by the client."""
    decoded = [np.stack([client_lib.decode_image(data, IMAGE_SHAPE)
                         for data in files]) for files in (files_a, files_b)]
    keys = contract.SIGNATURES[contract.ENCODED_SIGNATURES[name]].inputs
    return dict(zip(keys, [*decoded, extra][:len(keys)]))


@pytest.mark.parametrize("name", [contract.MIX_BYTES, contract.RECONSTRUCT_BYTES,
                                  contract.MIX_ATTRIBUTES_BYTES])
def test_bytes_signatures_equal_the_float_ones_within_quantisation(bundle, name):
    files_a = _objects(FILES.values())
    files_b = files_a[::-1]
    batch = len(files_a)
    extra = (np.linspace(0, 1, batch, dtype=np.float32) if name == contract.MIX_BYTES
             else np.random.default_rng(2).uniform(size=(batch, 3))
             .astype(np.float32))
    keys = contract.SIGNATURES[name]
    encoded = bundle.run(name, dict(zip(keys.inputs, (files_a, files_b, extra))),
                         list(keys.outputs))
    float_name = contract.ENCODED_SIGNATURES[name]
    floats = bundle.run(float_name, _float_inputs(name, files_a, files_b, extra),
                        list(contract.SIGNATURES[float_name].outputs))
    assert encoded["images_bytes"].shape == (batch,)
    assert encoded["images_bytes"].dtype == object
    pngs = client_lib.png_images(encoded["images_bytes"])
    assert pngs.shape == (batch, *IMAGE_SHAPE)
    np.testing.assert_array_equal(
        np.stack([tf.io.decode_png(data).numpy() for data in encoded["images_bytes"]]),
        drawing.to_uint8(floats["images"]))
    assert np.abs(pngs - np.clip(floats["images"], -1, 1)).max() <= QUANTUM + 1e-6
    if "mask" in keys.outputs:
        np.testing.assert_allclose(encoded["mask"], floats["mask"], atol=1e-6)


def _request(name, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "amr"
    request.model_spec.signature_name = name
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def _mix_bytes_inputs(bad_key=None, bad=b""):
    files = {key: _objects([FILES["rgb_png_20x24"], FILES["rgb_jpeg_17x31"]])
             for key in ("images_a_bytes", "images_b_bytes")}
    if bad_key:
        files[bad_key][1] = bad
    return {**files, "alpha": np.array([0.25, 0.75], np.float32)}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_the_session_bundle_refuses_a_non_image_naming_the_input(bundle, kind):
    for key in ("images_a_bytes", "images_b_bytes"):
        request = _request(contract.MIX_BYTES,
                           **_mix_bytes_inputs(key, BAD_FILES[kind]))
        with pytest.raises(RequestError) as raised:
            predict(bundle, request, max_batch_size=8)
        assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert str(raised.value) == f"{key}: {NOT_AN_IMAGE}"
    request = _request(contract.RECONSTRUCT_BYTES,
                       images_bytes=_objects([BAD_FILES[kind]]))
    with pytest.raises(RequestError, match=f"^images_bytes: {NOT_AN_IMAGE}$"):
        predict(bundle, request, max_batch_size=8)


def test_saved_model_cli_refuses_a_non_image_naming_the_input(tiny_run,
                                                              tmp_path):
    """TF Serving's session path in its own process: the graph's message."""
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    inputs = _mix_bytes_inputs("images_b_bytes", b"hello")
    for key, value in inputs.items():
        np.save(tmp_path / f"{key}.npy", value)
    result = subprocess.run(
        [str(cli), "run", "--dir", tiny_run.export_path, "--tag_set", "serve",
         "--signature_def", contract.MIX_BYTES, "--inputs",
         ";".join(f"{key}={tmp_path / key}.npy" for key in inputs),
         "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert f"assertion failed: [images_b_bytes: {NOT_AN_IMAGE}]" in result.stderr


@pytest.fixture(scope="module")
def served(tiny_run, tmp_path_factory):
    """The tiny export behind the stand-in's gRPC and REST ports; yields the
    server and a gRPC and a REST client."""
    base = tmp_path_factory.mktemp("models") / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    server = server_lib.ModelServer({"amr": str(base)}, port=0, rest_port=0,
                                    poll_seconds=0, max_batch_size=8).start()
    clients = (client_lib.ServingClient(server.address, "amr"),
               client_lib.RestClient(server.rest.address, "amr"))
    yield server, *clients
    for client in clients:
        client.close()
    server.stop()


def _post(server, document):
    """POSTs `document` to :predict; (HTTP status, parsed answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.rest.port,
                                            timeout=60)
    try:
        connection.request("POST", "/v1/models/amr:predict",
                           body=json.dumps(document))
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _b64(data):
    return {"b64": base64.b64encode(data).decode("ascii")}


def test_grpc_and_rest_refuse_a_non_image_naming_the_input(served):
    server, grpc_client, rest_client = served
    inputs = _mix_bytes_inputs("images_a_bytes", BAD_FILES["truncated_png"])
    with pytest.raises(grpc.RpcError) as raised:
        grpc_client.predict(contract.MIX_BYTES, inputs)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == f"images_a_bytes: {NOT_AN_IMAGE}"
    with pytest.raises(client_lib.ServingError) as refused:
        rest_client.predict(contract.MIX_BYTES, inputs)
    assert (refused.value.status, refused.value.message) == (
        400, f"images_a_bytes: {NOT_AN_IMAGE}")
    # A JSON string is its UTF-8 bytes: not an image either.
    status, answer = _post(server, {
        "signature_name": contract.RECONSTRUCT_BYTES, "instances": ["hello"]})
    assert (status, answer) == (400, {"error": f"images_bytes: {NOT_AN_IMAGE}"})
    # The servers keep serving.
    assert len(grpc_client.mix_files(*[list(FILES.values())[:2]] * 2, 0.5)) == 2


def test_rest_b64_rows_and_columns_answer_as_tf_serving(served):
    """Rows: one prediction per example, a lone `_bytes` output keyless as
    `{"b64": ...}`; columns: the batch per key. The PNG files equal gRPC's
    bytes for bytes."""
    server, grpc_client, _ = served
    files = list(FILES.values())[:3]
    want = grpc_client.predict(contract.RECONSTRUCT_BYTES,
                               {"images_bytes": _objects(files)})["images_bytes"]
    expected = [_b64(data) for data in want]
    assert _post(server, {"signature_name": contract.RECONSTRUCT_BYTES,
                          "instances": [_b64(data) for data in files]}) == (
        200, {"predictions": expected})
    assert _post(server, {"signature_name": contract.RECONSTRUCT_BYTES,
                          "inputs": [_b64(data) for data in files]}) == (
        200, {"outputs": expected})
    selector = np.array([[1, 0, 1], [0, 1, 0], [0.5, 0.5, 0.5]], np.float32)
    inputs = {"images_a_bytes": _objects(files),
              "images_b_bytes": _objects(files[::-1]), "selector": selector}
    want = grpc_client.predict(contract.MIX_ATTRIBUTES_BYTES, inputs)
    status, columns = _post(server, {
        "signature_name": contract.MIX_ATTRIBUTES_BYTES,
        "inputs": {"images_a_bytes": [_b64(data) for data in files],
                   "images_b_bytes": [_b64(data) for data in files[::-1]],
                   "selector": selector.tolist()}})
    assert status == 200
    assert columns["outputs"]["images_bytes"] == [
        _b64(data) for data in want["images_bytes"]]
    np.testing.assert_array_equal(np.float32(columns["outputs"]["mask"]),
                                  want["mask"])
    status, rows = _post(server, {
        "signature_name": contract.MIX_ATTRIBUTES_BYTES,
        "instances": [{"images_a_bytes": _b64(a), "images_b_bytes": _b64(b),
                       "selector": s.tolist()}
                      for a, b, s in zip(files, files[::-1], selector)]})
    assert status == 200
    assert [row["images_bytes"] for row in rows["predictions"]] == (
        columns["outputs"]["images_bytes"])
    assert sorted(rows["predictions"][0]) == ["images_bytes", "mask"]


NOT_NAMED = ("Failed to process element: 0 key: b64 of 'instances' list. "
             "Error: INVALID_ARGUMENT: JSON object: does not have named input: "
             "b64")


@pytest.mark.parametrize("value, message, row_message", [
    ({"b64": "not base64!"}, "Unable to base64 decode", None),
    ({"b64": 1}, 'JSON Value: {"b64": 1} not formatted correctly for base64 '
     "data", NOT_NAMED),
    ({"b64": "aGk=", "x": 1}, 'JSON Value: {"b64": "aGk=", "x": 1} not '
     "formatted correctly for base64 data", NOT_NAMED),
    (1.5, "JSON Value: 1.5 Type: Number is not of expected type: string", None),
    (None, "JSON Value: null Type: Null is not of expected type: string", None),
])
def test_rest_refuses_a_string_value_it_cannot_read(served, value, message,
                                                    row_message):
    """As TF Serving: in rows, an object that is not `{"b64": text}` is an
    instance of named inputs."""
    server, _, _ = served
    columns = {"signature_name": contract.RECONSTRUCT_BYTES, "inputs": [value]}
    assert _post(server, columns) == (400, {"error": message})
    rows = {"signature_name": contract.RECONSTRUCT_BYTES, "instances": [value]}
    assert _post(server, rows) == (400, {"error": row_message or (
        "Failed to process element: 0 of 'instances' list. Error: "
        f"INVALID_ARGUMENT: {message}")})


def test_b64_without_padding_is_read(served):
    server, _, rest_client = served
    data = FILES["gray_png_40x10"]
    text = base64.b64encode(data).decode("ascii").rstrip("=")
    assert len(text) % 4  # The padding was there and is gone.
    status, answer = _post(server, {"signature_name": contract.RECONSTRUCT_BYTES,
                                    "inputs": [{"b64": text}]})
    assert status == 200
    assert answer["outputs"] == [_b64(data) for data in rest_client.predict(
        contract.RECONSTRUCT_BYTES, {"images_bytes": _objects([data])}
    )["images_bytes"]]


def test_rest_and_grpc_clients_send_files_alike(served):
    _, grpc_client, rest_client = served
    files = list(FILES.values())
    over_grpc = grpc_client.mix_files(files, files[::-1], 0.3)
    over_rest = rest_client.mix_files(files, files[::-1], 0.3)
    assert list(over_rest) == list(over_grpc)
    strip = rest_client.interpolate_files(files[0], files[1], 4)
    assert client_lib.png_images(strip).shape == (4, *IMAGE_SHAPE)
    assert strip[0] == rest_client.predict(contract.RECONSTRUCT_BYTES, {
        "images_bytes": _objects(files[:1])})["images_bytes"][0]


def test_the_docs_b64_request_is_the_example_images_and_is_served(served):
    """docs/examples/mix_bytes_request.json (the curl line of the README and
    SERVING.md) holds the two example files; the stand-in answers it as the
    clients do."""
    server, grpc_client, _ = served
    body = json.loads((ROOT / "docs" / "examples" / "mix_bytes_request.json")
                      .read_text())
    examples = [(ROOT / "docs" / "examples" / f"{name}.png").read_bytes()
                for name in ("round_warm_large", "square_cool_small")]
    assert body == {"signature_name": contract.MIX_BYTES, "instances": [{
        "images_a_bytes": _b64(examples[0]), "images_b_bytes": _b64(examples[1]),
        "alpha": 0.5}]}
    status, answer = _post(server, body)
    assert status == 200
    want = grpc_client.mix_files(examples[:1], examples[1:], 0.5)
    assert answer == {"predictions": [_b64(want[0])]}


def test_the_docs_printf_body_is_the_example_request(served, tmp_path):
    """SERVING.md's shell recipe for a b64 body, run on copies of the two
    example files, writes docs/examples/mix_bytes_request.json's request."""
    text = (ROOT / "docs" / "SERVING.md").read_text()
    start = text.index("printf '{\"signature_name\": \"mix_bytes\"")
    command = text[start:text.index("> request.json", start)] + "> request.json"
    for name, source in (("a", "round_warm_large"), ("b", "square_cool_small")):
        shutil.copy(ROOT / "docs" / "examples" / f"{source}.png",
                    tmp_path / f"{name}.png")
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    body = json.loads((tmp_path / "request.json").read_text())
    assert body == json.loads((ROOT / "docs" / "examples" /
                               "mix_bytes_request.json").read_text())
    status, answer = _post(served[0], body)
    assert status == 200 and list(answer) == ["predictions"]
