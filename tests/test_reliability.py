"""Interrupted training, numerical faults and failed writes lose nothing."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from amr_tf import data
from amr_tf.config import flag_text
from amr_tf.training import inputs
from amr_tf.training import loop
from amr_tf.training import trainer

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY_FLAGS = (
    "--dataset=shapes", "--image_size=16", "--arch=resnet", "--width=4",
    "--latent_size=4", "--latent_channels=4", "--batch_size=8",
    "--n_critic=2", "--interpolation_pairs=2", "--interpolation_steps=4",
    "--seed=3", "--noexport",
)
# The kill-and-resume runs: checkpoints every 4 of 40 iterations.
RESUME_FLAGS = (*TINY_FLAGS, "--deterministic", "--steps=40", "--log_every=4")
CHECKPOINT_WAIT_SECONDS = 300


def start_cli(model_dir, *flags, preexec_fn=None):
    """`python -m amr_tf.train` in a subprocess (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "amr_tf.train", *flags,
         f"--model_dir={model_dir}"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=preexec_fn)


def run_cli(model_dir, *flags, preexec_fn=None):
    """Runs the CLI to its end; returns (exit status, stdout, stderr)."""
    process = start_cli(model_dir, *flags, preexec_fn=preexec_fn)
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stdout, stderr


def wait_for_checkpoint(process, model_dir, iteration):
    """Waits until checkpoint `iteration` is written, the process running."""
    index = pathlib.Path(model_dir) / "checkpoints" / f"ckpt-{iteration}.index"
    deadline = time.monotonic() + CHECKPOINT_WAIT_SECONDS
    while not index.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.01)


def checkpoint_values(path):
    """Every saved tensor of checkpoint `path` (a prefix or its folder),
    but `save_counter`: the number of saves by this process, not state."""
    reader = tf.train.load_checkpoint(str(path))
    return {name: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()
            if not name.startswith("save_counter/")}


def assert_same_values(actual, expected):
    assert actual.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], name)


