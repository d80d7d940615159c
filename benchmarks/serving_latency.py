"""Latency of the `mix` signature: over gRPC on loopback vs a direct call.

    python benchmarks/serving_latency.py --export_base=runs/shapes/export

Starts `amr_tf.serving.server` on a free loopback port in a subprocess (or
uses `--server=host:port`, e.g. a real TF Serving), sends `--requests`
sequential `mix` requests per batch size through `ServingClient`, and calls
the same SavedModel signature in process. Prints p50/p99/mean milliseconds,
images/s and the gRPC overhead. A table, never a pass/fail.
"""

import os
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from amr_tf.serving import client as client_lib
from amr_tf.serving.repository import list_versions

flags.DEFINE_string("export_base", "runs/shapes/export",
                    "Model base path holding integer version folders.")
flags.DEFINE_string("server", None,
                    "host:port of a running server; default: start one.")
flags.DEFINE_list("batch_sizes", ["1", "16"], "Batch sizes to time.")
flags.DEFINE_integer("requests", 200, "Timed requests per batch size.")
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
    process = subprocess.Popen(
        [sys.executable, "-m", "amr_tf.serving.server",
         f"--model_base_path={export_base}", "--port=0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()})
    line = process.stdout.readline()
    if " on " not in line:
        process.kill()
        sys.exit(f"error: the server did not start: {line.strip()}")
    return process, line.rsplit(" on ", 1)[1].split()[0]


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
    print(f"mix of {FLAGS.export_base}/{versions[-1]} ({tuple(shape)} images), "
          f"{FLAGS.requests} sequential requests, {os.cpu_count()} CPUs")
    print(f"{'batch':>5} {'path':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'mean ms':>8} {'images/s':>9}")
    try:
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
    finally:
        client.close()
        if process:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    app.run(main)
