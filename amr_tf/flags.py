"""absl flags of `python -m amr_tf.train`, made from the config dataclasses.

Each setting of `TrainConfig` and of the `DataConfig` and
`ArchitectureConfig` nested in it (a field made with `amr_tf.fields.setting`)
is one flag: same name (unless the field says `flag=`, as `--dataset` for
`DataConfig.name` and `--arch` for `ArchitectureConfig.family`), default and
help, with its range appended to the help. `config_from_flags` builds the
config back from parsed values, so the config checks every value (choices,
ranges, finiteness) before a run starts. `--flagfile` expands in place, so
later flags win.

To add a setting, add a field to one of those dataclasses:

    new_weight: float = setting(0.0, "What it weighs.", bounds=NON_NEGATIVE)

and it is a flag, stored in `flags.txt`, and checked; mark it
`structural=True` if it changes the model's variables.
"""

import dataclasses

from absl import flags

from amr_tf import config as config_lib
from amr_tf import fields
from amr_tf import run_directory

FLAGS = flags.FLAGS


def _nested_configs(config_class):
    """The fields of `config_class` that hold a nested config dataclass."""
    return [field for field in dataclasses.fields(config_class)
            if dataclasses.is_dataclass(field.type)]


def _all_settings(config_class):
    """The setting fields of `config_class` and its nested configs, nested
    ones first."""
    nested = [setting for field in _nested_configs(config_class)
              for setting in _all_settings(field.type)]
    return nested + fields.settings(config_class)


def _define_flag(field):
    """Defines the absl flag of a setting field (in this module)."""
    name, default = fields.flag_name(field), field.default
    help_text = field.metadata["help"]
    if field.metadata["bounds"] is not None:
        help_text += f" Allowed: {field.metadata['bounds']}."
    kind = fields.value_type(field)
    choices = field.metadata["choices"]
    if kind is str and choices is not None:
        flags.DEFINE_enum(name, default, list(choices), help_text)
    elif kind is str:
        flags.DEFINE_string(name, default, help_text)
    elif kind is bool:
        flags.DEFINE_bool(name, default, help_text)
    elif kind is int:
        if choices is not None:
            help_text += f" One of {', '.join(map(str, choices))}."
        flags.DEFINE_integer(name, default, help_text)
    elif kind is float:
        flags.DEFINE_float(name, default, help_text)
    elif kind is tuple:
        flags.DEFINE_list(name, list(default), help_text)
    else:
        raise TypeError(f"no flag type for {field.name}: {field.type}")


for _setting in _all_settings(config_lib.TrainConfig):
    _define_flag(_setting)

# Flags that fix the model's variables: a resumed run must match them.
# Name -> default as flags.txt writes it (None for a None default), which a
# flags.txt from before the setting existed is taken to hold.
STRUCTURAL_FLAGS = {
    flag_name: None if FLAGS[flag_name].default is None
    else run_directory.parse_flag_text(FLAGS[flag_name].serialize())[flag_name]
    for flag_name in (fields.flag_name(field)
                      for field in _all_settings(config_lib.TrainConfig)
                      if field.metadata["structural"])}


def config_from_flags(values=FLAGS, config_class=config_lib.TrainConfig):
    """A `TrainConfig` (or `config_class`) from parsed flag values.

    Raises:
        ArgumentError: a value outside its choices or range (its message
            names the config field; `flag_message()` names the flag).
    """
    arguments = {field.name: config_from_flags(values, field.type)
                 for field in _nested_configs(config_class)}
    for field in fields.settings(config_class):
        value = values[fields.flag_name(field)].value
        arguments[field.name] = (tuple(value) if fields.value_type(field)
                                 is tuple else value)
    return config_class(**arguments)


def serialize(values=FLAGS):
    """This module's flags as flagfile text, one `--name=value` a line."""
    lines = [
        flag.serialize()
        for flag in values.get_key_flags_for_module(__name__)
        if flag.value is not None
    ]
    return "\n".join(sorted(lines)) + "\n"
