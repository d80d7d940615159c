"""gRPC serving over loopback: the server, the client, their errors, and
TF Serving's version policy and model status."""

import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2

from amr_tf.client import clients as client_lib
from amr_tf.config import flag_text
from amr_tf.core.errors import UsageError
from amr_tf.model_server import repository as repository_lib
from amr_tf.model_server import server as server_lib
from amr_tf.tfserving import warmup
from benchmarks.serving_load import mix_concurrently
from benchmarks.serving_load import rss_bytes
from benchmarks.serving_load import spawn

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (16, 16, 3)
MAX_BATCH = 8


@pytest.fixture(scope="module")
def served(tiny_run, tmp_path_factory):
    """The tiny run's export (version 2) behind a loopback server; yields a
    `ServingClient` connected to it."""
    base = tmp_path_factory.mktemp("models") / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    server = server_lib.ModelServer({"amr": str(base)}, port=0, poll_seconds=0,
                                    max_batch_size=MAX_BATCH).start()
    client = client_lib.ServingClient(server.address, "amr")
    yield client, server, base
    client.close()
    server.stop()


def _pair(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (2, batch, *IMAGE_SHAPE)).astype(np.float32)


def _mix_request(signature="mix", model="amr", **inputs):
    images_a, images_b = _pair()
    values = {"images_a": images_a, "images_b": images_b,
              "alpha": np.array([0.25, 0.75], np.float32)}
    values.update(inputs)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    for key, value in values.items():
        if isinstance(value, np.ndarray):
            value = tf.make_tensor_proto(value)
        if value is not None:
            request.inputs[key].CopyFrom(value)
    return request


def _float_proto(shape, tensor_content=b""):
    """A float32 `TensorProto` declaring `shape` (None: unknown rank) with
    raw `tensor_content`, whether or not the two agree."""
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT,
                                   tensor_content=tensor_content)
    if shape is None:
        proto.tensor_shape.unknown_rank = True
    for size in shape or ():
        proto.tensor_shape.dim.add(size=size)
    return proto


# Declares 10^7 images (30 GB) without sending them.
HUGE_BATCH = 10_000_000


def test_mix_returns_images_in_range_and_the_decodes_at_alpha_0_and_1(served):
    client, _, _ = served
    images_a, images_b = _pair()
    mixed = client.mix(images_a, images_b, [0.3, 0.6])
    assert mixed.shape == (2, *IMAGE_SHAPE) and mixed.dtype == np.float32
    assert np.all(mixed >= -1.0) and np.all(mixed <= 1.0)
    for alpha, source in ((1.0, images_a), (0.0, images_b)):
        expected = client.predict("reconstruct", {"images": source})["images"]
        np.testing.assert_allclose(client.mix(images_a, images_b, alpha),
                                   expected, atol=1e-6)


def test_served_outputs_equal_the_saved_model_called_in_process(served, tiny_run,
                                                                tf2_loader):
    client, _, _ = served
    images_a, images_b = _pair(seed=1)
    inputs = {"images_a": images_a, "images_b": images_b,
              "alpha": np.array([0.1, 0.9], np.float32)}
    [direct] = tf2_loader(tiny_run.export_path, [("mix", inputs)])
    remote = client.predict("mix", inputs)
    for key in ("images", "latents"):
        np.testing.assert_array_equal(remote[key], direct[key])


def test_model_metadata_lists_the_signatures(served):
    client, _, _ = served
    signatures = client.signature_defs()
    assert {"mix", "encode", "decode", "reconstruct", "mix_latents",
            "mix_bernoulli", "mix_attributes", "serving_default"} <= set(signatures)
    assert client.input_shape() == IMAGE_SHAPE


