"""The figure a training run writes into its `model_dir` when it ends."""

import os

import numpy as np

from amr_tf.core import interpolation
from amr_tf.data import pairs as data_pairs
from amr_tf.figures import drawing
from amr_tf.training import inputs

INTERPOLATION_FIGURE = "interpolation.png"
POINT_MIXES_FIGURE = "mixes.png"


def write_figure(model, config, info, warnings=()):
    """Writes the end-of-training figure into `model_dir`; returns its path.

    Images: rows pixel / this model for `interpolation_pairs` random
    held-out pairs (`data.pairs.pick_pairs`: across classes where there are
    labels; the same pairs for the same `--seed`).
    Points (spiral): decoded random mixes over the data.
    `warnings` (e.g. a collapsed decoder, `amr_tf.training.health`) go
    under the title.
    """
    if not info.is_image:
        examples = inputs.held_out_examples(config, 1024)
        mixes = interpolation.random_mixes(model, examples["inputs"], config.seed)
        path = os.path.join(config.model_dir, POINT_MIXES_FIGURE)
        drawing.save_point_mixes_figure(
            path, examples["inputs"], mixes,
            title=_titled(f"{config.objective} {config.mixer}: decoded mixes",
                          warnings))
        return path
    examples = inputs.held_out_examples(config, data_pairs.PAIR_POOL, minimum=2)
    first, second = data_pairs.pick_pairs(
        examples["label"], config.interpolation_pairs, config.seed)
    images_a, images_b = examples["inputs"][first], examples["inputs"][second]
    alphas = np.linspace(1.0, 0.0, config.interpolation_steps)
    rows = np.stack([
        drawing.pixel_interpolation(images_a, images_b, alphas),
        interpolation.interpolate(model, images_a, images_b, alphas),
    ], axis=1)
    mixer = interpolation.interpolation_mixer(model)
    label = f"{config.objective.upper()} ({mixer.name})"
    path = os.path.join(config.model_dir, INTERPOLATION_FIGURE)
    drawing.save_interpolation_figure(
        path, rows, ["pixel", label],
        title=_titled(f"{info.name}: {model.completed_iterations()} iterations",
                      warnings))
    return path


def _titled(title, warnings):
    """`title`, then a line `warning: ...` per warning."""
    return "\n".join([title, *(f"warning: {message}" for message in warnings)])
