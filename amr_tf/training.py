"""Building, training and resuming a model from a `TrainConfig`."""

import dataclasses
import os
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

from amr_tf import callbacks as callbacks_lib
from amr_tf import data as data_lib
from amr_tf import distribution
from amr_tf import export as export_lib
from amr_tf import inference
from amr_tf import loop
from amr_tf import mixers as mixer_lib
from amr_tf import models
from amr_tf import objectives
from amr_tf import optimizers
from amr_tf import visualize
from amr_tf.errors import UsageError
from amr_tf.errors import WriteError
from amr_tf.errors import write_failure_reason
from amr_tf.serving.repository import list_versions

FLAGFILE = "flags.txt"
INTERPOLATION_FIGURE = "interpolation.png"
POINT_MIXES_FIGURE = "mixes.png"


@dataclasses.dataclass
class TrainResult:
    """What a run wrote: the model, its iteration count, the figure and the
    serving export (None with `--noexport`). A run stopped by SIGTERM
    (`preempted`) has saved a checkpoint and written no figure or export;
    `rollbacks` counts the restores after a non-finite loss."""

    model: objectives.AdversarialAutoencoder
    iterations: int
    figure_path: str | None
    history: dict
    export_path: str | None = None
    preempted: bool = False
    rollbacks: int = 0


def validate(config):
    """Checks a config before anything is built; returns the `DatasetInfo`.

    Raises:
        UsageError: with a one-line message naming the problem.
    """
    if config.objective not in objectives.OBJECTIVES:
        raise UsageError(f"unknown --objective={config.objective!r}; choose one "
                         f"of {', '.join(objectives.OBJECTIVES)}")
    if config.mixer not in mixer_lib.MIXER_NAMES:
        raise UsageError(f"unknown --mixer={config.mixer!r}; choose one of "
                         f"{', '.join(mixer_lib.MIXER_NAMES)}")
    for name in ("batch_size", "steps", "n_critic", "log_every"):
        if getattr(config, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(config, name)}")
    if config.on_nonfinite not in loop.NONFINITE_POLICIES:
        raise UsageError(f"unknown --on_nonfinite={config.on_nonfinite!r}; "
                         f"choose one of {', '.join(loop.NONFINITE_POLICIES)}")
    if config.max_rollbacks < 0:
        raise UsageError(
            f"--max_rollbacks must be >= 0, got {config.max_rollbacks}")
    if config.steps % config.steps_per_log:
        raise UsageError(f"--steps={config.steps} must be a multiple of "
                         f"--log_every={config.log_every}")
    info = data_lib.get_info(config.data)
    if config.uses_class_mixer and not info.num_attributes:
        raise UsageError(f"--mixer=class_mixer needs binary attributes, and "
                         f"--dataset={info.name} has none")
    config.arch.validate(info.input_shape)
    return info


def _build_mixers(config, info):
    """(unsupervised mixer or None, class mixer or None) for the config."""
    if config.objective != "amr":
        return None, None
    if not config.uses_class_mixer:
        return mixer_lib.build_mixer(config.mixer, seed=config.seed,
                                     kway_sources=config.kway_sources), None
    mixer = mixer_lib.build_mixer(config.base_mixer, seed=config.seed,
                                  kway_sources=config.kway_sources)
    class_mixer = mixer_lib.ClassMixer(
        config.arch.latent_channels, hard=config.hard_mask,
        label_mix=config.label_mix, mixer_input=config.class_mixer_input,
        name="class_mixer",
    )
    class_mixer.build((None, info.num_attributes))
    return mixer, class_mixer


def build_model(config, info):
    """Builds and compiles the objective's model (call inside a strategy scope).

    The networks take the dtype policy of `config.mixed_precision`; under
    mixed_float16 both optimizers are loss-scale optimizers.

    Args:
        config: a `TrainConfig`.
        info: the dataset's `DatasetInfo`.
    """
    with distribution.dtype_policy(config.mixed_precision):
        return _build_model(config, info)


