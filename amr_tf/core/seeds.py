"""Stateless random draws of the training step.

Every random draw of a training iteration (mixing partners, coefficients,
masks) comes from Philox counter-based random bits whose seed is derived from
the run's seed and the iteration number. Draws are therefore reproducible
under a seed and restart exactly from a checkpoint (the iteration number is
saved in it).

Draws are made for the *global* batch (see `amr_tf.core.replicas`): every replica
draws the same numbers and keeps the rows of its own examples, so replicas
never repeat each other's mixes and N replicas make exactly the draws of one
device on the same global batch.

Floats are made from integer bits (`uniform`) rather than by
`tf.random.stateless_uniform`, whose float output differs between TF kernels
and XLA: the same seed gives the same numbers in graph mode, under
`--jit_compile` and on any device.
"""

import tensorflow as tf

ALGORITHM = "philox"


def iteration_seed(seed, iteration):
    """The shape-[2] int64 seed of one training iteration.

    Args:
        seed: the run's integer seed.
        iteration: scalar integer tensor, the number of completed iterations.
    """
    return tf.stack([tf.cast(seed, tf.int64), tf.cast(iteration, tf.int64)])


def split(seed, count):
    """`count` independent shape-[2] seeds from one, as a (count, 2) tensor."""
    return tf.random.experimental.stateless_split(seed, count, alg=ALGORITHM)


def fold_in(seed, data):
    """A new shape-[2] seed from `seed` and an integer."""
    return tf.random.experimental.stateless_fold_in(seed, data, alg=ALGORITHM)


def _bits(shape, seed, dtype):
    return tf.random.stateless_uniform(shape, seed, dtype=dtype, minval=None,
                                       maxval=None, alg=ALGORITHM)


def uniform(shape, seed, dtype=tf.float32):
    """U[0, 1) values of `dtype`, 24 random bits each."""
    bits = tf.bitwise.right_shift(_bits(shape, seed, tf.uint32), 8)
    return tf.cast(tf.cast(bits, tf.float32) * 2.0**-24, dtype)


def permutation(size, seed):
    """A random permutation of range(size) (int32)."""
    return tf.argsort(_bits([size], seed, tf.int32), stable=True)


class SeedStream:
    """Hands out independent stateless seeds derived from one seed.

    The sequence is fixed when the step is traced, so the k-th draw of an
    iteration always gets the same seed for the same iteration.
    """

    def __init__(self, seed):
        self._seed = seed
        self._count = 0

    def next(self):
        """A new shape-[2] seed."""
        self._count += 1
        return fold_in(self._seed, self._count)
