"""Input pipelines: examples are dicts of "inputs", "attributes", "label"."""

from amr_tf.data.registry import DataConfig
from amr_tf.data.registry import DatasetInfo
from amr_tf.data.registry import dataset_names
from amr_tf.data.registry import get_info
from amr_tf.data.registry import load
from amr_tf.data.registry import make_batches

__all__ = [
    "DataConfig",
    "DatasetInfo",
    "dataset_names",
    "get_info",
    "load",
    "make_batches",
]
