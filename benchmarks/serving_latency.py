"""Latency of the `mix` signature: over gRPC and REST on loopback vs a
direct call, all through TF Serving's session path.

    python -m benchmarks.serving_latency --export_base=runs/shapes/export

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

    python -m benchmarks.serving_latency --export_base=... --clients=16 --requests=200

instead sends `--requests` `mix` requests (batch: the first of
`--batch_sizes`) from each of `--clients` concurrent clients, after a
warm-up of `--requests` requests in all, and prints p50/p99 ms, requests/s,
errors and the started server's resident memory before and after.

    python -m benchmarks.serving_latency --export_base=... --idle_connections=400

instead opens `--idle_connections` connections to the started server's REST
port, half idle and half trickling a header byte per second, times
`--requests` batch-1 `mix` calls of a normal REST client before and while
they are open, then stops the trickle and waits for the server's idle
timeout; prints the server's threads and open file descriptors before,
during and after.

or

    python -m benchmarks.serving_latency --model_dir=runs/shapes --clients=16 --compare_batching

exports the run twice (batching in the graph, as every export does, and
without it) and runs that load, batch 1: in process on each export's
session from `--clients` threads (what TF Serving's C++ server does with a
request), then over gRPC on started stand-ins: the export without batching,
the export with it, and the one without under the stand-in's
`--enable_batching` (TF Serving's session-level batching) with the shipped
settings' run size. Prints requests/s, p50/p99 ms, errors and each row's
requests/s over its path's "off".
"""

import concurrent.futures
import os
import socket
import sys
import tempfile
import threading
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from amr_tf.client import clients as client_lib
from amr_tf.exporter import saved_model
from amr_tf.figures import drawing
from amr_tf.tfserving import contract
from amr_tf.tfserving.bundle import SavedModelBundle
from amr_tf.tfserving.version_folders import list_versions
from amr_tf.tfserving.version_folders import version_path
from amr_tf.training import restore
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
flags.DEFINE_integer("idle_connections", 0,
                     "Idle and trickling connections to hold open while a "
                     "normal client is timed (started server only).")
flags.DEFINE_integer("idle_wait_seconds", 90,
                     "Longest wait for the server to close them after.")
flags.DEFINE_boolean("compare_batching", False,
                     "With --clients and --model_dir: batch-1 load without "
                     "batching, with the export's in-graph batching, and with "
                     "session-level batching.")
flags.DEFINE_string("model_dir", None,
                    "A trained run, exported twice for --compare_batching.")
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


