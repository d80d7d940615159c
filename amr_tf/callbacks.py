"""Keras callbacks of the training loop: summaries and throughput."""

import time

import keras
import numpy as np
import tensorflow as tf

from amr_tf import inference
from amr_tf import visualize


class Throughput(keras.callbacks.Callback):
    """Adds `steps_per_sec` (training iterations per second) to the logs,
    so the progress bar and TensorBoard show it."""

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


class Summaries(keras.callbacks.Callback):
    """Writes TensorBoard scalars (every logged loss and the throughput) and,
    for image data, grids of inputs / reconstructions / random mixes of a
    fixed evaluation batch, at the end of every epoch."""

    def __init__(self, log_dir, eval_batch, is_image, seed=0):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.eval_batch = eval_batch
        self.is_image = is_image
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        step = self.model.completed_iterations()
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, float(value))
            if self.is_image:
                tf.summary.image("inputs_reconstructions_mixes",
                                 self._grid()[np.newaxis])
        self.writer.flush()

    def _grid(self):
        inputs = self.eval_batch["inputs"]
        reconstructions = np.asarray(self.model(inputs, training=False))
        mixes = inference.random_mixes(self.model, inputs, self.seed,
                                       self.eval_batch.get("attributes"))
        return visualize.tile(np.stack([inputs, reconstructions, mixes]))

    def on_train_end(self, logs=None):
        self.writer.close()
