"""The wheel: package data, LICENSE, a console script per CLI; --config."""

import configparser
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

from amr_tf.config import presets
from amr_tf.core.errors import UsageError

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = {"amr-train", "amr-evaluate", "amr-aggregate", "amr-export",
           "amr-serve", "amr-client", "amr-explorer", "amr-experiments",
           "amr-digits"}
CONFIG_NAMES = sorted(path.stem for path in (ROOT / "configs").glob("*.cfg"))
# The `python -m` names: amr_tf.train is the design's contract, the rest the
# README's.
ENTRY_POINTS = {"amr_tf.train", "amr_tf.evaluate", "amr_tf.aggregate",
                "amr_tf.export", "amr_tf.serving.server",
                "amr_tf.serving.client", "amr_tf.serving.explorer"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `pip wheel` builds from the checkout (no dependencies)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    str(ROOT), "-w", str(out)], check=True)
    [path] = out.glob("amr_tf-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def _entry_points(wheel):
    [name] = [name for name in wheel.namelist()
              if name.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(name).decode())
    return dict(parser["console_scripts"])


def test_configs_are_the_checkouts_flagfiles():
    assert (ROOT / "configs").is_symlink()
    assert presets.names() == CONFIG_NAMES
    assert presets.path("shapes").read_text() == (
        ROOT / "configs" / "shapes.cfg").read_text()


def test_wheel_holds_configs_static_files_and_license(wheel):
    names = set(wheel.namelist())
    static = ROOT / "amr_tf" / "explorer" / "static"
    expected = {f"amr_tf/config/flagfiles/{name}.cfg" for name in CONFIG_NAMES}
    expected |= {str(path.relative_to(ROOT)) for path in static.iterdir()}
    assert expected - names == set()
    [license_name] = [name for name in names if name.endswith("/LICENSE")]
    assert "Apache License" in wheel.read(license_name).decode()


def test_wheel_has_a_console_script_per_cli(wheel):
    scripts = _entry_points(wheel)
    assert set(scripts) == SCRIPTS
    assert all(target.endswith(":run") for target in scripts.values())
    # Every command of amr_tf/cli/ (a module with a `run`) has a script, and
    # every `python -m` entry point hands over to one of them.
    commands = {f"amr_tf.cli.{path.stem}"
                for path in (ROOT / "amr_tf" / "cli").glob("*.py")
                if "\ndef run():" in path.read_text()}
    targets = {target.split(":")[0] for target in scripts.values()}
    assert commands == targets
    entry_points = [path for path in (ROOT / "amr_tf").rglob("*.py")
                    if 'if __name__ == "__main__":' in path.read_text()]
    assert {".".join(path.relative_to(ROOT).with_suffix("").parts)
            for path in entry_points} == ENTRY_POINTS
    for path in entry_points:
        [command] = re.findall(r"^from (amr_tf\.cli\.\w+) import run$",
                               path.read_text(), re.MULTILINE)
        assert command in targets, path
    # Each `run` imports and takes no arguments (one process: the CLIs'
    # flags are defined at import).
    check = ("import importlib, inspect, sys\n"
             "for target in sys.argv[1:]:\n"
             "    module, name = target.split(':')\n"
             "    run = getattr(importlib.import_module(module), name)\n"
             "    assert not inspect.signature(run).parameters, target\n")
    subprocess.run([sys.executable, "-c", check, *scripts.values()],
                   cwd=ROOT, check=True)


def test_expand_adds_the_flagfile_after_config():
    shapes = f"--flagfile={presets.path('shapes')}"
    assert presets.expand(["amr-train", "--config=shapes", "--steps=7"]) == [
        "amr-train", "--config=shapes", shapes, "--steps=7"]
    assert presets.expand(["amr-train", "--config", "shapes"]) == [
        "amr-train", "--config", "shapes", shapes]
    with pytest.raises(UsageError, match="unknown name='nope'"):
        presets.expand(["amr-train", "--config=nope"])


_RESOLVE = """
import sys
from amr_tf.cli import training_flags as train_flags
from amr_tf.cli import train
from amr_tf.config import flag_text
train.parse_flags(["amr-train", *sys.argv[1:]])
print(flag_text.flag_text(train_flags.config_from_flags()), end="")
"""


def _resolved(*args):
    """The training flags `amr-train ARGS` resolves to, as flagfile text."""
    return subprocess.run([sys.executable, "-c", _RESOLVE, *args], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def test_config_resolves_like_the_flagfile():
    resolved = _resolved("--config=shapes", "--steps=7")
    assert resolved == _resolved("--flagfile=configs/shapes.cfg", "--steps=7")
    assert "--steps=7\n" in resolved
    assert "--model_dir=runs/shapes\n" in resolved


def test_unknown_config_fails_with_one_line_naming_the_configs():
    result = subprocess.run(
        [sys.executable, "-m", "amr_tf.train", "--config=nope"],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("error:")]
    assert errors == ["error: unknown --config=nope; choose one of "
                      + ", ".join(CONFIG_NAMES)]


def _help(*command):
    result = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_shows_the_docstring_and_flags_and_exits_0():
    # A console script: `amr-serve --help` runs server.run().
    served = _help("-c", "import sys; sys.argv[0] = 'amr-serve'; "
                   "from amr_tf.serving import server; server.run()")
    assert served.startswith("A stand-in for TF Serving")
    assert "--model_base_path" in served
    trained = _help("-m", "amr_tf.train")
    assert trained.startswith("Train AMR, ARAE or ACAI")
    assert "--config" in trained and "--steps" in trained
