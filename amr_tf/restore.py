"""Rebuilding a trained model from its `--model_dir`."""

import collections
import copy
import dataclasses
import os

import tensorflow as tf
from absl import flags

from amr_tf import flags as train_flags
from amr_tf import training
from amr_tf.errors import UsageError

Restored = collections.namedtuple("Restored", ["config", "info", "model", "flag_text"])
Restored.__doc__ = """A trained run: its `TrainConfig`, `DatasetInfo`, the
model with the latest checkpoint restored, and the text of its `flags.txt`."""


def config_from_flag_text(text):
    """A `TrainConfig` from flagfile text (`--name=value` lines).

    The lines are parsed by a private copy of the training flags, so the
    process's own flag values are left alone.

    Raises:
        UsageError: a line names an unknown flag or a bad value.
    """
    values = flags.FlagValues()
    for flag in train_flags.FLAGS.get_key_flags_for_module(train_flags.__name__):
        values[flag.name] = copy.deepcopy(flag)
    lines = [line.strip() for line in text.splitlines()]
    try:
        values(["flags.txt", *[line for line in lines if line.startswith("--")]])
    except flags.Error as error:
        raise UsageError(f"bad flags.txt: {str(error).splitlines()[0]}") from None
    return train_flags.config_from_flags(values)


def load_trained(model_dir):
    """Rebuilds the run in `model_dir` and restores its latest checkpoint.

    Args:
        model_dir: a training run's `--model_dir` (holds `flags.txt` and
            `checkpoints/`).

    Returns:
        A `Restored`; its config's `model_dir` is `model_dir`, wherever the
        run was trained.

    Raises:
        UsageError: no such run, no checkpoint yet, or its data is missing.
    """
    flag_path = os.path.join(model_dir, training.FLAGFILE)
    if not tf.io.gfile.exists(flag_path):
        raise UsageError(f"{flag_path} not found: --model_dir must be the "
                         "folder of a training run")
    with tf.io.gfile.GFile(flag_path) as flag_file:
        flag_text = flag_file.read()
    config = dataclasses.replace(config_from_flag_text(flag_text),
                                 model_dir=model_dir)
    checkpoint_dir = os.path.join(model_dir, "checkpoints")
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest is None:
        raise UsageError(f"no checkpoint in {checkpoint_dir}: train first")
    info = training.validate(config)
    model = training.build_model(config, info)
    training.make_checkpoint(model).restore(latest).assert_existing_objects_matched()
    return Restored(config, info, model, flag_text)
