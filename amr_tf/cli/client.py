"""A client of the `mix` endpoint, for TF Serving or `amr_tf.serving.server`.

    python -m amr_tf.serving.client --server=localhost:8500 --model_name=amr \\
        --image_a=a.png --image_b=b.png --alpha=0.5 --output=mix.png

sends both image files as bytes to the `mix_bytes` signature, which crops
them to the model's aspect ratio, resizes and scales them to [-1, 1] in the
graph, and writes the decoded mix it answers as PNG. `--send=tensors`
does the same in the client and sends float tensors to `mix` instead.
`--interpolate=8` writes a strip of 8 mixes from a to b instead.
`--transport=rest` calls TF Serving's REST API (`--server` is then the
REST host:port, by default localhost:8501) instead of gRPC. The Python API
is `ServingClient` (gRPC) and `RestClient` (REST), with the same methods.
"""

import grpc
from absl import flags

from amr_tf.cli.app import fail
from amr_tf.cli.app import reject_extra_arguments
from amr_tf.cli.app import run_main
from amr_tf.client.clients import RestClient
from amr_tf.client.clients import ServingClient
from amr_tf.client.clients import ServingError
from amr_tf.client.clients import load_image
from amr_tf.client.clients import png_images
from amr_tf.client.clients import read_file
from amr_tf.client.clients import save_images
from amr_tf.core.errors import UsageError
from amr_tf.tfserving import contract

CLIENTS = {"grpc": ServingClient, "rest": RestClient}
DEFAULT_SERVERS = {"grpc": "localhost:8500", "rest": "localhost:8501"}
SEND = ("images", "tensors")


def _define_flags():
    flags.DEFINE_enum("transport", "grpc", list(CLIENTS),
                      "gRPC (TF Serving's --port) or REST (its --rest_api_port).")
    flags.DEFINE_string("server", None,
                        "host:port of the model server; default "
                        "localhost:8500 (grpc) or localhost:8501 (rest).")
    flags.DEFINE_string("model_name", "amr", "Served model name.")
    flags.DEFINE_integer("model_version", None, "Model version; default the newest.")
    flags.DEFINE_string("image_a", None, "First image file (alpha = 1).")
    flags.DEFINE_string("image_b", None, "Second image file (alpha = 0).")
    flags.DEFINE_float("alpha", 0.5, "Weight of image a in [0, 1].")
    flags.DEFINE_integer("interpolate", 0,
                         "Write a strip of this many mixes from a to b instead.")
    flags.DEFINE_enum("send", "images", list(SEND),
                      "images: the files as bytes to mix_bytes (decoded by "
                      "the server); tensors: decoded here, floats to mix.")
    flags.DEFINE_string("output", "mix.png", "PNG file to write.")
    flags.DEFINE_float("timeout", 30.0, "Seconds per request.")


def main(argv):
    values = flags.FLAGS
    reject_extra_arguments(argv)
    for name in ("image_a", "image_b"):
        if not values[name].value:
            fail(f"--{name} is required")
    if not 0.0 <= values.alpha <= 1.0:
        fail(f"--alpha must lie in [0, 1], got {values.alpha}")
    if values.interpolate < 0 or values.interpolate == 1:
        fail(f"--interpolate must be 0 (off) or >= 2, got {values.interpolate}")
    server = values.server or DEFAULT_SERVERS[values.transport]
    client = CLIENTS[values.transport](server, values.model_name,
                                       values.model_version, values.timeout)
    try:
        if values.send == "images":
            images = _mix_files(client, values)
        else:
            images = _mix_tensors(client, values)
    except UsageError as error:
        fail(error)
    except grpc.RpcError as error:
        fail(f"{server} answered {error.code().name}: {error.details()}",
             exit_code=1)
    except ServingError as error:
        fail(f"{server} answered HTTP {error.status}: {error.message}",
             exit_code=1)
    except OSError as error:  # REST: refused connection, timeout.
        fail(f"cannot reach {server}: {getattr(error, 'reason', error)}",
             exit_code=1)
    finally:
        client.close()
    save_images(values.output, images)
    print(f"Wrote {values.output} ({len(images)} image(s) of "
          f"{images.shape[1:]})")


def _mix_files(client, values):
    """The mixes of the two files sent as bytes to `mix_bytes`."""
    if contract.MIX_BYTES not in client.signature_defs():
        raise UsageError(f"the served model has no {contract.MIX_BYTES} "
                         "signature (not an image model, or exported before "
                         "it existed): pass --send=tensors")
    file_a, file_b = read_file(values.image_a), read_file(values.image_b)
    if values.interpolate:
        files = client.interpolate_files(file_a, file_b, values.interpolate)
    else:
        files = client.mix_files([file_a], [file_b], values.alpha)
    return png_images(files)


def _mix_tensors(client, values):
    """The mixes of the two files decoded here, sent as floats to `mix`."""
    shape = client.input_shape()
    image_a = load_image(values.image_a, shape)
    image_b = load_image(values.image_b, shape)
    if values.interpolate:
        return client.interpolate(image_a, image_b, values.interpolate)
    return client.mix(image_a[None], image_b[None], values.alpha)


def run():
    """The `amr-client` console script."""
    _define_flags()
    run_main(main)
