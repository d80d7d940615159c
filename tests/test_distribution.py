"""Training at scale: replicas, multi-worker, mixed precision and XLA (issue 6).

Two logical CPUs come from `conftest.py`. Models are tiny (8 px images,
width 4, global batch 8) and built by `model_builder.build_model`, as the CLI
builds them.
"""

import dataclasses
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf import data
from amr_tf.config import flag_text
from amr_tf.config.train_config import TrainConfig
from amr_tf.core import distribution
from amr_tf.core.errors import ArgumentError
from amr_tf.core.errors import UsageError
from amr_tf.core.models import ArchitectureConfig
from amr_tf.data import DataConfig
from amr_tf.data import DatasetInfo
from amr_tf.training import checkpointing
from amr_tf.training import final_figure
from amr_tf.training import inputs
from amr_tf.training import model_builder

ROOT = pathlib.Path(__file__).resolve().parents[1]

IMAGE_SHAPE = (8, 8, 3)
ATTRIBUTES = ("a", "b", "c")
GLOBAL_BATCH, REPLICAS = 8, 2
INFO = DatasetInfo("synthetic", IMAGE_SHAPE, ATTRIBUTES, num_classes=0)
POINTS_INFO = DatasetInfo("synthetic", (2,), ATTRIBUTES, num_classes=0)
# Tracing a step costs seconds: n_critic = 2 where the test is about the
# iteration's layout, 1 elsewhere.
CONFIGS = {
    "amr_mixup": dict(objective="amr", mixer="mixup", n_critic=2),
    "amr_class_mixer": dict(objective="amr", mixer="class_mixer",
                            base_mixer="bernoulli", mask_sparsity_weight=0.01,
                            n_critic=1),
    "acai": dict(objective="acai", n_critic=1),
    "amr_points": dict(objective="amr", mixer="mixup", n_critic=1,
                       arch=ArchitectureConfig("mlp", width=8, depth=1,
                                               latent_channels=2)),
}


def _config(kind="amr_mixup", **overrides):
    settings = dict(
        data=DataConfig(name="shapes", image_size=8),
        arch=ArchitectureConfig("resnet", width=4, latent_size=4,
                                latent_channels=4),
        batch_size=GLOBAL_BATCH, seed=3, learning_rate=1e-3)
    return TrainConfig(**{**settings, **CONFIGS[kind], **overrides})


def _iteration_batches(config, count=1, shape=IMAGE_SHAPE, seed=0):
    """`count` iterations of data: each n_critic global batches, stacked."""
    rng = np.random.default_rng(seed)
    size = count * config.n_critic * config.batch_size
    return {
        "inputs": rng.uniform(-1, 1, (size,) + shape).astype(np.float32),
        "attributes": (rng.uniform(size=(size, len(ATTRIBUTES))) < 0.5
                       ).astype(np.float32),
        "label": np.zeros(size, np.int32),
    }


def _single_device_dataset(config, examples):
    return tf.data.Dataset.from_tensor_slices(examples).batch(
        config.n_critic * config.batch_size)


def _replica_dataset(config, strategy, examples):
    """The same iterations, each replica given its rows of every global batch.

    Replica r holds rows [r * b, (r + 1) * b) of each of the n_critic global
    batches of an iteration (b = batch_size / replicas), the layout of
    `inputs.train_dataset` under a strategy.
    """
    n_critic, local = config.n_critic, config.batch_size // REPLICAS

    def per_replica(value):
        # (iterations, n_critic, replicas, b, ...) -> (iterations, replicas,
        # n_critic * b, ...): one element per replica, in replica order.
        value = value.reshape((-1, n_critic, REPLICAS, local) + value.shape[1:])
        value = np.swapaxes(value, 1, 2)
        return value.reshape((-1, n_critic * local) + value.shape[4:])

    replica_batches = {key: per_replica(value) for key, value in examples.items()}
    return strategy.distribute_datasets_from_function(
        lambda context: tf.data.Dataset.from_tensor_slices(replica_batches))


