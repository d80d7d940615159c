"""Errors that name a problem with the user's input or the disk."""

import dataclasses
import re


class UsageError(ValueError):
    """Bad flags, missing data or an unusable configuration.

    The training CLI prints the message on one line (`error: ...`) and exits
    with status 2 before any training starts, so a message must be a single
    line that names the offending argument, path or value and says what to do.
    """


@dataclasses.dataclass(frozen=True)
class Argument:
    """The value of a named argument, and the CLI flag that sets it, if any.

    Attributes:
        name: the argument's name in the library (a config field, a
            function parameter).
        value: its value.
        flag: the command-line flag that sets it (without `--`), or None.
    """

    name: str
    value: object
    flag: str | None = None

    def as_python(self):
        """`name=value` as Python spells it, e.g. `family='vgg'`."""
        return f"{self.name}={self.value!r}"

    def as_flag(self):
        """`--flag=value` as a command line spells it, e.g. `--arch=vgg`
        (`--flag` or `--noflag` for a bool); `as_python()` when no flag sets
        the argument."""
        if self.flag is None:
            return self.as_python()
        value = self.value
        if isinstance(value, bool):
            return f"--{'' if value else 'no'}{self.flag}"
        if isinstance(value, (tuple, list)):
            value = ",".join(map(str, value))
        return f"--{self.flag}={value}"


class ArgumentError(UsageError):
    """A bad value of one or more named arguments.

    Args:
        template: a `str.format` string; its `Argument` fields are named as
            Python does (`family='vgg'`) by `str()`, and as the CLIs do
            (`--arch=vgg`) by `flag_message()`.
        **fields: the template's fields: `Argument`s and plain values.
    """

    def __init__(self, template, **fields):
        self.template = template
        self.fields = fields
        super().__init__(self._spelled(Argument.as_python))

    def flag_message(self):
        """The message with every argument named by its flag."""
        return self._spelled(Argument.as_flag)

    def _spelled(self, spell):
        return self.template.format(**{
            key: spell(value) if isinstance(value, Argument) else value
            for key, value in self.fields.items()})


def check_choice(name, value, choices, flag=None):
    """Raises `ArgumentError` unless `value` is one of `choices`.

    Args:
        name: the argument's name, e.g. "family".
        value: its value.
        choices: the allowed values, in the order the message lists them.
        flag: the CLI flag that sets the argument, if any, e.g. "arch".
    """
    if value not in choices:
        raise ArgumentError("unknown {argument}; choose one of {choices}",
                            argument=Argument(name, value, flag),
                            choices=", ".join(map(str, choices)))


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
