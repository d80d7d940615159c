"""Fixtures shared by the test files."""

import keras
import pytest
import tensorflow_datasets as tfds


@pytest.fixture
def mixed_float16():
    """Sets the global "mixed_float16" policy for one test, then resets it."""
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


@pytest.fixture
def mock_tfds(monkeypatch):
    """TFDS datasets made of 4 random examples per split, never downloaded.

    `mock_data` does not mock `is_prepared()`, which the data code checks
    before loading, so it is patched too.
    """
    monkeypatch.setattr(
        tfds.core.DatasetBuilder, "is_prepared", lambda self: True
    )
    with tfds.testing.mock_data(
        num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        yield
