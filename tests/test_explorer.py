"""The mix explorer in a real headless browser (Debian's chromium and its
driver) against the tiny export behind the stand-in's REST API: the page
draws what the REST API answers, uploads work, a stopped model server shows
its message; and the explorer's API errors over plain HTTP."""

import base64
import http.client
import json
import os
import pathlib
import shutil
import socket

import numpy as np
import pytest
import tensorflow as tf
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from amr_tf.client import clients as client_lib
from amr_tf.explorer import app as explorer_lib
from amr_tf.figures import drawing
from amr_tf.model_server import server as server_lib
from amr_tf.tfserving import contract

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
EXAMPLE_NAMES = sorted(path.name for path in EXAMPLES.glob("*.png"))
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def export_base(tiny_run, tmp_path_factory):
    """A base path holding the tiny run's export as version 2."""
    base = tmp_path_factory.mktemp("models") / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    return base


def start_model_server(export_base):
    return server_lib.ModelServer({"amr": str(export_base)}, port=0,
                                  rest_port=0, poll_seconds=0).start()


def start_explorer(model_server_address, export_base):
    explorer = explorer_lib.Explorer(model_server_address, "amr", str(EXAMPLES),
                                     str(export_base))
    return explorer_lib.ExplorerServer(explorer, port=0).start()


@pytest.fixture(scope="module")
def model_server(export_base):
    server = start_model_server(export_base)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def explorer(model_server, export_base):
    server = start_explorer(model_server.rest.address, export_base)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rest_client(model_server):
    return client_lib.RestClient(model_server.rest.address, "amr")


@pytest.fixture(scope="module")
def browser():
    """Headless chromium through chromedriver; fails (not skips) without
    them."""
    paths = {name: shutil.which(name) for name in ("chromium", "chromedriver")}
    missing = [name for name, path in paths.items() if not path]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: apt-get install "
                    "chromium chromium-driver", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = paths["chromium"]
    for argument in ("--headless=new", "--no-sandbox",
                     "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options,
                              service=Service(paths["chromedriver"]))
    yield driver
    driver.quit()


def wait_for(browser, script):
    """Waits until the JavaScript expression `script` is truthy; returns it."""
    return WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: driver.execute_script(f"return {script}"))


def open_page(browser, server):
    browser.get(server.url)
    wait_for(browser, "document.body.dataset.ready === 'true'")


def screenshot(browser, tmp_path, name):
    """Saves the page as `tmp_path/name.png`, and into $EXPLORER_SCREENSHOTS
    if set."""
    path = tmp_path / f"{name}.png"
    browser.save_screenshot(str(path))
    if os.environ.get("EXPLORER_SCREENSHOTS"):
        os.makedirs(os.environ["EXPLORER_SCREENSHOTS"], exist_ok=True)
        shutil.copy(path, os.environ["EXPLORER_SCREENSHOTS"])
    return path


def canvas_pixels(browser, selector):
    """The RGB pixels (H, W, 3) uint8 of each canvas `selector` matches."""
    canvases = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((canvas) => "
        "[canvas.width, canvas.height, Array.from(canvas.getContext('2d')"
        ".getImageData(0, 0, canvas.width, canvas.height).data)]);", selector)
    return [np.asarray(data, np.uint8).reshape(height, width, 4)[..., :3]
            for width, height, data in canvases]


def shown(browser, element_id):
    """The RGB pixels (H, W, 3) uint8 of the canvas `element_id`."""
    return canvas_pixels(browser, f"#{element_id}")[0]


def assert_shows(pixels, images):
    """The canvas shows the [-1, 1] image as `drawing.to_uint8` converts
    it, within 1/255 (JavaScript rounds halves up)."""
    expected = drawing.to_uint8(images)
    assert pixels.shape == expected.shape
    assert np.abs(pixels.astype(int) - expected).max() <= 1


def set_alpha(browser, steps):
    """Moves the alpha slider with the keyboard to `steps` / 100."""
    slider = browser.find_element(By.ID, "alpha")
    slider.send_keys(Keys.HOME)
    slider.send_keys(*[Keys.ARROW_RIGHT] * steps)


def example(rest_client, name):
    return client_lib.load_image(str(EXAMPLES / name),
                                 rest_client.input_shape())


def test_gallery_renders_with_the_model_metadata(browser, explorer, rest_client,
                                                 tmp_path):
    open_page(browser, explorer)
    names = browser.execute_script(
        "return [...document.querySelectorAll('#gallery li span')]"
        ".map((span) => span.textContent)")
    assert names == EXAMPLE_NAMES
    assert browser.execute_script(
        "return document.querySelectorAll('#gallery canvas').length") == 2
    assert_shows(shown(browser, "image-a"),
                 example(rest_client, EXAMPLE_NAMES[0]))
    metadata = browser.execute_script(
        "return document.getElementById('metadata').textContent")
    for text in ("shapes", "amr", "class mixer (base: bernoulli)",
                 "16 × 16 × 3", "round, warm, large"):
        assert text in metadata
    assert browser.execute_script(
        "return document.getElementById('error').hidden")
    screenshot(browser, tmp_path, "explorer_laptop")
    browser.set_window_size(375, 800)
    try:
        assert browser.execute_script(
            "return document.documentElement.scrollWidth") <= 375
        screenshot(browser, tmp_path, "explorer_phone")
    finally:
        browser.set_window_size(1280, 1000)


