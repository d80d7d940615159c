"""Flags made from the config dataclasses; values checked before a run."""

import copy
import dataclasses
import math

import pytest
from absl import flags

from amr_tf.cli import train
from amr_tf.cli import training_flags as train_flags
from amr_tf.config import flag_text
from amr_tf.config import presets
from amr_tf.config import train_config as config_lib
from amr_tf.core import fields
from amr_tf.core.errors import Argument
from amr_tf.core.errors import ArgumentError
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import check_choice
from amr_tf.core.models import ArchitectureConfig
from amr_tf.data import DataConfig

CONFIG_CLASSES = (config_lib.TrainConfig, DataConfig, ArchitectureConfig)
SETTINGS = [(config_class, field) for config_class in CONFIG_CLASSES
            for field in fields.settings(config_class)]


def flag_of(field):
    return train_flags.FLAGS[fields.flag_name(field)]


@pytest.mark.parametrize("config_class, field", SETTINGS,
                         ids=[field.name for _, field in SETTINGS])
def test_every_setting_is_a_flag_with_its_default_and_help(config_class,
                                                           field):
    flag = flag_of(field)
    default = (list(field.default) if fields.value_type(field) is tuple
               else field.default)
    assert flag.default == default
    assert field.metadata["help"] in flag.help
    if field.metadata["bounds"] is not None:
        assert f"Allowed: {field.metadata['bounds']}." in flag.help


def test_renamed_and_structural_flags():
    assert fields.flag_name(DataConfig.__dataclass_fields__["name"]) == "dataset"
    assert fields.flag_name(
        ArchitectureConfig.__dataclass_fields__["family"]) == "arch"
    assert "max_width" not in train_flags.FLAGS  # Not a setting.
    structural = flag_text.structural_flags()
    assert tuple(structural) == (
        "dataset", "image_size", "attributes", "channels", "test_fraction",
        "arch", "width",
        "depth", "latent_size", "latent_channels", "disc_width",
        "disc_norm", "decoder_output", "disc_attribute_head", "objective",
        "mixer", "base_mixer",
        "kway_sources", "class_mixer_input")
    # The defaults a flags.txt from before a setting existed is taken to hold.
    assert structural["disc_norm"] == "spectral"
    assert structural["disc_attribute_head"] == "map"
    assert structural["width"] == "64"
    assert structural["image_size"] is None
    assert structural["test_fraction"] == "0.05"


def _absl_values(args):
    """`args` parsed by absl into fresh copies of the training flags."""
    values = flags.FlagValues()
    module = train_flags.__name__
    for flag in train_flags.FLAGS.get_key_flags_for_module(module):
        flag = copy.deepcopy(flag)
        values[flag.name] = flag
        values.register_flag_by_module(module, flag)
    values.unparse_flags()
    values(["amr_tf", *args])
    return values


def _other_value(field):
    """A valid value of `field` other than its default, as flag text."""
    choices, kind = field.metadata["choices"], fields.value_type(field)
    if choices is not None:
        return str([choice for choice in choices if choice != field.default][0])
    if kind is bool:
        return str(not field.default).lower()
    if kind is tuple:
        return "Male,Smiling"
    if kind is str:
        return "/tmp/elsewhere"
    if kind is int:  # Far below any upper bound.
        return str((field.default or field.metadata["bounds"].low) + 1)
    return str((field.default or 0.5) / 2)


@pytest.mark.parametrize("config_class, field", SETTINGS,
                         ids=[field.name for _, field in SETTINGS])
def test_each_flag_sets_its_field(config_class, field):
    """The library's parser and absl's agree on every flag, and so do their
    flagfile texts (what flags.txt holds)."""
    args = [f"--{fields.flag_name(field)}={_other_value(field)}"]
    config = flag_text.config_from_args(args)
    owner = {DataConfig: config.data, ArchitectureConfig: config.arch}.get(
        config_class, config)
    assert getattr(owner, field.name) != field.default
    values = _absl_values(args)
    assert train_flags.config_from_flags(values) == config
    absl_lines = sorted(flag.serialize() for flag in
                        values.get_key_flags_for_module(train_flags.__name__)
                        if flag.value is not None)
    assert flag_text.flag_text(config) == "\n".join(absl_lines) + "\n"


@pytest.mark.parametrize("name", presets.names())
def test_packaged_configs_read_alike_by_absl_and_the_library(name):
    args = [f"--flagfile={presets.path(name)}"]
    assert (flag_text.config_from_args(args)
            == train_flags.config_from_flags(_absl_values(args)))


def test_flagfiles_expand_in_place_and_bad_flags_name_themselves(tmp_path):
    flagfile = tmp_path / "run.cfg"
    flagfile.write_text("# a comment\n--dataset=spiral\n--width=5\n")
    config = flag_text.config_from_args(
        ["--width=3", f"--flagfile={flagfile}", "--noexport"])
    assert (config.data.name, config.arch.width, config.export) == (
        "spiral", 5, False)
    for args, message in [
            (["--widht=3"], "unknown flag --widht"),
            (["--nosteps"], "unknown flag --nosteps"),
            (["--width=wide"], "--width=wide: not an integer"),
            (["--export=maybe"], "--export=maybe: not a bool"),
            (["--steps"], "--steps needs a value"),
            ([f"--flagfile={tmp_path / 'absent.cfg'}"], "cannot read --flagfile"),
            (["steps=3"], "not a flag: 'steps=3'")]:
        with pytest.raises(UsageError, match=message):
            flag_text.config_from_args(args)