def _fit(model, dataset, steps):
    history = model.fit(dataset, steps_per_epoch=steps, epochs=1,
                        shuffle=False, verbose=0).history
    return {name: values[-1] for name, values in history.items()}


def _weights(model):
    """Every network and mixer variable, keyed by owner and position (two
    models built in one process get different layer names)."""
    owners = [model.encoder, model.decoder, model.discriminator, *model.mixers]
    return {f"{owner.name.split('_')[0]}/{index}": np.array(v.numpy())
            for owner in owners for index, v in enumerate(owner.variables)}


def _gradient_moments(model):
    """Adam's first and second moments of every variable: with beta_1 = 0
    after one update, the gradient itself and 1 - beta_2 times its square."""
    return [np.array(v.numpy())
            for optimizer in (model.generator_optimizer,
                              model.discriminator_optimizer)
            for v in optimizer.variables if v.shape.rank]


def _max_difference(first, second):
    assert first.keys() == second.keys()
    return max(np.abs(first[path] - second[path]).max() for path in first)


# ------------------------------------ N replicas = one device, exactly
@pytest.mark.parametrize("kind", ["amr_mixup", "amr_class_mixer", "acai"])
def test_mirrored_iteration_equals_the_single_device_iteration(kind,
                                                             two_replicas):
    """One iteration (n_critic D updates + 1 G update) on two replicas gives
    the weights and logged losses of one device on the same global batch:
    the draws are made for the global batch, mixes pair examples across
    replicas, and gradients are averaged over the global batch."""
    config = _config(kind)
    examples = _iteration_batches(config)

    single = model_builder.build_model(config, INFO)
    initial = _weights(single)
    single_losses = _fit(single, _single_device_dataset(config, examples), 1)

    strategy = two_replicas
    assert strategy.num_replicas_in_sync == REPLICAS
    with strategy.scope():
        mirrored = model_builder.build_model(config, INFO)
    np.testing.assert_equal(_weights(mirrored), initial)
    mirrored_losses = _fit(mirrored, _replica_dataset(config, strategy, examples), 1)

    assert mirrored.completed_iterations() == single.completed_iterations() == 1
    # The iteration moved the weights far more than the tolerance ...
    assert _max_difference(_weights(single), initial) > 1e-3
    # ... and both ways of running it moved them the same. Adam's update
    # hardly depends on the gradient's scale, its moments do: compare them.
    assert _max_difference(_weights(mirrored), _weights(single)) <= 1e-5
    for mirrored_moment, moment in zip(_gradient_moments(mirrored),
                                       _gradient_moments(single),
                                       strict=True):
        np.testing.assert_allclose(mirrored_moment, moment, rtol=1e-3,
                                   atol=1e-7)
    assert mirrored_losses.keys() == single_losses.keys()
    for name, value in single_losses.items():
        np.testing.assert_allclose(mirrored_losses[name], value, rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_jit_compile_needs_one_replica(two_replicas):
    with pytest.raises(UsageError, match="jit_compile=True needs one replica"):
        distribution.check_strategy(_config(jit_compile=True), two_replicas)
    with pytest.raises(UsageError, match="batch_size=7 must be a multiple"):
        distribution.check_strategy(_config(batch_size=7), two_replicas)
    distribution.check_strategy(_config(jit_compile=True),
                                tf.distribute.get_strategy())


# ------------------------------------------------------- input pipeline
def test_input_pipeline_gives_each_replica_its_share(two_replicas):
    """Under a strategy a replica's batch holds n_critic sub-batches of
    batch_size / replicas; with one pipeline per worker, the workers' shards
    of the examples are disjoint."""
    config = _config(data=DataConfig(name="shapes", image_size=8,
                                     num_examples=32))
    info = data.get_info(config.data)
    local, n_critic = GLOBAL_BATCH // REPLICAS, config.n_critic
    dataset = two_replicas.distribute_datasets_from_function(
        lambda context: inputs.train_dataset(config, info, 0, context))
    per_replica = two_replicas.experimental_local_results(
        next(iter(dataset))["inputs"])
    assert [batch.shape[0] for batch in per_replica] == [n_critic * local] * 2

    def shard(index):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=index,
            num_replicas_in_sync=2)
        batches = inputs.train_dataset(config, info, 0, context).take(2)
        # 2 batches of n_critic * b = 8 examples: one epoch of the 16 in a shard.
        return {image.tobytes() for batch in batches
                for image in batch["inputs"].numpy()}

    first, second = shard(0), shard(1)
    assert len(first) == len(second) == 16
    assert not first & second


