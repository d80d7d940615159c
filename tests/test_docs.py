"""Docstrings and docs cite the paper or docs/METHOD.md, never a spec that
is not in the repository."""

import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
METHOD = ROOT / "docs" / "METHOD.md"
SPEC_CITATION = re.compile(r"\bSPEC\s*§")
METHOD_CITATION = re.compile(r"METHOD\.md\)?\s*§\s*(\d+)")


def repository_texts():
    """{path: text} of every file git tracks or would track (not ignored)."""
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True, text=True,
    ).stdout.split("\0")
    texts = {}
    for name in filter(None, names):
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            try:
                texts[name] = path.read_text()
            except UnicodeDecodeError:  # Images and other binaries.
                continue
    return texts


@pytest.fixture(scope="module")
def texts():
    return repository_texts()


def method_sections():
    """The numbers of METHOD.md's `## n. Title` sections."""
    return {int(number) for number in
            re.findall(r"^## (\d+)\. ", METHOD.read_text(), re.MULTILINE)}


def test_no_file_cites_spec(texts):
    assert "docs/METHOD.md" in texts and "tests/test_docs.py" in texts
    citing = sorted(name for name, text in texts.items()
                    if SPEC_CITATION.search(text))
    assert citing == []


def test_method_citations_name_existing_sections(texts):
    sections = method_sections()
    assert sections == set(range(1, 8))
    cited = {(name, int(number)) for name, text in texts.items()
             for number in METHOD_CITATION.findall(text)}
    assert {number for _, number in cited} <= sections, sorted(
        (name, number) for name, number in cited if number not in sections)
    assert len({name for name, _ in cited}) >= 10


def test_citation_patterns():
    assert SPEC_CITATION.search("as in SPEC " + "§3.")  # Split: not a citation.
    assert not SPEC_CITATION.search("_SPECS = {")
    assert METHOD_CITATION.findall("[docs/METHOD.md](docs/METHOD.md) §6 and "
                                   "METHOD.md §2") == ["6", "2"]
