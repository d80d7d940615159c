"""Per-example loss functions of AMR and its baselines (METHOD.md §2).

Every function returns a float32 vector of shape (B,): one value per example,
so the objectives can reduce it with `tf.nn.compute_average_loss` (correct
under a distribution strategy) and log its mean.
"""

import tensorflow as tf

from amr_tf.core.errors import check_choice

GAN_LOSSES = ("bce", "mse", "hinge")
DISTANCES = ("l1", "l2")
GAN_TARGETS = ("real", "fake")
PLAYERS = ("discriminator", "generator")


def _per_example_mean(values):
    """Mean over every axis but the batch axis; (B, ...) -> (B,)."""
    values = tf.cast(values, tf.float32)
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def gan_loss(logits, *, target, kind="bce", player="discriminator"):
    """l_GAN of a batch of discriminator logits.

    Args:
        logits: (B, 1) raw discriminator outputs.
        target: `"real"` or `"fake"`, the label the loss pushes towards.
        kind: `"bce"` (non-saturating JS-GAN, the paper's), `"mse"` (least
            squares on the raw logit) or `"hinge"`.
        player: `"discriminator"` or `"generator"`, who the loss trains.
            Only hinge differs: the generator's hinge loss is -logit
            whatever the target.

    Returns:
        (B,) float32 losses.
    """
    check_choice("kind", kind, GAN_LOSSES)
    check_choice("target", target, GAN_TARGETS)
    check_choice("player", player, PLAYERS)
    logits = tf.cast(logits, tf.float32)
    real = target == "real"
    if kind == "bce":
        values = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.fill(tf.shape(logits), 1.0 if real else 0.0),
            logits=logits)
    elif kind == "mse":
        values = tf.square(logits - (1.0 if real else 0.0))
    elif player == "generator":  # hinge
        values = -logits
    elif real:
        values = tf.nn.relu(1.0 - logits)
    else:
        values = tf.nn.relu(1.0 + logits)
    return _per_example_mean(values)


def distance(a, b, kind="l1"):
    """Mean absolute (`"l1"`) or squared (`"l2"`) difference per example.

    Used for reconstruction rec(x, g(f(x))) and for mixing consistency
    ||h_mix - f(g(h_mix))||, as in the authors' code.
    """
    check_choice("kind", kind, DISTANCES)
    difference = tf.cast(a, tf.float32) - tf.cast(b, tf.float32)
    if kind == "l1":
        return _per_example_mean(tf.abs(difference))
    return _per_example_mean(tf.square(difference))


def gradient_penalty(gradients):
    """R1 penalty (Mescheder et al., 2018): ½‖∇ₓD(x)‖² per example.

    Args:
        gradients: (B, ...) gradients of D's logits with respect to real
            inputs x.
    """
    squares = tf.square(tf.cast(gradients, tf.float32))
    return 0.5 * tf.reduce_sum(
        tf.reshape(squares, [tf.shape(squares)[0], -1]), axis=1)


def attribute_loss(logits, targets):
    """Multi-label sigmoid cross-entropy, mean over the k attributes.

    Args:
        logits: (B, k) attribute logits of D_cls.
        targets: (B, k) targets in [0, 1] (soft for mixed attributes).
    """
    return _per_example_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(targets, tf.float32),
            logits=tf.cast(logits, tf.float32),
        )
    )


def attribute_accuracy(logits, targets):
    """Share of the k attributes D_cls gets right, per example; (B,) in [0, 1].

    An attribute counts as right when its logit's sign matches the target
    rounded at 0.5 (logit > 0 for a target > 0.5); a soft target of exactly
    0.5 counts as 0.
    """
    predicted = tf.cast(logits, tf.float32) > 0.0
    wanted = tf.cast(targets, tf.float32) > 0.5
    return _per_example_mean(tf.equal(predicted, wanted))


def squared(values, target=0.0):
    """(values - target)^2 per example; ACAI's critic and regulariser."""
    return _per_example_mean(tf.square(tf.cast(values, tf.float32) - target))
