"""Images from a directory tree, with optional binary attributes from a CSV.

Every .jpg/.jpeg/.png file (any case) under `DataConfig.data_dir` is an
example. Each split lists its images in an order fixed by a hash of their
paths, not by sub-folder, so its first N images (the evaluation's held-out
set, a shuffle buffer's first fill) spread across the classes. Images are
centre-cropped to a square and resized to `image_size` (native 64) with
`channels` channels. About `test_fraction` of the images (5% by default),
chosen by a hash of the relative path, form the test split (at least one
when there are two or more).

Every image file is decoded once when the folder is first cataloged, in a
parallel tf.data pass (JPEGs at 1/8 scale). On 2 busy CPU cores 2,000
64 px PNGs take 0.4-0.9 s and 2,000 178x218 JPEGs 1.2-1.4 s, so a
CelebA-sized folder (200k) takes about 2 minutes, once per process. A file
is skipped, and counted in one warning line with a count per reason, when
it:

- is not JPEG or PNG (by its first bytes),
- cannot be decoded (truncated or corrupt),
- has the wrong number of channels. An image is used when its own channel
  count is `channels`, or `channels` plus alpha (gray+alpha for 1, RGBA for
  3; the alpha is dropped). Anything else is skipped: a grayscale image in
  a `channels=3` folder, an RGB one in a `channels=1` folder. (A CMYK JPEG
  decodes to RGB, so it counts as 3 channels.)

A folder without a usable image is a `UsageError` naming the counts. The
pipeline decodes only verified files and has a known size; a file changed
after the catalog was made fails the pipeline rather than vanishing.

The optional attributes CSV has a header `filename,<attr1>,<attr2>,...`:
the first column is the image path relative to `data_dir` and the others
hold 0/1 (or -1/1, as in CelebA's attribute list, -1 meaning 0). Every
usable image needs a row: a missing row, a non-binary value or a row of the
wrong length is a `UsageError` naming the file (and line). Rows naming no
usable image (a missing or skipped file) are ignored and counted in a
warning.

The label is the index of the image's sub-folder (in sorted order) when
every image sits directly inside one of two or more sub-folders of
`data_dir`; otherwise there is no label.
"""

import csv
import dataclasses
import functools
import hashlib
import logging
import os

import numpy as np
import tensorflow as tf

from amr_tf.core.errors import UsageError
from amr_tf.data import examples

_LOG = logging.getLogger(__name__)

NATIVE_SIZE = 64
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_MAGIC_BYTES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG.
_CSV_VALUES = {"1": 1.0, "0": 0.0, "-1": 0.0}


@dataclasses.dataclass(frozen=True)
class _Catalog:
    """The usable images of a folder: relative paths and their targets."""

    info: examples.DatasetInfo
    paths: tuple[str, ...]
    attributes: np.ndarray  # float32 [N, num_attributes] of 0/1.
    labels: np.ndarray  # int32 [N].


def info(config):
    return _catalog(config).info


def load(config, split):
    catalog = _catalog(config)
    size, _, channels = catalog.info.input_shape
    indices = np.array(
        _split_indices(catalog.paths, config.test_fraction, split), np.int64
    )
    files = [os.path.join(config.data_dir, catalog.paths[i]) for i in indices]

    def to_example(file, attributes, label):
        image = tf.io.decode_image(
            tf.io.read_file(file), channels=channels, expand_animations=False
        )
        image = examples.crop_and_resize(image, size)
        return examples.example(
            examples.to_unit_range(image), attributes, label
        )

    dataset = tf.data.Dataset.from_tensor_slices(
        (
            tf.constant(files, tf.string, shape=[len(files)]),
            catalog.attributes[indices],
            catalog.labels[indices],
        )
    )
    return dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class Skipped:
    """Counts of the image files `scan` skipped, per reason."""

    not_jpeg_or_png: int = 0
    undecodable: int = 0
    wrong_channels: int = 0

    @property
    def total(self):
        return self.not_jpeg_or_png + self.undecodable + self.wrong_channels

    def describe(self, channels):
        """The counts on one line, for `channels` wanted channels."""
        return (
            f"{self.not_jpeg_or_png} not JPEG/PNG, {self.undecodable} "
            f"truncated or corrupt, {self.wrong_channels} with a channel "
            f"count other than {channels} (or {channels} + alpha)"
        )


