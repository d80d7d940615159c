"""A mix explorer in the browser, over a model server's REST API.

    amr-explorer --model_server=localhost:8501     # amr_tf.cli.explorer

serves one page (`static/`: plain HTML, JS and CSS, nothing from
the internet) on loopback, and the API the page calls, which forwards to
TF Serving's REST API (or the stand-in's), so the model server needs no
CORS setup:

    GET  /api/model       image shape, signatures, latent channels, attribute
                          count (from the REST metadata), and with
                          --export_dir the export's `amr_metadata.json`
    GET  /api/examples    {"examples": [{"name", "image"}]}: the images in
                          --examples as the model takes them
    POST /api/image?name= an uploaded PNG/JPEG/GIF/BMP (the raw body) ->
                          {"name", "image"}
    POST /api/predict     {"signature_name", "inputs"} -> {"outputs": {key:
                          value}}, through `/v1/models/NAME:predict`

A gallery image comes as `{"name", "image", "data"}`: `image` the (H, W, C)
lists of floats in [-1, 1] that `amr_tf.client.clients.decode_image` makes
of it (the page draws it), `data` the file itself in base64. By default
(`send="images"`) the views call the `_bytes` signatures where the model
serves them: the page sends each image as `{"b64": data}`, the model server
decodes it by the same rule, and mixes come back as `{"b64": PNG}`; with
`send="tensors"`, or for `mix_bernoulli` (no `_bytes` twin), images travel
as the float lists.
Every refusal is `{"error": message}` with an HTTP status: 502 when the
model server is not answering, 400 for a file that is not an image, 413 for
an upload over `MAX_IMAGE_BYTES`, and the model server's own status and
message for a request it refused.
"""

import base64
import logging
import os
import pathlib
import urllib.parse

from amr_tf.client.clients import RestClient
from amr_tf.client.clients import ServingError
from amr_tf.client.clients import decode_image
from amr_tf.core.errors import UsageError
from amr_tf.tfserving import contract
from amr_tf.tfserving.metadata import METADATA_ASSET
from amr_tf.tfserving.metadata import read_metadata
from amr_tf.tfserving.predict import PREDICT_METHOD_NAME
from amr_tf.web import json_codec
from amr_tf.web.server import WSGIServer
from amr_tf.web.server import json_response

_LOG = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).with_name("static")
STATIC_FILES = {  # URL path -> (file, content type).
    "/": ("index.html", "text/html; charset=utf-8"),
    "/explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "/explorer.css": ("explorer.css", "text/css; charset=utf-8"),
}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/bmp"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
MAX_IMAGE_BYTES = 8 * 2**20
MAX_REQUEST_BYTES = 64 * 2**20  # A predict body: an N-step strip of images.
# The signature behind each view of the page, and the `_bytes` signature
# that replaces it when images are sent as files.
PAGE_SIGNATURES = {"mix": contract.MIX, "channels": contract.MIX_BERNOULLI,
                   "attributes": contract.MIX_ATTRIBUTES}
ENCODED = {name: encoded
           for encoded, name in contract.ENCODED_SIGNATURES.items()}
SEND = ("images", "tensors")
# The metadata fields the page shows, when --export_dir is given.
METADATA_FIELDS = ("dataset", "objective", "mixer", "training_step",
                   "attribute_names")