def _build_model(config, info):
    keras.utils.set_random_seed(config.seed)
    mixer, class_mixer = _build_mixers(config, info)
    networks = models.build_networks(
        config.arch, info.input_shape,
        num_attributes=info.num_attributes if class_mixer else 0,
    )
    common = dict(recon_weight=config.recon_weight, recon_loss=config.recon_loss,
                  gan_loss=config.gan_loss, n_critic=config.n_critic,
                  seed=config.seed)
    if config.objective == "amr":
        model = objectives.AMR(
            *networks, mixer=mixer, class_mixer=class_mixer,
            consistency_weight=config.consistency_weight,
            cls_weight=config.cls_weight,
            mask_sparsity_weight=config.mask_sparsity_weight, **common)
    elif config.objective == "arae":
        model = objectives.ARAE(*networks, **common)
    else:
        model = objectives.ACAI(*networks, adversary_weight=config.adversary_weight,
                                gamma=config.acai_gamma, **common)

    def adam(learning_rate):
        return distribution.wrap_optimizer(
            optimizers.FusedAdam(learning_rate, beta_1=config.beta_1,
                                 beta_2=config.beta_2),
            config.mixed_precision)

    model.compile(
        generator_optimizer=adam(config.learning_rate),
        discriminator_optimizer=adam(config.disc_learning_rate
                                     or config.learning_rate),
        jit_compile=config.jit_compile,
    )
    return model


def make_checkpoint(model, loss_scales=True, batches_consumed=True):
    """A `tf.train.Checkpoint` of every network, mixer and optimizer.

    The iteration count is also saved under its own name, `iterations`, so
    tools can read it without rebuilding the model, and so is the input
    stream's position, `batches_consumed` (with `batches_consumed`).
    Optimizers are saved without their loss-scale wrapper and the loss
    scales on their own (`*_loss_scale`, with `loss_scales`), so a run can
    resume under another `--mixed_precision`. Mirrored variables are saved once: a checkpoint
    restores on any number of replicas.
    """
    tracked = dict(
        iterations=model.iterations,
        **(dict(batches_consumed=model.batches_consumed)
           if batches_consumed else {}),
        encoder=model.encoder, decoder=model.decoder,
        discriminator=model.discriminator,
        generator_optimizer=distribution.unwrap_optimizer(
            model.generator_optimizer),
        discriminator_optimizer=distribution.unwrap_optimizer(
            model.discriminator_optimizer),
    )
    for mixer in model.mixers:
        tracked[mixer.name] = mixer
    for name in ("generator", "discriminator"):
        optimizer = getattr(model, f"{name}_optimizer")
        if loss_scales and optimizer is not distribution.unwrap_optimizer(
                optimizer):
            tracked[f"{name}_loss_scale"] = tf.train.Checkpoint(
                scale=optimizer.dynamic_scale, step=optimizer.step_counter)
    return tf.train.Checkpoint(**tracked)


def restore_checkpoint(model, path):
    """Restores checkpoint `path` into `model`.

    A loss scale that the checkpoint lacks (a float32 run resumed under
    mixed_float16) starts from its initial value; an input position it lacks
    (an older checkpoint) is taken to be the iteration count.

    Raises:
        AssertionError: if a network, mixer or optimizer is not in `path`.
    """
    saved = {name.split("/")[0] for name, _ in tf.train.list_variables(path)}
    checkpoint = make_checkpoint(
        model, loss_scales="generator_loss_scale" in saved,
        batches_consumed="batches_consumed" in saved)
    checkpoint.restore(path).assert_existing_objects_matched()
    if "batches_consumed" not in saved:
        model.batches_consumed.assign(model.iterations)


