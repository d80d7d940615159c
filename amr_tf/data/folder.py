"""Images from a directory tree, with optional binary attributes from a CSV.

Every .jpg/.jpeg/.png file (any case) under `DataConfig.data_dir` is an
example, in sorted order of its path relative to that folder. Images are
centre-cropped to a square and resized to `image_size` (native 64) with
`channels` channels. Files that are not JPEG or PNG (by their first bytes)
are skipped and counted; files that still fail to decode are dropped by the
pipeline. About 5% of the images, chosen by a hash of the relative path,
form the test split (at least one when there are two or more).

The optional attributes CSV has a header `filename,<attr1>,<attr2>,...`:
the first column is the image path relative to `data_dir` and the others
hold 0/1 (or -1/1, as in CelebA's attribute list, -1 meaning 0). Images
without a row are skipped and counted.

The label is the index of the image's sub-folder (in sorted order) when
every image sits directly inside one of two or more sub-folders of
`data_dir`; otherwise there is no label.
"""

import csv
import dataclasses
import functools
import hashlib
import os

import numpy as np
import tensorflow as tf
from absl import logging

from amr_tf.data import registry
from amr_tf.errors import UsageError

NATIVE_SIZE = 64
TEST_FRACTION = 0.05
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_MAGIC_BYTES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG.
_CSV_VALUES = {"1": 1.0, "0": 0.0, "-1": 0.0}


@dataclasses.dataclass(frozen=True)
class _Catalog:
    """The usable images of a folder: relative paths and their targets."""

    info: registry.DatasetInfo
    paths: tuple[str, ...]
    attributes: np.ndarray  # float32 [N, num_attributes] of 0/1.
    labels: np.ndarray  # int32 [N].


def info(config):
    return _catalog(config).info


def load(config, split):
    catalog = _catalog(config)
    size, _, channels = catalog.info.input_shape
    test_paths = _test_paths(catalog.paths)
    indices = np.array(
        [
            i
            for i, path in enumerate(catalog.paths)
            if (path in test_paths) == (split == "test")
        ],
        np.int64,
    )
    files = [os.path.join(config.data_dir, catalog.paths[i]) for i in indices]

    def to_example(file, attributes, label):
        image = tf.io.decode_image(
            tf.io.read_file(file), channels=channels, expand_animations=False
        )
        image = registry.crop_and_resize(image, size)
        return registry.example(
            registry.to_unit_range(image), attributes, label
        )

    dataset = tf.data.Dataset.from_tensor_slices(
        (
            tf.constant(files, tf.string, shape=[len(files)]),
            catalog.attributes[indices],
            catalog.labels[indices],
        )
    )
    dataset = dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.ignore_errors(log_warning=True)


def scan(root):
    """Lists the image files under `root` that look readable.

    Args:
        root: Folder searched recursively.

    Returns:
        paths: Sorted tuple of paths relative to `root`, "/"-separated, of
            files with an image extension whose first bytes are JPEG or PNG.
        num_skipped: Number of files with an image extension that are not.
    """
    if not os.path.isdir(root):
        raise UsageError(
            f"image folder {root} does not exist: put .jpg/.png images there "
            "(for configs/zappos.cfg, unpack UT Zappos50K's "
            "ut-zap50k-images-square there) or pass --data_dir"
        )
    paths, num_skipped = [], 0
    for folder, _, filenames in os.walk(root):
        for filename in filenames:
            if not filename.lower().endswith(IMAGE_EXTENSIONS):
                continue
            path = os.path.join(folder, filename)
            if _looks_like_image(path):
                paths.append(os.path.relpath(path, root).replace(os.sep, "/"))
            else:
                num_skipped += 1
    if num_skipped:
        logging.warning(
            "skipped %d unreadable files under %s", num_skipped, root
        )
    return tuple(sorted(paths)), num_skipped


def _looks_like_image(path):
    try:
        with open(path, "rb") as file:
            return file.read(8).startswith(_MAGIC_BYTES)
    except OSError:
        return False


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
    if config.channels not in (1, 3):
        raise UsageError(f"channels must be 1 or 3, got {config.channels}")
    size = registry.resolve_image_size(config, NATIVE_SIZE)
    paths, _ = scan(config.data_dir)

    if config.attributes_csv is None:
        attribute_names = registry.select_attributes(config, (), (), "folder")
        attributes = np.zeros([len(paths), 0], np.float32)
    else:
        attribute_names, rows = _read_attributes_csv(config)
        labelled = [path for path in paths if path in rows]
        if len(labelled) < len(paths):
            logging.warning(
                "skipped %d images under %s without a row in %s",
                len(paths) - len(labelled),
                config.data_dir,
                config.attributes_csv,
            )
        paths = tuple(labelled)
        attributes = np.array(
            [rows[path] for path in paths], np.float32
        ).reshape([len(paths), len(attribute_names)])
    if not paths:
        raise UsageError(
            f"no usable .jpg/.png images under {config.data_dir}: "
            "check data_dir"
            + (
                ""
                if config.attributes_csv is None
                else f" and {config.attributes_csv}"
            )
        )

    class_names = _class_names(paths)
    class_ids = {name: index for index, name in enumerate(class_names)}
    labels = np.array(
        [
            class_ids.get(path.split("/")[0], registry.NO_LABEL)
            for path in paths
        ],
        np.int32,
    )
    dataset_info = registry.DatasetInfo(
        name="folder",
        input_shape=(size, size, config.channels),
        attribute_names=attribute_names,
        num_classes=len(class_names),
    )
    return _Catalog(dataset_info, paths, attributes, labels)


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
    names = registry.select_attributes(
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


def _test_paths(paths):
    """The ~`TEST_FRACTION` of paths with the smallest hash; >= 1 of >= 2."""
    ranked = sorted(paths, key=_hash_fraction)
    num_test = sum(_hash_fraction(path) < TEST_FRACTION for path in paths)
    if len(paths) >= 2:
        num_test = min(max(num_test, 1), len(paths) - 1)
    return set(ranked[:num_test])


def _hash_fraction(path):
    """Maps a path to a stable number in [0, 1)."""
    digest = hashlib.sha256(path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