class ExplorerError(Exception):
    """A request the explorer answers with `{"error": message}` and `status`."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Explorer:
    """What the API answers, over a model server's REST API.

    Args:
        model_server: "host:port" of the REST API (TF Serving's
            --rest_api_port).
        model_name: the served model's name.
        examples_dir: folder of example images for the gallery.
        export_dir: the export base path the model server serves, for the
            richer metadata of `amr_metadata.json`; None: REST metadata only.
        timeout: seconds per model server request.
        send: "images" (files to the `_bytes` signatures, where served) or
            "tensors" (float lists).
    """

    def __init__(self, model_server, model_name="amr", examples_dir=None,
                 export_dir=None, timeout=30.0, send="images"):
        if send not in SEND:
            raise ValueError(f"send must be one of {SEND}, got {send!r}")
        self.model_server = model_server
        self.model_name = model_name
        self.client = RestClient(model_server, model_name, timeout=timeout)
        self.examples_dir = examples_dir
        self.export_dir = export_dir
        self.send = send

    def _served(self, call, *args):
        """`call(*args)` to the model server; its failures as
        `ExplorerError`s."""
        try:
            return call(*args)
        except ServingError as error:
            raise ExplorerError(error.status, f"model server "
                                f"{self.model_server} answered: "
                                f"{error.message}") from None
        except OSError:  # Refused connection, timeout, reset.
            raise ExplorerError(502, f"model server {self.model_server} is "
                                "not answering") from None

    def image_shape(self):
        """(H, W, C) of the served model's images."""
        return self._served(self.client.input_shape)

    def model(self):
        """What the page needs of the served model: its name, version, image
        shape, latent channels, attribute count, served signatures, the
        signature (name, input and output keys) behind each view, and with
        --export_dir `METADATA_FIELDS` of its `amr_metadata.json`."""
        signature_defs = self._served(self.client.signature_defs)
        status = self._served(self.client.call, self.client.url)
        version = max(int(entry["version"])
                      for entry in status["model_version_status"]
                      if entry["state"] == "AVAILABLE")

        mask = _example_shape(signature_defs, contract.MIX_BERNOULLI, 2)
        attributes = _example_shape(signature_defs, contract.MIX_ATTRIBUTES, 2)
        return {
            "model_server": self.model_server,
            "model_name": self.model_name,
            "version": version,
            "image_shape": _example_shape(signature_defs, contract.MIX, 0),
            "mask_channels": mask and mask[0],
            "attribute_count": attributes and attributes[0],
            "served_signatures": sorted(
                name for name, signature in signature_defs.items()
                if signature.method_name == PREDICT_METHOD_NAME),
            "signatures": {
                view: {"name": name, **contract.SIGNATURES[name]._asdict()}
                for view, name in self.page_signatures(signature_defs).items()},
            "metadata": self._export_metadata(version),
        }

    def page_signatures(self, signature_defs):
        """View -> the served signature it calls: the `_bytes` one when
        sending images and it is served."""
        views = {}
        for view, name in PAGE_SIGNATURES.items():
            if self.send == "images" and ENCODED.get(name) in signature_defs:
                views[view] = ENCODED[name]
            elif name in signature_defs:
                views[view] = name
        return views

    def _export_metadata(self, version):
        """`METADATA_FIELDS` of the served version's `amr_metadata.json`, or
        None without --export_dir or that file."""
        if not self.export_dir:
            return None
        version_dir = os.path.join(self.export_dir, str(version))
        if not os.path.exists(os.path.join(version_dir, "assets",
                                           METADATA_ASSET)):
            return None
        metadata = read_metadata(version_dir)
        return {field: metadata.get(field) for field in METADATA_FIELDS}

    def examples(self):
        """`{"examples": [{"name", "image"}]}` of the --examples images."""
        if not self.examples_dir:
            return {"examples": []}
        shape = self.image_shape()
        names = sorted(name for name in os.listdir(self.examples_dir)
                       if name.lower().endswith(IMAGE_SUFFIXES))
        examples = []
        for name in names:
            path = os.path.join(self.examples_dir, name)
            with open(path, "rb") as stream:
                examples.append(self._image(stream.read(), shape, name))
        return {"examples": examples}

    def upload(self, content_type, data, name):
        """An uploaded image as `{"name", "image"}`.

        Raises:
            ExplorerError: 400, not an image.
        """
        if content_type not in IMAGE_TYPES:
            raise ExplorerError(400, f"{name} is not an image the explorer "
                                "reads: upload a PNG, JPEG, GIF or BMP file "
                                f"(got {content_type or 'no type'})")
        return self._image(data, self.image_shape(), name)

    @staticmethod
    def _image(data, shape, name):
        try:
            image = decode_image(data, shape, name)
        except UsageError as error:
            raise ExplorerError(400, str(error)) from None
        return {"name": name, "image": image.tolist(),
                "data": base64.b64encode(data).decode("ascii")}

    def predict(self, document):
        """Forwards `{"signature_name", "inputs"}` (a page signature, in the
        columnar format); returns `{"outputs": {key: value}}`."""
        names = [*PAGE_SIGNATURES.values(), *ENCODED.values()]
        if not (isinstance(document, dict)
                and document.get("signature_name") in names
                and isinstance(document.get("inputs"), dict)):
            raise ExplorerError(400, "expected {\"signature_name\": one of "
                                f"{', '.join(names)}, \"inputs\": {{...}}}}")
        name = document["signature_name"]
        answer = self._served(self.client.call, self.client.url + ":predict",
                              {"signature_name": name,
                               "inputs": document["inputs"]})
        outputs = answer["outputs"]
        if not isinstance(outputs, dict):  # A single output comes keyless.
            outputs = {contract.SIGNATURES[name].outputs[0]: outputs}
        return {"outputs": outputs}


