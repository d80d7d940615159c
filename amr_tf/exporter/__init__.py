"""Exporting trained models for TF Serving: the serving signatures of a model
(signatures), the SavedModel version folder checked the way TF Serving
loads it (saved_model), and the export that ends a training run
(after_training). `amr-export` (`amr_tf.cli.export`) is the command."""

from amr_tf.exporter.after_training import export_trained
from amr_tf.exporter.saved_model import export_saved_model
from amr_tf.exporter.signatures import ServingModule

__all__ = ["ServingModule", "export_saved_model", "export_trained"]
