"""The mix explorer in the browser, over a model server's REST API:

    amr-explorer --model_server=localhost:8501 [--model_name=amr] \
        [--examples=docs/examples] [--export_dir=DIR] [--port=8080]

(or `python -m amr_tf.serving.explorer`) serves the page on loopback and
forwards its requests to TF Serving's REST API or the stand-in's
(`amr_tf.explorer.app`), so the model server needs no CORS setup.
"""

import os

from absl import flags

from amr_tf.cli.app import fail
from amr_tf.cli.app import reject_extra_arguments
from amr_tf.cli.app import run_main
from amr_tf.explorer.app import SEND
from amr_tf.explorer.app import Explorer
from amr_tf.explorer.app import ExplorerServer


def _define_flags():
    flags.DEFINE_string("model_server", "localhost:8501",
                        "host:port of the model server's REST API "
                        "(TF Serving's --rest_api_port).")
    flags.DEFINE_string("model_name", "amr", "Served model name.")
    flags.DEFINE_string("examples", "docs/examples",
                        "Folder of example images for the gallery.")
    flags.DEFINE_string("export_dir", None,
                        "The export base path the model server serves, to "
                        "show its amr_metadata.json (dataset, objective, "
                        "mixer, step, attribute names); unset: only what the "
                        "REST metadata gives.")
    flags.DEFINE_string("host", "127.0.0.1",
                        "Address to bind (loopback by default).")
    flags.DEFINE_integer("port", 8080, "Port of the page; 0 picks a free one.")
    flags.DEFINE_float("timeout", 30.0, "Seconds per model server request.")
    flags.DEFINE_enum("send", "images", list(SEND),
                      "images: image files as bytes to the _bytes signatures "
                      "(decoded by the model server); tensors: float lists.")


def main(argv):
    values = flags.FLAGS
    reject_extra_arguments(argv)
    if not os.path.isdir(values.examples):
        fail(f"--examples: {values.examples} is not a folder")
    explorer = Explorer(values.model_server, values.model_name, values.examples,
                        values.export_dir, values.timeout, values.send)
    try:
        server = ExplorerServer(explorer, values.host, values.port).start()
    except OSError as error:
        fail(str(error))
    print(f"Explorer for model {values.model_name} at {values.model_server} "
          f"on {server.url}", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()


def run():
    """The `amr-explorer` console script."""
    _define_flags()
    run_main(main)
