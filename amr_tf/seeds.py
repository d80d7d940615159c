"""Stateless random seeds for the training step.

Every random draw of a training iteration (mixing partners, coefficients,
masks) comes from `tf.random.stateless_*` ops whose seed is derived from the
run's seed, the iteration number and the replica id. Draws are therefore
reproducible under a seed, restart exactly from a checkpoint (the iteration
number is the optimizer's step counter) and differ across replicas.
"""

import tensorflow as tf


def iteration_seed(seed, iteration):
    """The shape-[2] int64 seed of one training iteration on this replica.

    Args:
        seed: the run's integer seed.
        iteration: scalar integer tensor, the number of completed iterations.
    """
    base = tf.stack([tf.cast(seed, tf.int64), tf.cast(iteration, tf.int64)])
    replica_context = tf.distribute.get_replica_context()
    replica_id = replica_context.replica_id_in_sync_group if replica_context else 0
    return tf.random.experimental.stateless_fold_in(base, replica_id)


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
        return tf.random.experimental.stateless_fold_in(self._seed, self._count)
