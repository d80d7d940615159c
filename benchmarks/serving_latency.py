"""Latency of the `mix` signature: over gRPC and REST on loopback vs a
direct call, all through TF Serving's session path.

    python benchmarks/serving_latency.py --export_base=runs/shapes/export

Starts `amr_tf.serving.server` with gRPC and REST on free loopback ports in
a subprocess (or uses `--server=host:port` and `--rest_server=host:port`,
e.g. a real TF Serving), sends `--requests` sequential `mix` requests per
batch size through `ServingClient` (gRPC) and `RestClient` (REST, columnar
JSON), and runs the same signature in process on a session-loaded
`SavedModelBundle`, as TF Serving does. Prints p50/p99/mean milliseconds,
images/s and each transport's overhead. When the export has `mix_bytes`,
the rows "gRPC bytes" and "REST bytes" send the same images as PNG files
(`mix_files`: one `string_val` each over gRPC, `{"b64": ...}` over REST),
and the table ends with REST bytes' p50 against gRPC with float tensors (the
issue's target: at most 2x at batch 16). A table, never a pass/fail.

    python benchmarks/serving_latency.py --export_base=... --clients=16 --requests=200

instead sends `--requests` `mix` requests (batch: the first of
`--batch_sizes`) from each of `--clients` concurrent clients, after a
warm-up of `--requests` requests in all, and prints p50/p99 ms, requests/s,
errors and the started server's resident memory before and after.
"""

import os
import sys
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from amr_tf.client import clients as client_lib
from amr_tf.figures import drawing
from amr_tf.tfserving import contract
from amr_tf.tfserving.bundle import SavedModelBundle
from amr_tf.tfserving.version_folders import list_versions
from amr_tf.tfserving.version_folders import version_path
from benchmarks.serving_load import mix_concurrently
from benchmarks.serving_load import rss_bytes
from benchmarks.serving_load import spawn

flags.DEFINE_string("export_base", "runs/shapes/export",
                    "Model base path holding integer version folders.")
flags.DEFINE_string("server", None,
                    "gRPC host:port of a running server; default: start one.")
flags.DEFINE_string("rest_server", None,
                    "REST host:port of the running --server; default: no "
                    "REST rows with --server.")
flags.DEFINE_list("batch_sizes", ["1", "16"], "Batch sizes to time.")
flags.DEFINE_integer("requests", 200,
                     "Timed requests per batch size, or per client.")
flags.DEFINE_integer("clients", 0,
                     "Concurrent clients; 0 times sequential requests.")
FLAGS = flags.FLAGS


def _timings_ms(call, requests):
    """Per-call wall times in ms after 5 warm-up calls."""
    for _ in range(5):
        call()
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return np.array(times)


def _start_server(export_base):
    try:
        return spawn(export_base, "--rest_api_port=0")
    except RuntimeError as error:
        sys.exit(f"error: {error}")


def _rss_text(process):
    """The started server's resident memory, or "-" for `--server`."""
    return f"{rss_bytes(process.pid) / 2**20:.0f} MB" if process else "-"


