"""Train AMR, ARAE or ACAI: `python -m amr_tf.train --flagfile=configs/X.cfg`.

Re-running the same command resumes from the last checkpoint in --model_dir.
Bad flags or data exit with status 2 and a one-line `error: ...` message
before any training starts.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from amr_tf import flags as train_flags
from amr_tf import training
from amr_tf.errors import UsageError

USAGE_EXIT_CODE = 2


def fail(message):
    """Prints a one-line error and exits with the usage status."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USAGE_EXIT_CODE)


def parse_flags(argv):
    """absl's parser, but bad flags exit 2 with one line, like bad data."""
    try:
        return train_flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error).splitlines()[0])


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)  # Keras prints the progress.
    config = train_flags.config_from_flags()
    try:
        result = training.train(
            config,
            flag_text=train_flags.serialize(),
            structural_flags=train_flags.STRUCTURAL_FLAGS,
        )
    except UsageError as error:
        fail(error)
    print(f"Trained {result.iterations} iterations. Outputs in {config.model_dir}:")
    print(f"  figure:      {result.figure_path}")
    print(f"  checkpoints: {config.model_dir}/checkpoints")
    print(f"  tensorboard: tensorboard --logdir {config.model_dir}/tensorboard")
    print(f"  flags:       {config.model_dir}/{training.FLAGFILE}")


def run():
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
