"""absl flags of `python -m amr_tf.train`, made from the config dataclasses.

Each setting of `TrainConfig` and of the `DataConfig` and
`ArchitectureConfig` nested in it (a field made with `amr_tf.core.fields.setting`)
is one flag: same name (unless the field says `flag=`, as `--dataset` for
`DataConfig.name` and `--arch` for `ArchitectureConfig.family`), default and
help, with its range appended to the help. `config_from_flags` builds the
config back from parsed values, so the config checks every value (choices,
ranges, finiteness) before a run starts. `--flagfile` expands in place, so
later flags win. The library reads and writes the same flags without absl
(`amr_tf.config.flag_text`).

To add a setting, add a field to one of those dataclasses:

    new_weight: float = setting(0.0, "What it weighs.", bounds=NON_NEGATIVE)

and it is a flag, stored in `flags.txt`, and checked; mark it
`structural=True` if it changes the model's variables.
"""

from absl import flags

from amr_tf.config import flag_text
from amr_tf.config.train_config import TrainConfig
from amr_tf.core import fields

FLAGS = flags.FLAGS


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


for _setting in flag_text.all_settings():
    _define_flag(_setting)


def config_from_flags(values=FLAGS, config_class=TrainConfig):
    """A `TrainConfig` (or `config_class`) from parsed flag values.

    Raises:
        ArgumentError: a value outside its choices or range (its message
            names the config field; `flag_message()` names the flag).
    """
    arguments = {field.name: config_from_flags(values, field.type)
                 for field in flag_text.nested_configs(config_class)}
    for field in fields.settings(config_class):
        value = values[fields.flag_name(field)].value
        arguments[field.name] = (tuple(value) if fields.value_type(field)
                                 is tuple else value)
    return config_class(**arguments)

