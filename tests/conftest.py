"""Fixtures shared by the test files."""

import keras
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

# Two logical CPUs for the distribution tests (SPEC §7). This must run before
# TF initialises its devices, so it runs when pytest imports this file; one
# device strategies and plain Keras calls still use CPU:0 only.
LOGICAL_CPUS = 2
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * LOGICAL_CPUS,
)


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


@pytest.fixture(scope="session")
def two_replicas():
    """A MirroredStrategy over the two logical CPUs, one per test session.

    A second multi-device strategy in the same process can reuse the first
    one's collective instance keys and fail ("Collective instance ...
    expected type ..."), so every test shares this one.
    """
    return tf.distribute.MirroredStrategy(
        [f"CPU:{index}" for index in range(LOGICAL_CPUS)])
