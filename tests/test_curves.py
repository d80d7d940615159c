"""Training curves read back from TensorBoard, whether they have levelled
off, and training that stops there (--stop_at_plateau)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from amr_tf import callbacks
from amr_tf import curves
from amr_tf import restore
from amr_tf import run_directory
from amr_tf import training

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


def plateau_stop(model_dir, tolerance, iterations):
    """Whether `StopAtPlateau` stops a model at `iterations`; the callback."""
    model = FakeModel(iterations)
    stop = callbacks.StopAtPlateau(str(model_dir), tolerance)
    stop.set_model(model)
    stop.on_epoch_end(0)
    return model.stop_training, stop


@pytest.mark.parametrize("tolerance, stops", [(0.02, False), (0.2, True)])
def test_stop_at_plateau_stops_once_the_fall_per_tenth_is_within_tolerance(
        tmp_path, tolerance, stops):
    # 1 / t: the last tenth's mean is 10.5 % below the tenth before.
    write_reconstruction_curve(tmp_path, 1.0 / np.arange(1, 201))
    stopped, stop = plateau_stop(tmp_path, tolerance, 2000)
    assert stopped == stops
    assert stop.change == (pytest.approx(-0.105, abs=1e-3) if stops else None)


def test_stop_at_plateau_stops_on_a_rising_loss_and_waits_for_enough_values(
        tmp_path):
    write_reconstruction_curve(tmp_path, np.linspace(0.1, 0.2, 99))
    # 99 values: 9 per tenth, fewer than `PLATEAU_MIN_POINTS`.
    assert not plateau_stop(tmp_path, 1e9, 990)[0]
    write_reconstruction_curve(tmp_path, np.linspace(0.1, 0.2, 100))
    stopped, stop = plateau_stop(tmp_path, 1e-6, 1000)
    assert stopped and stop.change > 0


def tiny_config(model_dir, *flags):
    return restore.config_from_flag_text(
        "\n".join([*SPIRAL_FLAGS, *flags, f"--model_dir={model_dir}"]))


def latest_checkpoint(model_dir):
    return tf.train.latest_checkpoint(
        str(model_dir / run_directory.CHECKPOINTS))


def test_training_stops_at_a_plateau_with_a_checkpoint_and_stays_stopped(
        tmp_path, capsys):
    # Any change passes a tolerance of 1e9: training stops at the first
    # block end whose tenths hold 10 scalars each, iteration 100.
    config = tiny_config(tmp_path, "--steps=1000", "--log_every=25",
                         "--stop_at_plateau=1e9")
    first = training.train(config)
    assert first.iterations == 100 and not first.preempted
    assert latest_checkpoint(tmp_path).endswith("ckpt-100")
    assert first.figure_path is not None
    assert "levelled off by iteration 100" in capsys.readouterr().out

    # Resumed, it stops before its first iteration and saves nothing.
    saved = os.stat(latest_checkpoint(tmp_path) + ".index").st_mtime_ns
    again = training.train(config)
    assert again.iterations == 100
    assert latest_checkpoint(tmp_path).endswith("ckpt-100")
    assert os.stat(latest_checkpoint(tmp_path) + ".index").st_mtime_ns == saved
    logged = curves.read_scalars(str(tmp_path), (callbacks.PLATEAU_TERM,))
    assert logged[callbacks.PLATEAU_TERM][-1, 0] == 100

    # Without the flag the same run goes on to --steps.
    longer = training.train(tiny_config(tmp_path, "--steps=110",
                                        "--log_every=25"))
    assert longer.iterations == 110