# ---------------------------------------------------------- multi-worker
WORKER = r"""
import signal
import sys
import keras
import numpy as np
from amr_tf.cli import training_flags as train_flags
from amr_tf.training import trainer

output, sigterm_at = sys.argv[1], int(sys.argv[2])


class SigtermAt(keras.callbacks.Callback):
    # Raises SIGTERM in this worker when iteration `sigterm_at` ends.
    def on_train_batch_end(self, batch, logs=None):
        if self.model.completed_iterations() == sigterm_at:
            signal.raise_signal(signal.SIGTERM)


train_flags.FLAGS(["worker", *sys.argv[3:]])
result = trainer.train(train_flags.config_from_flags(),
                         callbacks=[SigtermAt()])
model = result.model
variables = (model.encoder.variables + model.decoder.variables
             + model.discriminator.variables)
np.savez(output, iterations=model.completed_iterations(),
         preempted=result.preempted,
         **{str(index): v.numpy() for index, v in enumerate(variables)})
"""
MULTI_WORKER_FLAGS = [
    "--dataset=spiral", "--arch=mlp", "--num_examples=64", "--width=8",
    "--depth=1", "--latent_channels=2", "--batch_size=8", "--n_critic=1",
    "--steps=8", "--log_every=4", "--strategy=multi_worker",
]
WORKER_SECONDS = 300


def _free_port():
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _start_cluster(tmp_path, name, commands):
    """Starts one worker process per argv of `commands`, as one cluster
    (TF_CONFIG on loopback ports).

    Returns the processes and the files their output goes to (a pipe that
    nobody reads could fill and stall a worker): `<name>_worker<i>.log`.
    """
    cluster = {"worker": [f"localhost:{_free_port()}" for _ in commands]}
    workers, log_paths = [], []
    for index, command in enumerate(commands):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "TMPDIR": str(tmp_path),
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker",
                                                 "index": index}})}
        log_paths.append(tmp_path / f"{name}_worker{index}.log")
        with open(log_paths[-1], "w") as log:
            workers.append(subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT))
    return workers, log_paths


def _wait_for_cluster(workers, log_paths):
    """Waits for the workers to end; returns their output, asserting that
    each exited with status 0."""
    try:
        for worker in workers:
            worker.wait(timeout=WORKER_SECONDS)
    finally:
        for worker in workers:
            worker.kill()
    logs = [path.read_text() for path in log_paths]
    for worker, log in zip(workers, logs):
        assert worker.returncode == 0, log[-3000:]
    return logs


def _train_on_two_workers(tmp_path, model_dir, sigterm_at=(0, 0),
                          extra_flags=()):
    """Trains `MULTI_WORKER_FLAGS` and `extra_flags` on a cluster of two
    worker processes; worker i raises SIGTERM in itself when iteration
    `sigterm_at[i]` ends (0: never).

    Returns each worker's result: iterations, preempted and its weights.
    """
    outputs = [tmp_path / f"{model_dir.name}_worker{index}.npz"
               for index in range(2)]
    _wait_for_cluster(*_start_cluster(tmp_path, model_dir.name, [
        [sys.executable, "-c", WORKER, str(output), str(iteration),
         *MULTI_WORKER_FLAGS, *extra_flags, f"--model_dir={model_dir}"]
        for output, iteration in zip(outputs, sigterm_at)]))
    return [dict(np.load(output)) for output in outputs]


def _weights_of(result):
    return {name: value for name, value in result.items()
            if name not in ("iterations", "preempted")}


def _assert_same_weights(first, second):
    first, second = _weights_of(first), _weights_of(second)
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], name)


