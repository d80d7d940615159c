"""The stand-in server in operation: its HTTP layer (keep-alive, idle
connections, waitress's own refusals, JSON with NaN/Infinity tokens), gRPC
health, Prometheus metrics, version labels over both transports, config
reloads and load retries."""

import http.client
import json
import math
import os
import pathlib
import re
import shutil
import socket
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2
from grpc_health.v1 import health_pb2_grpc
from prometheus_client import parser
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from amr_tf.client import clients as client_lib
from amr_tf.model_server import repository as repository_lib
from amr_tf.model_server import server as server_lib
from amr_tf.model_server.metrics import METRICS_PATH
from amr_tf.tfserving.bundle import LoadError
from amr_tf.tfserving.contract import SIGNATURE_DEF_FIELD
from amr_tf.web import json_codec
from amr_tf.web.server import WSGIServer
from amr_tf.web.server import status_line

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (16, 16, 3)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


# --- JSON ------------------------------------------------------------------

def test_json_keeps_nan_and_infinity_tokens_both_ways():
    values = json_codec.loads(b'{"x": [NaN, Infinity, -Infinity, 0.5]}')["x"]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 0.5]
    assert json_codec.dumps({"x": [math.nan, math.inf, -math.inf, 0.5]}) == (
        b'{"x":[NaN,Infinity,-Infinity,0.5]}')
    assert json_codec.dumps({"x": None, "y": 1.0}) == b'{"x":null,"y":1.0}'
    # float32 -> JSON -> float32 is exact on the fast path.
    floats = np.random.default_rng(0).uniform(-1, 1, 1000).astype(np.float32)
    text = json_codec.dumps(floats.tolist())
    assert b"null" not in text
    np.testing.assert_array_equal(
        np.asarray(json_codec.loads(text), np.float32).view(np.uint32),
        floats.view(np.uint32))
    with pytest.raises(json.JSONDecodeError) as raised:
        json_codec.loads(b'{"instances": [1,')
    assert (raised.value.msg, raised.value.pos) == ("Expecting value", 17)


# --- The HTTP layer ----------------------------------------------------------

def _hello(environ, start_response):
    body = environ["wsgi.input"].read()
    data = b"hello " + str(len(body)).encode()
    start_response("200 OK", [("Content-Length", str(len(data)))])
    return [data]


@pytest.fixture
def web_server():
    server = WSGIServer(_hello, "127.0.0.1", 0, threads=2, idle_timeout=1,
                        max_body_bytes=100).start()
    yield server
    server.stop()


def test_two_requests_share_one_kept_alive_connection(web_server):
    connection = http.client.HTTPConnection("127.0.0.1", web_server.port,
                                            timeout=10)
    connection.request("POST", "/", body=b"abc")
    first = connection.getresponse()
    assert (first.read(), first.will_close) == (b"hello 3", False)
    sock = connection.sock
    connection.request("GET", "/")
    assert connection.getresponse().read() == b"hello 0"
    assert connection.sock is sock  # Not reconnected.
    connection.close()


def test_idle_and_stalled_connections_close_while_others_are_answered(
        web_server):
    threads = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", web_server.port))
            for _ in range(20)]
    stalled = socket.create_connection(("127.0.0.1", web_server.port))
    stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nab")
    # 21 open connections, 2 worker threads: another client is answered.
    connection = http.client.HTTPConnection("127.0.0.1", web_server.port,
                                            timeout=10)
    connection.request("GET", "/")
    assert connection.getresponse().read() == b"hello 0"
    connection.close()
    assert threading.active_count() == threads  # No thread per connection.
    for sock in [*idle, stalled]:
        sock.settimeout(30)  # A deadline, not a measurement.
        assert sock.recv(100) == b""  # Closed by the server.
        sock.close()


