"""BUILD is what tools/build_deps.py generates from the imports, and the
Bazel module pins what pyproject.toml asks for."""

import re
import textwrap

import pytest
from packaging.requirements import Requirement

from tools import build_deps

ROOT = build_deps.ROOT


def test_build_matches_the_imports():
    problems = build_deps.drift((ROOT / "BUILD").read_text(),
                                build_deps.Generator().build_text())
    assert not problems, (
        f"BUILD has drifted from the imports; regenerate it with "
        f"`{build_deps.REGENERATE}`:\n" + "\n".join(problems))


def lock_pins():
    lines = (ROOT / build_deps.LOCK_FILE).read_text().splitlines()
    return {build_deps.requirement_name(line): line.split("==")[1]
            for line in lines if line and not line.startswith("#")}


def test_lock_pins_every_requirement_within_pyproject_bounds():
    pins = lock_pins()
    project = build_deps.Generator().project
    for specifier in [*project["dependencies"],
                      *project["optional-dependencies"]["test"]]:
        requirement = Requirement(specifier)
        name = build_deps.normalise(requirement.name)
        assert requirement.specifier.contains(pins[name]), (specifier, pins[name])
    used = set(re.findall(r'requirement\("([^"]+)"\)',
                          (ROOT / "BUILD").read_text()))
    assert used and used <= pins.keys()


def test_module_declares_rules_python_the_toolchain_and_the_pip_hub():
    module = (ROOT / "MODULE.bazel").read_text()
    assert 'bazel_dep(name = "rules_python"' in module
    lock_header = (ROOT / build_deps.LOCK_FILE).read_text().splitlines()[1]
    version = re.search(r"CPython (\d+\.\d+)", lock_header).group(1)
    assert module.count(f'python_version = "{version}"') == 2
    assert f'requirements_lock = "//:{build_deps.LOCK_FILE}"' in module
    hub = re.search(r'hub_name = "(\w+)"', module).group(1)
    assert f'use_repo(pip, "{hub}")' in module
    assert f'load("@{hub}//:requirements.bzl", "requirement")' in build_deps.HEADER


def test_library_data_ships_the_package_data_and_matches_files():
    package_data = build_deps.Generator().pyproject["tool"]["setuptools"][
        "package-data"]
    declared = {pattern for patterns in build_deps.LIBRARY_DATA.values()
                for pattern in patterns}
    assert declared == {f"{package.replace('.', '/')}/{pattern}"
                        for package, patterns in package_data.items()
                        for pattern in patterns}
    test_data = {pattern for attributes in build_deps.TEST_ATTRIBUTES.values()
                 for pattern in attributes.get("data", [])}
    assert [pattern for pattern in sorted(declared | test_data)
            if not list(ROOT.glob(pattern))] == []


# --------------------------------------------- the generator on a small tree
PYPROJECT = """
[project]
name = "amr_tf"
dependencies = ["numpy>=1.26", "absl-py>=2.1"]
[project.optional-dependencies]
test = ["pytest>=8"]
[project.scripts]
amr-run = "amr_tf.run:main"
"""
FILES = {
    "amr_tf/__init__.py": "",
    "amr_tf/errors.py": "import os\n",
    "amr_tf/data/__init__.py": "from amr_tf.data.points import load\n",
    "amr_tf/data/points.py": "from amr_tf.errors import UsageError\n",
    "amr_tf/run.py": textwrap.dedent("""\
        from absl import flags
        from amr_tf import data
        from amr_tf import errors as errors_lib

        def main():
            import numpy as np  # A lazy import is a dep too.

        if __name__ == "__main__":
            main()
        """),
    "benchmarks/timing.py": "import time\nfrom amr_tf.data import points\n",
    "tests/conftest.py": "import pytest\n",
    "tests/test_run.py": 'import subprocess\nARGS = ["-m", "amr_tf.run"]\n',
}


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    for path, text in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def rules_of(root):
    return build_deps.parse_build(build_deps.Generator(root).build_text())


def test_targets_and_deps_come_from_the_imports(tree):
    rules = rules_of(tree)
    deps = {name: rule.get("deps", []) for name, rule in rules.items()}
    assert deps == {
        "amr_tf": [],
        "data": [":data_points"],
        "data_points": [":errors"],
        "errors": [],
        "run": [":data", ":errors", 'requirement("absl-py")',
                'requirement("numpy")'],
        "amr-run": [":run"],
        "benchmarks_timing": [":data_points"],
        "conftest": ['requirement("pytest")'],
        "test_run": [":conftest", ":run", 'requirement("pytest")'],
    }
    assert rules["amr-run"]["kind"] == "py_binary"
    assert rules["amr-run"]["main"] == "amr_tf/run.py"
    assert rules["conftest"]["testonly"]
    assert rules["test_run"]["main"] == build_deps.PYTEST_MAIN
    assert rules["test_run"]["args"] == ["$(location tests/test_run.py)"]


def test_a_module_with_a_main_guard_and_no_script_gets_a_binary(tree):
    (tree / "amr_tf/tool.py").write_text('if __name__ == "__main__":\n    pass\n')
    rules = rules_of(tree)
    assert rules["tool_bin"]["kind"] == "py_binary"
    assert rules["tool_bin"]["deps"] == [":tool"]


def test_an_undeclared_distribution_is_an_error(tree):
    (tree / "amr_tf/plot.py").write_text("import yaml\n")
    with pytest.raises(ValueError, match="amr_tf/plot.py imports yaml, but "
                       "neither pyproject.toml nor requirements_lock.txt has "
                       "a distribution 'yaml'"):
        build_deps.Generator(tree).build_text()
    (tree / build_deps.LOCK_FILE).write_text("# pins\npyyaml==6.0\nyaml==1.0\n")
    assert rules_of(tree)["plot"]["deps"] == ['requirement("yaml")']


def test_drift_names_missing_targets_and_missing_or_extra_deps(tree):
    generated = build_deps.Generator(tree).build_text()
    assert build_deps.drift(generated, generated) == []
    (tree / "amr_tf/errors.py").write_text("import numpy\n")  # A new import,
    (tree / "amr_tf/extra.py").write_text("")  # a new module,
    (tree / "benchmarks/timing.py").write_text("import time\n")  # one less.
    assert build_deps.drift(generated, build_deps.Generator(tree).build_text()) == [
        "missing target :extra (amr_tf/extra.py)",
        ":benchmarks_timing has extra dep :data_points",
        ':errors lacks dep requirement("numpy")',
    ]
    edited = generated.replace('name = "amr_tf",',
                               'name = "amr_tf",\n    size = "small",')
    assert "differs from the generated text" in build_deps.drift(
        edited, generated)[0]