def scan(root, channels):
    """Lists the usable image files under `root`, decoding each once.

    Args:
        root: Folder searched recursively.
        channels: Wanted channel count, 1 or 3 (see the module docstring).

    Returns:
        paths: Sorted tuple of the usable files' paths relative to `root`,
            "/"-separated.
        skipped: `Skipped` counts of the other files with an image extension.
    """
    candidates = _image_files(root)
    looks_like_image = [
        path
        for path in candidates
        if _looks_like_image(os.path.join(root, path))
    ]
    native_channels = _native_channels(
        [os.path.join(root, path) for path in looks_like_image]
    )
    paths = tuple(
        path
        for index, path in enumerate(looks_like_image)
        if native_channels.get(index) in (channels, channels + 1)
    )
    skipped = Skipped(
        not_jpeg_or_png=len(candidates) - len(looks_like_image),
        undecodable=len(looks_like_image) - len(native_channels),
        wrong_channels=len(native_channels) - len(paths),
    )
    if skipped.total:
        _LOG.warning(
            "skipped %d of %d image files under %s: %s",
            skipped.total,
            len(candidates),
            root,
            skipped.describe(channels),
        )
    return paths, skipped


# How the packaged configs' folders are filled, by folder name.
FILLED_BY = {
    "digits": "write it with amr-digits data/digits (configs/digits.cfg)",
    "mnist5k": "write it with pip install 'amr_tf[mnist]' && amr-digits "
               "--source=mnist5k data/mnist5k (configs/mnist5k.cfg)",
    "ut-zap50k-images-square": "unpack UT Zappos50K's ut-zap50k-images-square "
                               "there (configs/zappos.cfg)",
}

