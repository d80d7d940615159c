"""The files of a training run's `model_dir`, and its flags.

    <model_dir>/flags.txt          the run's flags as a flagfile (`--name=value`)
               /dataset_info.json  the `DatasetInfo` it trained on (shapes,
                                   attribute names, class count)
               /checkpoints/       `tf.train.CheckpointManager` checkpoints
               /tensorboard/       summaries

`dataset_info.json` lets a run be rebuilt (and exported) where its training
data is absent, e.g. a folder run copied to another machine.

`flags.txt` is written by `amr_tf.training.trainer.train`, checked when a run
resumes, and read back by `amr_tf.training.restore` to rebuild the run.
"""

import dataclasses
import json
import os

import tensorflow as tf

from amr_tf.config.flag_text import parse_flag_text
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import WriteError
from amr_tf.core.errors import write_failure_reason
from amr_tf.data.examples import DatasetInfo

FLAGFILE = "flags.txt"
DATASET_INFO = "dataset_info.json"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"


def read_flag_text(model_dir):
    """The text of the `flags.txt` of the run in `model_dir`.

    Raises:
        UsageError: `model_dir` has no `flags.txt`.
    """
    path = os.path.join(model_dir, FLAGFILE)
    if not tf.io.gfile.exists(path):
        raise UsageError(f"{path} does not exist: --model_dir must be the "
                         "directory of a training run")
    with tf.io.gfile.GFile(path) as flag_file:
        return flag_file.read()


def write_flag_text(model_dir, text):
    """Writes `text` as `model_dir/flags.txt` through a temporary file and a
    rename, so the file holds the old or the new text, never a part.

    Raises:
        WriteError: the write failed (the file is unchanged).
    """
    _write_atomically(os.path.join(model_dir, FLAGFILE), text)


def write_dataset_info(model_dir, info):
    """Writes `info` (a `DatasetInfo`) as `model_dir/dataset_info.json`,
    through a temporary file and a rename.

    Raises:
        WriteError: the write failed (the file is unchanged).
    """
    _write_atomically(os.path.join(model_dir, DATASET_INFO),
                      json.dumps(dataclasses.asdict(info), indent=2) + "\n")


def read_dataset_info(model_dir):
    """The `DatasetInfo` stored with the run in `model_dir`, or None (a run
    from before the file existed)."""
    path = os.path.join(model_dir, DATASET_INFO)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as stream:
        fields = json.load(stream)
    return DatasetInfo(**{**fields,
                          "input_shape": tuple(fields["input_shape"]),
                          "attribute_names": tuple(fields["attribute_names"])})


def _write_atomically(path, text):
    """Writes `text` to `path` through a temporary file and a rename."""
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise WriteError(f"cannot write {path}: "
                         f"{write_failure_reason(error)}") from None


def check_resume_flags(model_dir, flag_text, structural_flags):
    """Raises `UsageError` if `model_dir` was trained with other structural
    flags than `flag_text` (the flagfile text of this run); a `model_dir`
    without `flags.txt` passes.

    Args:
        structural_flags: {flag name: default value text, or None}; a stored
            `flags.txt` without the flag predates it, and counts as having
            its default.
    """
    if not tf.io.gfile.exists(os.path.join(model_dir, FLAGFILE)):
        return
    stored = parse_flag_text(read_flag_text(model_dir))
    current = parse_flag_text(flag_text)
    for name, default in structural_flags.items():
        trained, asked = stored.get(name, default), current.get(name)
        if trained != asked:
            raise UsageError(
                f"{model_dir} holds a model trained with --{name}="
                f"{_or_default(trained)}, but this run asks for --{name}="
                f"{_or_default(asked)}: use another --model_dir or the same "
                "flags"
            )


def _or_default(value):
    return "<default>" if value is None else value
