"""Rebuilding a trained model from its run directory.

A run's `model_dir` holds `flags.txt` (its flags as a flagfile) and
`checkpoints/` (`amr_tf.training.run_directory`). `load_trained(model_dir)`
gives back the config, the dataset info and the model with its latest
checkpoint restored as training restores it
(`amr_tf.training.checkpointing`); tools that evaluate or export a run
start there.
"""

import collections
import dataclasses
import os

import tensorflow as tf

from amr_tf.config import flag_text as flag_text_lib
from amr_tf.core.errors import UsageError
from amr_tf.training import checkpointing
from amr_tf.training import model_builder
from amr_tf.training import run_directory
from amr_tf.training import trainer

Restored = collections.namedtuple(
    "Restored", ["config", "info", "model", "flag_text"], defaults=("",))
Restored.__doc__ = """A trained run: `TrainConfig`, `DatasetInfo`, model, and
the text of its `flags.txt` ("" when built in process)."""


def load_trained(model_dir):
    """Rebuilds the run in `model_dir` and restores its latest checkpoint.

    The dataset's shapes and attribute names come from the run's
    `dataset_info.json`, so this works where the training data is absent;
    only a run from before that file existed reads them from its data.

    Returns:
        `Restored(config, info, model, flag_text)`.

    Raises:
        UsageError: no `flags.txt`, no checkpoint, or (for an older run)
            data that is missing.
    """
    flag_text = run_directory.read_flag_text(model_dir)
    config = dataclasses.replace(
        flag_text_lib.config_from_flag_text(flag_text), model_dir=model_dir)
    info = trainer.validate(config,
                            run_directory.read_dataset_info(model_dir))
    checkpoint_dir = os.path.join(model_dir, run_directory.CHECKPOINTS)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest is None:
        raise UsageError(f"{checkpoint_dir} holds no checkpoint: train the "
                         f"run first (python -m amr_tf.train "
                         f"--flagfile={model_dir}/{run_directory.FLAGFILE})")
    model = model_builder.build_model(config, info)
    checkpointing.restore_checkpoint(model, latest)
    return Restored(config, info, model, flag_text)
