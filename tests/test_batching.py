"""Batching: the exports' in-graph batcher that one bad request cannot break,
the stand-in's session-level batching (TF Serving's `--enable_batching`),
and their `BatchingParameters` files."""

import concurrent.futures
import pathlib
import threading
import types

import grpc
import numpy as np
import pytest
import tensorflow as tf

from amr_tf.client import clients as client_lib
from amr_tf.exporter import saved_model as saved_model_lib
from amr_tf.exporter import signatures as signatures_lib
from amr_tf.model_server import batching as batching_lib
from amr_tf.model_server import server as server_lib
from amr_tf.tfserving import batching_parameters
from amr_tf.tfserving import contract
from amr_tf.tfserving.batching_parameters import BatchingParameters
from amr_tf.tfserving.bundle import SavedModelBundle
from amr_tf.tfserving.predict import graph_error_message

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (16, 16, 3)
LATENT_SHAPE = (4, 4, 4)
LONG_WAIT_MICROS = 60 * 10**6  # A batch this slow runs only when full.

NAN_IMAGE = "images_a: values must be finite, not NaN or Inf"
ALPHA_RANGE = "alpha: values must lie between 0 and 1"


# --- BatchingParameters files -------------------------------------------

def test_parameters_file_reads_as_tf_serving_reads_it():
    parameters = batching_parameters.parse("""
        max_batch_size { value: 8 }
        batch_timeout_micros { value: 1500 }
        num_batch_threads { value: 3 }
        max_enqueued_batches { value: 5 }
        thread_pool_name { value: "pool" }
        allowed_batch_sizes: 2
        allowed_batch_sizes: 8
    """)
    assert parameters == BatchingParameters(8, 1500, 3, 5, (2, 8))
    assert [parameters.padded_size(n) for n in (1, 2, 3, 8)] == [2, 2, 8, 8]
    assert batching_parameters.parse("") == BatchingParameters(1000, 0, 1, 10)
    splitting = batching_parameters.parse("""
        max_batch_size { value: 64 }
        enable_large_batch_splitting { value: true }
        max_execution_batch_size { value: 8 }
    """)
    assert (splitting.max_batch_size, splitting.batch_rows) == (64, 8)
    assert batching_parameters.parse(
        "enable_large_batch_splitting { value: true }").batch_rows == 1000


@pytest.mark.parametrize("text, message", [
    ("max_batch_size: 8", "not a BatchingParameters text proto"),
    ("batch_size { value: 8 }", "no field named \"batch_size\""),
    ("max_batch_size { value: 8 } allowed_batch_sizes: 4",
     "Last entry in allowed_batch_sizes must match max_batch_size; last "
     "entry was 4; expected 8"),
    ("max_batch_size { value: 8 } allowed_batch_sizes: 8 allowed_batch_sizes: 2",
     "allowed_batch_sizes must increase"),
    ("num_batch_threads { value: 0 }", "must be at least 1"),
    ("max_batch_size { value: 8 } enable_large_batch_splitting { value: true } "
     "max_execution_batch_size { value: 9 }",
     "max_execution_batch_size must lie between 1 and max_batch_size"),
    ("pad_variable_length_inputs: true", "pad_variable_length_inputs is not"),
])
def test_parameters_file_refuses_what_tf_serving_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        batching_parameters.parse(text)


def test_shipped_file_is_what_exports_batch_with(tmp_path):
    shipped = ROOT / "export" / "batching_parameters.txt"
    assert batching_parameters.read(str(shipped)) == saved_model_lib.DEFAULT_BATCHING
    # Requests of up to 65536 rows, split into runs of up to 16.
    assert saved_model_lib.DEFAULT_BATCHING.max_batch_size == 65536
    assert saved_model_lib.DEFAULT_BATCHING.batch_rows == 16
    with pytest.raises(ValueError, match="splitting is not supported"):
        batching_lib.BatchingSession(RecordingBundle(),
                                     saved_model_lib.DEFAULT_BATCHING)
    with pytest.raises(ValueError, match="cannot read batching parameters"):
        batching_parameters.read(str(tmp_path / "missing.txt"))


def test_chosen_parameters_follow_the_flags(tmp_path):
    path = tmp_path / "batching.txt"
    path.write_text("max_batch_size { value: 8 }")
    default = BatchingParameters(max_batch_size=4)
    assert batching_parameters.chosen(False, str(path), default) is None
    assert batching_parameters.chosen(True, None, default) is default
    assert batching_parameters.chosen(True, str(path), default).max_batch_size == 8


