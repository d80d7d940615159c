"""The version folders of a model base path, as TF Serving lays them out.

    <base_path>/<version>/    one SavedModel per positive integer version

The export writes them and the model server reads them; both name them here.
"""

import os

import tensorflow as tf


def version_path(base_path, version):
    """The folder of integer `version` under `base_path`."""
    return os.path.join(base_path, str(version))


def list_versions(base_path):
    """Integer version folders under `base_path`, ascending; [] if none."""
    if not tf.io.gfile.isdir(base_path):
        return []
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(base_path))
    return sorted(int(name) for name in names if name.isdigit())
