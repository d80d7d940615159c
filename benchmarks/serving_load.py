"""Load on a model server: the stand-in in a subprocess, its memory, and
concurrent `mix` clients. For the tests and benchmarks."""

import concurrent.futures
import os
import re
import subprocess
import sys
import time

import grpc

from amr_tf.client.clients import ServingClient
from amr_tf.client.clients import ServingError

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def spawn(model_base_path, *flag_args):
    """Starts `amr_tf.serving.server` in a subprocess on free loopback ports.

    Args:
        model_base_path: the model "amr"'s base path.
        *flag_args: more flags, e.g. "--max_batch_size=8" or
            "--rest_api_port=0" (REST on a free port).

    Returns:
        `(process, address, rest_address)` once it serves (`rest_address`
        None without REST); the caller terminates the process.

    Raises:
        RuntimeError: the server exited first, with its first stdout line.
    """
    python_path = os.pathsep.join(
        filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "amr_tf.serving.server",
         f"--model_base_path={model_base_path}", "--port=0", *flag_args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": python_path})
    line = process.stdout.readline()
    found = re.search(r" on (\S+) \(gRPC\)(?: and (\S+) \(REST\))?", line)
    if not found:
        process.kill()
        process.wait()
        raise RuntimeError(f"the server did not start: {line.strip()!r}")
    return process, found.group(1), found.group(2)


def rss_bytes(pid):
    """Resident memory of process `pid` in bytes (Linux: /proc VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS for process {pid}")


def mix_concurrently(server, images_a, images_b, alphas, requests,
                     model_name="amr", client_class=ServingClient,
                     timeout=30.0):
    """Load: one client per alpha, all at once, each on its own channel.

    Client i (a `client_class`: `ServingClient` or `RestClient`) sends
    `requests` sequential `mix(images_a, images_b, alphas[i])` calls, each
    with a deadline of `timeout` seconds.

    Returns:
        Per client, a list per request of `(seconds, images or the error)`:
        a `grpc.RpcError` or a `ServingError`.
    """
    def session(alpha):
        client = client_class(server, model_name, timeout=timeout)
        results = []
        try:
            for _ in range(requests):
                start = time.perf_counter()
                try:
                    answer = client.mix(images_a, images_b, alpha)
                except (grpc.RpcError, ServingError) as error:
                    answer = error
                results.append((time.perf_counter() - start, answer))
        finally:
            client.close()
        return results

    with concurrent.futures.ThreadPoolExecutor(len(alphas)) as pool:
        return list(pool.map(session, alphas))
