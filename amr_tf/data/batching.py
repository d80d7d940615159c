"""The training stream: a dataset cached, shuffled per epoch under a seed,
repeated, batched and prefetched, resumable at any example."""

import numpy as np
import tensorflow as tf

from amr_tf.core.errors import UsageError

SHUFFLE_BUFFER_SIZE = 10_000
# Epoch e of seed s is shuffled with seed s * stride + e.
_EPOCH_SEED_STRIDE = 1_000_003
_MAX_EPOCHS = 2**62


def make_batches(dataset, batch_size, *, shuffle, seed, repeat, cache=True,
                 start=0):
    """Caches, shuffles, repeats, batches (dropping the rest), prefetches.

    The stream of examples is a fixed function of `seed`: with `shuffle`,
    epoch `e` is shuffled with a seed made from `seed` and `e`, and with
    `repeat` the epochs follow each other forever. `start` skips the first
    `start` examples of that stream, reading at most one epoch, so a run
    resumed at the example it had reached sees exactly the batches it would
    have seen. `cache` keeps the examples in memory as `load` produced them
    (float32: about 12 KiB per 32 px RGB image, 48 KiB at 64 px).

    Raises:
        UsageError: if `batch_size` < 1 or larger than the dataset (when its
            size is known), or `start` < 0.
    """
    if batch_size < 1:
        raise UsageError(f"batch size must be positive, got {batch_size}")
    if start < 0:
        raise UsageError(f"start must be >= 0, got {start}")
    size = int(dataset.cardinality())  # Negative: infinite or unknown.
    if 0 <= size < batch_size:
        raise UsageError(
            f"batch size {batch_size} is larger than the dataset "
            f"({size} examples): use a batch size of at most {size}"
        )
    if cache:
        dataset = dataset.cache()
    first_epoch, offset = 0, start
    if repeat and start:
        first_epoch, offset = divmod(start, _epoch_size(dataset, size))
    epochs = tf.data.Dataset.range(
        first_epoch, _MAX_EPOCHS if repeat else first_epoch + 1)
    dataset = epochs.flat_map(
        lambda epoch: _shuffle_epoch(dataset, seed, epoch) if shuffle
        else dataset)
    dataset = dataset.skip(offset).batch(batch_size, drop_remainder=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _shuffle_epoch(dataset, seed, epoch):
    """`dataset` in the order of epoch `epoch` (int64 scalar) of `seed`.

    Called while `flat_map` traces its function: clearing that function
    graph's seed makes the order ignore TF's global seed (which would also
    fail on a tensor seed when the global seed is 0).
    """
    tf.compat.v1.get_default_graph().seed = None
    epoch_seed = tf.constant(seed, tf.int64) * _EPOCH_SEED_STRIDE + epoch
    return dataset.shuffle(SHUFFLE_BUFFER_SIZE, seed=epoch_seed,
                           reshuffle_each_iteration=False)


def _epoch_size(dataset, cardinality):
    """Examples per epoch; counted by one pass when TF does not know it."""
    if cardinality >= 0:
        return cardinality
    size = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
    if size == 0:
        raise UsageError("the training split has no examples")
    return size
