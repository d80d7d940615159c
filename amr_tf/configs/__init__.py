"""The packaged flagfiles, found by name: `--config=shapes` is this folder's
`shapes.cfg` (the repository's `configs/` links here)."""

import pathlib
import sys

from absl import flags

from amr_tf.errors import check_choice

CONFIG_DIR = pathlib.Path(__file__).parent
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


def define_flag(module_name, help_text):
    """Defines `--config` (default None) as a key flag of `module_name`.

    `amr-train` and the FID table each take a packaged config's name; a
    process that imports both (the tests) shares one flag, whose help is the
    first tool's.
    """
    if module_name == "__main__":  # absl files `python -m` flags so.
        module_name = sys.argv[0]
    if "config" in flags.FLAGS:
        flags.FLAGS.register_key_flag_for_module(module_name,
                                                 flags.FLAGS["config"])
    else:
        flags.DEFINE_string("config", None, help_text, module_name=module_name)


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