def test_moving_the_slider_shows_the_mix_the_rest_api_returns(
        browser, explorer, rest_client, tmp_path):
    open_page(browser, explorer)
    wait_for(browser, "document.getElementById('mix').dataset.alpha === '0.5'")
    image_a, image_b = (example(rest_client, name) for name in EXAMPLE_NAMES)
    at_half = shown(browser, "mix")
    set_alpha(browser, 30)
    wait_for(browser, "document.getElementById('mix').dataset.alpha === '0.3'")
    at_03 = shown(browser, "mix")
    assert_shows(at_03, rest_client.mix(image_a[None], image_b[None], 0.3)[0])
    assert not np.array_equal(at_03, at_half)
    assert_shows(shown(browser, "blend"), 0.3 * image_a + 0.7 * image_b)
    screenshot(browser, tmp_path, "explorer_alpha_0.3")


def test_strip_and_class_mixer_views_show_the_rest_answers(browser, explorer,
                                                           rest_client):
    open_page(browser, explorer)
    wait_for(browser, "document.querySelectorAll('#strip canvas').length === 8")
    image_a, image_b = (example(rest_client, name) for name in EXAMPLE_NAMES)
    expected = rest_client.interpolate(image_a, image_b, 8)
    for pixels, image in zip(canvas_pixels(browser, "#strip canvas"), expected):
        assert_shows(pixels, image)
    boxes = browser.execute_script(
        "return document.querySelectorAll('#attributes input').length")
    assert boxes == rest_client.input_shape(contract.MIX_ATTRIBUTES,
                                            "selector")[0]
    browser.execute_script(
        "const box = document.querySelector('#attributes input');"
        "box.checked = !box.checked; box.dispatchEvent(new Event('change'));")
    attributes = np.asarray([browser.execute_script(
        "return [...document.querySelectorAll('#attributes input')]"
        ".map((box) => box.checked ? 1 : 0)")], np.float32)
    outputs = rest_client.predict(contract.MIX_ATTRIBUTES, dict(zip(
        contract.SIGNATURES[contract.MIX_ATTRIBUTES].inputs,
        (image_a[None], image_b[None], attributes))))
    images, mask = (outputs[key] for key in
                    contract.SIGNATURES[contract.MIX_ATTRIBUTES].outputs)
    # The page draws the mix and the mask of one answer together.
    WebDriverWait(browser, WAIT_SECONDS).until(lambda _: np.abs(
        shown(browser, "attribute-mix").astype(int)
        - drawing.to_uint8(images[0])).max() <= 1)
    assert_shows(shown(browser, "mask"), 2 * mask[:, :, None] - 1)


def test_uploading_a_png_adds_it_and_uses_it_as_a(browser, explorer,
                                                  rest_client, tmp_path):
    path = tmp_path / "my image.png"
    pixels = np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8)
    tf.io.write_file(str(path), tf.io.encode_png(pixels))
    open_page(browser, explorer)
    browser.find_element(By.ID, "upload").send_keys(str(path))
    wait_for(browser, "document.querySelectorAll('#gallery li').length === 3")
    wait_for(browser,
             "document.getElementById('name-a').textContent === 'my image.png'")
    assert_shows(shown(browser, "image-a"),
                 client_lib.load_image(str(path), rest_client.input_shape()))
    screenshot(browser, tmp_path, "explorer_upload")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    browser.find_element(By.ID, "upload").send_keys(str(notes))
    assert wait_for(browser, "document.getElementById('error').textContent") == (
        "notes.txt is not an image the explorer reads: upload a PNG, JPEG, "
        "GIF or BMP file (got text/plain)")
    assert browser.execute_script(
        "return document.querySelectorAll('#gallery li').length") == 3


def test_a_stopped_model_server_shows_its_message(browser, export_base,
                                                  tmp_path):
    model_server = start_model_server(export_base)
    server = start_explorer(model_server.rest.address, export_base)
    try:
        open_page(browser, server)
        wait_for(browser, "document.getElementById('mix').dataset.alpha")
        model_server.stop()
        set_alpha(browser, 20)
        message = wait_for(browser,
                           "!document.getElementById('error').hidden && "
                           "document.getElementById('error').textContent")
        assert message == (f"model server {model_server.rest.address} is not "
                           "answering")
        screenshot(browser, tmp_path, "explorer_model_server_down")
        status, _, page = request(server, "GET", "/")
        assert status == 200 and b"AMR mix explorer" in page
    finally:
        server.stop()
        model_server.stop()