def _proc_status(pid):
    """`(threads, open file descriptors)` of process `pid` (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        threads = next(int(line.split()[1]) for line in status
                       if line.startswith("Threads:"))
    return threads, len(os.listdir(f"/proc/{pid}/fd"))


def _trickle(sockets, stop):
    """Sends one more header byte on each of `sockets` every second."""
    for sock in sockets:
        sock.sendall(b"POST /v1/models/amr:predict HTTP/1.1\r\nX-Slow: ")
    while not stop.wait(1.0):
        for sock in sockets:
            try:
                sock.sendall(b"a")
            except OSError:
                pass


def _idle_table(rest_address, process, shape, rng):
    """Times a normal client before and during `--idle_connections` idle
    and trickling connections; prints the server's threads and open
    descriptors before, during and after its idle timeout."""
    client = client_lib.RestClient(rest_address, "amr")
    images_a, images_b = rng.uniform(-1, 1, (2, 1, *shape)).astype(np.float32)

    def timed():
        try:
            times = _timings_ms(lambda: client.mix(images_a, images_b, 0.5),
                                FLAGS.requests)
            return (f"{np.percentile(times, 50):8.2f} "
                    f"{np.percentile(times, 99):8.2f} {0:>6}")
        except OSError as error:
            return f"{'-':>8} {'-':>8} {type(error).__name__:>6}"

    rows = [("before", 0, *_proc_status(process.pid), timed())]
    host, port = rest_address.rsplit(":", 1)
    sockets = [socket.create_connection((host, int(port)))
               for _ in range(FLAGS.idle_connections)]
    stop = threading.Event()
    trickler = threading.Thread(
        target=_trickle, args=(sockets[len(sockets) // 2:], stop))
    trickler.start()
    time.sleep(1.0)
    rows.append(("during", len(sockets), *_proc_status(process.pid), timed()))
    stop.set()
    trickler.join()
    start = time.perf_counter()
    baseline_fds = rows[0][3]
    while (time.perf_counter() - start < FLAGS.idle_wait_seconds
           and _proc_status(process.pid)[1] > baseline_fds + 5):
        time.sleep(1.0)
    waited = time.perf_counter() - start
    rows.append((f"after {waited:.0f} s", len(sockets),
                 *_proc_status(process.pid), timed()))
    for sock in sockets:
        sock.close()
    client.close()
    print(f"{'phase':>12} {'held conns':>10} {'threads':>7} {'fds':>5} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for phase, held, threads, fds, latency in rows:
        print(f"{phase:>12} {held:>10} {threads:>7} {fds:>5} {latency}")


def _load(address, shape, rng):
    """`--clients` x `--requests` batch-1 `mix` calls after a warm-up:
    (seconds, per-call seconds, errors)."""
    images_a, images_b = rng.uniform(-1, 1, (2, 1, *shape)).astype(np.float32)
    alphas = rng.uniform(size=FLAGS.clients)
    mix_concurrently(address, images_a, images_b, alphas,
                     max(1, FLAGS.requests // FLAGS.clients))
    start = time.perf_counter()
    results = mix_concurrently(address, images_a, images_b, alphas,
                               FLAGS.requests)
    seconds = time.perf_counter() - start
    calls = [call for session in results for call in session]
    errors = sum(not isinstance(answer, np.ndarray) for _, answer in calls)
    return seconds, np.array([duration for duration, _ in calls]), errors


def _in_process_load(bundle, shape, rng):
    """`_load` on a session in this process, called from `--clients`
    threads: the part of serving TF Serving's C++ server runs."""
    images_a, images_b = rng.uniform(-1, 1, (2, 1, *shape)).astype(np.float32)
    feeds = {"images_a": images_a, "images_b": images_b,
             "alpha": np.array([0.5], np.float32)}

    def client(requests):
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            bundle.run("mix", feeds, ["images"])
            times.append(time.perf_counter() - start)
        return times

    with concurrent.futures.ThreadPoolExecutor(FLAGS.clients) as pool:
        list(pool.map(client, [max(1, FLAGS.requests // FLAGS.clients)]
                      * FLAGS.clients))
        start = time.perf_counter()
        times = sum(pool.map(client, [FLAGS.requests] * FLAGS.clients), [])
    return time.perf_counter() - start, np.array(times), 0


def _session_level_file(directory):
    """The shipped settings as the stand-in's --batching_parameters_file:
    merged runs of the exports' run size, no request splitting."""
    batching = saved_model.DEFAULT_BATCHING
    path = os.path.join(directory, "session_batching.txt")
    with open(path, "w") as stream:
        stream.write(
            f"max_batch_size {{ value: {batching.batch_rows} }}\n"
            f"batch_timeout_micros {{ value: {batching.batch_timeout_micros} }}\n"
            f"num_batch_threads {{ value: {batching.num_batch_threads} }}\n"
            f"max_enqueued_batches {{ value: {batching.max_enqueued_batches} }}\n")
    return path


def _batching_table(restored, shape, rng):
    """Exports a restored run with and without in-graph batching and prints
    the batch-1 load on each way of serving it: in process (the session
    runs alone) and over gRPC on the stand-in."""
    with tempfile.TemporaryDirectory() as scratch:
        bases = {}
        for name, batching in (("alone", None),
                               ("batched", saved_model.DEFAULT_BATCHING)):
            bases[name] = os.path.join(scratch, name)
            saved_model.export_saved_model(
                restored.model, restored.config, restored.info, bases[name],
                version=1, batching=batching)
        session_flags = ("--enable_batching",
                         f"--batching_parameters_file={_session_level_file(scratch)}")
        rows = [("in-process", "off", bases["alone"], None),
                ("in-process", "in-graph", bases["batched"], None),
                ("gRPC", "off", bases["alone"], ()),
                ("gRPC", "in-graph", bases["batched"], ()),
                ("gRPC", "session-level", bases["alone"], session_flags)]
        print(f"{'path':>10} {'batching':>13} {'requests':>8} {'req/s':>7} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'x off':>6}")
        baseline = {}
        for path, name, base, flag_args in rows:
            if flag_args is None:
                bundle = SavedModelBundle(version_path(base, 1))
                seconds, times, errors = _in_process_load(bundle, shape, rng)
                bundle.close()
            else:
                try:
                    process, address, _ = spawn(base, *flag_args)
                except RuntimeError as error:
                    sys.exit(f"error: {error}")
                try:
                    seconds, times, errors = _load(address, shape, rng)
                finally:
                    process.terminate()
                    process.wait()
            rate = len(times) / seconds
            baseline.setdefault(path, rate)
            print(f"{path:>10} {name:>13} {len(times):>8} {rate:7.0f} "
                  f"{np.percentile(times, 50) * 1e3:8.2f} "
                  f"{np.percentile(times, 99) * 1e3:8.2f} {errors:>6} "
                  f"{rate / baseline[path]:6.2f}")


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
    if FLAGS.compare_batching:
        if not (FLAGS.clients and FLAGS.model_dir):
            sys.exit("error: --compare_batching needs --clients and --model_dir")
        restored = restore.load_trained(FLAGS.model_dir)
        shape = tuple(restored.info.input_shape)
        print(f"mix of {FLAGS.model_dir} ({shape} images), batch 1, "
              f"{FLAGS.clients} concurrent clients, {os.cpu_count()} CPUs")
        _batching_table(restored, shape, np.random.default_rng(0))
        return
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
    mode = (f"{FLAGS.idle_connections} idle connections"
            if FLAGS.idle_connections else
            f"{FLAGS.clients} concurrent clients" if FLAGS.clients
            else "sequential requests")
    print(f"mix of {FLAGS.export_base}/{versions[-1]} ({shape} images), "
          f"{mode}, {os.cpu_count()} CPUs")
    try:
        if FLAGS.idle_connections:
            if not process:
                sys.exit("error: --idle_connections needs a started server "
                         "(no --server)")
            _idle_table(rest_address, process, shape, rng)
        elif FLAGS.clients:
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
