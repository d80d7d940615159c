"""Keras callbacks of the training loop: throughput, progress, summaries,
stopping at a plateau."""

import time

import keras
import numpy as np
import tensorflow as tf

from amr_tf.core import interpolation
from amr_tf.figures import drawing
from amr_tf.training import curves

# The loss logs a progress line shows; TensorBoard gets every term.
PROGRESS_TERMS = ("g_reconstruction", "g_total", "d_total")
# The loss term whose plateau `StopAtPlateau` waits for.
PLATEAU_TERM = "g_reconstruction"


class Throughput(keras.callbacks.Callback):
    """Adds `steps_per_sec` (training iterations per second since the block
    began) to the logs, so progress lines and TensorBoard show it."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._report(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._report(logs)

    def _report(self, logs):
        if logs is not None and self._steps:
            elapsed = max(time.perf_counter() - self._start, 1e-9)
            logs["steps_per_sec"] = self._steps / elapsed


class Progress(keras.callbacks.Callback):
    """Prints one line at the end of every block, e.g.

        iteration 300/10000  g_reconstruction 0.1879  g_total 4.604
        d_total 1.585  1.99 it/s  ETA 1h21m

    (on one line): the block's mean loss terms of `PROGRESS_TERMS`, the
    throughput of `Throughput`, the time left at that rate and, from
    `warnings` (a function returning messages, e.g.
    `health.HealthWatch.warnings`), `warning: ...` for each.
    """

    def __init__(self, steps, warnings=None):
        super().__init__()
        self.steps = steps
        self.warnings = warnings

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        iteration = self.model.completed_iterations()
        parts = [f"iteration {iteration}/{self.steps}"]
        parts += [f"{name} {float(np.mean(logs[name])):.4g}"
                  for name in PROGRESS_TERMS if name in logs]
        rate = logs.get("steps_per_sec")
        if rate:
            parts.append(f"{rate:.3g} it/s")
            parts.append(f"ETA {format_duration((self.steps - iteration) / rate)}")
        parts += [f"warning: {message}" for message in
                  (self.warnings() if self.warnings else [])]
        print("  ".join(parts), flush=True)


def format_duration(seconds):
    """`4m12s`, `1h21m` or `12s` (rounded to whole seconds)."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Summaries(keras.callbacks.Callback):
    """Writes the run's TensorBoard summaries.

    - `flags` (text tab): `flag_text`, the run's resolved flags, once when
      training starts (at the iteration it starts from).
    - Scalars every `summary_every` iterations and when training ends: each
      loss term's mean over the iterations since the previous scalars, and
      `steps_per_sec`.
    - For image data, at the end of every block: a grid of inputs /
      reconstructions / random mixes of a fixed evaluation batch.

    The model's loss logs are running means since the block began; the
    value of iteration k of a block is k * mean_k - (k - 1) * mean_(k-1).
    """

    def __init__(self, log_dir, eval_batch, is_image, seed=0, summary_every=10,
                 flag_text=""):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.eval_batch = eval_batch
        self.is_image = is_image
        self.seed = seed
        self.summary_every = summary_every
        self.flag_text = flag_text
        self._sums = {}  # Term -> sum of its values since the last scalars.
        self._count = 0
        self._throughput = None

    def on_train_begin(self, logs=None):
        if self.flag_text:
            with self.writer.as_default(step=self.model.completed_iterations()):
                # Markdown: a code block keeps one flag a line.
                tf.summary.text("flags", f"```\n{self.flag_text}```")

    def on_epoch_begin(self, epoch, logs=None):
        self._block_sums = {}
        self._block_count = 0

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self._block_count += 1
        for metric in self.model.metrics:
            block_sum = self._block_count * float(np.mean(logs[metric.name]))
            self._sums[metric.name] = (self._sums.get(metric.name, 0.0)
                                       + block_sum
                                       - self._block_sums.get(metric.name, 0.0))
            self._block_sums[metric.name] = block_sum
        self._count += 1
        self._throughput = logs.get("steps_per_sec")
        if self.model.completed_iterations() % self.summary_every == 0:
            self._write_scalars()

    def on_epoch_end(self, epoch, logs=None):
        if self.is_image:
            with self.writer.as_default(step=self.model.completed_iterations()):
                tf.summary.image("inputs_reconstructions_mixes",
                                 self._grid()[np.newaxis])
            self.writer.flush()

    def on_train_end(self, logs=None):
        if self._count:
            self._write_scalars()
        self.writer.close()

    def _write_scalars(self):
        with self.writer.as_default(step=self.model.completed_iterations()):
            for name, total in self._sums.items():
                tf.summary.scalar(name, total / self._count)
            if self._throughput is not None:
                tf.summary.scalar("steps_per_sec", float(self._throughput))
        self.writer.flush()
        self._sums, self._count = {}, 0

    def _grid(self):
        inputs = self.eval_batch["inputs"]
        reconstructions = np.asarray(self.model(inputs, training=False))
        mixes = interpolation.random_mixes(self.model, inputs, self.seed,
                                       self.eval_batch.get("attributes"))
        return drawing.tile(np.stack([inputs, reconstructions, mixes]))


class StopAtPlateau(keras.callbacks.Callback):
    """Stops training once the reconstruction loss has levelled off.

    When training starts and at the end of every block, it reads the run's
    `g_reconstruction` scalars back from `model_dir`'s TensorBoard logs
    (those `Summaries` wrote, every resume included) and asks `loop.run` to
    stop when their `curves.plateau_change` is at least `-tolerance` (the
    mean over the last tenth of the iterations fell by less than that
    fraction against the tenth before, or rose) at this check and at the
    `curves.PLATEAU_CHECKS - 1` before it, `every` iterations apart
    (`curves.plateau_changes`). A tenth needs `curves.PLATEAU_MIN_POINTS`
    values. A run stopped here that is resumed stops again before its first
    iteration.

    Attributes:
        changes: the `plateau_changes` that stopped training, or None.
    """

    def __init__(self, model_dir, tolerance, every):
        super().__init__()
        self.model_dir = model_dir
        self.tolerance = tolerance
        self.every = every
        self.changes = None

    def on_train_begin(self, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()

    def _check(self):
        curve = curves.read_scalars(self.model_dir, (PLATEAU_TERM,))[PLATEAU_TERM]
        iteration = self.model.completed_iterations()
        changes = curves.plateau_changes(curve, iteration, self.every)
        # NaN (too few values) compares False.
        if all(change >= -self.tolerance for change in changes):
            self.changes = changes
            self.model.stop_training = True
            print(f"{PLATEAU_TERM} stopped falling by iteration {iteration}: "
                  f"{', '.join(f'{change:+.2%}' for change in changes)} over "
                  f"the last tenth of the run at the last {len(changes)} "
                  f"checks (--stop_at_plateau={self.tolerance:g}); training "
                  "stops.", flush=True)