def test_stop_closes_the_listener_and_connections_and_is_idempotent():
    server = WSGIServer(_hello, "127.0.0.1", 0, threads=2).start()
    client = socket.create_connection(("127.0.0.1", server.port))
    trigger_fds = list(server._server.trigger._fds)
    server.stop()
    server.stop()  # A second stop neither raises nor writes to a closed pipe.
    client.settimeout(30)  # A deadline, not a measurement.
    assert client.recv(100) == b""  # Closed by the server.
    client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=10)
    for fd in trigger_fds:  # The wake-up pipe is closed, after the loop ended.
        with pytest.raises(OSError):
            os.fstat(fd)


def test_status_lines_include_tf_servings_499():
    assert [status_line(code) for code in (200, 404, 499)] == [
        "200 OK", "404 Not Found", "499 Unknown"]


def test_waitress_refusals_are_json(web_server):
    def ask(body, headers):
        connection = http.client.HTTPConnection("127.0.0.1", web_server.port,
                                                timeout=10)
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        answer = (response.status, response.getheader("Content-Type"),
                  json.loads(response.read()))
        connection.close()
        return answer

    assert ask(None, {"Content-Length": str(10**12)}) == (
        413, "application/json", {"error": f"request body of {10**12} bytes "
                                  "is over this server's limit of 100 bytes"})
    assert ask(b"x", {"Content-Length": "x1"}) == (
        400, "application/json",
        {"error": "Bad Request: Content-Length is invalid"})


# --- A served model ---------------------------------------------------------

@pytest.fixture
def base(tiny_run, tmp_path):
    """A base path with the tiny export as versions 2 and 3."""
    path = tmp_path / "amr"
    for version in (2, 3):
        shutil.copytree(tiny_run.export_path, path / str(version))
    return path


@pytest.fixture(scope="module")
def served(tiny_run, tmp_path_factory):
    """Versions 2 and 3 of the tiny export, both served (policy `all`),
    over gRPC and REST; yields the server and its base path."""
    path = tmp_path_factory.mktemp("served") / "amr"
    for version in (2, 3):
        shutil.copytree(tiny_run.export_path, path / str(version))
    sources = repository_lib.sources_from_config(_config(("amr", path, {})))
    with server_lib.ModelServer(sources, port=0, rest_port=0,
                                poll_seconds=0) as server:
        yield server, path


def _config(*models):
    """A ModelServerConfig of (name, base path, {label: version}) models,
    each serving all its versions."""
    config = model_server_config_pb2.ModelServerConfig()
    for name, path, labels in models:
        model = config.model_config_list.config.add(
            name=name, base_path=str(path), model_platform="tensorflow")
        model.model_version_policy.all.SetInParent()
        model.version_labels.update(labels)
    return config


def _health(server, service):
    with grpc.insecure_channel(server.address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10).status


def test_health_follows_each_models_versions(base, tiny_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_run.export_path, other / "1")
    with server_lib.ModelServer({"amr": str(base), "other": str(other)},
                                port=0, poll_seconds=0) as server:
        assert [_health(server, name) for name in (
            "", "amr", "other", *server_lib.TF_SERVING_HEALTH_NAMES)] == [
                SERVING] * 5
        shutil.rmtree(other / "1")  # Every version of "other" is deleted.
        server.repository.poll()
        assert [_health(server, name) for name in ("", "amr", "other")] == [
            NOT_SERVING, SERVING, NOT_SERVING]
        shutil.copytree(tiny_run.export_path, other / "4")
        server.repository.poll()
        assert [_health(server, name) for name in ("", "other")] == [
            SERVING, SERVING]
        with pytest.raises(grpc.RpcError) as raised:
            _health(server, "nope")
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    request = health_pb2.HealthCheckRequest(service="amr")
    assert server.health.Check(request, None).status == NOT_SERVING  # Stopped.


def _metric_samples(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest.port,
                                            timeout=30)
    connection.request("GET", METRICS_PATH)
    response = connection.getresponse()
    assert response.status == 200
    text = response.read().decode()
    connection.close()
    return [sample for family in parser.text_string_to_metric_families(text)
            for sample in family.samples]


def test_the_shipped_monitoring_config_names_the_metrics_path():
    text = (ROOT / "export" / "monitoring.config").read_text()
    assert re.search(r"prometheus_config \{\s*enable: true\s*path: "
                     f'"{METRICS_PATH}"' r"\s*\}", text)


