"""Errors that name a problem with the user's input or the disk."""

import re


class UsageError(ValueError):
    """Bad flags, missing data or an unusable configuration.

    The training CLI prints the message on one line (`error: ...`) and exits
    with status 2 before any training starts, so a message must be a single
    line that names the offending flag, path or value and says what to do.
    """


class WriteError(OSError):
    """A checkpoint or export could not be written (a full disk, a quota).

    Its partial files are removed and what was written before (the previous
    checkpoint, the exported versions) is intact. The CLIs print the message
    on one line and exit with status 1.
    """


def write_failure_reason(error):
    """The one-line cause of an `OSError` or `tf.errors.OpError`, such as
    "No space left on device"."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    message = str(getattr(error, "message", error))
    message = re.sub(r"\{\{[^}]*\}\}|\[Op:\w+\]", "", message).strip()
    return message.splitlines()[0].rsplit("; ", 1)[-1] if message else (
        type(error).__name__)
