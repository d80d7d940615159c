"""2-D points on a spiral arm (paper section 5.2).

The noiseless curve is an Archimedean spiral: for t in [0, 1], the angle is
`2 pi * NUM_TURNS * t` and the radius grows linearly from `_INNER_RADIUS` to
`_OUTER_RADIUS`, so coordinates lie in about [-1, 1]. An example is a point
at t ~ U[0, 1] plus isotropic Gaussian noise of std `NOISE_STD`. The
dataset has no attributes and no label.
"""

import math

import numpy as np
import tensorflow as tf

from amr_tf.core.errors import UsageError
from amr_tf.data import examples

NUM_TURNS = 2.0
NOISE_STD = 0.02
NUM_TRAIN = 10_000
NUM_TEST = 2_000

_SPLIT_SALTS = {"train": 3_001, "test": 3_002}
_INNER_RADIUS = 0.15
_OUTER_RADIUS = 0.95
# Keeps the inverse normal CDF finite.
_UNIFORM_EPSILON = 1e-6


def info(config):
    if config.image_size is not None:
        raise UsageError(
            f"image size {config.image_size} does not apply to spiral "
            "(2-D points): leave it unset"
        )
    examples.select_attributes(config, (), (), "spiral")
    return examples.DatasetInfo(
        name="spiral",
        input_shape=(2,),
        attribute_names=(),
        num_classes=0,
        generated=True,
    )


def load(config, split):
    info(config)
    num_examples = examples.resolve_num_examples(
        config, split, NUM_TRAIN, NUM_TEST
    )

    def make_examples(draws):
        num = tf.shape(draws)[0]
        uniform = tf.clip_by_value(
            draws[:, 1:], _UNIFORM_EPSILON, 1.0 - _UNIFORM_EPSILON
        )
        noise = NOISE_STD * tf.math.ndtri(uniform)
        return examples.example(
            spiral_points(draws[:, 0]) + noise,
            tf.zeros([num, 0]),
            tf.fill([num], examples.NO_LABEL),
        )

    return examples.procedural_dataset(
        num_examples, _SPLIT_SALTS[split], 3, make_examples
    )


def spiral_points(t):
    """Maps t in [0, 1] (array-like, any shape) to points on the curve.

    Returns:
        float32 Tensor of shape `t.shape + (2,)`.
    """
    t = tf.convert_to_tensor(t, tf.float32)
    angle = 2.0 * math.pi * NUM_TURNS * t
    radius = _INNER_RADIUS + (_OUTER_RADIUS - _INNER_RADIUS) * t
    return tf.stack([radius * tf.cos(angle), radius * tf.sin(angle)], axis=-1)


def distance_to_spiral(points, num_reference=10_000):
    """Euclidean distance from each point to the noiseless spiral.

    Args:
        points: array-like `[N, 2]`.
        num_reference: Number of evenly spaced curve samples to compare with
            (10,000 samples are about 7e-4 apart).

    Returns:
        float64 NumPy array `[N]` of minimum distances.
    """
    points = np.asarray(points, np.float64).reshape(-1, 2)
    reference = np.asarray(
        spiral_points(np.linspace(0.0, 1.0, num_reference)), np.float64
    )
    chunk = max(1, 2**22 // num_reference)  # Bounds the pairwise matrix.
    distances = [
        np.sqrt(
            ((block[:, None, :] - reference[None, :, :]) ** 2).sum(-1).min(-1)
        )
        for block in np.split(points, range(chunk, len(points), chunk))
    ]
    return np.concatenate(distances)
