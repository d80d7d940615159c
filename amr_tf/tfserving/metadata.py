"""The metadata an export carries beside its signatures:
`<version>/assets/amr_metadata.json`, written by `amr_tf.exporter` and read
by clients (the explorer shows it): input and latent shapes, value range,
attribute names, objective, mixer, training step and the run's flags."""

import json
import os

import tensorflow as tf

METADATA_ASSET = "amr_metadata.json"
METADATA_FORMAT = "amr_tf.export/1"


def read_metadata(export_dir):
    """The metadata dict of one exported version folder."""
    path = os.path.join(export_dir, "assets", METADATA_ASSET)
    with tf.io.gfile.GFile(path) as stream:
        return json.load(stream)