def _concurrent_table(address, process, shape, rng):
    """Runs and prints the `--clients` x `--requests` load."""
    batch_size = int(FLAGS.batch_sizes[0])
    images_a, images_b = rng.uniform(
        -1, 1, (2, batch_size, *shape)).astype(np.float32)
    alphas = rng.uniform(size=FLAGS.clients)
    mix_concurrently(address, images_a, images_b, alphas,
                                max(1, FLAGS.requests // FLAGS.clients))
    rss_before = _rss_text(process)
    start = time.perf_counter()
    results = mix_concurrently(address, images_a, images_b,
                                          alphas, FLAGS.requests)
    seconds = time.perf_counter() - start
    calls = [call for session in results for call in session]
    times = np.array([duration for duration, _ in calls]) * 1e3
    errors = sum(not isinstance(answer, np.ndarray) for _, answer in calls)
    print(f"{'clients':>7} {'requests':>8} {'batch':>5} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'req/s':>7} {'errors':>6} {'RSS before':>10} "
          f"{'RSS after':>10}")
    print(f"{FLAGS.clients:>7} {len(calls):>8} {batch_size:>5} "
          f"{np.percentile(times, 50):8.2f} {np.percentile(times, 99):8.2f} "
          f"{len(calls) / seconds:7.0f} {errors:>6} {rss_before:>10} "
          f"{_rss_text(process):>10}")


def _png_files(images):
    """(N, H, W, C) images in [-1, 1] as N PNG files (bytes)."""
    return [tf.io.encode_png(drawing.to_uint8(image)[..., :image.shape[-1]])
            .numpy() for image in images]


def _sequential_table(clients, bundle, shape, rng):
    """Times sequential requests per batch size, each transport against the
    in-process session run, and with `mix_bytes` each transport sending
    PNG files."""
    print(f"{'batch':>5} {'path':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'mean ms':>8} {'images/s':>9}")
    encoded = contract.MIX_BYTES in bundle.signature_defs
    for batch_size in map(int, FLAGS.batch_sizes):
        images_a, images_b = rng.uniform(
            -1, 1, (2, batch_size, *shape)).astype(np.float32)
        alpha = rng.uniform(size=batch_size).astype(np.float32)
        feeds = {"images_a": images_a, "images_b": images_b, "alpha": alpha}
        paths = {"in-process": lambda feeds=feeds: bundle.run(
            "mix", feeds, ["images"])}
        paths.update({name: (lambda client=client, a=images_a, b=images_b,
                             alpha=alpha: client.mix(a, b, alpha))
                      for name, client in clients.items()})
        if encoded:
            files_a, files_b = _png_files(images_a), _png_files(images_b)
            paths.update({f"{name} bytes": (
                lambda client=client, a=files_a, b=files_b, alpha=alpha:
                client.mix_files(a, b, alpha))
                for name, client in clients.items()})
        medians = {}
        for name, call in paths.items():
            times = _timings_ms(call, FLAGS.requests)
            medians[name] = np.percentile(times, 50)
            print(f"{batch_size:>5} {name:>10} {medians[name]:8.2f} "
                  f"{np.percentile(times, 99):8.2f} {times.mean():8.2f} "
                  f"{batch_size * 1e3 / times.mean():9.0f}")
        for name in paths:
            if name != "in-process":
                print(f"{batch_size:>5} {name + '/in-process p50':>29}: "
                      f"{medians[name] / medians['in-process']:.2f}x "
                      f"(+{medians[name] - medians['in-process']:.2f} ms)")
        if "REST bytes" in medians:
            print(f"{batch_size:>5} {'REST bytes/gRPC p50':>29}: "
                  f"{medians['REST bytes'] / medians['gRPC']:.2f}x "
                  "(target: at most 2x at batch 16)")


def main(argv):
    del argv
    versions = list_versions(FLAGS.export_base)
    if not versions:
        sys.exit(f"error: no version folder under {FLAGS.export_base}: train "
                 "or export first")
    bundle = SavedModelBundle(version_path(FLAGS.export_base, versions[-1]))
    images_a = bundle.signature_defs["mix"].inputs["images_a"]
    shape = tuple(dim.size for dim in images_a.tensor_shape.dim[1:])
    if FLAGS.server:
        process, address, rest_address = None, FLAGS.server, FLAGS.rest_server
    else:
        process, address, rest_address = _start_server(FLAGS.export_base)
    clients = {"gRPC": client_lib.ServingClient(address, "amr")}
    if rest_address:
        clients["REST"] = client_lib.RestClient(rest_address, "amr")
    rng = np.random.default_rng(0)
    mode = (f"{FLAGS.clients} concurrent clients" if FLAGS.clients
            else "sequential requests")
    print(f"mix of {FLAGS.export_base}/{versions[-1]} ({shape} images), "
          f"{mode}, {os.cpu_count()} CPUs")
    try:
        if FLAGS.clients:
            _concurrent_table(address, process, shape, rng)
        else:
            _sequential_table(clients, bundle, shape, rng)
    finally:
        for client in clients.values():
            client.close()
        if process:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    app.run(main)
