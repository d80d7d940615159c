"""Training that cannot fail silently: a collapsed decoder and a
discriminator that has won are reported as they happen.

When a resumed run starts and at the end of every block, from quantities
training already has:

- **Collapsed decoder.** The decoder has collapsed when its
  reconstructions of a fixed held-out batch do not follow their inputs: the
  correlation of each reconstruction's deviation from the batch's mean
  reconstruction with its input's deviation from the mean input is under
  `MIN_INPUT_CORRELATION`, or the reconstructions barely differ from one
  example to the next (their spread across the batch under
  `MIN_SPREAD_RATIO` of the data's). Both hold for a decoder that draws
  one image, blank or not, whatever its input. The reconstruction error
  against the best constant image (the batch's mean image, or its
  background: each pixel's median, black for digits) is logged too, but
  not used: under L1, sparse strokes or sprites on a black background are
  reconstructed no better than the black image long after the decoder
  draws them (a 16 px shapes run at 300 iterations: error ratio 1.01,
  correlation 0.71), so that test would call healthy runs collapsed.
- **Discriminator has won.** The block's mean of D's real/fake terms
  (`d_real` and every `d_fake_*`, not the attribute head) is under
  `D_WON_LOSS`: it tells every generated image from a real one, so the
  generator gets no gradient it can use. GAN objectives only (ACAI's critic
  regresses the mixing coefficient instead).

Each condition is shown in the progress line while it holds, written to
TensorBoard (`<model_dir>/tensorboard/health`), and, if it holds when
training ends, in the run's summary lines and figure. With
`--on_collapse=stop`, a condition held at `PATIENCE` checks in a row stops
training there. docs/TRAINING.md ("When training collapses") says what to
change.
"""

import keras
import numpy as np
import tensorflow as tf

from amr_tf.core import losses

# Correlation of reconstructions with their inputs (about their means) below
# this: the decoder draws nothing of its input.
MIN_INPUT_CORRELATION = 0.1
# Spread of the reconstructions across the batch / the data's below this:
# the decoder outputs (nearly) one image whatever its input.
MIN_SPREAD_RATIO = 0.05
# Block mean of D's real/fake terms below this: D has won.
D_WON_LOSS = 0.01
# Checks in a row (one per block) before --on_collapse=stop stops training.
PATIENCE = 3
# The TensorBoard run (a folder of <model_dir>/tensorboard) of the checks.
TENSORBOARD_RUN = "health"
# Where the warnings point.
GUIDE = "docs/TRAINING.md#when-training-collapses"
DECODER_COLLAPSED = "the decoder outputs a constant image"
D_WON = "the discriminator has won (its real/fake loss is near zero)"


def decoder_measures(inputs, reconstructions, distance="l1"):
    """How far a decoder's reconstructions are from drawing nothing.

    Args:
        inputs: (N, ...) float data in [-1, 1], N >= 2.
        reconstructions: (N, ...) the decoder's reconstructions of them.
        distance: the run's reconstruction distance, "l1" or "l2".

    Returns:
        {"input_correlation": the correlation in [-1, 1] of reconstructions
        and inputs, each less its batch mean (0 for constant outputs),
        "spread_ratio": mean per-pixel std of the reconstructions across the
        batch / the same of the inputs, "constant_image_ratio":
        reconstruction error / the error of the best constant image (mean or
        background)}, Python floats.
    """
    inputs = np.asarray(inputs, np.float32)
    reconstructions = np.asarray(reconstructions, np.float32)

    def error(images):
        return float(np.mean(losses.distance(inputs, images, distance)))

    constants = (np.mean(inputs, axis=0), np.median(inputs, axis=0))
    best_constant = min(error(np.broadcast_to(image, inputs.shape))
                        for image in constants)
    data_spread = float(np.mean(np.std(inputs, axis=0)))
    input_deviation = inputs - inputs.mean(axis=0)
    output_deviation = reconstructions - reconstructions.mean(axis=0)
    norms = np.sqrt(np.sum(input_deviation ** 2)
                    * np.sum(output_deviation ** 2))
    return {
        "input_correlation": float(np.sum(input_deviation * output_deviation)
                                   / norms) if norms > 0 else 0.0,
        "spread_ratio": float(np.mean(np.std(reconstructions, axis=0)))
        / max(data_spread, 1e-12),
        "constant_image_ratio": error(reconstructions) / max(best_constant,
                                                              1e-12),
    }


def decoder_collapsed(measures):
    """Whether `decoder_measures` say the decoder draws nothing."""
    return (measures["input_correlation"] < MIN_INPUT_CORRELATION
            or measures["spread_ratio"] < MIN_SPREAD_RATIO)


def real_fake_loss(logs):
    """The sum of the block means of D's real/fake terms in `logs`, or None
    when there are none (ACAI)."""
    names = [name for name in logs
             if name == "d_real" or name.startswith("d_fake_")]
    return float(sum(np.mean(logs[name]) for name in names)) if names else None


class HealthWatch(keras.callbacks.Callback):
    """Checks the decoder and D when training starts and after every block.

    Args:
        eval_inputs: (N, ...) held-out inputs, N >= 2, the same every check.
        distance: the run's reconstruction distance.
        on_collapse: "warn" or "stop" (after `PATIENCE` checks in a row).
        log_dir: where TensorBoard scalars go, or None.

    Attributes:
        since: {condition message: iteration it was first seen in its
            current stretch} for the conditions that hold now.
        stopped: the condition that stopped training, or None.
    """

    def __init__(self, eval_inputs, distance="l1", on_collapse="warn",
                 log_dir=None):
        super().__init__()
        self.eval_inputs = eval_inputs
        self.distance = distance
        self.on_collapse = on_collapse
        self.writer = log_dir and tf.summary.create_file_writer(log_dir)
        self.since = {}
        self.stopped = None
        self._streaks = {}

    def on_train_begin(self, logs=None):
        if self.model.completed_iterations():  # An untrained decoder draws nothing.
            self._check({})

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs or {})

    def on_train_end(self, logs=None):
        if self.writer:
            self.writer.close()

    def _check(self, logs):
        iteration = self.model.completed_iterations()
        reconstructions = self.model(self.eval_inputs, training=False)
        measures = decoder_measures(self.eval_inputs, reconstructions,
                                    self.distance)
        d_loss = real_fake_loss(logs)
        holding = {
            DECODER_COLLAPSED: decoder_collapsed(measures),
            D_WON: d_loss is not None and d_loss < D_WON_LOSS,
        }
        for condition, holds in holding.items():
            if not holds:
                self.since.pop(condition, None)
                self._streaks[condition] = 0
                continue
            self.since.setdefault(condition, iteration)
            self._streaks[condition] = self._streaks.get(condition, 0) + 1
            if (self.on_collapse == "stop" and self.stopped is None
                    and self._streaks[condition] >= PATIENCE):
                self.stopped = condition
                self.model.stop_training = True
        if self.writer:
            with self.writer.as_default(step=iteration):
                for name, value in measures.items():
                    tf.summary.scalar(name, value)
                if d_loss is not None:
                    tf.summary.scalar("d_real_fake_loss", d_loss)
                tf.summary.scalar("decoder_collapsed",
                                  float(holding[DECODER_COLLAPSED]))
                tf.summary.scalar("d_won", float(holding[D_WON]))
            self.writer.flush()

    def warnings(self):
        """The conditions that hold, each with the iteration it began."""
        return [f"{condition} since iteration {iteration}"
                for condition, iteration in self.since.items()]

