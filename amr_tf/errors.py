"""Errors that name a problem with the user's input."""


class UsageError(ValueError):
    """Bad flags, missing data or an unusable configuration.

    The training CLI prints the message on one line (`error: ...`) and exits
    with status 2 before any training starts, so a message must be a single
    line that names the offending flag, path or value and says what to do.
    """
