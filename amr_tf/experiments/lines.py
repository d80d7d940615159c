"""ACAI's lines benchmark: ARAE, ACAI and AMR variants (METHOD.md §6).

    amr-experiments lines --quick

Trains each method of --methods on `lines` (configs/lines.cfg: ACAI's 32 px
networks and optimiser) and measures ACAI's Mean Distance (cosine distance
of each of 16 decoded interpolants to the closest of 10,000 true lines) and
Smoothness (0 is perfect) over 256 held-out pairs, beside the same numbers
for interpolating pixels and for a blank image (a collapsed decoder).
configs/lines.cfg trains with a squared-error reconstruction, as ACAI does:
with L1 the per-pixel optimum is the blank background, since a line covers
about 3 % of the pixels. Writes results.md / results.json and
interpolation_grid.png (rows pixel / ARAE / ACAI / AMR) and
training_curves.png (each run's loss terms) under --output_dir.
"""

import dataclasses
import os

import numpy as np

from amr_tf.eval import acai_metrics
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import summary
from amr_tf.experiments import common
from amr_tf.figures import drawing

# ACAI's own lines set-up has a 2x2x16 latent (lines.cfg: 4x4x16).
AUTHORS_FLAGS = {"acai_berthelot": ("--latent_size=2",)}
# Rows that need no model.
PIXEL = "pixel interpolation (no model)"
BLANK = "blank image (no model)"
# --quick: 16 px lines, one D update per G update, a larger learning rate.
QUICK_FLAGS = ("--image_size=16", "--n_critic=1", "--batch_size=32",
               "--learning_rate=5e-4", "--steps=1500", "--log_every=100")


@dataclasses.dataclass(frozen=True)
class Options:
    output_dir: str
    quick: bool = False
    methods: tuple[str, ...] = tuple(common.METHODS)
    seeds: int | None = None
    overrides: tuple[str, ...] = ()
    eval_settings: metrics_lib.EvalSettings = metrics_lib.EvalSettings(
        progress=True)


def run(options):
    """Trains, evaluates and tabulates; returns {method: pooled metrics}."""
    extra = QUICK_FLAGS if options.quick else ()
    seeds = options.seeds or (1 if options.quick else 3)
    runs = common.method_runs(
        options.methods, (common.config_flag("lines"), *extra), seeds,
        method_flags=AUTHORS_FLAGS)
    trained = common.train_runs(runs, options.output_dir, options.overrides)
    plateau = common.save_training_curves(
        os.path.join(options.output_dir, "training_curves.png"), trained)
    settings = options.eval_settings
    per_run = []
    for item, change in zip(trained, plateau):
        metrics = metrics_lib.evaluate(item.restored, ["lines", "consistency"],
                                       settings)
        metrics["train_seconds"] = item.seconds
        metrics["reconstruction_plateau_change"] = change
        summary.write_metrics(item.restored.config.model_dir, metrics)
        per_run.append((item, metrics))
    pooled = _reference_metrics(trained[0].restored, settings)
    for method, group in common.by_method(
            per_run, lambda pair: pair[0].run.method).items():
        pooled[method] = summary.pool([metrics for _, metrics in group])

    common.save_interpolation_grid(
        os.path.join(options.output_dir, "interpolation_grid.png"),
        [item for item in trained if item.run.seed == 0])
    rows = [[method, _format(metrics, "line_mean_distance", 1e3),
             _format(metrics, "line_smoothness", 1.0),
             _format(metrics, "mixing_consistency", 1.0),
             _format(metrics, "reconstruction_plateau_change", 1.0),
             common.iterations_cell(metrics),
             (f"{np.mean(metrics['train_seconds']):.0f}"
              if "train_seconds" in metrics else "-")]
            for method, metrics in pooled.items()]
    table = common.markdown_table(
        ["method", "Mean Distance (x1e-3)", "Smoothness",
         "mixing consistency", "recon. loss change, last 10 %",
         "iterations", "train s / run"], rows)
    table += (f"\n\n{settings.line_pairs} held-out pairs, {settings.line_steps} "
              f"interpolants each; mean ± std over {seeds} model seed(s).")
    table += _tests_against_baseline(pooled)
    common.write_outputs(options.output_dir, pooled, table)
    return pooled


# Metrics tested against ARAE: name -> header.
TESTED = {"line_mean_distance": "Mean Distance", "line_smoothness": "Smoothness"}
BASELINE = "ARAE"


def _tests_against_baseline(pooled):
    """Markdown: paired t-tests over model seeds against ARAE, if it ran."""
    if BASELINE not in pooled:
        return ""
    rows = common.paired_test_rows(pooled, BASELINE, TESTED,
                                   skip=(PIXEL, BLANK))
    return (f"\n\nAgainst {BASELINE}, pairs by model seed:\n\n"
            + common.markdown_table(["method", *TESTED.values()], rows))


def _reference_metrics(restored, settings):
    """The benchmark's numbers for what needs no model, on the same pairs:
    interpolating pixels, and a blank image (the background everywhere:
    what a collapsed decoder outputs)."""
    inputs = metrics_lib.first_examples(restored.config.data, "test",
                                        2 * settings.line_pairs)["inputs"]
    pairs = len(inputs) // 2
    pixel = drawing.pixel_interpolation(
        inputs[:pairs], inputs[pairs:2 * pairs],
        np.linspace(1.0, 0.0, settings.line_steps))
    blank = np.full_like(pixel, -1.0)  # Images are in [-1, 1], lines +1.
    references = {}
    for name, interpolations in ((PIXEL, pixel), (BLANK, blank)):
        distance, smoothness = acai_metrics.line_metrics(interpolations)
        references[name] = {"line_mean_distance": [distance],
                            "line_smoothness": [smoothness]}
    return references


def _format(metrics, name, scale):
    if name not in metrics:
        return "-"
    return summary.format_value([v * scale for v in metrics[name]], 3)