@pytest.fixture(scope="module")
def uninterrupted_cluster(tmp_path_factory):
    """Two workers training `MULTI_WORKER_FLAGS` without a stop: the model
    dir and each worker's result."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    model_dir = tmp_path / "run"
    return model_dir, _train_on_two_workers(tmp_path, model_dir)


def test_two_workers_train_in_step_and_only_the_chief_writes(
        uninterrupted_cluster):
    """Two worker processes train the spiral MLP: both end with the same
    weights, the chief alone writes the checkpoints, and they restore on one
    device."""
    model_dir, results = uninterrupted_cluster
    assert [result["iterations"] for result in results] == [8, 8]
    assert not any(result["preempted"] for result in results)
    _assert_same_weights(results[0], results[1])

    # One writer: one checkpoint series, one event file per TensorBoard run
    # (the losses, and the health checks), nothing left by the other
    # worker's saves.
    assert sorted(os.listdir(model_dir / "checkpoints")) == [
        "checkpoint", "ckpt-4.data-00000-of-00001", "ckpt-4.index",
        "ckpt-8.data-00000-of-00001", "ckpt-8.index"]
    [events, health_run] = sorted(os.listdir(model_dir / "tensorboard"))
    assert events.startswith("events.out.tfevents") and health_run == "health"
    assert len(os.listdir(model_dir / "tensorboard" / "health")) == 1
    assert "--strategy=multi_worker" in (model_dir / "flags.txt").read_text()
    assert not list(model_dir.parent.glob("amr_worker_*"))

    # The checkpoint of 2 replicas restores into a one-device model rebuilt
    # from the run's flags.txt.
    config = flag_text.config_from_args([f"--flagfile={model_dir / 'flags.txt'}"])
    model = model_builder.build_model(config, data.get_info(config.data))
    checkpointing.restore_checkpoint(
        model, tf.train.latest_checkpoint(model_dir / "checkpoints"))
    restored = (model.encoder.variables + model.decoder.variables
                + model.discriminator.variables)
    assert model.completed_iterations() == 8
    for index, variable in enumerate(restored):
        np.testing.assert_array_equal(variable.numpy(), results[0][str(index)])


def test_sigterm_to_one_worker_stops_both_at_one_checkpoint_then_resumes(
        uninterrupted_cluster, tmp_path):
    """SIGTERM to the non-chief worker after iteration 3 (inside the first
    block of 4): both workers stop after iteration 3 and exit 0, the chief
    saves checkpoint 3 alone, and re-running the cluster reaches iteration 8
    with the weights of the run that was never stopped."""
    model_dir = tmp_path / "run"
    stopped = _train_on_two_workers(tmp_path, model_dir, sigterm_at=(0, 3))
    assert [result["iterations"] for result in stopped] == [3, 3]
    assert all(result["preempted"] for result in stopped)
    _assert_same_weights(stopped[0], stopped[1])
    assert sorted(os.listdir(model_dir / "checkpoints")) == [
        "checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
    reader = tf.train.load_checkpoint(str(model_dir / "checkpoints"))
    assert reader.get_tensor("iterations/.ATTRIBUTES/VARIABLE_VALUE") == 3
    assert not (model_dir / final_figure.POINT_MIXES_FIGURE).exists()
    assert not list(tmp_path.glob("amr_worker_*"))

    resumed = _train_on_two_workers(tmp_path, model_dir)
    assert [result["iterations"] for result in resumed] == [8, 8]
    _, uninterrupted = uninterrupted_cluster
    for result in resumed:
        _assert_same_weights(result, uninterrupted[0])


def test_a_plateau_seen_by_the_chief_stops_both_workers_after_one_block(
        tmp_path):
    """--stop_at_plateau reads the chief's TensorBoard logs on the chief
    alone; both workers still stop after the same block (iteration 108, the
    first block end whose three checks, 4 iterations apart, see 10 scalars
    per tenth of the run), in step."""
    model_dir = tmp_path / "run"
    results = _train_on_two_workers(
        tmp_path, model_dir, extra_flags=(
            "--steps=100000", "--summary_every=1", "--stop_at_plateau=1e9"))
    assert [result["iterations"] for result in results] == [108, 108]
    assert not any(result["preempted"] for result in results)
    _assert_same_weights(results[0], results[1])


def test_sigterm_to_one_worker_of_the_cli_exits_every_worker_with_0(tmp_path):
    """`python -m amr_tf.train` on two workers, SIGTERM sent to the
    non-chief one once checkpoint 4 exists: both print that they stopped
    after the same iteration N, exit 0, and checkpoint N is the latest."""
    model_dir = tmp_path / "run"
    command = [sys.executable, "-m", "amr_tf.train", *MULTI_WORKER_FLAGS,
               "--steps=100000", f"--model_dir={model_dir}"]
    workers, log_paths = _start_cluster(tmp_path, "cli", [command, command])
    index = model_dir / "checkpoints" / "ckpt-4.index"
    deadline = time.monotonic() + WORKER_SECONDS
    while not index.exists():
        assert all(worker.poll() is None for worker in workers), (
            log_paths[0].read_text()[-3000:])
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.01)
    workers[1].send_signal(signal.SIGTERM)
    logs = _wait_for_cluster(workers, log_paths)

    stopped = [re.findall(r"^Stopped by SIGTERM after iteration (\d+);", log,
                          re.MULTILINE) for log in logs]
    assert [len(lines) for lines in stopped] == [1, 1], logs[0][-3000:]
    iteration = int(stopped[0][0])
    assert stopped[1] == stopped[0] and iteration >= 4
    latest = tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
    assert latest.endswith(f"ckpt-{iteration}")


# ------------------------------------------------------- mixed precision
def _outputs_are_float32(model):
    images = _iteration_batches(_config())["inputs"][:2]
    latents = model.encoder(images)
    scores = model.discriminator(images)
    assert latents.dtype == tf.float32
    assert model.decoder(latents).dtype == tf.float32
    assert model(images).dtype == tf.float32
    assert all(value.dtype == tf.float32 for value in scores.values())


def _compute_dtypes(network):
    """Compute dtypes of a network's convolutions (inside any wrapper)."""
    layers = [getattr(layer, "layer", layer) for layer in network.layers]
    return {layer.compute_dtype for layer in layers
            if isinstance(layer, keras.layers.Conv2D)}


