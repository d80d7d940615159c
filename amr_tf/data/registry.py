"""Dataset registry: configuration, metadata, loading and batching.

Every dataset family lives in its own module of this package and exposes two
functions, `info(config) -> DatasetInfo` (validates the config, cheaply) and
`load(config, split) -> tf.data.Dataset`. This module maps registry names to
those modules and holds the small helpers the families share.

A loaded example is a dict:

- `"inputs"`: float32, shape `DatasetInfo.input_shape`, values in [-1, 1].
- `"attributes"`: float32, shape `[num_attributes]`, values in {0, 1}.
- `"label"`: int32 scalar class id, -1 when the dataset has no classes.
"""

import dataclasses
import importlib

import numpy as np
import tensorflow as tf

from amr_tf.errors import UsageError
from amr_tf.errors import check_choice
from amr_tf.fields import Range
from amr_tf.fields import check
from amr_tf.fields import setting

SPLITS = ("train", "test")
NO_LABEL = -1
MIN_IMAGE_SIZE = 8
# Where `shapes` puts its sprites (`DataConfig.sprite_position`).
SPRITE_POSITIONS = ("random", "centred")
SHUFFLE_BUFFER_SIZE = 10_000
# Epoch e of seed s is shuffled with seed s * stride + e.
_EPOCH_SEED_STRIDE = 1_000_003
_MAX_EPOCHS = 2**62
# Generated examples are rendered this many at a time.
_RENDER_BLOCK_SIZE = 256

# Registry name -> module of this package that implements it.
_FAMILY_MODULES = {
    "celeb_a": "tfds_datasets",
    "folder": "folder",
    "lines": "lines",
    "mnist": "tfds_datasets",
    "shapes": "shapes",
    "spiral": "spiral",
    "svhn_cropped": "tfds_datasets",
}
DATASET_NAMES = tuple(sorted(_FAMILY_MODULES))


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which dataset to load and how; each field's help says what it holds.

    Raises:
        ArgumentError: a field outside its choices or range.
    """

    name: str = setting("shapes", "Dataset to train on.",
                        choices=DATASET_NAMES,
                        flag="dataset", structural=True)
    image_size: int | None = setting(
        None, "Square image side in px; default: the dataset's own.",
        bounds=Range(MIN_IMAGE_SIZE), structural=True)
    data_dir: str | None = setting(
        None, "TFDS data_dir, or the image root for --dataset=folder.")
    attributes: tuple[str, ...] = setting(
        (), "Binary attributes to use (celeb_a names, CSV columns); empty: "
        "the dataset's default.", structural=True)
    attributes_csv: str | None = setting(
        None, "CSV of binary attributes for --dataset=folder: a row for "
        "every image.")
    channels: int = setting(
        3, "Image channels for --dataset=folder, 1 or 3: images with another "
        "channel count (alpha aside) are skipped.", choices=(1, 3),
        structural=True)
    test_fraction: float = setting(
        0.05, "--dataset=folder: the share of images held out as the test "
        "split, chosen by a hash of each image's path.",
        bounds=Range(0, 1, low_open=True, high_open=True), structural=True)
    celeba_frontal: bool = setting(
        False, "celeb_a: keep roughly frontal faces only.")
    num_examples: int | None = setting(
        None, "Procedural datasets: number of training examples; default: "
        "the dataset's own.", bounds=Range(1))
    sprite_position: str = setting(
        "random", "shapes: sprites at random places (the unsupervised demo) "
        "or centred, so channel masks can recombine their attributes "
        "(supervised runs).", choices=SPRITE_POSITIONS)

    def __post_init__(self):
        check(self)


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


def dataset_names():
    """Returns the sorted registry keys."""
    return list(DATASET_NAMES)


def get_info(config):
    """Validates `config` and returns the dataset's `DatasetInfo`.

    Raises:
        UsageError: unknown attribute, unsupported image size, missing data
            (folder, or a TFDS dataset not prepared offline).
    """
    return _family(config).info(config)


def load(config, split):
    """Returns the unbatched, deterministic `tf.data.Dataset` of `split`.

    Args:
        config: A `DataConfig`.
        split: "train" or "test".
    """
    check_choice("split", split, SPLITS)
    return _family(config).load(config, split)


def make_batches(dataset, batch_size, *, shuffle, seed, repeat, cache=True,
                 start=0):
    """Caches, shuffles, repeats, batches (dropping the rest), prefetches.

    The stream of examples is a fixed function of `seed`: with `shuffle`,
    epoch `e` is shuffled with a seed made from `seed` and `e`, and with
    `repeat` the epochs follow each other forever. `start` skips the first
    `start` examples of that stream, reading at most one epoch, so a run
    resumed at the example it had reached sees exactly the batches it would
    have seen. `cache` keeps the examples in memory as `load` produced them
    (float32: about 12 KiB per 32 px RGB image, 48 KiB at 64 px).

    Raises:
        UsageError: if `batch_size` < 1 or larger than the dataset (when its
            size is known), or `start` < 0.
    """
    if batch_size < 1:
        raise UsageError(f"batch size must be positive, got {batch_size}")
    if start < 0:
        raise UsageError(f"start must be >= 0, got {start}")
    size = int(dataset.cardinality())  # Negative: infinite or unknown.
    if 0 <= size < batch_size:
        raise UsageError(
            f"batch size {batch_size} is larger than the dataset "
            f"({size} examples): use a batch size of at most {size}"
        )
    if cache:
        dataset = dataset.cache()
    first_epoch, offset = 0, start
    if repeat and start:
        first_epoch, offset = divmod(start, _epoch_size(dataset, size))
    epochs = tf.data.Dataset.range(
        first_epoch, _MAX_EPOCHS if repeat else first_epoch + 1)
    dataset = epochs.flat_map(
        lambda epoch: _shuffle_epoch(dataset, seed, epoch) if shuffle
        else dataset)
    dataset = dataset.skip(offset).batch(batch_size, drop_remainder=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _shuffle_epoch(dataset, seed, epoch):
    """`dataset` in the order of epoch `epoch` (int64 scalar) of `seed`.

    Called while `flat_map` traces its function: clearing that function
    graph's seed makes the order ignore TF's global seed (which would also
    fail on a tensor seed when the global seed is 0).
    """
    tf.compat.v1.get_default_graph().seed = None
    epoch_seed = tf.constant(seed, tf.int64) * _EPOCH_SEED_STRIDE + epoch
    return dataset.shuffle(SHUFFLE_BUFFER_SIZE, seed=epoch_seed,
                           reshuffle_each_iteration=False)


def _epoch_size(dataset, cardinality):
    """Examples per epoch; counted by one pass when TF does not know it."""
    if cardinality >= 0:
        return cardinality
    size = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
    if size == 0:
        raise UsageError("the training split has no examples")
    return size


def _family(config):
    """The module of the dataset family of `config`."""
    return importlib.import_module(
        f"{__package__}.{_FAMILY_MODULES[config.name]}")


# Helpers shared by the dataset families.


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
