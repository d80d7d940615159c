"""TensorFlow Datasets: mnist, svhn_cropped and celeb_a, read offline.

These datasets must already be prepared under `DataConfig.data_dir` (or
TFDS's default data dir): nothing here downloads. `tensorflow_datasets` is
imported on first use because importing it is slow.

- mnist: 28 px grayscale digits resized to 32 px; label = digit.
- svhn_cropped: 32 px RGB house-number digits; label = digit.
- celeb_a: faces cropped to the 140 px square at (top 40, left 19) of the
  218x178 aligned images, resized to 64 px; no label; the binary attributes
  default to Male, Heavy_Makeup, Wearing_Lipstick. With `celeba_frontal`,
  only roughly frontal faces are kept: those whose nose lies within 15% of
  the inter-eye distance of the eyes' horizontal midpoint. The "test" split
  is TFDS's "validation" split, as in the paper.
"""

import dataclasses

import tensorflow as tf

from amr_tf.core.errors import UsageError
from amr_tf.data import examples

CELEBA_DEFAULT_ATTRIBUTES = ("Male", "Heavy_Makeup", "Wearing_Lipstick")
CELEBA_CROP_BOX = (40, 19, 140, 140)  # (top, left, height, width)
CELEBA_FRONTAL_TOLERANCE = 0.15  # Fraction of the inter-eye distance.


@dataclasses.dataclass(frozen=True)
class _Spec:
    native_size: int
    channels: int
    num_classes: int
    test_split: str


_SPECS = {
    "mnist": _Spec(
        native_size=32, channels=1, num_classes=10, test_split="test"
    ),
    "svhn_cropped": _Spec(
        native_size=32, channels=3, num_classes=10, test_split="test"
    ),
    "celeb_a": _Spec(
        native_size=64, channels=3, num_classes=0, test_split="validation"
    ),
}


def info(config):
    return _prepared_builder(config)[1]


def load(config, split):
    import tensorflow_datasets as tfds

    builder, dataset_info = _prepared_builder(config)
    spec = _SPECS[config.name]
    size = dataset_info.input_shape[0]
    dataset = builder.as_dataset(
        split=spec.test_split if split == "test" else split,
        shuffle_files=False,
        read_config=tfds.ReadConfig(try_autocache=False),
    )

    if config.name != "celeb_a":

        def to_example(features):
            image = examples.crop_and_resize(features["image"], size)
            return examples.example(
                examples.to_unit_range(image), tf.zeros([0]), features["label"]
            )

        return dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)

    def to_celeba_example(features):
        image = examples.crop_and_resize(
            features["image"], size, CELEBA_CROP_BOX
        )
        attributes = [
            features["attributes"][name]
            for name in dataset_info.attribute_names
        ]
        return examples.example(
            examples.to_unit_range(image),
            tf.stack(attributes),
            examples.NO_LABEL,
        )

    if config.celeba_frontal:
        dataset = dataset.filter(
            lambda features: is_frontal(features["landmarks"])
        )
    return dataset.map(to_celeba_example, num_parallel_calls=tf.data.AUTOTUNE)


def is_frontal(landmarks):
    """True when the nose is near the eyes' horizontal midpoint.

    Args:
        landmarks: dict of celeb_a landmark coordinates (`lefteye_x`, ...).

    Returns:
        bool scalar Tensor.
    """
    left, right, nose = (
        tf.cast(landmarks[key], tf.float32)
        for key in ("lefteye_x", "righteye_x", "nose_x")
    )
    offset = tf.abs(nose - (left + right) / 2.0)
    return offset < CELEBA_FRONTAL_TOLERANCE * tf.abs(right - left)


def _prepared_builder(config):
    """Returns `(builder, DatasetInfo)`; checks names, then that data exists."""
    import tensorflow_datasets as tfds

    spec = _SPECS[config.name]
    size = examples.resolve_image_size(config, spec.native_size)
    builder = tfds.builder(config.name, data_dir=config.data_dir)
    if config.name == "celeb_a":
        available = tuple(builder.info.features["attributes"].keys())
        attributes = examples.select_attributes(
            config, available, CELEBA_DEFAULT_ATTRIBUTES, "celeb_a"
        )
    else:
        attributes = examples.select_attributes(config, (), (), config.name)
    if not builder.is_prepared():
        root = builder.data_dir_root
        raise UsageError(
            f"{config.name} is not prepared under {root}: run "
            f"`tfds build {config.name} --data_dir={root}` on a machine with "
            "internet access and copy the folder here"
        )
    dataset_info = examples.DatasetInfo(
        name=config.name,
        input_shape=(size, size, spec.channels),
        attribute_names=attributes,
        num_classes=spec.num_classes,
    )
    return builder, dataset_info
