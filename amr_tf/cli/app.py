"""What the command-line tools share: one-line errors, flag parsing, help.

Bad flags, data or configs exit with status 2 and one line `error: ...`.
Library errors name the arguments they are about (`family='vgg'`); `fail`
names them by the flags that set them (`--arch=vgg`).
"""

import sys

from absl import app
from absl import flags

from amr_tf.core.errors import ArgumentError

USAGE_EXIT_CODE = 2


def fail(error, exit_code=USAGE_EXIT_CODE):
    """Prints a one-line error and exits (by default with the usage status).

    Args:
        error: a message, or an exception; an `ArgumentError` is shown with
            its arguments named by their flags.
    """
    if isinstance(error, ArgumentError):
        error = error.flag_message()
    print(f"error: {error}", file=sys.stderr)
    sys.exit(exit_code)


def parse_flags(argv):
    """absl's parser, but bad flags exit 2 with one line, like bad data.

    Pass as `app.run(main, flags_parser=parse_flags)`.
    """
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error).splitlines()[0])


def run_main(main, flags_parser=parse_flags, argv=None):
    """`app.run(main)` whose `--help` prints the docstring and key flags of
    `main`'s module and exits 0 (absl's exits 1 and, from a console script,
    shows neither)."""
    argv = sys.argv if argv is None else argv
    if any(arg in ("-h", "-?", "--help", "--helpshort") for arg in argv[1:]):
        print(_help(main))
        return
    app.run(main, argv=argv, flags_parser=flags_parser)


def _help(main):
    module = sys.modules[main.__module__]
    # absl files the flags of the `python -m` module under sys.argv[0].
    name = sys.argv[0] if module.__name__ == "__main__" else module.__name__
    flag_help = flags.FLAGS.module_help(name)
    return (module.__doc__ or "").strip() + (f"\n\nflags:\n{flag_help}"
                                             if flag_help else "")


def reject_extra_arguments(argv):
    """Fails on positional arguments (absl leaves them in `argv[1:]`)."""
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")


def training_flags_given(module_name):
    """The training flags set on this command line: name -> `--name=value`.

    Tools that import `amr_tf.cli.training_flags` (pass its `__name__`)
    have the training flags defined too; this tells which of them the user
    passed.
    """
    return {flag.name: flag.serialize()
            for flag in flags.FLAGS.get_key_flags_for_module(module_name)
            if flag.present}


def define_config_flag(module_name, help_text):
    """Defines `--config` (default None) as a key flag of `module_name`.

    `amr-train` and `amr-experiments fid_table` each take a packaged
    config's name (`amr_tf.config.presets`); a
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
