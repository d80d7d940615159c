"""The Bazel BUILD file covers every module and test file."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def parse_build(text):
    """Evaluates BUILD (Starlark is Python-like) with recording stubs.

    Returns a dict of rule kind -> list of keyword-argument dicts.
    """
    rules = {"py_library": [], "py_binary": [], "py_test": []}

    def recorder(kind):
        return lambda **kwargs: rules[kind].append(kwargs)

    namespace = {kind: recorder(kind) for kind in rules}
    namespace.update(
        load=lambda *args: None,
        package=lambda **kwargs: None,
        licenses=lambda *args: None,
        requirement=lambda name: f"@pip//{name}",
    )
    exec(compile(text, "BUILD", "exec"), namespace)
    return rules


@pytest.fixture(scope="module")
def rules():
    return parse_build((ROOT / "BUILD").read_text())


def _sources(rules, *kinds):
    return {src for kind in kinds for rule in rules[kind] for src in rule["srcs"]}


def test_every_module_is_in_a_library_or_binary(rules):
    modules = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "amr_tf").rglob("*.py")
    }
    covered = _sources(rules, "py_library", "py_binary")
    assert modules - covered == set()


def test_every_test_file_has_a_py_test(rules):
    test_files = {
        str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob("test_*.py")
    }
    assert test_files - _sources(rules, "py_test") == set()


def test_every_source_named_in_build_exists(rules):
    named = _sources(rules, "py_library", "py_binary", "py_test")
    assert {src for src in named if not (ROOT / src).exists()} == set()


def test_local_deps_name_defined_targets(rules):
    names = {rule["name"] for kind in rules.values() for rule in kind}
    local_deps = {
        dep[1:]
        for kind in rules.values()
        for rule in kind
        for dep in rule.get("deps", [])
        if dep.startswith(":")
    }
    assert local_deps - names == set()


def test_parser_reports_uncovered_files():
    rules = parse_build('py_library(name = "errors", srcs = ["amr_tf/errors.py"])')
    assert _sources(rules, "py_library") == {"amr_tf/errors.py"}
    assert rules["py_test"] == []