def _value(samples, name, **labels):
    return sum(sample.value for sample in samples if sample.name == name
               and labels.items() <= sample.labels.items())


def test_metrics_count_requests_by_transport_model_signature_and_code(served):
    server, _ = served
    before = _metric_samples(server)
    images = np.zeros((1, *IMAGE_SHAPE), np.float32)
    rest = client_lib.RestClient(server.rest.address, "amr")
    rest.mix(images, images, 0.5)
    with pytest.raises(client_lib.ServingError):
        rest.mix(images, images, 1.5)
    with pytest.raises(client_lib.ServingError):
        client_lib.RestClient(server.rest.address, "nope").mix(
            images, images, 0.5)
    for name in ("amr", "nope"):
        grpc_client = client_lib.ServingClient(server.address, name)
        try:
            grpc_client.mix(images, images, 0.5)
        except grpc.RpcError:
            assert name == "nope"
        grpc_client.close()
    after = _metric_samples(server)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "amr_serving_requests_total"
    predict = {"api": "predict", "model": "amr", "signature": "mix"}
    assert delta(requests, transport="rest", code="OK", **predict) == 1
    assert delta(requests, transport="rest", code="INVALID_ARGUMENT",
                 **predict) == 1
    assert delta(requests, transport="grpc", code="OK", **predict) == 1
    # An unknown model: model "" (bounded labels). Over REST the body's
    # conversion needs the model, so only the HTTP status counts it.
    assert delta(requests, transport="grpc", code="NOT_FOUND", api="predict",
                 model="", signature="") == 1
    latency = "amr_serving_request_latency_seconds"
    assert delta(latency + "_count", transport="rest", **predict) == 2
    buckets = [sample.labels["le"] for sample in after
               if sample.name == latency + "_bucket"
               and sample.labels["transport"] == "rest"
               and sample.labels["signature"] == "mix"]
    assert len(buckets) > 10 and buckets[-1] == "+Inf"
    assert delta(latency + "_bucket", transport="rest", le="+Inf",
                 **predict) == 2
    assert delta("amr_rest_requests_total", status="200") >= 1
    assert delta("amr_rest_requests_total", status="400") == 1
    assert delta("amr_rest_requests_total", status="404") == 1
    assert _value(after, "process_open_fds") > 0


