"""Adam with one fused TensorFlow kernel per variable update."""

import keras
import tensorflow as tf


def _handle(variable):
    """The resource handle of a `tf.Variable` or a Keras variable."""
    if isinstance(variable, tf.Variable):
        return variable.handle
    return variable.value.handle


class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update is TF's `ResourceApplyAdam` kernel.

    Keras's Adam builds about 25 small ops per variable per step (reads,
    `m` and `v` updates, the bias corrections, the step); the kernel does
    the same arithmetic in one op,

        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
        w -= m * alpha / (sqrt(v) + epsilon)

    so updates agree with Keras's to float32 rounding. It keeps Keras's
    slot variables, so checkpoints of either optimizer restore into the
    other. Arguments are Adam's; `amsgrad` and sparse (`IndexedSlices`)
    gradients are not supported: the networks here have dense gradients.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("FusedAdam does not support amsgrad")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )
