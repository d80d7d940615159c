"""Checkpoints of a model: what is saved, and restoring it into a model.

Training saves and resumes with these, and `amr_tf.training.restore` restores a
trained run with the same `restore_checkpoint`.
"""

import tensorflow as tf

from amr_tf.core import distribution


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
