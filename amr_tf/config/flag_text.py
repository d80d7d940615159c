"""A run's settings as flagfile text, and back, without a flag library.

A flag is a setting field (`amr_tf.core.fields.setting`) of `TrainConfig` or
of the `DataConfig` / `ArchitectureConfig` nested in it, named after the
field unless it says `flag=` (`--dataset` sets `DataConfig.name`). Flagfile
text holds one `--name=value` a line, as absl writes it and as `flags.txt`
and the packaged configs hold it:

    --dataset=shapes        a string or a choice
    --steps=500             a number
    --export / --noexport   a bool
    --attributes=a,b        a list (empty: `--attributes=`)

`config_from_args` reads such flags (with `--flagfile=PATH` expanded in
place, so later flags win) into a checked `TrainConfig`; `flag_text`
writes a config back. The command line's absl flags are made from the same
fields (`amr_tf.cli.training_flags`), so both spell every flag alike.
"""

import dataclasses
import pathlib

from amr_tf.config.train_config import TrainConfig
from amr_tf.core import fields
from amr_tf.core.errors import UsageError

FLAGFILE_FLAG = "flagfile"
# The spellings absl's boolean flags take.
_TRUE, _FALSE = ("true", "t", "1"), ("false", "f", "0")


def nested_configs(config_class):
    """The fields of `config_class` that hold a nested config dataclass."""
    return [field for field in dataclasses.fields(config_class)
            if dataclasses.is_dataclass(field.type)]


def all_settings(config_class=TrainConfig):
    """The setting fields of `config_class` and its nested configs, nested
    ones first."""
    nested = [setting for field in nested_configs(config_class)
              for setting in all_settings(field.type)]
    return nested + fields.settings(config_class)


def flag_lines(text):
    """The `--name=value` lines of flagfile `text`, stripped, in order."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line.startswith("--")]


def parse_flag_text(text):
    """{name: value string} of flagfile `text`; later lines win."""
    values = {}
    for line in flag_lines(text):
        name, _, value = line[2:].partition("=")
        values[name] = value
    return values


def serialize_value(field, value):
    """`--name=value` of a setting (`--name` / `--noname` for a bool)."""
    name = fields.flag_name(field)
    if fields.value_type(field) is bool:
        return f"--{'' if value else 'no'}{name}"
    if fields.value_type(field) is tuple:
        value = ",".join(map(str, value))
    return f"--{name}={value}"


def flag_text(config):
    """The flags of `config` as flagfile text, sorted, one a line; settings
    that are None (their default, "unset") are left out."""
    lines = [serialize_value(field, value)
             for field, value in _setting_values(config)
             if value is not None]
    return "\n".join(sorted(lines)) + "\n"


def _setting_values(config):
    """(field, value) of every setting of `config`, nested ones first."""
    pairs = []
    for field in nested_configs(type(config)):
        pairs += _setting_values(getattr(config, field.name))
    return pairs + [(field, getattr(config, field.name))
                    for field in fields.settings(type(config))]


def structural_flags(config_class=TrainConfig):
    """{flag name: default as flagfile text (None for a None default)} of
    the flags that fix the model's variables: a resumed run must match them,
    and a `flags.txt` written before a flag existed holds its default."""
    return {
        fields.flag_name(field): (
            None if field.default is None else
            serialize_value(field, field.default).partition("=")[2])
        for field in all_settings(config_class)
        if field.metadata["structural"]}


def config_from_args(args, config_class=TrainConfig):
    """A checked config from flags, e.g. `["--flagfile=configs/shapes.cfg",
    "--steps=10"]`; later flags win, the rest keep their defaults.

    Raises:
        UsageError: an unknown flag, a missing flagfile or a bad value.
    """
    by_flag = {fields.flag_name(field): field
               for field in all_settings(config_class)}
    values = {}
    for arg in _expand_flagfiles(args):
        name, has_value, text = arg[2:].partition("=")
        if name in by_flag:
            field = by_flag[name]
        elif (not has_value and name.startswith("no") and name[2:] in by_flag
              and fields.value_type(by_flag[name[2:]]) is bool):
            field, text, has_value = by_flag[name[2:]], "false", True
        else:
            raise UsageError(f"unknown flag --{name}")
        values[field] = _parse_value(field, text if has_value else None)
    return _build(config_class, values)


def config_from_flag_text(text):
    """The `TrainConfig` of flagfile text (`--name=value` lines)."""
    return config_from_args(flag_lines(text))


def _expand_flagfiles(args):
    """`args` with every `--flagfile=PATH` replaced by the file's flags."""
    expanded = []
    for arg in args:
        if not arg.startswith("--"):
            raise UsageError(f"not a flag: {arg!r} (flags are --name=value)")
        if arg.startswith(f"--{FLAGFILE_FLAG}="):
            path = pathlib.Path(arg.partition("=")[2])
            try:
                text = path.read_text()
            except OSError as error:
                raise UsageError(f"cannot read --{FLAGFILE_FLAG}={path}: "
                                 f"{error.strerror}") from None
            expanded += _expand_flagfiles(flag_lines(text))
        else:
            expanded.append(arg)
    return expanded


def _parse_value(field, text):
    """The value of setting `field` from its flag text (None: bare `--name`)."""
    kind = fields.value_type(field)
    name = fields.flag_name(field)
    if kind is bool:
        if text is None or text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise UsageError(f"--{name}={text}: not a bool (true or false)")
    if text is None:
        raise UsageError(f"--{name} needs a value (--{name}=...)")
    if kind is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise UsageError(f"--{name}={text}: not "
                             f"{'an integer' if kind is int else 'a number'}"
                             ) from None
    return text


def _build(config_class, values):
    """`config_class` with the settings of `values` ({field: value}); the
    config's own check raises `ArgumentError` for a value out of range."""
    arguments = {field.name: _build(field.type, values)
                 for field in nested_configs(config_class)}
    for field in fields.settings(config_class):
        if field in values:
            arguments[field.name] = values[field]
    return config_class(**arguments)
