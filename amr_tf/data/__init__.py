"""Input pipelines: examples are dicts of "inputs", "attributes", "label"
(`amr_tf.data.examples`)."""

from amr_tf.data.batching import make_batches
from amr_tf.data.examples import DatasetInfo
from amr_tf.data.registry import DataConfig
from amr_tf.data.registry import dataset_names
from amr_tf.data.registry import get_info
from amr_tf.data.registry import load

__all__ = [
    "DataConfig",
    "DatasetInfo",
    "dataset_names",
    "get_info",
    "load",
    "make_batches",
]
