"""Fixtures shared by the test files."""

import signal
import types

import keras
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

# amr_tf before TensorFlow (and Keras, which imports it): importing amr_tf
# turns TensorFlow's oneDNN CPU kernels on, so the tests run on the kernels
# that training uses.
import amr_tf  # noqa: F401  pylint: disable=unused-import

# Two logical CPUs for the distribution tests (METHOD.md §7). This must run before
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


TINY_RUN_FLAGS = (
    "--dataset=shapes", "--image_size=16", "--arch=resnet", "--width=4",
    "--latent_size=4", "--latent_channels=4", "--mixer=class_mixer",
    "--base_mixer=bernoulli", "--batch_size=4", "--n_critic=1", "--steps=2",
    "--log_every=2", "--interpolation_pairs=1", "--interpolation_steps=2",
)


def _tf2_loader_outputs(export_path, calls):
    """NumPy outputs of `tf.saved_model.load(export_path).signatures[name](
    **inputs)` for each `(name, inputs)` of `calls`, in their order.

    The loader runs in a graph whose session closes afterwards. Called
    eagerly, each signature's in-graph batcher would keep a thread that
    wakes every millisecond for the rest of the test process (about 2 % of a
    core each; docs/SERVING.md), and the suite calls a hundred of them.
    """
    with tf.Graph().as_default() as graph:
        loaded = tf.saved_model.load(str(export_path))
        fetches = [loaded.signatures[name](**{
            key: tf.constant(value) for key, value in inputs.items()})
            for name, inputs in calls]
        with tf.compat.v1.Session(graph=graph) as session:
            # In a graph the loader's variable initialisers restore them.
            session.run(tf.compat.v1.global_variables_initializer())
            return session.run(fetches)


@pytest.fixture(scope="session")
def tf2_loader():
    """`outputs(export_path, [(signature, inputs), ...])`: the signatures'
    outputs through `tf.saved_model.load`, as dicts of NumPy arrays."""
    return _tf2_loader_outputs


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A class-mixer AMR on 16 px shapes, trained 2 iterations in process;
    training exported it to `<model_dir>/export/2`.

    Returns a namespace: `model`, `config`, `info`, `model_dir`,
    `export_path` and `flag_text` (its flags.txt).
    """
    from amr_tf.config import flag_text as flag_text_lib
    from amr_tf.training import trainer

    model_dir = tmp_path_factory.mktemp("tiny_run")
    config = flag_text_lib.config_from_args(
        [*TINY_RUN_FLAGS, f"--model_dir={model_dir}"])
    result = trainer.train(config)
    return types.SimpleNamespace(
        model=result.model, config=config, info=trainer.validate(config),
        model_dir=model_dir, export_path=result.export_path,
        flag_text=flag_text_lib.flag_text(config))


@pytest.fixture(scope="session")
def two_replicas():
    """A MirroredStrategy over the two logical CPUs, one per test session.

    A second multi-device strategy in the same process can reuse the first
    one's collective instance keys and fail ("Collective instance ...
    expected type ..."), so every test shares this one.
    """
    return tf.distribute.MirroredStrategy(
        [f"CPU:{index}" for index in range(LOGICAL_CPUS)])


class SigtermAt(keras.callbacks.Callback):
    """Raises SIGTERM in this process when iteration `iteration` ends."""

    def __init__(self, iteration):
        super().__init__()
        self.iteration = iteration

    def on_train_batch_end(self, batch, logs=None):
        if self.model.completed_iterations() == self.iteration:
            signal.raise_signal(signal.SIGTERM)


@pytest.fixture
def sigterm_at():
    """`sigterm_at(n)`: a Keras callback raising SIGTERM in this process
    when training iteration n ends (as a scheduler's preemption would)."""
    return SigtermAt
