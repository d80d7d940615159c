"""Training (or resuming) a model from a `TrainConfig`: `validate` checks
the config, `train` runs the whole job.

Each step has a module of its own: `model_builder` (the model),
`checkpointing` (save and restore), `run_directory` (`flags.txt` and the
folders of `model_dir`), `inputs` (the training stream), `loop` (the
iterations), `final_figure` and `amr_tf.exporter.export_trained` (what a finished run
writes).
"""

import dataclasses
import os
import tempfile

import tensorflow as tf

from amr_tf import data as data_lib
from amr_tf import exporter as export_lib
from amr_tf.config import flag_text as flag_text_lib
from amr_tf.core import distribution
from amr_tf.core import objectives
from amr_tf.core.errors import ArgumentError
from amr_tf.core.fields import argument
from amr_tf.training import callbacks as callbacks_lib
from amr_tf.training import checkpointing
from amr_tf.training import final_figure
from amr_tf.training import health
from amr_tf.training import inputs
from amr_tf.training import loop
from amr_tf.training import model_builder
from amr_tf.training import run_directory

# Held-out examples the health checks reconstruct.
HEALTH_EXAMPLES = 64


@dataclasses.dataclass
class TrainResult:
    """What a run wrote: the model, its iteration count, the figure and the
    serving export (None with `--noexport`). A run stopped by SIGTERM
    (`preempted`) has saved a checkpoint and written no figure or export;
    `rollbacks` counts the restores after a non-finite loss. `warnings`
    are the conditions of `amr_tf.training.health` that held when training
    ended ("... since iteration N"); `stopped_by` is the one that stopped it
    under `--on_collapse=stop` (then nothing is exported)."""

    model: objectives.AdversarialAutoencoder
    iterations: int
    figure_path: str | None
    history: dict
    export_path: str | None = None
    preempted: bool = False
    rollbacks: int = 0
    warnings: tuple[str, ...] = ()
    stopped_by: str | None = None


def validate(config, info=None):
    """Checks what the fields of a config cannot check alone (each field is
    checked when the config is made); returns the `DatasetInfo`.

    Args:
        config: a `TrainConfig`.
        info: the dataset's `DatasetInfo` when known (a trained run's
            stored one); None reads it from the data.

    Raises:
        UsageError: with a one-line message naming the problem.
    """
    info = info or data_lib.get_info(config.data)
    if config.uses_class_mixer and not info.num_attributes:
        raise ArgumentError(
            "{mixer} needs binary attributes, and {dataset} has none",
            mixer=argument(config, "mixer"),
            dataset=argument(config.data, "name"))
    if config.gradient_penalty and config.objective == "acai":
        raise ArgumentError(
            "{penalty} penalises a GAN discriminator's gradient; {objective}'s "
            "critic regresses the mixing coefficient instead",
            penalty=argument(config, "gradient_penalty"),
            objective=argument(config, "objective"))
    config.arch.validate(info.input_shape)
    return info


def train(config, callbacks=()):
    """Trains (or resumes) a model as configured; the CLI's whole job.

    Writes into `config.model_dir`: `flags.txt` (the config as flagfile
    text, `amr_tf.config.flag_text`), `checkpoints/`,
    `tensorboard/` and the final figure; then, unless `config.export` is
    off, the serving SavedModel `<config.export_path>/<iterations>` (kept as
    it is when that version exists already). Under `--strategy=multi_worker`
    only the chief writes; every worker resumes from the chief's checkpoints
    (`model_dir` must be on a filesystem all workers share).

    Args:
        config: a `TrainConfig`.
        callbacks: extra Keras callbacks (e.g. a metric tracked every
            `log_every` iterations).

    Raises:
        UsageError: for a bad config, or one whose structural flags differ
            from those of the run in `model_dir`, before any training
            starts.
    """
    info = validate(config)
    flag_text = flag_text_lib.flag_text(config)
    run_directory.check_resume_flags(config.model_dir, flag_text,
                                     flag_text_lib.structural_flags())
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribution.make_strategy(config.strategy)
    distribution.check_strategy(config, strategy)
    chief = distribution.is_chief(strategy)
    os.makedirs(config.model_dir, exist_ok=True)
    if chief:
        run_directory.write_flag_text(config.model_dir, flag_text)
        run_directory.write_dataset_info(config.model_dir, info)

    with strategy.scope():
        model = model_builder.build_model(config, info)
    checkpoint_dir = os.path.join(config.model_dir, run_directory.CHECKPOINTS)
    # Every worker saves (saving may need all of them); the other workers'
    # copies go to a local folder that is deleted after each save.
    checkpoints = loop.Checkpoints(
        tf.train.CheckpointManager(
            checkpointing.make_checkpoint(model),
            checkpoint_dir if chief else os.path.join(
                tempfile.gettempdir(), f"amr_worker_{os.getpid()}"),
            max_to_keep=config.keep_checkpoints),
        checkpointing.restore_checkpoint, checkpoint_dir, keep=chief)
    if checkpoints.latest():
        print(f"Resumed from {checkpoints.restore(model)} at iteration "
              f"{model.completed_iterations()}.")

    watch = (health.HealthWatch(
        inputs.held_out_examples(config, HEALTH_EXAMPLES, minimum=2)["inputs"],
        config.recon_loss, config.on_collapse, os.path.join(
            config.model_dir, run_directory.TENSORBOARD,
            health.TENSORBOARD_RUN)) if chief else None)
    outcome = loop.LoopResult(history={})
    if model.completed_iterations() < config.steps:
        def make_iterator(batches_consumed):
            return iter(strategy.distribute_datasets_from_function(
                lambda context: inputs.train_dataset(
                    config, info, batches_consumed, context)))

        outcome = loop.run(
            model, make_iterator, checkpoints,
            steps=config.steps, log_every=config.log_every,
            on_nonfinite=config.on_nonfinite,
            max_rollbacks=config.max_rollbacks,
            callbacks=[
                callbacks_lib.Throughput(), *callbacks,
                *([watch] if watch else []),
                callbacks_lib.Progress(config.steps,
                                       watch.warnings if watch else None),
            ] + (_chief_callbacks(config, info, flag_text) if chief else []),
        )
    elif watch:  # Nothing to train: check the model as it is.
        watch.set_model(model)
        watch.on_train_begin()
    iterations = model.completed_iterations()
    if outcome.preempted:
        return TrainResult(model, iterations, None, outcome.history,
                           preempted=True)
    warnings = tuple(watch.warnings()) if watch else ()
    stopped_by = watch.stopped if watch else None
    figure_path = (final_figure.write_figure(model, config, info, warnings)
                   if chief else None)
    export_path = None
    if config.export and chief and stopped_by is None:
        export_path = export_lib.export_trained(model, config, info, flag_text)
    return TrainResult(model, iterations, figure_path, outcome.history,
                       export_path, rollbacks=outcome.rollbacks,
                       warnings=warnings, stopped_by=stopped_by)


def _chief_callbacks(config, info, flag_text):
    """The callbacks that write or read the run's TensorBoard logs: the
    summaries and, with `--stop_at_plateau`, the plateau check."""
    summaries = callbacks_lib.Summaries(
        os.path.join(config.model_dir, run_directory.TENSORBOARD),
        inputs.held_out_examples(config, 8), info.is_image, seed=config.seed,
        summary_every=config.summary_every, flag_text=flag_text)
    if config.stop_at_plateau is None:
        return [summaries]
    return [summaries, callbacks_lib.StopAtPlateau(
        config.model_dir, config.stop_at_plateau, config.log_every)]
