"""Training curves read back from TensorBoard, whether they have levelled
off, and training that stops there (--stop_at_plateau)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from amr_tf.config import flag_text
from amr_tf.training import callbacks
from amr_tf.training import curves
from amr_tf.training import run_directory
from amr_tf.training import trainer

SPIRAL_FLAGS = (
    "--dataset=spiral", "--arch=mlp", "--num_examples=64", "--width=8",
    "--depth=1", "--latent_channels=2", "--batch_size=8", "--n_critic=1",
    "--summary_every=1", "--noexport",
)


def test_plateau_change_compares_the_last_tenth_with_the_one_before():
    iterations = np.arange(1, 101, dtype=np.float64)
    flat = np.stack([iterations, np.full(100, 0.5)], axis=1)
    assert curves.plateau_change(flat) == 0.0
    falling = np.stack([iterations, 200.0 - iterations], axis=1)
    # Last tenth: values 109..100, mean 104.5; the tenth before: mean 114.5.
    assert curves.plateau_change(falling) == pytest.approx(-10 / 114.5)
    assert np.isnan(curves.plateau_change(falling[:15]))
    # 100 points hold 10 per tenth, 99 only 9.
    assert curves.plateau_change(falling, min_points=10) == pytest.approx(
        -10 / 114.5)
    assert np.isnan(curves.plateau_change(falling[:99], min_points=10))


class FakeModel:
    """What `StopAtPlateau` reads of a model."""

    def __init__(self, iterations):
        self.iterations = iterations
        self.stop_training = False

    def completed_iterations(self):
        return self.iterations


def write_reconstruction_curve(model_dir, values, summary_every=10):
    """Writes `values` as the run's g_reconstruction scalars, one every
    `summary_every` iterations, as `callbacks.Summaries` does."""
    writer = tf.summary.create_file_writer(
        str(model_dir / run_directory.TENSORBOARD))
    with writer.as_default():
        for index, value in enumerate(values):
            tf.summary.scalar(callbacks.PLATEAU_TERM, value,
                              step=(index + 1) * summary_every)
    writer.close()


def plateau_stop(model_dir, tolerance, iterations, every=100):
    """Whether `StopAtPlateau` (checks `every` iterations apart) stops a
    model at `iterations`; and the callback."""
    model = FakeModel(iterations)
    stop = callbacks.StopAtPlateau(str(model_dir), tolerance, every)
    stop.set_model(model)
    stop.on_epoch_end(0)
    return model.stop_training, stop


@pytest.mark.parametrize("tolerance, stops", [(0.02, False), (0.2, True)])
def test_stop_at_plateau_stops_once_the_fall_per_tenth_is_within_tolerance(
        tmp_path, tolerance, stops):
    # 1 / t falls 10.5 % per tenth of the run at every check (scale-free).
    write_reconstruction_curve(tmp_path, 1.0 / np.arange(1, 201))
    stopped, stop = plateau_stop(tmp_path, tolerance, 2000)
    assert stopped == stops
    if stops:
        np.testing.assert_allclose(stop.changes, [-0.105] * 3, atol=2e-3)
    else:
        assert stop.changes is None


@pytest.mark.parametrize("flat_values, stops", [(35, False), (55, True)])
def test_stop_at_plateau_needs_three_checks_in_a_row(tmp_path, flat_values,
                                                      stops):
    # 1 / t, then flat: after 35 flat values only the latest check finds
    # less than 2 % per tenth (-1.2 %; the two before -4.0 % and -7.8 %);
    # after 55 all three do.
    values = 1.0 / np.arange(1, 201)
    write_reconstruction_curve(
        tmp_path, np.concatenate([values, np.full(flat_values, values[-1])]))
    iteration = (200 + flat_values) * 10
    stopped, _ = plateau_stop(tmp_path, 0.02, iteration)
    assert stopped == stops
    curve = curves.read_scalars(str(tmp_path), (callbacks.PLATEAU_TERM,))[
        callbacks.PLATEAU_TERM]
    within = [change >= -0.02
              for change in curves.plateau_changes(curve, iteration, 100)]
    assert within == ([True] * 3 if stops else [True, False, False])


def test_stop_at_plateau_stops_on_a_rising_loss_and_waits_for_enough_values(
        tmp_path):
    write_reconstruction_curve(tmp_path, np.linspace(0.1, 0.2, 120))
    # At 1100 the third check back (900) has 90 values: 9 per tenth, fewer
    # than `PLATEAU_MIN_POINTS`.
    assert not plateau_stop(tmp_path, 1e9, 1100)[0]
    stopped, stop = plateau_stop(tmp_path, 1e-6, 1200)
    assert stopped and all(change > 0 for change in stop.changes)


def tiny_config(model_dir, *flags):
    return flag_text.config_from_flag_text(
        "\n".join([*SPIRAL_FLAGS, *flags, f"--model_dir={model_dir}"]))


def latest_checkpoint(model_dir):
    return tf.train.latest_checkpoint(
        str(model_dir / run_directory.CHECKPOINTS))


def test_training_stops_at_a_plateau_with_a_checkpoint_and_stays_stopped(
        tmp_path, capsys):
    # Any change passes a tolerance of 1e9: training stops at the first
    # block end whose three checks (it and the two 25 iterations before)
    # see 10 scalars per tenth, iteration 150.
    config = tiny_config(tmp_path, "--steps=1000", "--log_every=25",
                         "--stop_at_plateau=1e9")
    first = trainer.train(config)
    assert first.iterations == 150 and not first.preempted
    assert latest_checkpoint(tmp_path).endswith("ckpt-150")
    assert first.figure_path is not None
    assert "stopped falling by iteration 150" in capsys.readouterr().out

    # Resumed, it stops before its first iteration and saves nothing.
    saved = os.stat(latest_checkpoint(tmp_path) + ".index").st_mtime_ns
    again = trainer.train(config)
    assert again.iterations == 150
    assert latest_checkpoint(tmp_path).endswith("ckpt-150")
    assert os.stat(latest_checkpoint(tmp_path) + ".index").st_mtime_ns == saved
    logged = curves.read_scalars(str(tmp_path), (callbacks.PLATEAU_TERM,))
    assert logged[callbacks.PLATEAU_TERM][-1, 0] == 150

    # Without the flag the same run goes on to --steps.
    longer = trainer.train(tiny_config(tmp_path, "--steps=160",
                                        "--log_every=25"))
    assert longer.iterations == 160