# ------------------------------------------------------------ exact resume
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Checkpoint values of a CLI run of 40 iterations without a stop."""
    model_dir = tmp_path_factory.mktemp("uninterrupted")
    status, _, stderr = run_cli(model_dir, *RESUME_FLAGS)
    assert status == 0, stderr[-3000:]
    return checkpoint_values(model_dir / "checkpoints")


def test_sigkill_then_the_same_command_reaches_the_uninterrupted_weights(
        uninterrupted, tmp_path):
    process = start_cli(tmp_path, *RESUME_FLAGS)
    wait_for_checkpoint(process, tmp_path, 8)
    process.kill()
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "checkpoints" / "ckpt-40.index").exists()

    status, stdout, stderr = run_cli(tmp_path, *RESUME_FLAGS)
    assert status == 0, stderr[-3000:]
    assert "Resumed from" in stdout and "Trained 40 iterations" in stdout
    resumed = checkpoint_values(tmp_path / "checkpoints")
    assert resumed["iterations/.ATTRIBUTES/VARIABLE_VALUE"] == 40
    # Weights, both optimizers' moments and steps, spectral-norm vectors,
    # the iteration count and the input position: bitwise equal.
    assert_same_values(resumed, uninterrupted)


def test_sigterm_saves_the_current_iteration_and_exits_0(tmp_path):
    flags = (*TINY_FLAGS, "--steps=100000", "--log_every=4")
    process = start_cli(tmp_path, *flags)
    wait_for_checkpoint(process, tmp_path, 4)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    stopped = [line for line in stdout.splitlines()
               if line.startswith("Stopped by SIGTERM after iteration ")]
    assert len(stopped) == 1, stdout[-3000:]
    iteration = int(stopped[0].split()[5].rstrip(";"))
    assert iteration >= 4
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert latest.endswith(f"ckpt-{iteration}")
    values = checkpoint_values(latest)
    assert values["iterations/.ATTRIBUTES/VARIABLE_VALUE"] == iteration
    assert values["batches_consumed/.ATTRIBUTES/VARIABLE_VALUE"] == iteration
    assert not (tmp_path / "interpolation.png").exists()


def tiny_config(model_dir, *flags):
    """A `TrainConfig` of the tiny flags and `flags`, into `model_dir`."""
    return flag_text.config_from_flag_text(
        "\n".join([*TINY_FLAGS, *flags, f"--model_dir={model_dir}"]))


def model_values(model):
    return [variable.numpy() for variable in model.variables]


def test_sigterm_inside_a_block_then_resume_equals_an_uninterrupted_run(
        tmp_path, sigterm_at):
    flags = ("--steps=8", "--log_every=4")
    reference = trainer.train(tiny_config(tmp_path / "reference", *flags))

    config = tiny_config(tmp_path / "stopped", *flags)
    stopped = trainer.train(config, callbacks=[sigterm_at(3)])
    assert stopped.preempted and stopped.iterations == 3
    assert stopped.figure_path is None
    assert tf.train.latest_checkpoint(
        str(tmp_path / "stopped" / "checkpoints")).endswith("ckpt-3")
    # SIGTERM is back to its usual handler once training returns.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

    resumed = trainer.train(config)
    assert not resumed.preempted and resumed.iterations == 8
    for got, want in zip(model_values(resumed.model),
                         model_values(reference.model)):
        np.testing.assert_array_equal(got, want)


def checkpoint_iterations(model_dir):
    """The iterations of the checkpoints kept in `model_dir`, oldest first."""
    state = tf.train.get_checkpoint_state(str(model_dir / "checkpoints"))
    return [int(path.rsplit("-", 1)[1])
            for path in state.all_model_checkpoint_paths]


def test_steps_need_not_be_a_multiple_of_log_every_and_resume_is_exact(
        tmp_path):
    reference = trainer.train(
        tiny_config(tmp_path / "reference", "--steps=10", "--log_every=4"))
    assert reference.iterations == 10
    assert len(reference.history["g_total"]) == 3  # Blocks of 4, 4 and 2.
    assert checkpoint_iterations(tmp_path / "reference") == [4, 8, 10]

    first = trainer.train(
        tiny_config(tmp_path / "resumed", "--steps=6", "--log_every=4"))
    assert first.iterations == 6
    resumed = trainer.train(
        tiny_config(tmp_path / "resumed", "--steps=10", "--log_every=4"))
    assert resumed.iterations == 10
    # The blocks stay aligned to multiples of --log_every: 6, then 8 and 10.
    assert checkpoint_iterations(tmp_path / "resumed") == [6, 8, 10]
    for got, want in zip(model_values(resumed.model),
                         model_values(reference.model)):
        np.testing.assert_array_equal(got, want)


# ----------------------------------------------------- numerical faults
POISONED_BATCH = 5  # The 6th batch of the stream: iteration 6.


@pytest.fixture
def poisoned_data(monkeypatch):
    """Makes training batches NaN from stream position `POISONED_BATCH` on,
    for `count` batches (set `poisoned_data.count`; default 1)."""
    real_train_dataset = inputs.train_dataset
    settings = {"count": 1}

    def train_dataset(config, info, batches_consumed=0, input_context=None):
        batches = real_train_dataset(config, info, batches_consumed,
                                     input_context)

        def poison(index, batch):
            position = index + batches_consumed
            bad = ((position >= POISONED_BATCH)
                   & (position < POISONED_BATCH + settings["count"]))
            inputs = batch["inputs"] + tf.where(bad, np.nan, 0.0)
            return {**batch, "inputs": inputs}

        return batches.enumerate().map(poison)

    monkeypatch.setattr(inputs, "train_dataset", train_dataset)
    return settings


def test_a_nan_loss_stops_with_the_iteration_and_terms_and_keeps_the_checkpoint(
        poisoned_data, tmp_path):
    config = tiny_config(tmp_path, "--steps=8", "--log_every=4")
    with pytest.raises(loop.NonFiniteLossError) as raised:
        trainer.train(config)
    checkpoints = tmp_path / "checkpoints"
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("iteration 6: loss d_fake_mix, ")
    assert "d_real" in message and "g_reconstruction" in message
    assert message.index("g_reconstruction") < message.index("d_total")
    assert f"the latest checkpoint is still {checkpoints / 'ckpt-4'}" in message
    assert "--on_nonfinite=rollback" in message
    # Nothing was saved after the fault: ckpt-4 is the latest and finite.
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-4")
    assert not list(checkpoints.glob("ckpt-[68].*"))
    values = checkpoint_values(checkpoints)
    assert values["iterations/.ATTRIBUTES/VARIABLE_VALUE"] == 4
    for name, value in values.items():
        if np.asarray(value).dtype.kind == "f":
            assert np.all(np.isfinite(value)), name


def test_rollback_restores_the_checkpoint_and_skips_the_bad_batch(
        poisoned_data, tmp_path, capsys):
    config = tiny_config(tmp_path, "--steps=8", "--log_every=4",
                         "--on_nonfinite=rollback")
    result = trainer.train(config)
    assert result.iterations == 8 and result.rollbacks == 1
    assert ("Iteration 6: d_fake_mix, " in capsys.readouterr().out)
    # Iterations 5 and 6 ran on batches 4 and 5, were rolled back, and ran
    # again on batches 6 and 7: the stream moved on past the bad batch.
    assert int(result.model.batches_consumed.numpy()) == 10
    for variable in result.model.variables:
        assert np.all(np.isfinite(variable.numpy())), variable.path
    values = checkpoint_values(tmp_path / "checkpoints")
    assert values["batches_consumed/.ATTRIBUTES/VARIABLE_VALUE"] == 10


def test_rollback_gives_up_after_max_rollbacks_in_a_row(poisoned_data,
                                                        tmp_path):
    poisoned_data["count"] = 100
    config = tiny_config(tmp_path, "--steps=8", "--log_every=4",
                         "--on_nonfinite=rollback", "--max_rollbacks=2")
    with pytest.raises(loop.NonFiniteLossError,
                       match=r"after 2 rollbacks in a row \(--max_rollbacks\)"):
        trainer.train(config)
    assert tf.train.latest_checkpoint(
        str(tmp_path / "checkpoints")).endswith("ckpt-4")


def test_rollback_before_the_first_checkpoint_restores_the_initial_weights(
        poisoned_data, tmp_path):
    config = tiny_config(tmp_path, "--steps=8", "--log_every=8",
                         "--on_nonfinite=rollback")
    result = trainer.train(config)
    assert result.iterations == 8 and result.rollbacks == 1
    assert int(result.model.batches_consumed.numpy()) == 14


# ------------------------------------------------------------ full disk
def limit_file_size(max_bytes):
    """A `preexec_fn` making writes past `max_bytes` fail with EFBIG, as a
    full disk fails them with ENOSPC."""
    def apply():
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def test_a_failed_checkpoint_write_exits_1_and_keeps_the_previous_one(
        tmp_path):
    flags = (*TINY_FLAGS, "--log_every=4")
    status, _, stderr = run_cli(tmp_path, *flags, "--steps=4")
    assert status == 0, stderr[-3000:]
    checkpoints = tmp_path / "checkpoints"
    before = {path.name: path.read_bytes() for path in checkpoints.iterdir()}
    data_bytes = len(before["ckpt-4.data-00000-of-00001"])

    # Files may grow to half a checkpoint: the next save cannot finish.
    status, _, stderr = run_cli(tmp_path, *flags, "--steps=8",
                                preexec_fn=limit_file_size(data_bytes // 2))
    assert status == 1, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (
        f"error: cannot write checkpoint 8 to {checkpoints}: File too large; "
        f"the latest checkpoint is still {checkpoints / 'ckpt-4'} (free space "
        "and re-run the same command to resume from it)")
    after = {path.name: path.read_bytes() for path in checkpoints.iterdir()}
    assert after == before  # No partial ckpt-8 files, the state untouched.

    status, stdout, stderr = run_cli(tmp_path, *flags, "--steps=8")
    assert status == 0, stderr[-3000:]
    assert f"Resumed from {checkpoints / 'ckpt-4'} at iteration 4" in stdout


# ------------------------------------------------------ the input stream
def test_the_stream_restarts_exactly_at_any_position():
    config = data.DataConfig(name="shapes", image_size=8, num_examples=20)
    examples = data.load(config, "train")

    def stream(start, count, dataset=examples):
        batches = data.make_batches(dataset, 6, shuffle=True, seed=4,
                                    repeat=True, start=start)
        return [batch["inputs"] for batch in
                batches.take(count).as_numpy_iterator()]

    full = stream(0, 10)  # 60 examples: three epochs of 20.
    epoch_order = np.concatenate(full)[:20].reshape(20, -1)
    assert len(np.unique(epoch_order, axis=0)) == 20  # A permutation.
    assert not np.array_equal(np.concatenate(full)[:20],
                              np.concatenate(full)[20:40])  # Reshuffled.
    for batches_done in (1, 3, 4, 7):  # Inside and across epoch borders.
        resumed = stream(6 * batches_done, 10 - batches_done)
        np.testing.assert_array_equal(np.stack(resumed),
                                      np.stack(full[batches_done:]))
    # Unknown size (one counting pass) and another global seed: same stream.
    tf.random.set_seed(0)
    unknown_size = examples.filter(lambda example: True)
    np.testing.assert_array_equal(np.stack(stream(18, 3, unknown_size)),
                                  np.stack(full[3:6]))
