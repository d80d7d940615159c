"""Per-example losses of amr_tf.core.losses against NumPy references (METHOD.md §2)."""

import numpy as np
import pytest
import tensorflow as tf

from amr_tf.core import losses
from amr_tf.core.errors import UsageError

BATCH = 6


def _rng():
    return np.random.default_rng(1234)


def _logits():
    """(B, 1) logits spanning both signs and the hinge margins."""
    values = np.array([-3.0, -1.0, -0.25, 0.0, 0.7, 2.5], dtype=np.float32)
    return values.reshape(BATCH, 1)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid_bce(logits, targets):
    """-(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))), computed stably."""
    return targets * _softplus(-logits) + (1.0 - targets) * _softplus(logits)


def _assert_per_example(result, expected):
    assert result.dtype == tf.float32
    assert result.shape == (BATCH,)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6, atol=1e-6)


# Reference l_GAN per (kind, target is real, loss trains D), logits -> (B,).
GAN_REFERENCES = {
    ("bce", True, True): lambda z: _softplus(-z),
    ("bce", False, True): lambda z: _softplus(z),
    ("bce", True, False): lambda z: _softplus(-z),
    ("mse", True, True): lambda z: (z - 1.0) ** 2,
    ("mse", False, True): lambda z: z**2,
    ("mse", True, False): lambda z: (z - 1.0) ** 2,
    ("hinge", True, True): lambda z: np.maximum(0.0, 1.0 - z),
    ("hinge", False, True): lambda z: np.maximum(0.0, 1.0 + z),
    ("hinge", True, False): lambda z: -z,
}


@pytest.mark.parametrize(
    "kind,real,discriminator",
    sorted(GAN_REFERENCES),
)
def test_gan_loss_matches_numpy_reference(kind, real, discriminator):
    logits = _logits()
    result = losses.gan_loss(
        tf.constant(logits), target="real" if real else "fake", kind=kind,
        player="discriminator" if discriminator else "generator")
    expected = GAN_REFERENCES[(kind, real, discriminator)](logits[:, 0])
    _assert_per_example(result, expected)


def test_gan_loss_real_and_fake_targets_differ():
    logits = tf.constant(_logits())
    for kind in losses.GAN_LOSSES:
        real = losses.gan_loss(logits, target="real", kind=kind).numpy()
        fake = losses.gan_loss(logits, target="fake", kind=kind).numpy()
        assert not np.allclose(real, fake), kind


def test_generator_hinge_ignores_the_target_label():
    logits = tf.constant(_logits())
    as_real = losses.gan_loss(logits, target="real", kind="hinge",
                              player="generator")
    as_fake = losses.gan_loss(logits, target="fake", kind="hinge",
                              player="generator")
    np.testing.assert_array_equal(as_real.numpy(), as_fake.numpy())


def test_gan_loss_is_float32_for_float16_logits():
    logits = tf.constant(_logits(), dtype=tf.float16)
    result = losses.gan_loss(logits, target="real", kind="bce")
    expected = _softplus(-_logits().astype(np.float16).astype(np.float32))[:, 0]
    assert result.dtype == tf.float32
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_gan_loss_unknown_kind_raises_usage_error():
    with pytest.raises(UsageError, match="wgan"):
        losses.gan_loss(tf.constant(_logits()), target="real", kind="wgan")


@pytest.mark.parametrize(
    "kind,reference",
    [("l1", np.abs), ("l2", np.square)],
)
def test_distance_matches_numpy_reference(kind, reference):
    rng = _rng()
    a = rng.uniform(-1, 1, (BATCH, 4, 4, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (BATCH, 4, 4, 3)).astype(np.float32)
    result = losses.distance(tf.constant(a), tf.constant(b), kind)
    expected = reference(a - b).reshape(BATCH, -1).mean(axis=1)
    _assert_per_example(result, expected)


def test_distance_of_flat_vectors_and_zero_for_identical_inputs():
    a = _rng().normal(size=(BATCH, 5)).astype(np.float32)
    _assert_per_example(losses.distance(a, a, "l1"), np.zeros(BATCH))
    _assert_per_example(
        losses.distance(a, np.zeros_like(a), "l2"), (a**2).mean(axis=1)
    )


def test_distance_unknown_kind_raises_usage_error():
    a = tf.zeros((BATCH, 2))
    with pytest.raises(UsageError, match="l3"):
        losses.distance(a, a, "l3")


def test_attribute_loss_with_soft_targets_matches_numpy_reference():
    rng = _rng()
    logits = rng.normal(scale=2.0, size=(BATCH, 3)).astype(np.float32)
    targets = rng.uniform(0, 1, (BATCH, 3)).astype(np.float32)
    targets[0] = [0.0, 1.0, 0.5]
    result = losses.attribute_loss(tf.constant(logits), tf.constant(targets))
    expected = _sigmoid_bce(logits, targets).mean(axis=1)
    _assert_per_example(result, expected)


def test_attribute_loss_is_minimal_at_the_target_probability():
    """BCE with a soft target t is smallest where sigmoid(logit) = t."""
    targets = np.full((BATCH, 1), 0.3, np.float32)
    best = np.log(0.3 / 0.7)
    logits = np.array([best - 1, best - 0.1, best, best + 0.1, best + 1, best + 2])
    result = losses.attribute_loss(logits.reshape(BATCH, 1).astype(np.float32),
                                   targets).numpy()
    assert np.argmin(result) == 2


def test_squared_with_scalar_and_tensor_targets():
    rng = _rng()
    values = rng.normal(size=(BATCH, 1)).astype(np.float32)
    target = rng.uniform(0, 0.5, (BATCH, 1)).astype(np.float32)
    _assert_per_example(losses.squared(values), values[:, 0] ** 2)
    _assert_per_example(
        losses.squared(tf.constant(values), tf.constant(target)),
        (values[:, 0] - target[:, 0]) ** 2,
    )


def test_squared_averages_over_non_batch_axes():
    values = _rng().normal(size=(BATCH, 2, 3)).astype(np.float32)
    _assert_per_example(
        losses.squared(values, 0.5),
        ((values - 0.5) ** 2).reshape(BATCH, -1).mean(axis=1),
    )
