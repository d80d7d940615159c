"""What every dataset family shares: the example format, `DatasetInfo`, and
helpers for building examples.

A loaded example is a dict:

- `"inputs"`: float32, shape `DatasetInfo.input_shape`, values in [-1, 1].
- `"attributes"`: float32, shape `[num_attributes]`, values in {0, 1}.
- `"label"`: int32 scalar class id, `NO_LABEL` when the dataset has no
  classes.

Each family module of this package (folder, lines, shapes, spiral,
tfds_datasets) exposes `info(config) -> DatasetInfo` (validates the config,
cheaply) and `load(config, split) -> tf.data.Dataset`; `amr_tf.data.registry`
maps dataset names to them.
"""

import dataclasses

import tensorflow as tf

from amr_tf.core.errors import UsageError

NO_LABEL = -1
# Generated examples are rendered this many at a time.
_RENDER_BLOCK_SIZE = 256


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static description of a dataset's examples.

    Attributes:
        name: Registry key.
        input_shape: `(H, W, C)` for images, `(2,)` for spiral.
        attribute_names: Names of the binary attributes, () when none.
        num_classes: Number of classes of the integer label, 0 when none.
        generated: whether examples are rendered on the fly from their index
            (shapes, spiral, lines): cheap to recompute, so not worth caching.
    """

    name: str
    input_shape: tuple[int, ...]
    attribute_names: tuple[str, ...]
    num_classes: int
    generated: bool = False

    @property
    def is_image(self):
        return len(self.input_shape) == 3

    @property
    def num_attributes(self):
        return len(self.attribute_names)


def resolve_image_size(config, native_size):
    """Returns `config.image_size`, or `native_size` when it is None."""
    if config.image_size is None:
        return native_size
    return config.image_size


def resolve_num_examples(config, split, default_train, default_test):
    """Returns the size of a procedural split (`num_examples` sets train)."""
    if split == "test":
        return default_test
    return default_train if config.num_examples is None else config.num_examples


def select_attributes(config, available, default, source):
    """Validates `config.attributes` against `available` attribute names.

    Args:
        config: A `DataConfig`.
        available: All attribute names the dataset has, in its order.
        default: The names kept when `config.attributes` is empty.
        source: Where the names come from, for the error message.

    Returns:
        The tuple of kept attribute names.
    """
    selected = tuple(config.attributes) or tuple(default)
    unknown = [name for name in selected if name not in available]
    if unknown:
        raise UsageError(
            f"unknown attribute(s) {', '.join(unknown)} for {source}: "
            f"use names from {', '.join(available) or '(none)'}"
        )
    return selected


def to_unit_range(values, max_value=255.0):
    """Maps values in [0, max_value] (any dtype) to float32 in [-1, 1]."""
    values = tf.cast(values, tf.float32) * (2.0 / max_value) - 1.0
    return tf.clip_by_value(values, -1.0, 1.0)


def crop_and_resize(image, size, box=None):
    """Crops an image to a box, then resizes it to a square.

    Args:
        image: Tensor `[H, W, C]`, any real dtype.
        size: Side of the output in pixels.
        box: `(top, left, height, width)`; None crops the centred square.

    Returns:
        float32 Tensor `[size, size, C]` in the value range of `image`.
    """
    if box is None:
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        side = tf.minimum(height, width)
        box = ((height - side) // 2, (width - side) // 2, side, side)
    image = tf.image.crop_to_bounding_box(image, *box)
    return tf.image.resize(
        image, (size, size), method="bilinear", antialias=True
    )


def procedural_dataset(num_examples, salt, num_draws, make_examples):
    """Builds a generated dataset from per-example uniform random draws.

    Example `i` gets `num_draws` values from `tf.random.stateless_uniform`
    seeded with `(salt, i)`, so it depends only on its index and the salt
    (one salt per split keeps train and test apart). The draws are batched
    so that `make_examples` renders many examples with vectorised ops.

    Args:
        num_examples: Size of the dataset.
        salt: Integer identifying the dataset and split.
        num_draws: Number of uniform [0, 1) values per example.
        make_examples: Maps draws `[B, num_draws]` to a dict of batched
            example Tensors (see `example`).
    """
    salt = tf.constant(salt, tf.int64)

    def draw(index):
        seed = tf.stack([salt, index])
        return tf.random.stateless_uniform([num_draws], seed=seed, alg="philox")

    # flat_map(from_tensor_slices) rather than unbatch(): on TF 2.21, unbatch
    # crashes the process (SIGSEGV) on zero-size components such as
    # attributes of shape [B, 0].
    dataset = (
        tf.data.Dataset.range(num_examples)
        .map(draw)
        .batch(_RENDER_BLOCK_SIZE)
        .map(make_examples, num_parallel_calls=tf.data.AUTOTUNE)
        .flat_map(tf.data.Dataset.from_tensor_slices)
    )
    return dataset.apply(tf.data.experimental.assert_cardinality(num_examples))


def example(inputs, attributes, label):
    """Builds the example dict (one example, or a batch of them).

    Args:
        inputs: float32 Tensor in [-1, 1].
        attributes: `[..., num_attributes]` of 0/1 values, any dtype.
        label: Integer class ids, `NO_LABEL` when the dataset has none.
    """
    return {
        "inputs": inputs,
        "attributes": tf.cast(attributes, tf.float32),
        "label": tf.cast(label, tf.int32),
    }
