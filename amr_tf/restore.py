"""Rebuilding training runs from their flags, and trained models from a run.

A run's `model_dir` holds `flags.txt` (its flags as a flagfile) and
`checkpoints/` (`amr_tf.run_directory`). `load_trained(model_dir)` gives back
the config, the dataset info and the model with its latest checkpoint
restored as training restores it (`amr_tf.checkpointing`); tools that
evaluate or export a run start there.

Importing this module defines the training flags (`amr_tf.flags`) on absl's
global FLAGS. Parsing here never touches their values: every parse uses fresh
copies of the flags.
"""

import collections
import copy
import dataclasses
import os

import tensorflow as tf
from absl import flags

from amr_tf import checkpointing
from amr_tf import flags as train_flags
from amr_tf import model_builder
from amr_tf import run_directory
from amr_tf import training
from amr_tf.errors import UsageError

Restored = collections.namedtuple(
    "Restored", ["config", "info", "model", "flag_text"], defaults=("",))
Restored.__doc__ = """A trained run: `TrainConfig`, `DatasetInfo`, model, and
the text of its `flags.txt` ("" when built in process)."""


def parse_training_flags(args):
    """Parses training flags into fresh `FlagValues`, defaults for the rest.

    Args:
        args: flag strings, e.g. `["--flagfile=configs/shapes.cfg",
            "--steps=10"]`; later ones win.

    Returns:
        `absl.flags.FlagValues` holding copies of the training flags; pass it
        to `amr_tf.flags.config_from_flags` and `amr_tf.flags.serialize`.

    Raises:
        UsageError: for an unknown flag or a bad value.
    """
    values = flags.FlagValues()
    module = train_flags.__name__
    for flag in train_flags.FLAGS.get_key_flags_for_module(module):
        flag = copy.deepcopy(flag)
        values[flag.name] = flag
        values.register_flag_by_module(module, flag)
    values.unparse_flags()  # The defaults, not this process's values.
    try:
        values(["amr_tf", *args])
    except flags.Error as error:
        raise UsageError(str(error).splitlines()[0]) from None
    return values


def config_from_flag_text(text):
    """The `TrainConfig` of flagfile text (`--name=value` lines)."""
    values = parse_training_flags(run_directory.flag_lines(text))
    return train_flags.config_from_flags(values)


def load_trained(model_dir):
    """Rebuilds the run in `model_dir` and restores its latest checkpoint.

    Returns:
        `Restored(config, info, model, flag_text)`.

    Raises:
        UsageError: no `flags.txt`, no checkpoint, or data that is missing.
    """
    flag_text = run_directory.read_flag_text(model_dir)
    config = dataclasses.replace(config_from_flag_text(flag_text),
                                 model_dir=model_dir)
    info = training.validate(config)
    checkpoint_dir = os.path.join(model_dir, run_directory.CHECKPOINTS)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest is None:
        raise UsageError(f"{checkpoint_dir} holds no checkpoint: train the "
                         f"run first (python -m amr_tf.train "
                         f"--flagfile={model_dir}/{run_directory.FLAGFILE})")
    model = model_builder.build_model(config, info)
    checkpointing.restore_checkpoint(model, latest)
    return Restored(config, info, model, flag_text)
