"""Latency of the `mix` signature: over gRPC on loopback vs a direct call.

    python benchmarks/serving_latency.py --export_base=runs/shapes/export

Starts `amr_tf.serving.server` on a free loopback port in a subprocess (or
uses `--server=host:port`, e.g. a real TF Serving), sends `--requests`
sequential `mix` requests per batch size through `ServingClient`, and calls
the same SavedModel signature in process. Prints p50/p99/mean milliseconds,
images/s and the gRPC overhead. A table, never a pass/fail.

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

from amr_tf.serving import client as client_lib
from amr_tf.serving import server as server_lib
from amr_tf.serving.repository import list_versions

flags.DEFINE_string("export_base", "runs/shapes/export",
                    "Model base path holding integer version folders.")
flags.DEFINE_string("server", None,
                    "host:port of a running server; default: start one.")
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
        return server_lib.spawn(export_base)
    except RuntimeError as error:
        sys.exit(f"error: {error}")


def _rss_text(process):
    """The started server's resident memory, or "-" for `--server`."""
    return f"{server_lib.rss_bytes(process.pid) / 2**20:.0f} MB" if process else "-"


def _concurrent_table(address, process, shape, rng):
    """Runs and prints the `--clients` x `--requests` load."""
    batch_size = int(FLAGS.batch_sizes[0])
    images_a, images_b = rng.uniform(
        -1, 1, (2, batch_size, *shape)).astype(np.float32)
    alphas = rng.uniform(size=FLAGS.clients)
    client_lib.mix_concurrently(address, images_a, images_b, alphas,
                                max(1, FLAGS.requests // FLAGS.clients))
    rss_before = _rss_text(process)
    start = time.perf_counter()
    results = client_lib.mix_concurrently(address, images_a, images_b,
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


def _sequential_table(client, mix, shape, rng):
    """Times sequential requests per batch size, gRPC against in-process."""
    print(f"{'batch':>5} {'path':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'mean ms':>8} {'images/s':>9}")
    for batch_size in map(int, FLAGS.batch_sizes):
        images_a, images_b = rng.uniform(
            -1, 1, (2, batch_size, *shape)).astype(np.float32)
        alpha = rng.uniform(size=batch_size).astype(np.float32)
        paths = {
            "in-process": lambda: mix(images_a=images_a, images_b=images_b,
                                      alpha=alpha)["images"].numpy(),
            "gRPC": lambda: client.mix(images_a, images_b, alpha),
        }
        medians = {}
        for name, call in paths.items():
            times = _timings_ms(call, FLAGS.requests)
            medians[name] = np.percentile(times, 50)
            print(f"{batch_size:>5} {name:>10} {medians[name]:8.2f} "
                  f"{np.percentile(times, 99):8.2f} {times.mean():8.2f} "
                  f"{batch_size * 1e3 / times.mean():9.0f}")
        print(f"{batch_size:>5} {'gRPC/in-process p50':>29}: "
              f"{medians['gRPC'] / medians['in-process']:.2f}x "
              f"(+{medians['gRPC'] - medians['in-process']:.2f} ms)")


def main(argv):
    del argv
    versions = list_versions(FLAGS.export_base)
    if not versions:
        sys.exit(f"error: no version folder under {FLAGS.export_base}: train "
                 "or export first")
    loaded = tf.saved_model.load(os.path.join(FLAGS.export_base, str(versions[-1])))
    mix = loaded.signatures["mix"]
    shape = mix.structured_input_signature[1]["images_a"].shape[1:]
    process, address = (None, FLAGS.server) if FLAGS.server else _start_server(
        FLAGS.export_base)
    client = client_lib.ServingClient(address, "amr")
    rng = np.random.default_rng(0)
    mode = (f"{FLAGS.clients} concurrent clients" if FLAGS.clients
            else "sequential requests")
    print(f"mix of {FLAGS.export_base}/{versions[-1]} ({tuple(shape)} images), "
          f"{mode}, {os.cpu_count()} CPUs")
    try:
        if FLAGS.clients:
            _concurrent_table(address, process, shape, rng)
        else:
            _sequential_table(client, mix, shape, rng)
    finally:
        client.close()
        if process:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    app.run(main)