def test_mixed_float16_scales_both_losses_and_adjusts_the_scales():
    """Both optimizers are loss-scale optimizers. G starts from a scale that
    overflows float16 gradients: its steps are skipped and the scale halves
    (the skipped steps still count as iterations). D starts from 1 and its
    scale grows after every finite step."""
    config = _config(mixed_precision="mixed_float16", n_critic=1)
    model = model_builder.build_model(config, INFO)
    assert keras.config.dtype_policy().name == "float32"  # Restored.
    for network in (model.encoder, model.decoder, model.discriminator):
        assert _compute_dtypes(network) == {"float16"}, network.name
    generator, discriminator = (model.generator_optimizer,
                                model.discriminator_optimizer)
    for optimizer in (generator, discriminator):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    generator.dynamic_scale.assign(2.0**40)
    discriminator.dynamic_scale.assign(1.0)
    discriminator.dynamic_growth_steps = 1  # Read when the step is traced.
    initial = _weights(model)

    steps = 2
    losses = _fit(model, _single_device_dataset(
        config, _iteration_batches(config, steps)), steps)
    assert generator.dynamic_scale.numpy() == 2.0**(40 - steps)
    assert discriminator.dynamic_scale.numpy() == 2.0**steps
    assert int(generator.iterations.numpy()) == 0  # Both G steps skipped ...
    assert model.completed_iterations() == steps  # ... and counted.
    after = _weights(model)
    assert all(np.all(np.isfinite(value)) for value in after.values())
    assert all(np.isfinite(value) for value in losses.values())
    changed = {key.split("/")[0] for key in initial
               if not np.array_equal(initial[key], after[key])}
    assert changed == {"discriminator"}
    _outputs_are_float32(model)


