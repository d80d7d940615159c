"""scikit-learn's handwritten digits as an image folder with class sub-folders.

    amr-digits data/digits               # amr_tf.cli.digits
    amr-train --config=digits            # reads data/digits

The 1,797 8x8 grey digits of the UCI optical-recognition set ship inside
scikit-learn (`sklearn.datasets.load_digits`), so this real, labelled
dataset needs no download. Each image is written as
`<folder>/<digit>/<index>.png` (uint8, the 17 grey levels 0-16 scaled to
0-255), the MNIST-style layout `--dataset=folder` reads labels from.
"""

import os

import numpy as np
import tensorflow as tf
from sklearn import datasets

from amr_tf.core.errors import UsageError

# The digits' grey levels run from 0 to MAX_LEVEL.
MAX_LEVEL = 16


def write(folder):
    """Writes every digit as a PNG under `folder/<digit>/`; the count.

    Raises:
        UsageError: `folder` exists and is not empty.
    """
    if os.path.isdir(folder) and os.listdir(folder):
        raise UsageError(f"{folder} is not empty: give a new or empty folder")
    digits = datasets.load_digits()
    images = np.round(digits.images * (255 / MAX_LEVEL)).astype(np.uint8)
    for index, (image, label) in enumerate(zip(images, digits.target)):
        class_folder = os.path.join(folder, str(label))
        os.makedirs(class_folder, exist_ok=True)
        png = tf.io.encode_png(image[..., np.newaxis]).numpy()
        with open(os.path.join(class_folder, f"{index:04d}.png"), "wb") as file:
            file.write(png)
    return len(images)
