"""Config fields that declare their default, help and constraint once.

A dataclass field made with `setting(...)` is a setting: `amr_tf.cli.training_flags`
turns it into a command-line flag (named after the field unless `flag=`
renames it), and the dataclass checks it when constructed by calling
`check(self)` in `__post_init__`, so a config never holds a value outside
its choices or range.
"""

import dataclasses
import math
import types
import typing

from amr_tf.core.errors import Argument
from amr_tf.core.errors import ArgumentError
from amr_tf.core.errors import check_choice


@dataclasses.dataclass(frozen=True)
class Range:
    """Finite numbers from `low` to `high` (None: unbounded on that side);
    `low_open` / `high_open` exclude the bound itself."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value):
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open
                                     else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open
                                     else value <= self.high)

    def __str__(self):
        """E.g. `> 0`, `>= 1` or `in [0, 1)`."""
        low, high = (None if bound is None else f"{bound:.10g}"
                     for bound in (self.low, self.high))
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{low}, "
                    f"{high}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        return f"{'<' if self.high_open else '<='} {high}"


def setting(default, help, *, choices=None, bounds=None, flag=None,
            structural=False):
    """A dataclass field that is also a flag of `python -m amr_tf.train`.

    Args:
        default: the default value (also the flag's).
        help: the flag's help text.
        choices: the allowed values, or None.
        bounds: a `Range` of allowed numbers, or None.
        flag: the flag's name when it is not the field's.
        structural: whether the value fixes the model's variables, so that
            a resumed run must keep it (see `amr_tf.cli.training_flags.STRUCTURAL_FLAGS`).
    """
    return dataclasses.field(default=default, metadata=dict(
        help=help, choices=choices, bounds=bounds, flag=flag,
        structural=structural))


def settings(config_class):
    """The setting fields of a dataclass, in declaration order."""
    return [field for field in dataclasses.fields(config_class)
            if "help" in field.metadata]


def flag_name(field):
    """The flag that sets a setting field."""
    return field.metadata["flag"] or field.name


def value_type(field):
    """The type of a setting's values: `int` for `int | None`, `tuple` for
    `tuple[str, ...]`."""
    kind = field.type
    if isinstance(kind, types.UnionType):
        kind = next(option for option in typing.get_args(kind)
                    if option is not type(None))
    return typing.get_origin(kind) or kind


def argument(config, name):
    """`Argument` of field `name` of `config`, with its flag if it has one."""
    field = config.__dataclass_fields__[name]
    return Argument(name, getattr(config, name),
                    flag_name(field) if "help" in field.metadata else None)


def check(config):
    """Raises `ArgumentError` for the first setting of `config` outside its
    choices or range (None passes: it means "the default")."""
    for field in settings(type(config)):
        value = getattr(config, field.name)
        if value is None:
            continue
        if field.metadata["choices"] is not None:
            check_choice(field.name, value, field.metadata["choices"],
                         flag_name(field))
        bounds = field.metadata["bounds"]
        if bounds is not None and value not in bounds:
            kind = "a finite number " if isinstance(value, float) else ""
            raise ArgumentError("{argument} must be {kind}{bounds}",
                                argument=argument(config, field.name),
                                kind=kind, bounds=bounds)
