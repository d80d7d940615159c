"""A quiet start for the command-line tools.

TensorFlow's C++ runtime logs as it loads (oneDNN, CPU features, the CUDA
`cudart_stub` and `cuInit` lines), some of it before any Python code could
filter it. When this process runs one of the package's tools
(`python -m amr_tf.X`, or an `amr-*` console script), `amr_tf/__init__.py`
calls `quiet_tensorflow()`, which sets TF_CPP_MIN_LOG_LEVEL=3 (fatal errors
only), imports TensorFlow with the process's stderr sent to a temporary
file (shown if the import fails), and lets TensorFlow's Python logger show
errors only (it warns of deprecated TF calls inside TF and this package).
Set TF_CPP_MIN_LOG_LEVEL yourself (0 shows every line) to see it all: a
value you set wins, and then nothing is hidden.
A plain `import amr_tf` (a notebook, a script) changes nothing.
"""

import contextlib
import os
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LOG_LEVEL = "3"
COMMAND_PREFIX = "amr-"  # The console scripts of pyproject.toml.


def started_as_command(argv):
    """Whether `argv` (`sys.argv`) is that of a tool of this package.

    While Python imports the package of a `python -m` module, `argv[0]` is
    "-m"; a console script's `argv[0]` is its path.
    """
    first = argv[0] if argv else ""
    return first == "-m" or os.path.basename(first).startswith(COMMAND_PREFIX)


def quiet_tensorflow():
    """Imports TensorFlow without its start-up lines, unless the user set
    TF_CPP_MIN_LOG_LEVEL."""
    if LOG_LEVEL_VARIABLE in os.environ:
        return
    os.environ[LOG_LEVEL_VARIABLE] = QUIET_LOG_LEVEL
    with _stderr_held_back():
        import tensorflow
    tensorflow.get_logger().setLevel("ERROR")


@contextlib.contextmanager
def _stderr_held_back():
    """Sends file descriptor 2 to a temporary file inside the block; writes
    what it caught to stderr if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            caught.seek(0)
            os.write(2, caught.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
