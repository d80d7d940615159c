"""FusedAdam against Keras's Adam and a NumPy Adam."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf.core.optimizers import FusedAdam

SETTINGS = dict(learning_rate=1e-2, beta_1=0.5, beta_2=0.99, epsilon=1e-7)


def _gradients(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=(3, 4)).astype("float32"),
             rng.normal(size=(4,)).astype("float32")] for _ in range(steps)]


def _train(optimizer, gradients, initial):
    """Applies `gradients` from `initial`; returns the variables."""
    variables = [keras.Variable(value) for value in initial]
    optimizer.build(variables)
    apply = tf.function(lambda grads: optimizer.apply(grads, variables))
    for grads in gradients:
        apply([tf.constant(g) for g in grads])
    return variables


def _numpy_adam(initial, gradients, learning_rate, beta_1, beta_2, epsilon):
    weights = [w.astype("float64") for w in initial]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for step, grads in enumerate(gradients, start=1):
        alpha = learning_rate * np.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        for i, g in enumerate(grads):
            m[i] += (g - m[i]) * (1 - beta_1)
            v[i] += (g**2 - v[i]) * (1 - beta_2)
            weights[i] -= m[i] * alpha / (np.sqrt(v[i]) + epsilon)
    return weights


def test_fused_adam_matches_keras_adam_and_numpy():
    initial = [np.ones((3, 4), "float32"), np.zeros((4,), "float32")]
    gradients = _gradients(5)
    fused = _train(FusedAdam(**SETTINGS), gradients, initial)
    reference = _train(keras.optimizers.Adam(**SETTINGS), gradients, initial)
    expected = _numpy_adam(initial, gradients, **SETTINGS)
    for got, start, keras_value, numpy_value in zip(fused, initial, reference,
                                                    expected):
        got = got.numpy()
        assert np.abs(got - start).min() > 1e-4  # Every weight moved.
        np.testing.assert_allclose(got, keras_value.numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(got, numpy_value, rtol=0, atol=1e-5)


def test_fused_adam_resumes_a_keras_adam_checkpoint(tmp_path):
    """Same slot variables: a Keras Adam checkpoint continues under FusedAdam
    as it would under Keras's Adam."""
    initial = [np.ones((3, 4), "float32"), np.zeros((4,), "float32")]
    first, second = _gradients(3, seed=1), _gradients(2, seed=2)
    keras_adam = keras.optimizers.Adam(**SETTINGS)
    weights = _train(keras_adam, first, initial)
    path = tf.train.Checkpoint(optimizer=keras_adam, weights=weights).write(
        str(tmp_path / "ckpt"))

    def resume(optimizer):
        variables = [keras.Variable(np.zeros_like(w)) for w in initial]
        optimizer.build(variables)
        tf.train.Checkpoint(optimizer=optimizer, weights=variables).read(
            path).assert_consumed()
        assert int(optimizer.iterations.numpy()) == 3
        for grads in second:
            optimizer.apply([tf.constant(g) for g in grads], variables)
        return [v.numpy() for v in variables]

    for got, expected in zip(resume(FusedAdam(**SETTINGS)),
                             resume(keras.optimizers.Adam(**SETTINGS))):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_fused_adam_under_mirrored_strategy_equals_one_device(two_replicas):
    initial = [np.ones((3, 4), "float32"), np.zeros((4,), "float32")]
    gradients = _gradients(3)
    single = _train(FusedAdam(**SETTINGS), gradients, initial)
    with two_replicas.scope():
        variables = [keras.Variable(value) for value in initial]
        optimizer = FusedAdam(**SETTINGS)
        optimizer.build(variables)

    @tf.function
    def apply(grads):
        # Each replica holds half the gradient; the SUM all-reduce adds them.
        two_replicas.run(lambda: optimizer.apply(
            [g / 2 for g in grads], variables))

    for grads in gradients:
        apply([tf.constant(g) for g in grads])
    for got, expected in zip(variables, single):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0,
                                   atol=1e-6)


def test_fused_adam_refuses_amsgrad():
    with pytest.raises(ValueError, match="FusedAdam does not support amsgrad"):
        FusedAdam(amsgrad=True)