def train_dataset(config, info, batches_consumed=0, input_context=None):
    """Batches of `n_critic * batch_size` examples, repeated forever.

    The stream of examples is a fixed function of `--seed` (see
    `data.make_batches`), and it starts after `batches_consumed` iteration
    batches: a resumed run continues exactly where the checkpoint left it.
    Decoded images are cached in memory (`--cache_data`); generated datasets
    are rendered on the fly instead.

    With a `tf.distribute.InputContext` (from
    `strategy.distribute_datasets_from_function`), the batches hold this
    input pipeline's shard of the examples (one pipeline per worker) and one
    replica's share of the global `batch_size`.
    """
    examples = data_lib.load(config.data, "train")
    batch_size = config.batch_size
    batches_per_iteration = 1
    if input_context is not None:
        if input_context.num_input_pipelines > 1:
            examples = examples.shard(input_context.num_input_pipelines,
                                      input_context.input_pipeline_id)
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        batches_per_iteration = (input_context.num_replicas_in_sync
                                 // input_context.num_input_pipelines)
    examples_per_batch = batch_size * config.n_critic
    return data_lib.make_batches(
        examples, examples_per_batch, shuffle=True, seed=config.seed,
        repeat=True, cache=config.cache_data and not info.generated,
        start=batches_consumed * batches_per_iteration * examples_per_batch,
    )


def held_out_examples(config, count):
    """`count` examples for figures and summaries, as NumPy arrays.

    The first `count` test examples; training examples when the test split is
    smaller (a small image folder can have a test split of one image).
    """
    for split in ("test", "train"):
        batch = next(iter(data_lib.load(config.data, split).batch(count)))
        if len(batch["inputs"]) == count:
            break
    return {key: np.asarray(value) for key, value in batch.items()}


def check_resume_flags(model_dir, flag_text, structural_flags):
    """Raises `UsageError` if `model_dir` was trained with other structural
    flags than `flag_text` (the flagfile text of this run)."""
    path = os.path.join(model_dir, FLAGFILE)
    if not os.path.exists(path):
        return
    with open(path) as stored_file:
        stored = _parse_flag_lines(stored_file.read())
    current = _parse_flag_lines(flag_text)
    for name in structural_flags:
        if stored.get(name) != current.get(name):
            raise UsageError(
                f"{model_dir} holds a model trained with --{name}="
                f"{stored.get(name, '<default>')}, but this run asks for "
                f"--{name}={current.get(name, '<default>')}: use another "
                "--model_dir or the same flags"
            )


def _write_atomically(path, text):
    """Writes `text` to `path` through a temporary file and a rename, so
    `path` holds the old or the new text, never a part.

    Raises:
        WriteError: the write failed (`path` is unchanged).
    """
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise WriteError(f"cannot write {path}: "
                         f"{write_failure_reason(error)}") from None


def _parse_flag_lines(text):
    values = {}
    for line in text.splitlines():
        if line.startswith("--"):
            name, _, value = line[2:].partition("=")
            values[name] = value
    return values


def write_figure(model, config, info):
    """Writes the end-of-training figure into `model_dir`; returns its path.

    Images: rows pixel / this model for `interpolation_pairs` test pairs.
    Points (spiral): decoded random mixes over the data.
    """
    if not info.is_image:
        examples = held_out_examples(config, 1024)
        mixes = inference.random_mixes(model, examples["inputs"], config.seed)
        path = os.path.join(config.model_dir, POINT_MIXES_FIGURE)
        visualize.save_point_mixes_figure(
            path, examples["inputs"], mixes,
            title=f"{config.objective} {config.mixer}: decoded mixes")
        return path
    inputs = held_out_examples(config, 2 * config.interpolation_pairs)["inputs"]
    pairs = len(inputs) // 2
    images_a, images_b = inputs[:pairs], inputs[pairs:2 * pairs]
    alphas = np.linspace(1.0, 0.0, config.interpolation_steps)
    rows = np.stack([
        visualize.pixel_interpolation(images_a, images_b, alphas),
        inference.interpolate(model, images_a, images_b, alphas),
    ], axis=1)
    mixer = inference.interpolation_mixer(model)
    label = f"{config.objective.upper()} ({mixer.name})"
    path = os.path.join(config.model_dir, INTERPOLATION_FIGURE)
    visualize.save_interpolation_figure(
        path, rows, ["pixel", label],
        title=f"{info.name}: {model.completed_iterations()} iterations")
    return path


def train(config, flag_text="", structural_flags=(), callbacks=()):
    """Trains (or resumes) a model as configured; the CLI's whole job.

    Writes into `config.model_dir`: `flags.txt`, `checkpoints/`,
    `tensorboard/` and the final figure; then, unless `config.export` is
    off, the serving SavedModel `<config.export_path>/<iterations>` (kept as
    it is when that version exists already). Under `--strategy=multi_worker`
    only the chief writes; every worker resumes from the chief's checkpoints
    (`model_dir` must be on a filesystem all workers share).

    Args:
        config: a `TrainConfig`.
        flag_text: the run's flags as flagfile text, stored in `flags.txt`.
        structural_flags: flag names that must match a run being resumed.
        callbacks: extra Keras callbacks (e.g. a metric tracked every
            `log_every` iterations).

    Raises:
        UsageError: for a bad config, before any training starts.
    """
    info = validate(config)
    check_resume_flags(config.model_dir, flag_text, structural_flags)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribution.make_strategy(config.strategy)
    distribution.check_strategy(config, strategy)
    chief = distribution.is_chief(strategy)
    os.makedirs(config.model_dir, exist_ok=True)
    if flag_text and chief:
        _write_atomically(os.path.join(config.model_dir, FLAGFILE), flag_text)

    with strategy.scope():
        model = build_model(config, info)
    checkpoint_dir = os.path.join(config.model_dir, "checkpoints")
    # Every worker saves (saving may need all of them); the other workers'
    # copies go to a local folder that is deleted after each save.
    checkpoints = loop.Checkpoints(
        tf.train.CheckpointManager(
            make_checkpoint(model),
            checkpoint_dir if chief else os.path.join(
                tempfile.gettempdir(), f"amr_worker_{os.getpid()}"),
            max_to_keep=config.keep_checkpoints),
        restore_checkpoint, checkpoint_dir, keep=chief)
    if checkpoints.latest():
        print(f"Resumed from {checkpoints.restore(model)} at iteration "
              f"{model.completed_iterations()}.")

    outcome = loop.LoopResult(history={})
    if model.completed_iterations() < config.steps:
        eval_batch = held_out_examples(config, 8)

        def make_iterator(batches_consumed):
            return iter(strategy.distribute_datasets_from_function(
                lambda context: train_dataset(config, info, batches_consumed,
                                              context)))

        outcome = loop.run(
            model, make_iterator, checkpoints,
            steps=config.steps, log_every=config.steps_per_log,
            on_nonfinite=config.on_nonfinite,
            max_rollbacks=config.max_rollbacks,
            verbose=1 if sys.stdout.isatty() else 2,
            # Workers of a cluster would stop at different iterations.
            handle_sigterm=not distribution.spans_workers(strategy),
            callbacks=[
                callbacks_lib.Throughput(), *callbacks,
            ] + ([callbacks_lib.Summaries(
                os.path.join(config.model_dir, "tensorboard"), eval_batch,
                info.is_image, seed=config.seed)] if chief else []),
        )
    iterations = model.completed_iterations()
    if outcome.preempted:
        return TrainResult(model, iterations, None, outcome.history,
                           preempted=True)
    figure_path = write_figure(model, config, info) if chief else None
    export_path = None
    if config.export and chief:
        export_path = os.path.join(config.export_path, str(iterations))
        if iterations not in list_versions(config.export_path):
            export_lib.export_saved_model(model, config, info,
                                          config.export_path, iterations,
                                          flag_text)
    return TrainResult(model, iterations, figure_path, outcome.history,
                       export_path, rollbacks=outcome.rollbacks)