def test_serialized_flags_give_back_the_same_config():
    config = flag_text.config_from_args([
        "--flagfile=configs/celeba.cfg", "--width=7", "--learning_rate=1e-3"])
    text = flag_text.flag_text(config)
    assert flag_text.config_from_flag_text(text) == config
    assert "--arch=resnet" in text.splitlines()
    assert "--attributes=Male,Heavy_Makeup,Wearing_Lipstick" in text.splitlines()


# -------------------------------------------------- choices and ranges
def test_library_errors_name_the_argument_and_the_cli_the_flag():
    with pytest.raises(ArgumentError) as raised:
        ArchitectureConfig(family="vgg")
    assert str(raised.value) == (
        "unknown family='vgg'; choose one of resnet, acai, mlp")
    assert raised.value.flag_message() == (
        "unknown --arch=vgg; choose one of resnet, acai, mlp")
    with pytest.raises(ArgumentError) as raised:
        DataConfig(image_size=4)
    assert str(raised.value) == "image_size=4 must be >= 8"
    with pytest.raises(ArgumentError) as raised:
        config_lib.TrainConfig(recon_weight=math.nan)
    assert str(raised.value) == (
        "recon_weight=nan must be a finite number >= 0")
    assert raised.value.flag_message() == (
        "--recon_weight=nan must be a finite number >= 0")


def test_check_choice_lists_the_choices_and_names_the_flag_if_any():
    check_choice("kind", "l1", ("l1", "l2"))
    with pytest.raises(ArgumentError, match=r"^unknown kind='l3'; choose one "
                       r"of l1, l2$") as raised:
        check_choice("kind", "l3", ("l1", "l2"))
    assert raised.value.flag_message() == str(raised.value)  # No flag.
    with pytest.raises(ArgumentError) as raised:
        check_choice("channels", 2, (1, 3), flag="channels")
    assert raised.value.flag_message() == (
        "unknown --channels=2; choose one of 1, 3")


def test_an_argument_spells_lists_as_a_flag_does():
    argument = Argument("attributes", ("Male", "Smiling"), "attributes")
    assert argument.as_python() == "attributes=('Male', 'Smiling')"
    assert argument.as_flag() == "--attributes=Male,Smiling"
    assert Argument("export", False, "export").as_flag() == "--noexport"
    assert Argument("export", True, "export").as_flag() == "--export"


@pytest.mark.parametrize("bounds, inside, outside, text", [
    (fields.Range(1), [1, 2, 10**9], [0, -1, math.inf], ">= 1"),
    (fields.Range(0, low_open=True), [1e-12, 5.0], [0.0, -1.0, math.nan],
     "> 0"),
    (fields.Range(0, 1), [0.0, 0.5, 1.0], [-1e-9, 1.5, math.nan], "in [0, 1]"),
    (fields.Range(0, 1, high_open=True), [0.0, 0.99], [1.0, -math.inf],
     "in [0, 1)"),
    (fields.Range(0, 2**32 - 1), [0, 2**32 - 1], [2**32],
     "in [0, 4294967295]"),
])
def test_range_holds_finite_numbers_between_its_bounds(bounds, inside,
                                                       outside, text):
    assert all(value in bounds for value in inside)
    assert not any(value in bounds for value in outside)
    assert str(bounds) == text


def test_nested_configs_are_checked_when_replaced():
    config = config_lib.TrainConfig()
    with pytest.raises(ArgumentError, match="n_critic=0 must be >= 1"):
        dataclasses.replace(config, n_critic=0)


# ------------------------------------------------------------- the CLI
@pytest.fixture
def train_main(capsys):
    """Runs `amr-train ARGS` in this process: (exit status, last stderr
    line). The global flags go back to their defaults afterwards."""
    def run(*args):
        with pytest.raises(SystemExit) as raised:
            train.main(train.parse_flags(["amr-train", *args]))
        return raised.value.code, capsys.readouterr().err.strip().splitlines()[-1]
    yield run
    train_flags.FLAGS.unparse_flags()


@pytest.mark.parametrize("flag, message", [
    ("--learning_rate=-1", "--learning_rate=-1.0 must be a finite number > 0"),
    ("--recon_weight=nan", "--recon_weight=nan must be a finite number >= 0"),
    ("--batch_size=0", "--batch_size=0 must be >= 1"),
    ("--n_critic=0", "--n_critic=0 must be >= 1"),
    ("--acai_gamma=2", "--acai_gamma=2.0 must be a finite number in [0, 1]"),
    ("--beta_2=1", "--beta_2=1.0 must be a finite number in [0, 1)"),
    ("--disc_learning_rate=inf",
     "--disc_learning_rate=inf must be a finite number > 0"),
    ("--width=0", "--width=0 must be >= 1"),
    ("--image_size=4", "--image_size=4 must be >= 8"),
    ("--channels=2", "unknown --channels=2; choose one of 1, 3"),
    ("--kway_sources=1", "--kway_sources=1 must be >= 2"),
    ("--seed=-1", "--seed=-1 must be in [0, 4294967295]"),
])
def test_a_bad_numeric_flag_exits_2_naming_it_before_writing(
        train_main, tmp_path, flag, message):
    model_dir = tmp_path / "run"
    status, line = train_main(flag, f"--model_dir={model_dir}")
    assert (status, line) == (2, f"error: {message}")
    assert not model_dir.exists()


def test_a_bad_flag_leaves_an_existing_run_untouched(train_main, tmp_path):
    (tmp_path / "flags.txt").write_text("--width=4\n")
    status, line = train_main("--n_critic=0", f"--model_dir={tmp_path}")
    assert (status, line) == (2, "error: --n_critic=0 must be >= 1")
    assert [path.name for path in tmp_path.iterdir()] == ["flags.txt"]
    assert (tmp_path / "flags.txt").read_text() == "--width=4\n"
