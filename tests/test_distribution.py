"""Training at scale: replicas, multi-worker, mixed precision and XLA (issue 6).

Two logical CPUs come from `conftest.py`. Models are tiny (8 px images,
width 4, global batch 8) and built by `training.build_model`, as the CLI
builds them.
"""

import dataclasses
import json
import os
import pathlib
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf import data
from amr_tf import distribution
from amr_tf import flags as train_flags
from amr_tf import restore
from amr_tf import training
from amr_tf.config import TrainConfig
from amr_tf.data import DataConfig
from amr_tf.data import DatasetInfo
from amr_tf.errors import UsageError
from amr_tf.models import ArchitectureConfig

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
    `training.train_dataset` under a strategy.
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

    single = training.build_model(config, INFO)
    initial = _weights(single)
    single_losses = _fit(single, _single_device_dataset(config, examples), 1)

    strategy = two_replicas
    assert strategy.num_replicas_in_sync == REPLICAS
    with strategy.scope():
        mirrored = training.build_model(config, INFO)
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
        lambda context: training.train_dataset(config, info, 0, context))
    per_replica = two_replicas.experimental_local_results(
        next(iter(dataset))["inputs"])
    assert [batch.shape[0] for batch in per_replica] == [n_critic * local] * 2

    def shard(index):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=index,
            num_replicas_in_sync=2)
        batches = training.train_dataset(config, info, 0, context).take(2)
        # 2 batches of n_critic * b = 8 examples: one epoch of the 16 in a shard.
        return {image.tobytes() for batch in batches
                for image in batch["inputs"].numpy()}

    first, second = shard(0), shard(1)
    assert len(first) == len(second) == 16
    assert not first & second


# ---------------------------------------------------------- multi-worker
WORKER = r"""
import sys
import numpy as np
from amr_tf import flags as train_flags
from amr_tf import training

train_flags.FLAGS(["worker", *sys.argv[2:]])
result = training.train(train_flags.config_from_flags(),
                         flag_text=train_flags.serialize())
model = result.model
variables = (model.encoder.variables + model.decoder.variables
             + model.discriminator.variables)
np.savez(sys.argv[1], iterations=model.completed_iterations(),
         **{str(index): v.numpy() for index, v in enumerate(variables)})
"""
MULTI_WORKER_FLAGS = [
    "--dataset=spiral", "--arch=mlp", "--num_examples=64", "--width=8",
    "--depth=1", "--latent_channels=2", "--batch_size=8", "--n_critic=1",
    "--steps=2", "--log_every=2", "--strategy=multi_worker",
]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def test_two_workers_train_in_step_and_only_the_chief_writes(tmp_path):
    """Two worker processes (TF_CONFIG on loopback ports) train the spiral
    MLP for 2 iterations: both end with the same weights, the chief alone
    writes the checkpoint, and it restores on one device."""
    model_dir = tmp_path / "run"
    cluster = {"worker": [f"localhost:{_free_port()}" for _ in range(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "TMPDIR": str(tmp_path),
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker",
                                                 "index": index}})}
        workers.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / f"worker{index}.npz"),
             *MULTI_WORKER_FLAGS, f"--model_dir={model_dir}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
    try:
        outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]

    weights = [dict(np.load(tmp_path / f"worker{index}.npz")) for index in range(2)]
    assert weights[0]["iterations"] == weights[1]["iterations"] == 2
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], name)

    # One writer: one checkpoint series, one event file, nothing left by
    # the other worker's saves.
    assert sorted(os.listdir(model_dir / "checkpoints")) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    assert len(os.listdir(model_dir / "tensorboard")) == 1
    assert "--strategy=multi_worker" in (model_dir / "flags.txt").read_text()
    assert not list(tmp_path.glob("amr_worker_*"))

    # The checkpoint of 2 replicas restores into a one-device model rebuilt
    # from the run's flags.txt.
    config = train_flags.config_from_flags(
        restore.parse_training_flags([f"--flagfile={model_dir / 'flags.txt'}"]))
    model = training.build_model(config, data.get_info(config.data))
    training.restore_checkpoint(
        model, tf.train.latest_checkpoint(model_dir / "checkpoints"))
    restored = (model.encoder.variables + model.decoder.variables
                + model.discriminator.variables)
    assert model.completed_iterations() == 2
    for index, variable in enumerate(restored):
        np.testing.assert_array_equal(variable.numpy(), weights[0][str(index)])


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
    model = training.build_model(config, INFO)
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
    model = training.build_model(config, INFO)
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
    model = training.build_model(_config(mixed_precision="mixed_float16"), INFO)
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
        model = training.build_model(
            _config(mixed_precision=precision, seed=len(precision)), INFO)
        if path:
            training.restore_checkpoint(model, path)
            np.testing.assert_equal(_weights(model), previous)
        for variable in model.discriminator.trainable_variables:
            variable.assign(variable + 1.0)  # Something to carry over.
        previous = _weights(model)
        path = training.make_checkpoint(model).save(tmp_path / precision)


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
        model = training.build_model(
            dataclasses.replace(config, jit_compile=jit_compile), POINTS_INFO)
        assert model.jit_compile == jit_compile
        results.append((_fit(model, examples, 2), _weights(model)))
    (graph_losses, graph_weights), (xla_losses, xla_weights) = results
    assert graph_losses.keys() == xla_losses.keys()
    for name, value in graph_losses.items():
        np.testing.assert_allclose(xla_losses[name], value, rtol=1e-4,
                                   err_msg=name)
    assert _max_difference(xla_weights, graph_weights) < 1e-4