@pytest.mark.parametrize("change, code, message", [
    (dict(model="other"), grpc.StatusCode.NOT_FOUND,
     "Servable not found for request: Latest(other)"),
    (dict(signature="swap"), grpc.StatusCode.FAILED_PRECONDITION,
     'Serving signature key "swap" not found.'),
    (dict(alpha=None), grpc.StatusCode.INVALID_ARGUMENT,
     "missing input(s) alpha: the signature takes alpha, images_a, images_b"),
    (dict(beta=np.zeros(2, np.float32)), grpc.StatusCode.INVALID_ARGUMENT,
     "unknown input(s) beta: the signature takes alpha, images_a, images_b"),
    (dict(alpha=np.array([1, 0], np.int32)), grpc.StatusCode.INVALID_ARGUMENT,
     "input alpha: expects float32, got int32"),
    (dict(images_a=np.zeros((2, 16, 16), np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT,
     "input images_a: expects shape (-1, 16, 16, 3) (-1: any), got (2, 16, 16)"),
    (dict(images_b=np.zeros((2, 32, 32, 3), np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT,
     "input images_b: expects shape (-1, 16, 16, 3) (-1: any), got (2, 32, 32, 3)"),
    (dict(alpha=np.array([0.5], np.float32)), grpc.StatusCode.INVALID_ARGUMENT,
     "inputs must share their batch size, got alpha 1, images_a 2, images_b 2"),
    (dict(images_a=np.zeros((0, 16, 16, 3), np.float32),
          images_b=np.zeros((0, 16, 16, 3), np.float32),
          alpha=np.zeros(0, np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT,
     "empty batch: every input has batch size 0"),
    (dict(images_a=np.zeros((9, 16, 16, 3), np.float32),
          images_b=np.zeros((9, 16, 16, 3), np.float32),
          alpha=np.zeros(9, np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT,
     f"batch size 9 is over this server's --max_batch_size={MAX_BATCH}"),
    (dict(alpha=np.array([1.5, 0.5], np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT, "alpha: values must lie between 0 and 1"),
    (dict(images_a=np.full((2, 16, 16, 3), np.nan, np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT,
     "images_a: values must be finite, not NaN or Inf"),
    (dict(images_b=np.full((2, 16, 16, 3), np.inf, np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT,
     "images_b: values must be finite, not NaN or Inf"),
    (dict(alpha=np.array([np.nan, 0.5], np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT,
     "alpha: values must be finite, not NaN or Inf"),
    (dict(alpha=np.array([0.5, -0.25], np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT, "alpha: values must lie between 0 and 1"),
    (dict(images_a=np.zeros((2, 16, 16, 3), np.float64)),
     grpc.StatusCode.INVALID_ARGUMENT, "input images_a: expects float32, got float64"),
    (dict(alpha=_float_proto(None)), grpc.StatusCode.INVALID_ARGUMENT,
     "input alpha: expects shape (-1) (-1: any), got unknown"),
    (dict(alpha=_float_proto([2], b"\0" * 7)), grpc.StatusCode.INVALID_ARGUMENT,
     "input alpha: malformed TensorProto "
     "(buffer size must be a multiple of element size)"),
    (dict(images_a=_float_proto([HUGE_BATCH, 16, 16, 3]),
          images_b=_float_proto([HUGE_BATCH, 16, 16, 3]),
          alpha=_float_proto([HUGE_BATCH])),
     grpc.StatusCode.INVALID_ARGUMENT,
     f"batch size {HUGE_BATCH} is over this server's --max_batch_size={MAX_BATCH}"),
])
def test_bad_requests_get_their_status_and_the_server_keeps_serving(
        served, change, code, message):
    client, _, _ = served
    change = dict(change)
    request = _mix_request(signature=change.pop("signature", "mix"),
                           model=change.pop("model", "amr"), **change)
    with pytest.raises(grpc.RpcError) as raised:
        client.stub.Predict(request, timeout=30)
    assert raised.value.code() == code
    assert raised.value.details() == message
    assert client.stub.Predict(_mix_request(), timeout=30).outputs["images"]


def test_a_batch_over_grpc_default_4_mb_is_served(tiny_run, tmp_path):
    base = tmp_path / "amr"
    shutil.copytree(tiny_run.export_path, base / "1")
    images_a, images_b = _pair(batch=1400)  # 8.6 MB in, 4.7 MB back.
    with server_lib.ModelServer({"amr": str(base)}, port=0, poll_seconds=0,
                                max_batch_size=2048) as server:
        client = client_lib.ServingClient(server.address, "amr")
        mixed = client.mix(images_a, images_b, 0.5)
        client.close()
    assert mixed.shape == (1400, *IMAGE_SHAPE) and np.isfinite(mixed).all()


def test_unknown_version_is_not_found(served):
    _, server, _ = served
    versioned = client_lib.ServingClient(server.address, "amr", version=5)
    with pytest.raises(grpc.RpcError) as raised:
        versioned.mix(*_pair(), 0.5)
    versioned.close()
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == (
        "Servable not found for request: Specific(amr, 5)")


def test_eight_concurrent_clients_all_succeed(served):
    _, server, _ = served
    images_a, images_b = _pair()

    def session(index):
        client = client_lib.ServingClient(server.address, "amr")
        try:
            return [client.mix(images_a, images_b, index / 8.0)
                    for _ in range(4)]
        finally:
            client.close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(session, range(8)))
    for mixes in results:
        for mixed in mixes:  # Same request, same answer, whatever the load.
            np.testing.assert_array_equal(mixed, mixes[0])
        assert mixes[0].shape == (2, *IMAGE_SHAPE)


State = get_model_status_pb2.ModelVersionStatus.State


def _states(server, model="amr"):
    """Version -> (state name, error message) from gRPC GetModelStatus."""
    channel = grpc.insecure_channel(server.address)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
        request, timeout=30)
    channel.close()
    return {status.version: (State.Name(status.state),
                             status.status.error_message)
            for status in response.model_version_status}


def _served_version(client, version=None):
    request = _mix_request()
    if version is not None:
        request.model_spec.version.value = version
    return client.stub.Predict(request, timeout=30).model_spec.version.value


def test_a_new_version_replaces_the_old_and_a_broken_one_does_not(tiny_run,
                                                                  tmp_path):
    base = tmp_path / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    with server_lib.ModelServer({"amr": str(base)}, port=0,
                                poll_seconds=0) as server:
        client = client_lib.ServingClient(server.address, "amr")
        assert _served_version(client) == 2
        assert _states(server) == {2: ("AVAILABLE", "")}
        (base / "5").mkdir()  # A broken version: no SavedModel inside.
        (base / "5" / "saved_model.pb").write_bytes(b"not a protobuf")
        assert server.repository.poll() == []
        assert _served_version(client) == 2
        state, error = _states(server)[5]
        assert state == "END" and error.startswith(f"cannot load {base / '5'}")
        shutil.copytree(tiny_run.export_path, base / "7")
        assert server.repository.poll() == [("amr", 7)]
        assert _served_version(client) == 7
        assert _states(server)[7] == ("AVAILABLE", "")
        assert _states(server)[2] == ("END", "")  # Superseded: unloaded.
        with pytest.raises(grpc.RpcError) as raised:
            _served_version(client, version=2)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert raised.value.details() == (
            "Servable not found for request: Specific(amr, 2)")
        client.close()


def test_deleting_versions_falls_back_then_ends(tiny_run, tmp_path):
    base = tmp_path / "amr"
    for version in (2, 3):
        shutil.copytree(tiny_run.export_path, base / str(version))
    with server_lib.ModelServer({"amr": str(base)}, port=0,
                                poll_seconds=0) as server:
        client = client_lib.ServingClient(server.address, "amr")
        assert _states(server) == {3: ("AVAILABLE", "")}
        shutil.rmtree(base / "3")
        assert server.repository.poll() == [("amr", 2)]  # Falls back to 2.
        assert _served_version(client) == 2
        assert _states(server) == {3: ("END", ""), 2: ("AVAILABLE", "")}
        shutil.rmtree(base / "2")
        assert server.repository.poll() == []
        assert _states(server) == {3: ("END", ""), 2: ("END", "")}
        with pytest.raises(grpc.RpcError) as raised:
            _served_version(client)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert raised.value.details() == "Servable not found for request: Latest(amr)"
        client.close()


def test_model_status_of_unknown_models_and_versions(served):
    _, server, _ = served
    channel = grpc.insecure_channel(server.address)
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    for name, version, message in (
            ("nope", None, "Could not find any versions of model nope"),
            ("amr", 9, "Could not find version 9 of model amr")):
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetModelStatus(request, timeout=30)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert raised.value.details() == message
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "amr"
    request.model_spec.version.value = 2
    [status] = stub.GetModelStatus(request, timeout=30).model_version_status
    assert (status.version, State.Name(status.state)) == (2, "AVAILABLE")
    channel.close()


@pytest.mark.parametrize("policy, served", [
    ("latest { num_versions: 2 }", [2, 3]),
    ("all {}", [1, 2, 3]),
    ("specific { versions: 1 versions: 3 }", [1, 3]),
])
def test_version_policies_of_a_models_config(policy, served, tiny_run, tmp_path):
    base = tmp_path / "amr"
    for version in (1, 2, 3):
        shutil.copytree(tiny_run.export_path, base / str(version))
    config = tmp_path / "models.config"
    config.write_text(f"""model_config_list {{ config {{
        name: "amr" base_path: "{base}" model_platform: "tensorflow"
        model_version_policy {{ {policy} }} }} }}""")
    sources = repository_lib.sources_from_config_file(str(config))
    with server_lib.ModelServer(sources, port=0, poll_seconds=0) as server:
        client = client_lib.ServingClient(server.address, "amr")
        assert sorted(_states(server)) == served
        assert _served_version(client) == served[-1]
        for version in served:
            assert _served_version(client, version) == version
        client.close()


def _copy_with_warmup(tiny_run, path, requests):
    shutil.copytree(tiny_run.export_path, path)
    warmup.write_warmup_file(str(path), requests)


def test_a_version_whose_warmup_fails_is_never_served(tiny_run, tmp_path):
    base = tmp_path / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    bad = _mix_request(alpha=np.array([0.5, 3.0], np.float32))
    with server_lib.ModelServer({"amr": str(base)}, port=0,
                                poll_seconds=0) as server:
        client = client_lib.ServingClient(server.address, "amr")
        _copy_with_warmup(tiny_run, base / "4", [bad])
        assert server.repository.poll() == []
        assert _served_version(client) == 2
        state, error = _states(server)[4]
        assert state == "END"
        assert error == ("warm-up request for signature 'mix' failed: "
                         "INVALID_ARGUMENT: alpha: values must lie between 0 and 1")
        client.close()
    # As in TF Serving, only the newest version is aspired at start-up: a
    # broken one leaves the model without a version.
    with pytest.raises(ValueError, match="no loadable version for model"):
        server_lib.ModelServer({"amr": str(base)}, port=0)


def test_an_export_the_session_loader_cannot_restore_is_never_served(
        tiny_run, tmp_path, monkeypatch):
    """The export bug TF Serving hit (variables reached only through Keras
    layers): refused at load, the good version keeps serving."""
    from amr_tf.exporter import signatures as signatures_lib
    base = tmp_path / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    monkeypatch.setattr(signatures_lib, "restorable_variables",
                        lambda *layers: [])
    module = signatures_lib.ServingModule(tiny_run.model, IMAGE_SHAPE, (4, 4, 4))
    with server_lib.ModelServer({"amr": str(base)}, port=0,
                                poll_seconds=0) as server:
        client = client_lib.ServingClient(server.address, "amr")
        tf.saved_model.save(module, str(base / "3"),
                            signatures=module.signatures())
        assert server.repository.poll() == []
        assert _served_version(client) == 2
        state, error = _states(server)[3]
        assert state == "END" and "that signatures read uninitialised" in error
        client.close()


def test_the_poller_serves_a_new_version_without_a_restart(tiny_run, tmp_path):
    base = tmp_path / "amr"
    shutil.copytree(tiny_run.export_path, base / "2")
    with server_lib.ModelServer({"amr": str(base)}, port=0,
                                poll_seconds=0.1) as server:
        client = client_lib.ServingClient(server.address, "amr")
        request = _mix_request()
        (base / "5").mkdir()
        (base / "5" / "saved_model.pb").write_bytes(b"not a protobuf")
        shutil.copytree(tiny_run.export_path, base / "7")
        deadline = time.monotonic() + 60
        versions = []  # Every request is answered while the poller loads.
        while 7 not in versions and time.monotonic() < deadline:
            response = client.stub.Predict(request, timeout=30)
            versions.append(response.model_spec.version.value)
        client.close()
    assert versions[-1] == 7 and set(versions) <= {2, 7}


def test_repo_models_config_parses_to_the_export_base():
    [source] = repository_lib.sources_from_config_file(
        str(ROOT / "export" / "models.config"))
    assert (source.name, source.base_path) == ("amr", "/models/amr")
    assert source.version_policy.WhichOneof("policy_choice") is None  # Latest 1.


def test_load_image_crops_resizes_and_scales(tmp_path):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255  # White centre square, black side bands.
    path = str(tmp_path / "wide.png")
    tf.io.write_file(path, tf.io.encode_png(wide))
    image = client_lib.load_image(path, (8, 8, 3))
    assert image.shape == (8, 8, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image, 1.0, atol=1e-5)  # Only the centre is kept.
    gray = client_lib.load_image(path, (4, 8, 1))
    assert gray.shape == (4, 8, 1)
    assert gray.min() == pytest.approx(-1.0) and gray.max() == pytest.approx(1.0)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(UsageError, match="cannot read image .*broken.png"):
        client_lib.load_image(str(tmp_path / "broken.png"), (8, 8, 3))


def _write_png(path, value):
    tf.io.write_file(str(path), tf.io.encode_png(np.full((24, 24, 3), value, np.uint8)))


def run_module(module, *args):
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
        text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_client_cli_writes_a_mix_and_an_interpolation_strip(served, tmp_path):
    _, server, _ = served
    _write_png(tmp_path / "a.png", 250)
    _write_png(tmp_path / "b.png", 10)
    common = [f"--server={server.address}", "--model_name=amr",
              f"--image_a={tmp_path / 'a.png'}", f"--image_b={tmp_path / 'b.png'}"]
    single = run_module("amr_tf.serving.client", *common, "--alpha=0.5",
                        f"--output={tmp_path / 'mix.png'}")
    assert single.returncode == 0, single.stderr[-2000:]
    mix = tf.io.decode_png(tf.io.read_file(str(tmp_path / "mix.png"))).numpy()
    assert mix.shape == (16, 16, 3)
    # Files sent as bytes (the default) and decoded tensors give one mix.
    tensors = run_module("amr_tf.serving.client", *common, "--alpha=0.5",
                         "--send=tensors", f"--output={tmp_path / 'mix_t.png'}")
    assert tensors.returncode == 0, tensors.stderr[-2000:]
    mix_t = tf.io.decode_png(tf.io.read_file(str(tmp_path / "mix_t.png")))
    assert np.abs(mix.astype(int) - mix_t.numpy()).max() <= 1
    strip = run_module("amr_tf.serving.client", *common, "--interpolate=4",
                       f"--output={tmp_path / 'strip.png'}")
    assert strip.returncode == 0, strip.stderr[-2000:]
    strip_image = tf.io.decode_png(tf.io.read_file(str(tmp_path / "strip.png")))
    assert strip_image.shape == (18, 4 * 17 + 1, 3)  # 1 px gutters.
    (tmp_path / "bad.png").write_text("not an image")
    bad = run_module("amr_tf.serving.client", *common[:3],
                     f"--image_b={tmp_path / 'bad.png'}")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == (
        f"error: {server.address} answered INVALID_ARGUMENT: images_b_bytes: "
        "a value is not a PNG or JPEG image, or is corrupt")
    bad = run_module("amr_tf.serving.client", *common[:3], "--send=tensors",
                     f"--image_b={tmp_path / 'bad.png'}")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith(
        f"error: cannot read image {tmp_path / 'bad.png'}")
    refused = run_module("amr_tf.serving.client", *common,
                         "--model_name=nope")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {server.address} answered NOT_FOUND: Servable not found for "
        "request: Latest(nope)")


def test_server_cli_serves_until_stopped(tiny_run, tmp_path):
    base = tmp_path / "amr"
    shutil.copytree(tiny_run.export_path, base / "3")
    process, address, _ = spawn(base)
    try:
        assert address.startswith("127.0.0.1:")
        client = client_lib.ServingClient(address, "amr")
        response = client.stub.Predict(_mix_request(), timeout=30)
        assert response.model_spec.version.value == 3
        assert client.mix(*_pair(), 0.5).shape == (2, *IMAGE_SHAPE)
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=60)


LOAD_CLIENTS = 16
LOAD_REQUESTS = 200
# After warm-up the server grew about 1 MB over the 3,200 requests (2 runs);
# a server keeping every request's input tensors (about 13 KB each) grew
# 49 MB. 32 MB lies between the two.
MAX_RSS_GROWTH = 32 * 2**20


def test_sixteen_clients_load(tiny_run, tmp_path):
    """16 clients x 200 `mix` requests to a server subprocess: every answer
    is right and the server's memory stays flat after a warm-up."""
    base = tmp_path / "amr"
    shutil.copytree(tiny_run.export_path, base / "1")
    images_a, images_b = _pair()
    alphas = np.linspace(0.0, 1.0, LOAD_CLIENTS)
    process, address, _ = spawn(base)
    try:
        client = client_lib.ServingClient(address, "amr")
        expected = [client.mix(images_a, images_b, alpha) for alpha in alphas]
        client.close()
        mix_concurrently(address, images_a, images_b, alphas,
                                    LOAD_REQUESTS // LOAD_CLIENTS)
        warm_rss = rss_bytes(process.pid)
        results = mix_concurrently(address, images_a, images_b,
                                              alphas, LOAD_REQUESTS)
        growth = rss_bytes(process.pid) - warm_rss
    finally:
        process.terminate()
        process.wait(timeout=60)
    answers = [answer for session in results for _, answer in session]
    assert len(answers) == LOAD_CLIENTS * LOAD_REQUESTS
    errors = [answer for answer in answers if isinstance(answer, grpc.RpcError)]
    assert not errors, f"{len(errors)} errors, first: {errors[0]}"
    for session, want in zip(results, expected):
        assert np.isfinite(want).all() and want.shape == (2, *IMAGE_SHAPE)
        for _, answer in session:
            np.testing.assert_array_equal(answer, want)
    assert growth < MAX_RSS_GROWTH, f"server RSS grew {growth / 2**20:.0f} MB"


def test_server_cli_refuses_a_base_path_without_versions(tmp_path):
    result = run_module("amr_tf.serving.server",
                        f"--model_base_path={tmp_path}", "--port=0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: no loadable version for model(s) amr under {tmp_path}")


@pytest.mark.parametrize("flags, message", [
    (("--batching_parameters_file={file}",),
     "error: --batching_parameters_file needs --enable_batching"),
    (("--enable_batching", "--batching_parameters_file={file}"),
     "error: batching parameters {file}: not a BatchingParameters text proto"),
])
def test_server_cli_names_a_batching_flag_it_cannot_use(tmp_path, flags, message):
    parameters = tmp_path / "batching.txt"
    parameters.write_text("max_batch_size: 8\n")
    result = run_module("amr_tf.serving.server", f"--model_base_path={tmp_path}",
                        "--port=0", *(flag.format(file=parameters) for flag in flags))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(message.format(file=parameters))


def test_the_readme_rest_request_holds_the_example_images():
    """docs/examples/mix_request.json (the README's curl example) is the
    two example images as the client loads them for the demo model."""
    from amr_tf.training import trainer
    config = flag_text.config_from_flag_text(
        (ROOT / "configs" / "shapes.cfg").read_text())
    shape = trainer.validate(config).input_shape
    body = json.loads((ROOT / "docs" / "examples" / "mix_request.json").read_text())
    assert body["signature_name"] == "mix"
    [instance] = body["instances"]
    assert instance["alpha"] == 0.5
    for key, name in (("images_a", "round_warm_large"),
                      ("images_b", "square_cool_small")):
        image = client_lib.load_image(
            str(ROOT / "docs" / "examples" / f"{name}.png"), shape)
        np.testing.assert_array_equal(np.array(instance[key], np.float32), image)
