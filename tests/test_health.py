"""Training that cannot fail silently (amr_tf.training.health): a collapsed
decoder and a discriminator that has won are reported, a healthy run is
not."""

import pathlib

import keras
import numpy as np
import pytest

from amr_tf.config import flag_text
from amr_tf.training import health
from amr_tf.training import trainer

TINY = ("--dataset=shapes", "--image_size=16", "--arch=acai", "--width=8",
        "--latent_size=4", "--latent_channels=8", "--batch_size=16",
        "--n_critic=1", "--noexport", "--interpolation_pairs=2",
        "--interpolation_steps=3", "--learning_rate=1e-3")


def _strokes(count=8, side=6, seed=0):
    """Sparse bright strokes on a black background, like digits: (N, H, W, 1)."""
    rng = np.random.default_rng(seed)
    images = -np.ones((count, side, side, 1), np.float32)
    for image in images:
        row = rng.integers(side)
        image[row, :, 0] = 1.0
    return images


def test_a_black_decoder_is_no_better_than_the_background():
    inputs = _strokes()
    black = -np.ones_like(inputs)
    measures = health.decoder_measures(inputs, black, "l1")
    # The background (each pixel's median, black here) is the best constant:
    # its L1 error is the strokes' share times 2; the black output equals it.
    assert measures["constant_image_ratio"] == pytest.approx(1.0)
    assert measures["spread_ratio"] == 0.0
    assert measures["input_correlation"] == 0.0
    assert health.decoder_collapsed(measures)


def test_reconstructions_that_draw_their_inputs_are_healthy():
    inputs = _strokes()
    rng = np.random.default_rng(1)
    noisy = np.clip(inputs + rng.normal(0, 0.1, inputs.shape), -1, 1)
    measures = health.decoder_measures(inputs, noisy, "l2")
    error = np.mean((inputs - noisy) ** 2)
    mean_image = inputs.mean(axis=0)
    best_constant = min(np.mean((inputs - mean_image) ** 2),
                        np.mean((inputs + 1) ** 2))
    assert measures["constant_image_ratio"] == pytest.approx(
        error / best_constant, rel=1e-5)
    assert measures["spread_ratio"] == pytest.approx(
        np.std(noisy, axis=0).mean() / np.std(inputs, axis=0).mean(), rel=1e-5)
    assert measures["input_correlation"] == pytest.approx(np.corrcoef(
        (inputs - inputs.mean(0)).ravel(), (noisy - noisy.mean(0)).ravel())[0, 1],
        rel=1e-5)
    assert not health.decoder_collapsed(measures)


def test_a_decoder_can_draw_its_input_while_losing_to_the_black_image():
    """Under L1 a blurred stroke costs more than no stroke at all, so the
    black image's error is lower; the strokes still follow their inputs."""
    inputs = _strokes()
    # Each stroke spread over its row and the rows beside it: 1.2 times the
    # black image's L1 error.
    blurred = (0.4 * inputs + 0.3 * np.roll(inputs, 1, axis=1)
               + 0.3 * np.roll(inputs, -1, axis=1))
    measures = health.decoder_measures(inputs, blurred, "l1")
    assert measures["constant_image_ratio"] == pytest.approx(1.2)
    assert measures["input_correlation"] > 0.3
    assert not health.decoder_collapsed(measures)


def test_a_decoder_that_ignores_its_input_is_collapsed_even_if_not_blank():
    inputs = _strokes()
    one_image = np.broadcast_to(inputs[0], inputs.shape)  # Always example 0.
    measures = health.decoder_measures(inputs, one_image, "l1")
    assert measures["spread_ratio"] == 0.0 and health.decoder_collapsed(measures)


def test_real_fake_loss_reads_the_gan_terms_only():
    logs = {"d_real": 0.004, "d_fake_reconstruction": 0.003,
            "d_fake_mix": 0.002, "d_real_attributes": 0.7, "d_total": 0.709,
            "g_total": 9.0}
    assert health.real_fake_loss(logs) == pytest.approx(0.009)
    acai = {"d_alpha_regression": 0.0, "d_blend_regulariser": 0.0}
    assert health.real_fake_loss(acai) is None


class _BlankDecoder(keras.callbacks.Callback):
    """Collapses the decoder after every iteration: its output layer's
    weights become 0, so it draws tanh(0), a grey image, whatever the input."""

    def on_train_batch_end(self, batch, logs=None):
        [layer] = [layer for layer in self.model.decoder.layers
                   if layer.weights][-1:]
        for weight in layer.weights:
            weight.assign(np.zeros(weight.shape, weight.dtype))


def test_a_constructed_collapse_is_reported_within_one_block(tmp_path, capsys):
    config = flag_text.config_from_args(
        [*TINY, "--steps=6", "--log_every=2", f"--model_dir={tmp_path}"])
    result = trainer.train(config, callbacks=[_BlankDecoder()])
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if line.startswith("iteration ")]
    assert f"warning: {health.DECODER_COLLAPSED} since iteration 2" in progress[0]
    assert result.warnings == (
        f"{health.DECODER_COLLAPSED} since iteration 2",)
    assert result.stopped_by is None and result.iterations == 6
    health_events = list((tmp_path / "tensorboard" / "health").iterdir())
    assert health_events


def test_on_collapse_stop_stops_after_the_patience(tmp_path):
    config = flag_text.config_from_args(
        [*TINY, "--steps=20", "--log_every=2", "--on_collapse=stop",
         f"--model_dir={tmp_path}"])
    result = trainer.train(config, callbacks=[_BlankDecoder()])
    assert result.stopped_by == health.DECODER_COLLAPSED
    assert result.iterations == 2 * health.PATIENCE
    assert result.export_path is None
    assert (tmp_path / "checkpoints").exists()


def test_a_healthy_run_is_not_reported(tmp_path, capsys):
    """A run that has learned to draw ends without a warning (an untrained
    decoder is warned of in the first blocks, and the warning clears)."""
    config = flag_text.config_from_args(
        [*TINY, "--steps=300", "--log_every=50", f"--model_dir={tmp_path}"])
    result = trainer.train(config)
    assert result.warnings == () and result.stopped_by is None
    progress = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("iteration ")]
    assert "warning" not in progress[-1]


class _Stub:
    """A model whose decoder draws its input exactly, at a set iteration."""

    stop_training = False
    iteration = 0

    def completed_iterations(self):
        return self.iteration

    def __call__(self, inputs, training=False):
        return inputs


def test_a_discriminator_that_has_won_is_reported_and_can_stop_the_run():
    watch = health.HealthWatch(_strokes(), on_collapse="stop")
    model = _Stub()
    watch.set_model(model)
    won = {"d_real": 0.004, "d_fake_reconstruction": 0.003, "d_fake_mix": 0.001}
    for iteration, logs in [(10, {"d_real": 0.7, "d_fake_mix": 0.7}),
                            (20, won), (30, won), (40, won)]:
        model.iteration = iteration
        assert not model.stop_training
        watch.on_epoch_end(0, logs)
        if iteration == 20:
            assert watch.warnings() == [f"{health.D_WON} since iteration 20"]
    assert model.stop_training and watch.stopped == health.D_WON


def test_the_warnings_point_at_a_section_that_exists():
    path, anchor = health.GUIDE.split("#")
    text = (pathlib.Path(__file__).resolve().parents[1] / path).read_text()
    assert any(line.lower() == f"## {anchor.replace('-', ' ')}"
               for line in text.splitlines())