# --- The stand-in's session-level scheduler on a recording bundle ---------

class RecordingBundle:
    """A bundle whose `run` doubles `x`, records each merged batch, and
    fails a batch holding a negative value."""

    signature_defs = {}

    def __init__(self, gate=None):
        self.batches = []
        self.gate = gate
        self.entered = threading.Event()  # Set once a run has started.

    def run(self, signature_name, feeds, output_keys):
        self.entered.set()
        if self.gate:
            self.gate.wait()
        self.batches.append(feeds["x"][:, 0].tolist())
        if (feeds["x"] < 0).any():
            raise tf.errors.InvalidArgumentError(None, None, "negative value")
        return {"y": feeds["x"] * 2}


def _run_concurrently(session, values, signature="double"):
    """Runs one `session.run` per value (a batch-1 `x`) at once; returns
    each answer's `y` rows or its exception."""
    def call(value):
        try:
            return session.run(signature, {"x": np.array([[value]], np.float32)},
                               ["y"])["y"][:, 0].tolist()
        except Exception as error:  # noqa: BLE001 - the answer under test.
            return error

    with concurrent.futures.ThreadPoolExecutor(len(values)) as pool:
        return list(pool.map(call, values))


def test_scheduler_merges_full_batches_and_splits_rows_back():
    bundle = RecordingBundle()
    session = batching_lib.BatchingSession(
        bundle, BatchingParameters(max_batch_size=3,
                                   batch_timeout_micros=LONG_WAIT_MICROS))
    answers = _run_concurrently(session, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    # Nothing runs before a batch holds 3 rows: two runs of three.
    assert answers == [[2.0], [4.0], [6.0], [8.0], [10.0], [12.0]]
    assert sorted(len(batch) for batch in bundle.batches) == [3, 3]
    assert sorted(sum(bundle.batches, [])) == [1, 2, 3, 4, 5, 6]
    session.close()


def test_scheduler_runs_a_partial_batch_when_its_timeout_passes():
    bundle = RecordingBundle()
    session = batching_lib.BatchingSession(
        bundle, BatchingParameters(max_batch_size=8, batch_timeout_micros=1000))
    assert _run_concurrently(session, [1.0, 2.0]) == [[2.0], [4.0]]
    assert sum(map(len, bundle.batches)) == 2
    session.close()


def test_scheduler_pads_to_an_allowed_size_and_drops_the_padding():
    bundle = RecordingBundle()
    session = batching_lib.BatchingSession(
        bundle, BatchingParameters(max_batch_size=4, allowed_batch_sizes=(4,),
                                   batch_timeout_micros=1000))
    rows = np.array([[1.0], [2.0], [3.0]], np.float32)
    assert session.run("double", {"x": rows}, ["y"])["y"][:, 0].tolist() == [2, 4, 6]
    # The last task's first row fills the batch up to 4.
    assert bundle.batches == [[1.0, 2.0, 3.0, 1.0]]
    session.close()


def test_scheduler_gives_a_batch_failure_to_every_request_in_it():
    bundle = RecordingBundle()
    session = batching_lib.BatchingSession(
        bundle, BatchingParameters(max_batch_size=3,
                                   batch_timeout_micros=LONG_WAIT_MICROS))
    answers = _run_concurrently(session, [1.0, -1.0, 3.0])
    assert all(isinstance(answer, tf.errors.InvalidArgumentError)
               for answer in answers)
    session.close()


def test_scheduler_refuses_one_request_alone():
    gate = threading.Event()
    bundle = RecordingBundle(gate)
    session = batching_lib.BatchingSession(
        bundle, BatchingParameters(
            max_batch_size=2, max_enqueued_batches=1,
            batch_timeout_micros=LONG_WAIT_MICROS))
    with pytest.raises(batching_lib.RequestError,
                       match="Task size 3 is larger than maximum input batch size 2"):
        session.run("double", {"x": np.zeros((3, 1), np.float32)}, ["y"])

    def submit(pool, count):
        return [pool.submit(session.run, "double",
                            {"x": np.ones((1, 1), np.float32)}, ["y"])
                for _ in range(count)]

    # One batch may wait: a request that would open a second is refused.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        running = submit(pool, 2)  # A full batch, held by the one thread.
        assert bundle.entered.wait(30)
        waiting = submit(pool, 2)  # A full batch waiting for that thread.
        queue = session._state.queues[("double", ("y",))]
        while len(queue.batches) < 1 or queue.open_rows < 2:
            threading.Event().wait(0.01)
        with pytest.raises(batching_lib.RequestError) as refused:
            session.run("double", {"x": np.ones((1, 1), np.float32)}, ["y"])
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        gate.set()
        assert ([future.result(30)["y"].tolist() for future in running + waiting]
                == [[[2.0]]] * 4)
    session.close()


def test_scheduler_refuses_inputs_whose_shapes_differ_for_the_whole_batch():
    session = batching_lib.BatchingSession(
        RecordingBundle(), BatchingParameters(
            max_batch_size=2, batch_timeout_micros=LONG_WAIT_MICROS))

    def call(columns):
        try:
            return session.run("double", {"x": np.ones((1, columns), np.float32)},
                               ["y"])
        except batching_lib.RequestError as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(call, [1, 2]))
    assert all(answer.code == grpc.StatusCode.FAILED_PRECONDITION
               and "from different tasks have different shapes" in str(answer)
               for answer in answers)
    session.close()


