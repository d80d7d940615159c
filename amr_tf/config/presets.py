"""The packaged flagfiles, found by name: `--config=shapes` is
`flagfiles/shapes.cfg` beside this module (the repository's `configs/`
links there)."""

import pathlib

from amr_tf.core.errors import check_choice

CONFIG_DIR = pathlib.Path(__file__).with_name("flagfiles")
SUFFIX = ".cfg"


def names():
    """The packaged config names, sorted."""
    return sorted(path.stem for path in CONFIG_DIR.glob(f"*{SUFFIX}"))


def path(name):
    """The flagfile of config `name`.

    Raises:
        UsageError: no packaged config has that name.
    """
    check_choice("name", name, names(), flag="config")
    return CONFIG_DIR / f"{name}{SUFFIX}"


def expand(argv):
    """`argv` with `--flagfile=PATH` after each `--config=NAME` (or
    `--config NAME`), so flags after it win, as with --flagfile.

    Raises:
        UsageError: an unknown config name.
    """
    expanded = []
    args = iter(argv)
    for arg in args:
        expanded.append(arg)
        if arg == "--config":
            arg = next(args, "")
            expanded.append(arg)
            name = arg
        elif arg.startswith("--config="):
            name = arg.removeprefix("--config=")
        else:
            continue
        expanded.append(f"--flagfile={path(name)}")
    return expanded