def _image_files(root):
    """Sorted "/"-separated paths under `root` with an image extension."""
    if not os.path.isdir(root):
        fill = FILLED_BY.get(os.path.basename(os.path.normpath(root)))
        raise UsageError(
            f"image folder {root} does not exist: "
            + (f"{fill}, or pass --data_dir" if fill else
               "put .jpg/.png images there or pass --data_dir"))
    paths = []
    for folder, _, filenames in os.walk(root):
        for filename in filenames:
            if filename.lower().endswith(IMAGE_EXTENSIONS):
                path = os.path.join(folder, filename)
                paths.append(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(paths)


def _looks_like_image(path):
    try:
        with open(path, "rb") as file:
            return file.read(8).startswith(_MAGIC_BYTES)
    except OSError:
        return False


def _native_channels(files):
    """Decodes `files` in parallel; returns {index: channel count} of those
    that decode (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA)."""

    def channel_count(index, file):
        contents = tf.io.read_file(file)
        image = tf.cond(
            tf.io.is_jpeg(contents),
            # 1/8 scale: every byte is still entropy-decoded, so a truncated
            # or corrupt JPEG still fails, about 4x faster than full size.
            lambda: tf.io.decode_jpeg(contents, ratio=8),
            lambda: tf.io.decode_png(contents),
        )
        return index, tf.shape(image)[-1]

    dataset = tf.data.Dataset.from_tensor_slices(
        (
            tf.range(len(files), dtype=tf.int64),
            tf.constant(files, tf.string, shape=[len(files)]),
        )
    )
    dataset = dataset.map(
        channel_count,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False,
    ).ignore_errors()  # An image that fails to decode is left out.
    counts = {}
    for indices, channel_counts in dataset.batch(1024).as_numpy_iterator():
        counts.update(zip(indices.tolist(), channel_counts.tolist()))
    return counts


@functools.lru_cache(maxsize=8)
def _catalog(config):
    """Scans `config.data_dir`, reads the CSV and validates the config.

    Cached per config: validation and the train and test splits of one run
    share a single scan of a possibly large folder.
    """
    if config.data_dir is None:
        raise UsageError(
            "dataset folder needs data_dir: set it to a folder of images"
        )
    size = examples.resolve_image_size(config, NATIVE_SIZE)
    paths, skipped = scan(config.data_dir, config.channels)
    if not paths:
        raise UsageError(
            f"no usable .jpg/.png images under {config.data_dir} "
            f"({skipped.describe(config.channels)}): check data_dir and "
            "channels"
        )
    if config.attributes_csv is None:
        attribute_names = examples.select_attributes(config, (), (), "folder")
        attributes = np.zeros([len(paths), 0], np.float32)
    else:
        attribute_names, attributes = _attributes_of(config, paths)

    class_names = _class_names(paths)
    class_ids = {name: index for index, name in enumerate(class_names)}
    labels = np.array(
        [
            class_ids.get(path.split("/")[0], examples.NO_LABEL)
            for path in paths
        ],
        np.int32,
    )
    dataset_info = examples.DatasetInfo(
        name="folder",
        input_shape=(size, size, config.channels),
        attribute_names=attribute_names,
        num_classes=len(class_names),
    )
    return _Catalog(dataset_info, paths, attributes, labels)


def _attributes_of(config, paths):
    """Returns `(attribute_names, float32 [len(paths), k] of 0/1)` from the
    CSV; every path needs a row, rows naming no path are counted."""
    attribute_names, rows = _read_attributes_csv(config)
    unlabelled = [path for path in paths if path not in rows]
    if unlabelled:
        raise UsageError(
            f"attributes CSV {config.attributes_csv} has no row for "
            f"{unlabelled[0]} ({len(unlabelled)} of {len(paths)} usable "
            f"images under {config.data_dir} lack one): add their rows"
        )
    unused = len(set(rows) - set(paths))
    if unused:
        _LOG.warning(
            "ignored %d rows of %s naming no usable image under %s",
            unused,
            config.attributes_csv,
            config.data_dir,
        )
    attributes = np.array([rows[path] for path in paths], np.float32)
    return attribute_names, attributes.reshape(
        [len(paths), len(attribute_names)]
    )


def _read_attributes_csv(config):
    """Returns `(attribute_names, {relative path: [0/1 values]})`."""
    csv_path = config.attributes_csv
    try:
        with open(csv_path, newline="") as file:
            lines = list(csv.reader(file))
    except OSError as error:
        raise UsageError(
            f"cannot read attributes CSV {csv_path}: {error.strerror}"
        ) from None
    if not lines:
        raise UsageError(
            f"attributes CSV {csv_path} is empty: add a header row"
        )
    header = [name.strip() for name in lines[0]]
    names = examples.select_attributes(
        config, tuple(header[1:]), tuple(header[1:]), f"{csv_path} line 1"
    )
    columns = [header.index(name) for name in names]

    rows = {}
    for line_number, row in enumerate(lines[1:], start=2):
        if not any(field.strip() for field in row):
            continue
        if len(row) != len(header):
            raise UsageError(
                f"{csv_path} line {line_number}: expected {len(header)} "
                f"fields, got {len(row)}"
            )
        values = []
        for column in columns:
            value = row[column].strip()
            if value not in _CSV_VALUES:
                raise UsageError(
                    f"{csv_path} line {line_number}: {header[column]} is "
                    f"{value!r}, not binary: use 0/1 or -1/1"
                )
            values.append(_CSV_VALUES[value])
        path = os.path.normpath(row[0].strip()).replace(os.sep, "/")
        rows[path] = values
    return names, rows


def _class_names(paths):
    """Sorted sub-folder names when all images sit one level down in >= 2."""
    parts = [path.split("/") for path in paths]
    if any(len(part) != 2 for part in parts):
        return []
    names = sorted({part[0] for part in parts})
    return names if len(names) >= 2 else []


def _split_indices(paths, fraction, split):
    """Indices of `split`'s paths in order of their hash: "test" is the
    ~`fraction` with the smallest hashes (>= 1 of >= 2), "train" the rest."""
    hashes = [_hash_fraction(path) for path in paths]
    ranked = sorted(range(len(paths)), key=hashes.__getitem__)
    num_test = sum(value < fraction for value in hashes)
    if len(paths) >= 2:
        num_test = min(max(num_test, 1), len(paths) - 1)
    return ranked[:num_test] if split == "test" else ranked[num_test:]


def _hash_fraction(path):
    """Maps a path to a stable number in [0, 1)."""
    digest = hashlib.sha256(path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
