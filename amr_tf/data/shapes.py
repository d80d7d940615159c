"""Procedural coloured sprites with three known binary attributes.

Each image is one anti-aliased sprite on a dark background. Its attributes,
each a fair coin flip, are:

- `round`: a circle (1) or an axis-aligned square (0) of the same area.
- `warm`: hue drawn from red/orange/yellow (1) or green/blue/purple (0);
  the hue varies continuously within each range.
- `large`: radius drawn from a large (1) or a small (0) range; with
  `sprite_sizes="bold"` both ranges are larger (see `RADII`).

With `sprite_position="random"` (the default) the position is uniform over
the places where the sprite fits inside the image. With `"centred"` every
sprite sits at the image centre, as CelebA faces are aligned: shape, colour
and size are then the only factors, each independent of the others, and a
per-channel latent mask can recombine them (the class mixer's experiment).
The label is the integer with bit `i` equal to attribute `i`
(`round + 2 * warm + 4 * large`, 0..7). Images render at any size directly
(no resizing), from the example's index with stateless random ops.
"""

import math

import tensorflow as tf

from amr_tf.data import examples

ATTRIBUTE_NAMES = ("round", "warm", "large")
NATIVE_SIZE = 32
NUM_TRAIN = 20_000
NUM_TEST = 2_000
NUM_DRAWS = 8  # Uniform random values per sprite.

_SPLIT_SALTS = {"train": 1_001, "test": 1_002}
# Hue ranges, as fractions of the colour wheel (0 = red). The gaps between
# them (yellow-green, magenta) keep the two classes apart.
_WARM_HUES = (-0.03, 0.14)
_COOL_HUES = (0.30, 0.80)
_SATURATIONS = (0.7, 1.0)
# Circle radii (small, large), as fractions of the image side, for each
# `DataConfig.sprite_sizes`; squares get the same area. "bold" keeps the
# smallest circle at 2.56 px at 16 px, where its corners differ from a
# square's by whole pixels.
RADII = {"standard": ((0.09, 0.15), (0.22, 0.30)),
         "bold": ((0.16, 0.20), (0.26, 0.34))}
_SQUARE_HALF_SIDE_PER_RADIUS = math.sqrt(math.pi) / 2.0
# Background: near-black, slightly blue, getting a little lighter downwards.
_BACKGROUND_RGB = (0.6, 0.7, 1.0)
_BACKGROUND_LEVELS = (0.03, 0.10)


def info(config):
    size = examples.resolve_image_size(config, NATIVE_SIZE)
    attributes = examples.select_attributes(
        config, ATTRIBUTE_NAMES, ATTRIBUTE_NAMES, "shapes"
    )
    return examples.DatasetInfo(
        name="shapes",
        input_shape=(size, size, 3),
        attribute_names=attributes,
        num_classes=2 ** len(ATTRIBUTE_NAMES),

        generated=True,
    )


def load(config, split):
    dataset_info = info(config)
    size = dataset_info.input_shape[0]
    kept = [
        ATTRIBUTE_NAMES.index(name) for name in dataset_info.attribute_names
    ]
    num_examples = examples.resolve_num_examples(
        config, split, NUM_TRAIN, NUM_TEST
    )

    def make_examples(draws):
        images, bits = render_shapes(
            draws, size, centred=config.sprite_position == "centred",
            radii=RADII[config.sprite_sizes])
        labels = tf.reduce_sum(tf.cast(bits, tf.int32) * [1, 2, 4], axis=-1)
        return examples.example(
            examples.to_unit_range(images, max_value=1.0),
            tf.gather(bits, kept, axis=-1),
            labels,
        )

    return examples.procedural_dataset(
        num_examples, _SPLIT_SALTS[split], NUM_DRAWS, make_examples
    )


def render_shapes(draws, size, centred=False, radii=RADII["standard"]):
    """Draws one sprite per row of uniform random draws.

    Args:
        draws: float32 Tensor `[B, NUM_DRAWS]` of values in [0, 1).
        size: Image side in pixels.
        centred: put every sprite at the image centre (its position draws
            unused) instead of a random place.
        radii: ((low, high) small, (low, high) large) circle radii as
            fractions of `size`, a value of `RADII`.

    Returns:
        images: float32 Tensor `[B, size, size, 3]`, RGB in [0, 1].
        bits: float32 Tensor `[B, 3]` of the attributes (round, warm, large).
    """
    bits = tf.cast(draws[:, :3] < 0.5, tf.float32)
    is_round, is_warm, is_large = (bits[:, i] > 0 for i in range(3))

    hue = _lerp(_WARM_HUES, _COOL_HUES, is_warm, draws[:, 3]) % 1.0
    saturation = _SATURATIONS[0] + draws[:, 4] * (
        _SATURATIONS[1] - _SATURATIONS[0]
    )
    colour = tf.image.hsv_to_rgb(
        tf.stack([hue, saturation, tf.ones_like(hue)], -1)
    )

    small, large = radii
    radius = size * _lerp(large, small, is_large, draws[:, 5])
    half_side = radius * _SQUARE_HALF_SIDE_PER_RADIUS
    # Keep the sprite and its one-pixel soft edge inside the image.
    extent = tf.where(is_round, radius, half_side) + 1.0
    if centred:
        centre = tf.fill(tf.shape(draws[:, 6:8]), size / 2.0)
    else:
        centre = extent[:, None] + draws[:, 6:8] * (size - 2.0 * extent[:, None])

    pixels = tf.range(size, dtype=tf.float32) + 0.5
    dx = pixels[None, None, :] - centre[:, 0, None, None]
    dy = pixels[None, :, None] - centre[:, 1, None, None]
    distance = tf.where(
        is_round[:, None, None],
        tf.sqrt(dx**2 + dy**2) - radius[:, None, None],
        _box_distance(dx, dy, half_side[:, None, None]),
    )
    coverage = tf.clip_by_value(0.5 - distance, 0.0, 1.0)[..., None]

    low, high = _BACKGROUND_LEVELS
    level = low + (high - low) * pixels / size
    background = level[:, None, None] * tf.constant(_BACKGROUND_RGB)
    images = background * (1.0 - coverage) + colour[:, None, None, :] * coverage
    return images, bits


def _box_distance(dx, dy, half_side):
    """Signed distance to an axis-aligned square centred at the origin."""
    qx, qy = tf.abs(dx) - half_side, tf.abs(dy) - half_side
    outside = tf.sqrt(tf.maximum(qx, 0.0) ** 2 + tf.maximum(qy, 0.0) ** 2)
    inside = tf.minimum(tf.maximum(qx, qy), 0.0)
    return outside + inside


def _lerp(range_if_true, range_if_false, condition, fraction):
    """Interpolates by `fraction` within the range `condition` picks."""
    low = tf.where(condition, range_if_true[0], range_if_false[0])
    high = tf.where(condition, range_if_true[1], range_if_false[1])
    return low + fraction * (high - low)
