"""What the command-line tools share: one-line errors and flag parsing.

Bad flags and bad input exit with status 2 and a single `error: ...` line.
"""

import sys

from absl import flags

USAGE_EXIT_CODE = 2


def fail(message, exit_code=USAGE_EXIT_CODE):
    """Prints a one-line error and exits (by default with the usage status)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(exit_code)


def parse_flags(argv):
    """absl's parser, but bad flags exit 2 with one line, like bad data."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error).splitlines()[0])
