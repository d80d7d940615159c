"""Fixtures shared by the test files."""

import keras
import pytest


@pytest.fixture
def mixed_float16():
    """Sets the global "mixed_float16" policy for one test, then resets it."""
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