def _grpc_metadata_version(server, **spec):
    request = get_model_metadata_pb2.GetModelMetadataRequest(
        metadata_field=[SIGNATURE_DEF_FIELD])
    request.model_spec.name = "amr"
    for key, value in spec.items():
        setattr(request.model_spec, key, value)
    with grpc.insecure_channel(server.address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.GetModelMetadata(request, timeout=30).model_spec.version.value


def _rest(server, method, path, document=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest.port,
                                            timeout=60)
    connection.request(method, path, body=document and json.dumps(document))
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


def _reload(server, config):
    with grpc.insecure_channel(server.address) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        return stub.HandleReloadConfigRequest(
            model_management_pb2.ReloadConfigRequest(config=config), timeout=60)


def test_labels_over_both_transports_and_tf_servings_label_rule(served):
    server, base = served
    # Labels may name only available versions (server_core.cc).
    with pytest.raises(grpc.RpcError) as raised:
        _reload(server, _config(("amr", base, {"stable": 7})))
    assert (raised.value.code(), raised.value.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "Request to assign label to version 7 of model amr, which is not "
        "currently available for inference")
    assert _reload(server, _config(
        ("amr", base, {"stable": 2, "canary": 3}))).status.error_code == 0
    assert _grpc_metadata_version(server, version_label="stable") == 2
    assert _grpc_metadata_version(server, version_label="canary") == 3
    assert _grpc_metadata_version(server) == 3
    status, answer = _rest(server, "GET",
                           "/v1/models/amr/labels/stable/metadata")
    assert (status, answer["model_spec"]["version"]) == (200, "2")
    assert _rest(server, "GET", "/v1/models/amr/labels/stable")[1][
        "model_version_status"][0]["version"] == "2"
    images = np.zeros((1, *IMAGE_SHAPE), np.float32).tolist()
    status, answer = _rest(server, "POST",
                           "/v1/models/amr/labels/stable:predict",
                           {"signature_name": "reconstruct",
                            "instances": images})
    assert status == 200 and len(answer["predictions"]) == 1
    message = "Unrecognized servable version label: beta"
    assert _rest(server, "POST", "/v1/models/amr/labels/beta:predict",
                 {"instances": images}) == (400, {"error": message})
    with pytest.raises(grpc.RpcError) as raised:
        _grpc_metadata_version(server, version_label="beta")
    assert (raised.value.code(), raised.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, message)


def test_labels_for_unavailable_versions_when_allowed(base):
    sources = repository_lib.sources_from_config(
        _config(("amr", base, {"stable": 2, "next": 9})))
    with pytest.raises(ValueError, match="version 9 of model amr, which is "
                       "not currently available"):
        repository_lib.ModelRepository(sources)
    with server_lib.ModelServer(sources, port=0, poll_seconds=0,
                                allow_labels_for_unavailable=True) as server:
        assert _grpc_metadata_version(server, version_label="stable") == 2
        with pytest.raises(grpc.RpcError) as raised:
            _grpc_metadata_version(server, version_label="next")
        assert raised.value.details() == (
            "Servable not found for request: Specific(amr, 9)")
        # An assigned label moves only to an available version.
        with pytest.raises(grpc.RpcError) as raised:
            _reload(server, _config(("amr", base, {"stable": 8})))
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_config_file_poll_adds_a_model_and_a_label(base, tiny_run, tmp_path):
    config_file = tmp_path / "models.config"
    config_file.write_text(str(_config(("amr", base, {}))))
    with server_lib.ModelServer(
            repository_lib.sources_from_config_file(str(config_file)), port=0,
            poll_seconds=0, config_file=str(config_file),
            config_poll_seconds=0.1) as server:
        with pytest.raises(grpc.RpcError):
            _health(server, "other")  # Not configured yet.
        other = tmp_path / "other"
        shutil.copytree(tiny_run.export_path, other / "1")
        config_file.write_text(str(_config(("amr", base, {"stable": 2}),
                                           ("other", other, {}))))
        deadline = time.monotonic() + 120  # A deadline, not a measurement.
        while time.monotonic() < deadline:
            try:
                if _health(server, "other") == SERVING:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.1)
        assert _health(server, "other") == SERVING
        assert _grpc_metadata_version(server, version_label="stable") == 2
        config_file.write_text(str(_config(("other", other, {}))))
        while _health(server, "amr") != NOT_SERVING:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert server.repository.model_names == ["other"]
        assert _health(server, "") == SERVING


def test_a_failing_version_is_retried_then_reported(base, monkeypatch):
    real_load = repository_lib.load_version
    tries = []

    def flaky_load(path, max_batch_size):
        tries.append(path)
        if path.endswith("3") and len(tries) < 3:
            raise LoadError(f"cannot load {path}: flaky disk")
        if path.endswith("9"):
            raise LoadError(f"cannot load {path}: broken")
        return real_load(path, max_batch_size)

    monkeypatch.setattr(repository_lib, "load_version", flaky_load)
    sources = [repository_lib.ModelSource("amr", str(base))]
    repository = repository_lib.ModelRepository(
        sources, max_load_retries=2, load_retry_seconds=0.01)
    assert len(tries) == 3  # Version 3: two failures, then loaded.
    assert repository.get("amr").version == 3
    shutil.copytree(base / "3", base / "9")
    tries.clear()
    assert repository.poll() == []
    assert len(tries) == 3  # Version 9: the first try and two retries.
    (status,) = repository.status("amr", 9)
    assert (status.state, status.error) == (
        repository_lib.State.END, f"cannot load {base / '9'}: broken")
    assert repository.get("amr").version == 3
    tries.clear()
    repository.poll()
    assert tries == []  # Not tried again while it stays aspired.
