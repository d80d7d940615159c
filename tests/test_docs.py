"""Docstrings and docs cite the paper or docs/METHOD.md, never a spec that
is not in the repository; the pages' links resolve; and the docs' tables of
signatures, logged loss terms and flag defaults match the code."""

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


# ------------------------------------------------------- pages and links
DOCS = ROOT / "docs"
README = ROOT / "README.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
BACKTICKED = re.compile(r"`([^`]+)`")


def markdown_pages():
    """The pages whose links must resolve."""
    return [README, ROOT / "export" / "README.md",
            ROOT / "benchmarks" / "README.md", *sorted(DOCS.glob("*.md"))]


def heading_anchors(path):
    """GitHub's anchors of the headings of a Markdown page."""
    anchors = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            anchors.add(title.replace(" ", "-"))
    return anchors


def section(path, heading):
    """The text under `heading` (a whole heading line) up to the next heading
    of the same or a higher level."""
    lines = path.read_text().splitlines()
    start = lines.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    body = []
    for line in lines[start + 1:]:
        hashes = len(line) - len(line.lstrip("#"))
        if 0 < hashes <= level and line[hashes:hashes + 1] == " ":
            break
        body.append(line)
    return "\n".join(body)


def table_rows(text):
    """The body rows of the first Markdown table in `text`, as cell lists."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) > 2, "no table"
    return [[cell.strip() for cell in row.strip("|").split("|")]
            for row in rows[2:]]


def test_pages_exist():
    for name in ("TRAINING", "EVALUATION", "SERVING", "DEVELOPMENT",
                 "ARCHITECTURE", "METHOD", "RESULTS"):
        assert (DOCS / f"{name}.md").is_file(), name


def test_relative_links_resolve():
    broken = []
    for page in markdown_pages():
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (page.parent / file_part).resolve() if file_part else page
            if not linked.exists():
                broken.append((page.name, target))
            elif anchor and linked.suffix == ".md" and (
                    anchor not in heading_anchors(linked)):
                broken.append((page.name, target))
    assert broken == []


def test_link_check_sees_links():
    assert LINK.findall("![a](docs/x.png) and [b](../y.md#z)") == [
        "docs/x.png", "../y.md#z"]
    assert "signatures-public-contract" in heading_anchors(DOCS / "SERVING.md")


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL).group(1)
    assert text.index("```bash") < text.index("\n## ")
    assert block.splitlines() == [
        "pip install -e . && python -m amr_tf.train --flagfile=configs/shapes.cfg",
        "tools/install_test_deps.sh && pip install -e '.[test]' && python -m pytest -q",
    ]
    # CI runs the README's test command as written.
    assert block.splitlines()[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_is_a_short_map():
    assert len(README.read_text().splitlines()) <= 200


def test_readme_layout_names_every_package_and_folder():
    rows = table_rows(section(README, "## Layout"))
    folders = [BACKTICKED.match(row[0]).group(1) for row in rows]
    for folder in folders:
        assert (ROOT / folder).is_dir(), folder
    packages = {f"amr_tf/{path.parent.name}/"
                for path in (ROOT / "amr_tf").glob("*/__init__.py")}
    assert packages <= set(folders), sorted(packages - set(folders))


def test_no_old_module_paths_in_docs():
    old = re.compile(
        r"python -m amr_tf\.(experiments|data\.digits_folder)\b"
        r"|amr_tf[./](errors|fields|seeds|replicas|distribution|optimizers"
        r"|losses|mixers|inference|models|objectives|visualize|flags|configs"
        r"|console|restore|version_folders|model_builder|checkpointing"
        r"|final_figure|run_directory)\b"
        r"|amr_tf[./]serving[./](contract|bundle|predict|warmup|repository"
        r"|rest|service|background)\b"
        r"|from amr_tf\.serving\.client import|amr_tf\.export\.read_metadata")
    found = [(page.name, match.group(0)) for page in markdown_pages()
             for match in old.finditer(page.read_text())]
    assert found == []


# ------------------------------------------- tables checked against code
def test_signatures_table_matches_contract():
    from amr_tf.tfserving import contract

    rows = table_rows(section(DOCS / "SERVING.md",
                              "## Signatures (public contract)"))
    table = {}
    for name_cell, inputs, outputs in rows:
        names = BACKTICKED.findall(name_cell)
        name = names[0]
        if contract.DEFAULT_SIGNATURE_KEY in names[1:]:
            assert name == contract.DEFAULT_SIGNATURE, name_cell
        if "class-mixer" in name_cell:
            assert name in contract.CLASS_MIXER_SIGNATURES, name_cell
        table[name] = contract.Signature(tuple(BACKTICKED.findall(inputs)),
                                         tuple(BACKTICKED.findall(outputs)))
    assert table == contract.SIGNATURES


def _logged_names():
    """Every name an objective logs, with every optional term switched on."""
    import keras

    from amr_tf.core import mixers
    from amr_tf.core import objectives
    from amr_tf.core.models import ArchitectureConfig
    from amr_tf.core.models import build_networks
    from amr_tf.core.objectives.base import DISCRIMINATOR
    from amr_tf.core.objectives.base import GENERATOR
    from amr_tf.core.objectives.base import tracker_name

    keras.utils.set_random_seed(0)
    arch = ArchitectureConfig("resnet", width=4, latent_size=4,
                              latent_channels=4)
    shape = (8, 8, 3)
    models = [
        objectives.AMR(*build_networks(arch, shape, 3),
                       mixer=mixers.build_mixer("bernoulli"),
                       class_mixer=mixers.ClassMixer(4),
                       consistency_weight=1.0, mask_sparsity_weight=0.01,
                       gradient_penalty=10.0),
        objectives.AMR(*build_networks(arch, shape, 0),
                       mixer=mixers.build_mixer("mixup"),
                       consistency_weight=1.0),
        objectives.ARAE(*build_networks(arch, shape, 0)),
        objectives.ACAI(*build_networks(arch, shape, 0)),
    ]
    names = set()
    for model in models:
        assert set(model.term_weights) == {GENERATOR, DISCRIMINATOR}
        assert model.term_weights == {GENERATOR: model.generator_terms(),
                                      DISCRIMINATOR: model.discriminator_terms()}
        names |= {tracker_name(prefix, name, weight)
                  for prefix, weights in model.term_weights.items()
                  for name, weight in weights.items()}
        names |= {f"{prefix}_total" for prefix in model.term_weights}
        assert names >= set(model.trackers)
    return names


# Backticked words of the section that are not logged names.
_NOT_TERMS = {"generator_terms", "discriminator_terms"}


def test_logged_loss_terms_match_the_objectives():
    text = section(DOCS / "TRAINING.md", "### Logged loss terms")
    documented = {word for word in BACKTICKED.findall(text)
                  if re.fullmatch(r"[a-z_]+", word)} - _NOT_TERMS
    logged = _logged_names()
    assert "attribute_accuracy_real" in logged  # a watched value, bare.
    assert "d_gradient_penalty" in logged
    assert documented == logged, (sorted(logged - documented),
                                  sorted(documented - logged))


def _same_default(shown, default):
    shown = shown.strip().strip("`")
    if shown == "off":
        return default is None or default is False
    if shown == "on":
        return default is True
    if isinstance(default, bool) or default is None:
        return False
    if isinstance(default, (int, float)):
        try:
            return float(shown) == float(default)
        except ValueError:
            return False
    return shown == str(default)


def test_same_default():
    assert _same_default("`shapes`", "shapes")
    assert _same_default("2e-4", 0.0002) and _same_default("10", 10.0)
    assert _same_default("off", None) and _same_default("off", False)
    assert not _same_default("off", 0) and not _same_default("0", None)
    assert not _same_default("5", 3) and not _same_default("`a`", "b")


def test_main_flags_show_their_defaults():
    from amr_tf.config import flag_text
    from amr_tf.core import fields

    settings = {fields.flag_name(field): field
                for field in flag_text.all_settings()}
    rows = table_rows(section(DOCS / "TRAINING.md", "## Main flags"))
    assert len(rows) >= 10
    seen = set()
    for flag_cell, default_cell, meaning in rows:
        flags = re.findall(r"`--(\w+)`", flag_cell)
        defaults = re.split(r" / |, ", default_cell)
        assert flags and len(flags) == len(defaults), flag_cell
        for flag, shown in zip(flags, defaults):
            assert flag in settings, flag
            assert _same_default(shown, settings[flag].default), (
                flag, shown, settings[flag].default)
            seen.add(flag)
        # A row that starts its meaning with the choices lists them all.
        leading = re.match(r"((?:`[^`]+`(?:, )?)+)", meaning)
        if len(flags) == 1 and leading:
            choices = settings[flags[0]].metadata["choices"]
            assert set(BACKTICKED.findall(leading.group(1))) == set(choices), (
                flags[0])
    assert {"dataset", "objective", "mixer", "steps", "batch_size"} <= seen