def test_mixed_bfloat16_trains_without_loss_scaling():
    config = _config(mixed_precision="mixed_bfloat16", n_critic=1)
    model = model_builder.build_model(config, INFO)
    for network in (model.encoder, model.decoder, model.discriminator):
        assert _compute_dtypes(network) == {"bfloat16"}, network.name
    assert not isinstance(model.generator_optimizer,
                          keras.optimizers.LossScaleOptimizer)
    initial = _weights(model)
    losses = _fit(model, _single_device_dataset(
        config, _iteration_batches(config, 2)), 2)
    assert all(np.isfinite(value) for value in losses.values())
    assert _max_difference(_weights(model), initial) > 1e-3
    assert all(v.dtype == "float32" for v in model.encoder.variables)
    _outputs_are_float32(model)


def test_spectral_normalisation_keeps_float32_kernels_under_mixed_float16():
    """A training call renormalises D's float32 kernels in float32 (Keras's
    own layer rounds them to float16 precision: relative error ~1e-3)."""
    model = model_builder.build_model(_config(mixed_precision="mixed_float16"), INFO)
    wrapper = model.discriminator.get_layer("stem")
    assert wrapper.layer.compute_dtype == "float16"
    kernel = wrapper.kernel.numpy().astype(np.float64)
    weights = kernel.reshape(-1, kernel.shape[-1])
    u = wrapper.vector_u.numpy().astype(np.float64)
    v = u @ weights.T
    v /= np.linalg.norm(v)
    u = v @ weights
    u /= np.linalg.norm(u)
    expected = kernel / (v @ weights @ u.T).item()
    model.discriminator(_iteration_batches(_config())["inputs"][:2],
                        training=True)
    error = np.abs(wrapper.kernel.numpy() - expected).max() / np.abs(expected).max()
    assert error < 1e-5


def test_checkpoints_restore_across_precisions(tmp_path):
    """Optimizer state is saved without the loss-scale wrapper, so float32,
    mixed_float16 and mixed_bfloat16 runs resume each other's checkpoints."""
    path = None
    previous = None
    for precision in ("float32", "mixed_float16", "mixed_bfloat16",
                      "mixed_float16"):
        model = model_builder.build_model(
            _config(mixed_precision=precision, seed=len(precision)), INFO)
        if path:
            checkpointing.restore_checkpoint(model, path)
            np.testing.assert_equal(_weights(model), previous)
        for variable in model.discriminator.trainable_variables:
            variable.assign(variable + 1.0)  # Something to carry over.
        previous = _weights(model)
        path = checkpointing.make_checkpoint(model).save(tmp_path / precision)


# ------------------------------------------------------------------- XLA
def test_jit_compile_gives_the_losses_and_weights_of_graph_mode():
    """XLA computes the same iterations: same draws (Philox bits), same
    losses and weights up to float rounding. (On the MLP: compiling the
    conv nets takes XLA on CPU tens of seconds.)"""
    config = _config("amr_points")
    examples = _single_device_dataset(
        config, _iteration_batches(config, 2, shape=(2,)))
    results = []
    for jit_compile in (False, True):
        model = model_builder.build_model(
            dataclasses.replace(config, jit_compile=jit_compile), POINTS_INFO)
        assert model.jit_compile == jit_compile
        results.append((_fit(model, examples, 2), _weights(model)))
    (graph_losses, graph_weights), (xla_losses, xla_weights) = results
    assert graph_losses.keys() == xla_losses.keys()
    for name, value in graph_losses.items():
        np.testing.assert_allclose(xla_losses[name], value, rtol=1e-4,
                                   err_msg=name)
    assert _max_difference(xla_weights, graph_weights) < 1e-4



def test_multi_worker_without_tf_config_names_the_flag(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ArgumentError) as raised:
        distribution.make_strategy("multi_worker")
    assert str(raised.value).startswith("name='multi_worker' needs the TF_CONFIG")
    assert raised.value.flag_message().startswith(
        "--strategy=multi_worker needs the TF_CONFIG environment variable")