# --- Exports served with batching ----------------------------------------

@pytest.fixture(scope="module")
def exports(tiny_run, tmp_path_factory):
    """The tiny model's export from training (batching in its graph, the
    shipped settings), the same model exported without batching (`alone`),
    and (`slow`) its signatures batching 6 rows a run that runs only when
    full, saved without warm-up (whose lone requests would wait) and loaded
    as TF Serving loads it."""
    base = tmp_path_factory.mktemp("batching")
    alone = saved_model_lib.export_saved_model(
        tiny_run.model, tiny_run.config, tiny_run.info, str(base / "alone"),
        version=1, batching=None)
    module = signatures_lib.ServingModule(
        tiny_run.model, IMAGE_SHAPE, LATENT_SHAPE, BatchingParameters(
            max_batch_size=6, batch_timeout_micros=LONG_WAIT_MICROS))
    tf.saved_model.save(module, str(base / "slow"),
                        signatures=module.signatures())
    return types.SimpleNamespace(
        batched=tiny_run.export_path, alone_base=str(base / "alone"),
        alone=SavedModelBundle(alone), slow=SavedModelBundle(str(base / "slow")))


def _requests(good=6, seed=0):
    """`good` valid batch-1 mix requests, then a NaN image and alpha 1.5."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (good + 2, 2, 1, *IMAGE_SHAPE)).astype(np.float32)
    alphas = rng.uniform(size=(good + 2, 1)).astype(np.float32)
    images[good, 0, 0, 3, 3, 1] = np.nan
    alphas[good + 1] = 1.5
    return [{"images_a": a, "images_b": b, "alpha": alpha}
            for (a, b), alpha in zip(images, alphas)]


def _concurrently(call, requests):
    """`call(inputs)` for every request at once; each answer or its error."""
    def answer(inputs):
        try:
            return call(inputs)
        except (grpc.RpcError, tf.errors.OpError) as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(answer, requests))


def _grpc_predict(address):
    def call(inputs):
        client = client_lib.ServingClient(address, "amr", timeout=30.0)
        try:
            return client.predict("mix", inputs)
        finally:
            client.close()
    return call


def _assert_unbatched_answers(exports, requests, answers):
    for inputs, answer in zip(requests, answers):
        expected = exports.alone.run("mix", inputs, ["images", "latents"])
        for key in ("images", "latents"):
            np.testing.assert_allclose(answer[key], expected[key],
                                       rtol=1e-5, atol=1e-6)


def test_bad_requests_fail_alone_among_concurrent_ones(exports):
    requests = _requests(good=12)
    requests = requests[:6] + requests[12:] + requests[6:12]
    with server_lib.ModelServer({"amr": str(pathlib.Path(exports.batched).parent)},
                                port=0, poll_seconds=0) as server:
        answers = _concurrently(_grpc_predict(server.address), requests)
    good = requests[:6] + requests[8:]
    _assert_unbatched_answers(exports, good, answers[:6] + answers[8:])
    for answer, message in zip(answers[6:8], (NAN_IMAGE, ALPHA_RANGE)):
        assert answer.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert answer.details() == message


def test_checked_rows_alone_fill_a_batch(exports):
    """The batch of 6 runs only when full: every good answer arriving shows
    the six good requests were merged, and that no bad row took a place."""
    requests = _requests(good=6)
    answers = _concurrently(
        lambda inputs: exports.slow.run("mix", inputs, ["images", "latents"]),
        requests)
    _assert_unbatched_answers(exports, requests[:6], answers[:6])
    for answer, message in zip(answers[6:], (NAN_IMAGE, ALPHA_RANGE)):
        assert isinstance(answer, tf.errors.InvalidArgumentError)
        assert graph_error_message(answer) == message
    graph = exports.slow._session.graph.as_graph_def()
    batchers = {node.attr["shared_name"].s.decode(): node.attr["max_batch_size"].i
                for function in graph.library.function
                for node in function.node_def if node.op == "BatchFunction"}
    floats = {f"{name}/batch/" for name in (
        "encode", "decode", "reconstruct", "mix", "mix_latents",
        "mix_bernoulli", "mix_attributes")}
    # A bytes signature batches in its own batcher, not its float twin's.
    encoded = {f"{name}/{contract.ENCODED_SIGNATURES[name]}/batch/"
               for name in contract.ENCODED_SIGNATURES}
    assert batchers == {name: 6 for name in floats | encoded}


def test_a_corrupt_image_fails_alone_among_batched_bytes_requests(exports):
    """Six good `mix_bytes` requests fill the 6-row batch (run only when
    full) while a corrupt one is refused before the batcher, naming its
    input; the good answers are the float signature's on the decoded PNGs."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (6, 2, *IMAGE_SHAPE), dtype=np.uint8)
    alphas = rng.uniform(size=(7, 1)).astype(np.float32)
    requests = [{"images_a_bytes": np.array([tf.io.encode_png(a).numpy()], object),
                 "images_b_bytes": np.array([tf.io.encode_png(b).numpy()], object),
                 "alpha": alpha} for (a, b), alpha in zip(pixels, alphas)]
    requests.append({**requests[0], "images_b_bytes": np.array([b"not a png"], object),
                     "alpha": alphas[6]})
    answers = _concurrently(lambda inputs: exports.slow.run(
        contract.MIX_BYTES, inputs, ["images_bytes"]), requests)
    for (a, b), alpha, answer in zip(pixels, alphas, answers[:6]):
        floats = {"images_a": a[None] / 127.5 - 1, "images_b": b[None] / 127.5 - 1,
                  "alpha": alpha}
        expected = exports.alone.run("mix", {key: np.float32(value) for key, value
                                             in floats.items()}, ["images"])["images"]
        decoded = tf.io.decode_png(answer["images_bytes"][0]).numpy()
        np.testing.assert_allclose(decoded / 127.5 - 1, expected[0], atol=0.5 / 127.5 + 1e-6)
    assert isinstance(answers[6], tf.errors.InvalidArgumentError)
    assert graph_error_message(answers[6]).startswith("images_b_bytes: ")


