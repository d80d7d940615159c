"""The paper's experiments as one command: `amr-experiments NAME [flags]`
(or `python -m amr_tf.experiments NAME`); `amr-experiments NAME --help`
lists NAME's flags."""

import importlib
import sys

from amr_tf import cli

NAMES = ("class_mixer", "fid_table", "lines", "spiral")


def run():
    """The `amr-experiments` console script."""
    name = sys.argv[1] if len(sys.argv) > 1 else None
    if name in ("-h", "--help"):
        print(f"usage: {sys.argv[0]} NAME [--flag=value ...]; NAME one of "
              f"{', '.join(NAMES)}")
        return
    if name not in NAMES:
        cli.fail(f"name an experiment first: one of {', '.join(NAMES)}")
    experiment = importlib.import_module(f"{__package__}.{name}")
    cli.run_main(experiment.main,
                 argv=[f"{sys.argv[0]} {name}", *sys.argv[2:]])


if __name__ == "__main__":
    run()
