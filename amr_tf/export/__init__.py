"""Exporting trained models for TF Serving (`python -m amr_tf.export`)."""

from amr_tf.export.after_training import export_trained
from amr_tf.export.saved_model import METADATA_ASSET
from amr_tf.export.saved_model import export_saved_model
from amr_tf.export.saved_model import read_metadata
from amr_tf.export.signatures import ServingModule

__all__ = [
    "METADATA_ASSET", "ServingModule", "export_saved_model", "export_trained",
    "read_metadata",
]