def _example_shape(signature_defs, name, index):
    """Shape of one example (no batch axis) of input `index` of signature
    `name`, e.g. [H, W, C]; None if it is not served."""
    if name not in signature_defs:
        return None
    key = contract.SIGNATURES[name].inputs[index]
    return [dim.size
            for dim in signature_defs[name].inputs[key].tensor_shape.dim[1:]]


def _too_large(name, size, limit):
    return (f"{name} is {size / 2**20:.1f} MiB, over the explorer's limit of "
            f"{limit / 2**20:g} MiB")


class ExplorerServer(WSGIServer):
    """The page and its API on `host:port` (loopback by default), in a
    daemon thread; `port` 0 picks a free one (see `self.port`).

    Raises:
        OSError: `host:port` cannot be bound.
    """

    def __init__(self, explorer, host="127.0.0.1", port=8080):
        self.explorer = explorer
        super().__init__(self._app, host, port,
                         max_body_bytes=MAX_REQUEST_BYTES,
                         too_large=_request_too_large)

    @property
    def url(self):
        return f"http://{self.address}/"

    def _app(self, environ, start_response):
        """GETs the page files and API answers, POSTs uploads and
        predictions."""
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        if method in ("GET", "HEAD") and path in STATIC_FILES:
            file_name, content_type = STATIC_FILES[path]
            data = (STATIC_DIR / file_name).read_bytes()
            start_response("200 OK", [
                ("Content-Type", content_type),
                ("Content-Length", str(len(data))), _NO_STORE])
            return [data]
        explorer = self.explorer
        body = environ["wsgi.input"].read()
        routes = {
            ("GET", "/api/model"): explorer.model,
            ("GET", "/api/examples"): explorer.examples,
            ("POST", "/api/image"): lambda: _upload(explorer, environ, body),
            ("POST", "/api/predict"): lambda: explorer.predict(
                _parse_json(body)),
        }
        route = routes.get((method, path))
        if route is None:
            status, document = 404, {
                "error": f"no page {environ['REQUEST_URI']}"}
        else:
            try:
                status, document = 200, route()
            except ExplorerError as error:
                status, document = error.status, {"error": str(error)}
            except Exception as error:  # pylint: disable=broad-except
                _LOG.exception("explorer %s %s failed", method, path)
                status, document = 500, {
                    "error": f"{type(error).__name__}: {error}"}
        return json_response(start_response, status, document, [_NO_STORE])


_NO_STORE = ("Cache-Control", "no-store")


def _upload(explorer, environ, body):
    """`Explorer.upload` of a POST /api/image?name=... body; 413 over
    `MAX_IMAGE_BYTES`."""
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("name", ["upload"])[0]
    if len(body) > MAX_IMAGE_BYTES:
        raise ExplorerError(413, _too_large(name, len(body), MAX_IMAGE_BYTES))
    content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip()
    return explorer.upload(content_type, body, name)


def _request_too_large(size, limit):
    """The web server's refusal of a body over `MAX_REQUEST_BYTES`."""
    return 413, _too_large("the request", size, limit)


def _parse_json(body):
    try:
        return json_codec.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ExplorerError(400, "the request body is not JSON") from None
