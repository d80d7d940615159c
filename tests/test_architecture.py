"""The architecture holds: import contracts (pyproject.toml's
[tool.importlinter], run by import-linter), the linter (ruff), and
docs/ARCHITECTURE.md against the tree."""

import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LINT_IMPORTS = pathlib.Path(sys.executable).with_name("lint-imports")
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def _contracts():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def _lint_imports(root):
    """`lint-imports` on the package under `root`: (exit code, output)."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"),
         "--no-cache"],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(root), "PATH": ""})
    return result.returncode, result.stdout + result.stderr


def test_every_import_contract_is_kept():
    code, output = _lint_imports(ROOT)
    assert code == 0, output
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in output


@pytest.mark.parametrize("module, planted, contract", [
    # The core importing the training loop: an upward import.
    ("core/losses.py", "from amr_tf.training import loop",
     "Layers: each package imports only the ones below it"),
    # Two modules of the data package importing each other.
    ("data/examples.py", "from amr_tf.data import folder",
     "No import cycle between the modules of any package"),
    # absl in a library module.
    ("data/pairs.py", "from absl import logging",
     "absl (flags, app, logging) only in the command-line modules"),
    # Keras reaching the client through the core's networks.
    ("client/clients.py", "from amr_tf.core import models",
     "The client and the explorer run without Keras or the exporter"),
])
def test_a_planted_violation_breaks_its_contract(tmp_path, module, planted,
                                                 contract):
    shutil.copytree(ROOT / "amr_tf", tmp_path / "amr_tf",
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "amr_tf" / module
    path.write_text(path.read_text() + f"\n{planted}\n")
    code, output = _lint_imports(tmp_path)
    assert code == 1
    assert f"{contract} BROKEN" in output


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_architecture_doc_has_the_contracts_layers_and_every_folder():
    """docs/ARCHITECTURE.md's layer table is the layers contract, top to
    bottom, and its folder list names every package and top-level module."""
    text = ARCHITECTURE.read_text()
    [layers] = [contract["layers"] for contract in _contracts()
                if contract.get("containers") == ["amr_tf"]]
    documented = re.findall(r"^\| (\d) \| (.+?) \|", text, re.MULTILINE)
    assert [(int(number), [name.strip(" `") for name in names.split(",")])
            for number, names in documented] == [
        (index + 1, [name.strip() for name in layer.split("|")])
        for index, layer in enumerate(layers)]
    tree = {path.name for path in (ROOT / "amr_tf").iterdir()
            if path.suffix == ".py" or (path / "__init__.py").exists()}
    listed = set(re.findall(r"^  (\w+(?:\.py|/))", text, re.MULTILINE))
    assert {name.rstrip("/") for name in listed} == tree