def test_a_request_over_the_batchers_limit_is_refused_alone(exports):
    rows = _requests(good=7)[:7]
    inputs = {key: np.concatenate([row[key] for row in rows])
              for key in rows[0]}
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        exports.slow.run("mix", inputs, ["images"])
    assert graph_error_message(raised.value) == (
        "Task size 7 is larger than maximum input batch size 6")


def test_session_level_batching_gives_one_bad_request_to_its_batch(exports):
    requests = _requests(good=3)
    parameters = BatchingParameters(max_batch_size=4,
                                    batch_timeout_micros=LONG_WAIT_MICROS)
    # What TF Serving's --enable_batching does to checks in the graph:
    with server_lib.ModelServer({"amr": exports.alone_base}, port=0,
                                poll_seconds=0, batching=parameters) as server:
        call = _grpc_predict(server.address)
        answers = _concurrently(call, requests[:4])
        good = _concurrently(call, requests[:3] + requests[:1])
        batches = server.repository.get("amr").bundle.batches_run
    assert [answer.code() for answer in answers] == [
        grpc.StatusCode.INVALID_ARGUMENT] * 4
    assert {answer.details() for answer in answers} == {NAN_IMAGE}
    # Four good requests: one merged run (after the bad one), each its rows.
    assert batches == 2
    _assert_unbatched_answers(exports, requests[:3] + requests[:1], good)
