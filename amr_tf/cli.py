"""What the command-line tools share: one-line errors and flag parsing.

Bad flags, data or configs exit with status 2 and one line `error: ...`.
"""

import sys

from absl import flags

USAGE_EXIT_CODE = 2


def fail(message, exit_code=USAGE_EXIT_CODE):
    """Prints a one-line error and exits (by default with the usage status)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(exit_code)


def parse_flags(argv):
    """absl's parser, but bad flags exit 2 with one line, like bad data.

    Pass as `app.run(main, flags_parser=parse_flags)`.
    """
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error).splitlines()[0])


def reject_extra_arguments(argv):
    """Fails on positional arguments (absl leaves them in `argv[1:]`)."""
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")


def training_flags_given(module_name="amr_tf.flags"):
    """The training flags set on this command line: name -> `--name=value`.

    Tools that import `amr_tf.restore` have the training flags defined too;
    this tells which of them the user passed.
    """
    return {flag.name: flag.serialize()
            for flag in flags.FLAGS.get_key_flags_for_module(module_name)
            if flag.present}
