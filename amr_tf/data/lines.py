"""ACAI's lines benchmark: one anti-aliased line from the image centre.

An image is `[S, S, 1]` (S = 32 natively) with background -1 and line +1.
The line has width `2 * S / 32` and length (radius) `15 * S / 32`, starts at
the centre of the image and points at angle theta ~ U[0, 2 pi), measured
anticlockwise from the +x axis (right) with y pointing up the image. The
dataset has no attributes and no label.
"""

import math

import tensorflow as tf

from amr_tf.data import examples

NATIVE_SIZE = 32
NUM_TRAIN = 50_000
NUM_TEST = 2_000

_SPLIT_SALTS = {"train": 2_001, "test": 2_002}
_WIDTH_AT_NATIVE_SIZE = 2.0
_RADIUS_AT_NATIVE_SIZE = 15.0


def info(config):
    size = examples.resolve_image_size(config, NATIVE_SIZE)
    examples.select_attributes(config, (), (), "lines")
    return examples.DatasetInfo(
        name="lines",
        input_shape=(size, size, 1),
        attribute_names=(),
        num_classes=0,

        generated=True,
    )


def load(config, split):
    size = info(config).input_shape[0]
    num_examples = examples.resolve_num_examples(
        config, split, NUM_TRAIN, NUM_TEST
    )

    def make_examples(draws):
        num = tf.shape(draws)[0]
        return examples.example(
            render_lines(2.0 * math.pi * draws[:, 0], size),
            tf.zeros([num, 0]),
            tf.fill([num], examples.NO_LABEL),
        )

    return examples.procedural_dataset(
        num_examples, _SPLIT_SALTS[split], 1, make_examples
    )


def render_lines(angles, image_size=NATIVE_SIZE):
    """Draws one line per angle.

    Args:
        angles: float array-like `[N]` of angles in radians.
        image_size: Image side S in pixels.

    Returns:
        float32 Tensor `[N, S, S, 1]` in [-1, 1]: background -1, line +1.
    """
    angles = tf.convert_to_tensor(angles, tf.float32)
    scale = image_size / NATIVE_SIZE
    radius = _RADIUS_AT_NATIVE_SIZE * scale
    centre = image_size / 2.0
    # Unit direction per line in (column, row) pixel coordinates.
    direction_x = tf.cos(angles)[:, None, None]
    direction_y = -tf.sin(angles)[:, None, None]

    pixels = tf.range(image_size, dtype=tf.float32) + 0.5 - centre
    dx, dy = pixels[None, None, :], pixels[None, :, None]
    # Distance from each pixel centre to the segment from the centre to
    # centre + radius * direction.
    along = tf.clip_by_value(dx * direction_x + dy * direction_y, 0.0, radius)
    distance = tf.sqrt(
        (dx - along * direction_x) ** 2 + (dy - along * direction_y) ** 2
    )
    coverage = tf.clip_by_value(
        _WIDTH_AT_NATIVE_SIZE * scale / 2.0 + 0.5 - distance, 0.0, 1.0
    )
    return examples.to_unit_range(coverage[..., None], max_value=1.0)
