"""The `main` of every Bazel py_test: runs pytest on the files given as
arguments (a test file run as a script would define its tests and exit 0)."""

import sys

import pytest

sys.exit(pytest.main(sys.argv[1:]))
