"""Dataset registry: which dataset a `DataConfig` names, its `DatasetInfo`
and its splits.

Every dataset family lives in its own module of this package (see
`amr_tf.data.examples` for what each exposes and the example format); this
module maps dataset names to those modules.
"""

import dataclasses

from amr_tf.core.errors import check_choice
from amr_tf.core.fields import Range
from amr_tf.core.fields import check
from amr_tf.core.fields import setting
from amr_tf.data import folder
from amr_tf.data import lines
from amr_tf.data import shapes
from amr_tf.data import spiral
from amr_tf.data import tfds_datasets

SPLITS = ("train", "test")
MIN_IMAGE_SIZE = 8
# Where `shapes` puts its sprites (`DataConfig.sprite_position`).
SPRITE_POSITIONS = ("random", "centred")
# How big `shapes` draws its sprites (`DataConfig.sprite_sizes`).
SPRITE_SIZES = ("standard", "bold")

# Dataset name -> the family module that implements it.
_FAMILIES = {
    "celeb_a": tfds_datasets,
    "folder": folder,
    "lines": lines,
    "mnist": tfds_datasets,
    "shapes": shapes,
    "spiral": spiral,
    "svhn_cropped": tfds_datasets,
}
DATASET_NAMES = tuple(sorted(_FAMILIES))


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
    sprite_sizes: str = setting(
        "standard", "shapes: standard radii (small 9-15 %, large 22-30 % of "
        "the side) or bold (small 16-20 %, large 26-34 %: at 16 px every "
        "sprite is at least 2.5 px in radius, so a decoder can draw its "
        "shape; supervised runs).", choices=SPRITE_SIZES)

    def __post_init__(self):
        check(self)


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


def _family(config):
    """The module of the dataset family of `config`."""
    return _FAMILIES[config.name]
