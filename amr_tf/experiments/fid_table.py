"""Tables 1-2 analogue: ARAE vs AMR (mixup, Bernoulli) vs ACAI.

    amr-experiments fid_table --quick [--config=shapes]

Trains every method of --methods for --model_seeds seeds on a config
(configs/<config>.cfg: shapes by default; mnist or celeba with their data
prepared) and measures, on held-out data, the classifier FID between the
data and (a) reconstructions, (b) decoded random mixes, five resamples each,
with the model's own mixer and also with mixup and Bernoulli mixes for every
model (the paper's Tables 1 and 2). With class labels it also measures
ACAI's linear probe and clustering accuracy and the t-SNE inter-cluster
distance (paper §5.3), with t-tests against ARAE paired by model seed.
Values are mean ± std over model seeds, each seed's resamples (or t-SNE
seeds) averaged first.

Writes results.md / results.json, interpolation_grid.png (rows pixel /
ARAE / ACAI / AMR, Fig. 3-5 style) and training_curves.png (each run's loss
terms; the table gives the reconstruction loss's change over the last 10 %
of iterations, near 0 once it has levelled off) under --output_dir; each run keeps its
metrics.json, so `python -m amr_tf.aggregate` can pool them too.
"""

import dataclasses
import os

import numpy as np

from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import summary
from amr_tf.experiments import common

BASELINE = "ARAE"
# Table columns: metric -> header.
COLUMNS = {
    "fid_mix": "FID(data, mix), own mixer",
    "fid_mix_mixup": "FID(data, mixup mix)",
    "fid_mix_bernoulli": "FID(data, Bernoulli mix)",
    "fid_reconstruction": "FID(data, reconstruction)",
    "linear_probe_accuracy": "linear probe",
    "clustering_accuracy": "clustering",
    "inter_cluster_distance": "t-SNE inter-cluster distance",
    "mixing_consistency": "mixing consistency",
    "reconstruction_plateau_change": "recon. loss change, last 10 %",
    "one_sprite_fraction": "midpoints showing one sprite",
    "reconstruction_one_sprite_fraction": "reconstructions showing one sprite",
}
# Model-free references, equal in every run: metric -> what it scores.
REFERENCES = {
    "fid_pixel_mix": "FID(data, pixel mixup) (floor)",
    "fid_real_train": "FID(data, as many training images) (ceiling)",
    "pixel_one_sprite_fraction": "pixel midpoints showing one sprite (floor)",
    "data_one_sprite_fraction": "held-out images showing one sprite (ceiling)",
}
TESTED = ("fid_mix_mixup", "fid_mix_bernoulli", "inter_cluster_distance",
          "one_sprite_fraction")

DEFAULT_CONFIG = "shapes"

@dataclasses.dataclass(frozen=True)
class Options:
    output_dir: str
    quick: bool = False
    config: str = DEFAULT_CONFIG
    methods: tuple[str, ...] = tuple(common.METHODS)
    seeds: int | None = None
    classifier_dir: str | None = None
    overrides: tuple[str, ...] = ()
    eval_settings: metrics_lib.EvalSettings | None = None


def eval_settings(options):
    """The paper's evaluation, fewer t-SNE points with --quick."""
    if options.eval_settings:
        return options.eval_settings
    return metrics_lib.EvalSettings(
        fid_mixers=("mixup", "bernoulli"),
        classifier_dir=options.classifier_dir
        or os.path.join(options.output_dir, "classifiers"),
        tsne_examples=500 if options.quick else 1000,
        progress=True,
    )


def run(options):
    """Trains, evaluates and tabulates; returns {method: pooled metrics}."""
    extra = (common.QUICK_FLAGS if options.quick
             else common.FULL_FLAGS.get(options.config, ()))
    seeds = options.seeds or (2 if options.quick else 3)
    runs = common.method_runs(options.methods,
                              (common.config_flag(options.config), *extra), seeds)
    trained = common.train_runs(runs, options.output_dir, options.overrides)
    plateau = common.save_training_curves(
        os.path.join(options.output_dir, "training_curves.png"), trained)
    settings = eval_settings(options)
    per_run = []
    for index, item in enumerate(trained):
        print(f"[{index + 1}/{len(trained)}] evaluating {item.run.name}",
              flush=True)
        names = [name for name in metrics_lib.applicable(item.restored)
                 if name != "mix_attributes"]
        metrics = metrics_lib.evaluate(item.restored, names, settings)
        metrics["train_seconds"] = item.seconds
        metrics["reconstruction_plateau_change"] = plateau[index]
        summary.write_metrics(item.restored.config.model_dir, metrics)
        per_run.append((item, metrics))
    pooled = {method: summary.pool([metrics for _, metrics in group])
              for method, group in common.by_method(
                  per_run, lambda pair: pair[0].run.method).items()}

    common.save_interpolation_grid(
        os.path.join(options.output_dir, "interpolation_grid.png"),
        [item for item in trained if item.run.seed == 0])
    table = _table(pooled, seeds, settings)
    common.write_outputs(options.output_dir, pooled, table)
    return pooled


def _table(pooled, seeds, settings):
    columns = [name for name in COLUMNS
               if any(name in metrics for metrics in pooled.values())]
    rows = []
    for method, metrics in pooled.items():
        seconds = np.mean(metrics["train_seconds"])
        rows.append([method] + [summary.format_value(metrics[name], 3)
                                if name in metrics else "-"
                                for name in columns]
                    + [common.iterations_cell(metrics), f"{seconds:.0f}"])
    text = common.markdown_table(
        ["method"] + [COLUMNS[name] for name in columns]
        + ["iterations", "train s / run"], rows)
    text += (f"\n\nmean ± std over {seeds} model seeds (n = seeds); each "
             f"seed's value is its mean over {settings.resamples} sets of "
             f"random mixes (FID) or {settings.tsne_seeds} t-SNE seeds; "
             f"{_held_out_count(pooled, settings)} held-out examples.")
    references = next(iter(pooled.values()))
    text += " Model-free references: " + "; ".join(
        f"{label} {summary.format_value(references[name], 3)}"
        for name, label in REFERENCES.items() if name in references) + "."
    if "pixel_one_sprite_fraction" in references:
        text += (" Midpoints: alpha = 0.5 with the model's own mixer, random "
                 "held-out pairs across classes (amr_tf.eval.sprites).")
    if BASELINE in pooled:
        tested = [name for name in TESTED if name in pooled[BASELINE]]
        tests = common.paired_test_rows(pooled, BASELINE, tested)
        text += "\n\nPaired t-tests against ARAE over model seeds (pairs: same seed):\n\n"
        text += common.markdown_table(["method"] + [COLUMNS[n] for n in tested],
                                      tests)
    return text


def _held_out_count(pooled, settings):
    """How many held-out examples the FIDs used (fewer than asked for when
    the test split is smaller)."""
    counts = next(iter(pooled.values())).get("fid_examples")
    return int(counts[0]) if counts else settings.num_examples