def request(server, method, path, body=None, headers=None):
    """One HTTP request to the explorer: (status, content type, body)."""
    connection = http.client.HTTPConnection(server.host, server.port,
                                            timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return (response.status, response.getheader("Content-Type"),
                response.read())
    finally:
        connection.close()


def api_error(server, method, path, body=None, headers=None):
    """(status, message) of a refused API request."""
    status, content_type, text = request(server, method, path, body, headers)
    assert content_type == "application/json"
    return status, json.loads(text)["error"]


def test_api_refuses_a_file_that_is_not_an_image(explorer):
    assert api_error(explorer, "POST", "/api/image?name=notes.txt", b"hello",
                     {"Content-Type": "text/plain"}) == (
        400, "notes.txt is not an image the explorer reads: upload a PNG, "
        "JPEG, GIF or BMP file (got text/plain)")
    status, message = api_error(explorer, "POST", "/api/image?name=fake.png",
                                b"not a png", {"Content-Type": "image/png"})
    assert status == 400 and message.startswith("cannot read image fake.png")


def test_api_refuses_an_image_too_large(explorer, monkeypatch):
    monkeypatch.setattr(explorer_lib, "MAX_IMAGE_BYTES", 2**20)
    assert api_error(explorer, "POST", "/api/image?name=big.png",
                     b"\0" * (3 * 2**19), {"Content-Type": "image/png"}) == (
        413, "big.png is 1.5 MiB, over the explorer's limit of 1 MiB")


def test_api_says_when_the_model_server_is_not_answering(export_base):
    with socket.socket() as probe:  # A free port nothing listens on.
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    server = start_explorer(address, export_base)
    try:
        for path in ("/api/model", "/api/examples"):
            assert api_error(server, "GET", path) == (
                502, f"model server {address} is not answering")
        assert request(server, "GET", "/")[0] == 200
    finally:
        server.stop()


def test_api_forwards_predictions_and_the_model_servers_refusals(
        explorer, rest_client):
    image = example(rest_client, EXAMPLE_NAMES[0])[None].tolist()
    keys = contract.SIGNATURES[contract.MIX].inputs
    document = {"signature_name": contract.MIX,
                "inputs": dict(zip(keys, (image, image, [2.0])))}
    status, message = api_error(explorer, "POST", "/api/predict",
                                json.dumps(document))
    assert status == 400 and "alpha: values must lie between 0 and 1" in message
    status, message = api_error(explorer, "POST", "/api/predict", json.dumps(
        {"signature_name": "encode", "inputs": {}}))
    assert status == 400 and message.startswith("expected {\"signature_name\"")
    document["inputs"]["alpha"] = [1.0]
    status, _, text = request(explorer, "POST", "/api/predict",
                              json.dumps(document))
    assert status == 200
    assert set(json.loads(text)["outputs"]) == set(
        contract.SIGNATURES[contract.MIX].outputs)
    assert api_error(explorer, "GET", "/nothing") == (404, "no page /nothing")


def test_views_send_image_files_by_default_and_floats_when_told(
        explorer, model_server, export_base):
    """By default the mix and attribute views call the `_bytes` signatures
    and each gallery image carries its file; `send="tensors"` keeps the
    float signatures. The explorer forwards a b64 request and its PNG
    answer."""
    status, _, text = request(explorer, "GET", "/api/model")
    views = {view: signature["name"]
             for view, signature in json.loads(text)["signatures"].items()}
    assert views == {"mix": contract.MIX_BYTES,
                     "channels": contract.MIX_BERNOULLI,
                     "attributes": contract.MIX_ATTRIBUTES_BYTES}
    examples = json.loads(request(explorer, "GET", "/api/examples")[2])
    files = [base64.b64decode(entry["data"]) for entry in examples["examples"]]
    assert files == [(EXAMPLES / name).read_bytes() for name in EXAMPLE_NAMES]
    keys = contract.SIGNATURES[contract.MIX_BYTES].inputs
    status, _, text = request(explorer, "POST", "/api/predict", json.dumps({
        "signature_name": contract.MIX_BYTES, "inputs": dict(zip(keys, (
            [{"b64": examples["examples"][0]["data"]}],
            [{"b64": examples["examples"][1]["data"]}], [0.5])))}))
    assert status == 200
    [png] = json.loads(text)["outputs"]["images_bytes"]
    rest_client = client_lib.RestClient(model_server.rest.address, "amr")
    assert base64.b64decode(png["b64"]) == rest_client.mix_files(
        files[:1], files[1:], 0.5)[0]
    tensors = explorer_lib.Explorer(model_server.rest.address, "amr",
                                    str(EXAMPLES), str(export_base),
                                    send="tensors")
    assert {view: signature["name"] for view, signature in
            tensors.model()["signatures"].items()} == {
        "mix": contract.MIX, "channels": contract.MIX_BERNOULLI,
        "attributes": contract.MIX_ATTRIBUTES}
