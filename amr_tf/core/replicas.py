"""What one replica of a distributed training step sees of the global batch.

Under a `tf.distribute` strategy the training step runs once per replica,
each on its own slice of the global batch: replica r holds global rows
[r * b, (r + 1) * b), where b is the per-replica batch. Mixing pairs examples
across the whole global batch and random draws are made for the whole global
batch, so that N replicas compute exactly the update of one device on the
same global batch. These helpers give a replica the global batch (`gather`,
differentiable) and its own rows of a global tensor (`local`). With one
replica, or outside a replica context, they return their input.
"""

import tensorflow as tf

from amr_tf.core import seeds as seed_lib


def _context():
    """The replica context of a multi-replica step, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def gather(values):
    """Every replica's `values` concatenated along axis 0, in replica order.

    Gradients flow back to the replica that owns each row.
    """
    context = _context()
    if context is None:
        return values
    return _dense_gradient(context.all_gather(values, axis=0))


@tf.custom_gradient
def _dense_gradient(values):
    """Identity whose gradient is dense: the all-gather's gradient (an
    all-reduce) cannot take the IndexedSlices that `tf.gather` produces."""
    return tf.identity(values), tf.convert_to_tensor


def local(global_values):
    """This replica's rows of a tensor over the global batch."""
    context = _context()
    if context is None:
        return global_values
    replicas = context.num_replicas_in_sync
    shape = tf.shape(global_values)
    blocks = tf.reshape(global_values, tf.concat(
        [[replicas, shape[0] // replicas], shape[1:]], axis=0))
    rows = tf.gather(blocks, context.replica_id_in_sync_group)
    rows.set_shape([None, *global_values.shape[1:]])
    return rows


def uniform(local_shape, seed, dtype=tf.float32):
    """U[0, 1) draws for this replica's rows, made for the global batch.

    Args:
        local_shape: shape of the draws for this replica's examples; the
            first axis is the per-replica batch.
    """
    context = _context()
    if context is None:
        return seed_lib.uniform(local_shape, seed, dtype)
    shape = tf.convert_to_tensor(local_shape)
    global_shape = tf.concat(
        [shape[:1] * context.num_replicas_in_sync, shape[1:]], axis=0)
    return local(seed_lib.uniform(global_shape, seed, dtype))
