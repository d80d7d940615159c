"""Spiral study (paper §5.2, Fig. 7-8): does β keep decoded mixes on the data?

    amr-experiments spiral --quick

Trains AMR (mixup, λ = 10) for each β in --betas, AMR β = 0 with a critic
without spectral norm (an extension: the paper's 1-Lipschitz critic stays at
chance on the spiral), and ACAI twice on the 2-D spiral
(configs/spiral.cfg): in AMR's set-up (λ = 10, spectrally
normalised critic, AMR's optimiser, as the paper's Fig. 8 compares) and in
Berthelot et al.'s (the packaged `acai` config). Without --quick each run
trains the paper's 100 epochs (Fig. 7). `--figure=8` trains Fig. 8's
comparison instead: AMR β = 0 for 200 epochs and both ACAIs for 300, the
paper's budgets ("ACAI takes longer to converge"), by default into
runs/experiments/spiral_fig8; a Fig. 7 study's runs copied there resume
from their 100 epochs. It then measures for each run the fraction of
decoded random mixes within --epsilon of the noiseless spiral (overall and
for α in [0.25, 0.75]), their mean distance to it, and the mixing
consistency ||h_mix - f(g(h_mix))|| (mixup, α ~ U(0, 1)), absolute and
divided by the distance between random codes; the latter is also tracked
every --log_every iterations during training. Beside the models the table
has model-free references scored the same way: input-space mixes of the
same pairs and uniform points (floors), and the held-out data (ceiling). Writes under
--output_dir: spiral_mixes.png (decoded mixes over the data, per run),
spiral_on_manifold.png, spiral_consistency.png, training_curves.png,
results.json, results.md, and each run's metrics.json (for
`python -m amr_tf.aggregate`).
"""

import dataclasses
import json
import os

import keras
import numpy as np

from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import mixes
from amr_tf.eval import spiral_mixes
from amr_tf.eval import summary
from amr_tf.experiments import common
from amr_tf.figures import charts

# (iterations per 100 epochs, iterations between logs): the paper's 100
# epochs of the 10,000 training points at batch 64, or --quick's 2,000
# iterations (about 13 epochs).
BUDGETS = {False: (15625, 625), True: (2000, 100)}
# Fig. 8's runs and their epochs; Fig. 7 trains every run 100 epochs.
FIGURE8_EPOCHS = {"amr_beta0": 200, "acai": 300, "acai_berthelot": 300}
CURVE_FILE = "consistency_curve.json"
CURVE_EXAMPLES = 512

# An extension beyond the paper: the paper's critic is spectrally normalised,
# so it is 1-Lipschitz, and on the spiral (arms ~0.2 apart, noise std 0.02)
# its logits can barely tell a point on an arm from one between arms; its
# loss stays at the constant-output optimum. Without spectral norm it can.
UNCONSTRAINED_CRITIC = (
    "amr_beta0_unconstrained", "AMR β=0, critic without spectral norm (extension)",
    ("--objective=amr", "--consistency_weight=0", "--disc_norm=none"))



@dataclasses.dataclass(frozen=True)
class Options:
    output_dir: str
    quick: bool = False
    figure: int = 7
    betas: tuple[float, ...] = (0.0, 0.1, 10.0, 100.0)
    epsilon: float = 0.05
    seeds: int = 1
    overrides: tuple[str, ...] = ()


class ConsistencyCurve(keras.callbacks.Callback):
    """Records the mixing consistency of held-out points every epoch
    (`log_every` iterations) into `path` as [[iteration, value], ...]."""

    def __init__(self, path, inputs, kind):
        super().__init__()
        self.path = path
        self.inputs = inputs
        self.kind = kind

    def on_train_begin(self, logs=None):
        done = self.model.completed_iterations()
        self.curve = [point for point in _read_curve(self.path)
                      if point[0] <= done]

    def on_epoch_end(self, epoch, logs=None):
        value = mixes.relative_mixing_consistency(
            self.model, self.inputs, seed=0, kind=self.kind)
        self.curve.append([self.model.completed_iterations(), value])
        with open(self.path, "w") as curve_file:
            json.dump(self.curve, curve_file)


def _read_curve(path):
    if not os.path.exists(path):
        return []
    with open(path) as curve_file:
        return json.load(curve_file)


def make_runs(options):
    """Fig. 7: AMR for each β, AMR β=0 with an unconstrained critic, then
    ACAI in AMR's and in its authors' set-up, for 100 epochs; Fig. 8: AMR
    β=0 and both ACAIs for `FIGURE8_EPOCHS`. Each for `options.seeds` model
    seeds."""
    betas = (0.0,) if options.figure == 8 else options.betas
    methods = [(f"amr_beta{beta:g}", f"AMR β={beta:g}",
                ("--objective=amr", f"--consistency_weight={beta}"))
               for beta in betas]
    methods.append(UNCONSTRAINED_CRITIC)
    methods += [(name, *common.METHODS[name])
                for name in ("acai", "acai_berthelot")]
    epochs = {}
    if options.figure == 8:
        methods = [method for method in methods if method[0] in FIGURE8_EPOCHS]
        epochs = FIGURE8_EPOCHS
    per_100_epochs, log_every = BUDGETS[options.quick]

    def budget(name):
        return (f"--steps={per_100_epochs * epochs.get(name, 100) // 100}",
                f"--log_every={log_every}")

    return [common.Run(f"{name}_seed{seed}", label,
                       (common.config_flag("spiral"), *budget(name), *args),
                       seed)
            for name, label, args in methods for seed in range(options.seeds)]


def run(options):
    """Trains, evaluates and plots the spiral study; returns the results."""

    def callbacks_for(run_, config):
        inputs = metrics_lib.first_examples(config.data, "test",
                                            CURVE_EXAMPLES)["inputs"]
        path = os.path.join(config.model_dir, CURVE_FILE)
        return [ConsistencyCurve(path, inputs, config.recon_loss)]

    trained = common.train_runs(make_runs(options), options.output_dir,
                                options.overrides, callbacks_for)
    plateau = common.save_training_curves(
        os.path.join(options.output_dir, "training_curves.png"), trained)
    settings = metrics_lib.EvalSettings(spiral_epsilon=options.epsilon,
                                        progress=True)
    per_run, panels, curves = [], [], {}
    for item, change in zip(trained, plateau):
        restored, method = item.restored, item.run.method
        metrics = metrics_lib.evaluate(restored, ["spiral", "consistency"],
                                       settings)
        metrics["train_seconds"] = item.seconds
        metrics["reconstruction_plateau_change"] = change
        summary.write_metrics(restored.config.model_dir, metrics)
        per_run.append((method, metrics))
        if item.run.seed == 0:  # Figures show the first seed.
            data = metrics_lib.first_examples(restored.config.data, "test",
                                              settings.num_examples)["inputs"]
            decoded = spiral_mixes.decoded_mixes(
                restored.model, data,
                *spiral_mixes.mixup_pairs(len(data), settings.seed))
            fraction = metrics["on_manifold_fraction"]
            panels.append((f"{method}: {fraction:.0%} on spiral", data,
                           decoded))
            curves[method] = _read_curve(
                os.path.join(restored.config.model_dir, CURVE_FILE))
    results = {method: summary.pool([metrics for _, metrics in group])
               for method, group in common.by_method(
                   per_run, lambda pair: pair[0]).items()}

    references = {name: value for name, value in per_run[0][1].items()
                  if name.startswith(spiral_mixes.REFERENCES)}
    output_dir = options.output_dir
    charts.save_point_mix_panels(os.path.join(output_dir, "spiral_mixes.png"),
                                  panels)
    charts.save_bar_chart(
        os.path.join(output_dir, "spiral_on_manifold.png"),
        {m: np.mean(r["on_manifold_fraction"]) for m, r in results.items()},
        f"decoded mixes within ε={options.epsilon:g}",
        reference=references["input_mix_on_manifold_fraction"],
        reference_label="input-space mixes (no model)")
    charts.save_curves(
        os.path.join(output_dir, "spiral_consistency.png"), curves,
        "mixing consistency / code spread", styles={"AMR β=0": "k-", "ACAI": "r-"})
    table = _table(results, references, options, settings)
    common.write_outputs(output_dir, results, table)
    return results


# Table rows that need no model: (label, key prefix in the metrics).
REFERENCE_ROWS = (
    ("floor: input-space mixes α·x1 + (1−α)·x2, same pairs", "input_mix_"),
    ("floor: uniform points over the data's bounding box", "uniform_"),
    ("ceiling: held-out data", "data_"),
)
# Metrics tested against the first run's method: name -> header.
TESTED = {"on_manifold_fraction": "within ε of the spiral",
          "relative_mixing_consistency": "consistency / code spread"}
SPIRAL_COLUMNS = ("on_manifold_fraction", "mid_alpha_on_manifold_fraction",
                  "mean_distance_to_spiral")


def _table(results, references, options, settings):
    """Markdown: one row per method, then the model-free references."""
    def cells(metrics, prefix=""):
        return [summary.format_value(metrics[prefix + name], 3)
                if prefix + name in metrics else "-" for name in SPIRAL_COLUMNS]

    rows = [[method, *cells(m),
             summary.format_value(m["mixing_consistency"], 3),
             summary.format_value(m["relative_mixing_consistency"], 3),
             summary.format_value(m["reconstruction_plateau_change"], 2),
             common.iterations_cell(m), f"{np.mean(m['train_seconds']):.0f}"]
            for method, m in results.items()]
    rows += [[label, *cells(references, prefix), "-", "-", "-", "-", "-"]
             for label, prefix in REFERENCE_ROWS]
    low, high = spiral_mixes.MID_ALPHA
    table = common.markdown_table(
        ["run", f"within ε={options.epsilon:g} of the spiral",
         f"same, α in [{low:g}, {high:g}]", "mean distance to the spiral",
         "mixing consistency (end)", "consistency / code spread",
         "recon. loss change, last 10 %", "iterations", "train s / run"], rows)
    table += (
        f"\n\nmean ± std over {options.seeds} model seed(s), n = seeds; "
        f"{settings.num_examples} held-out points, each mixed with a random "
        "partner at α ~ U(0, 1) in latent space (models) or input space "
        "(floor). Code spread: the mean distance between the codes of random "
        "pairs, so the last consistency column cannot shrink with the codes.")
    baseline = next(iter(results))
    tests = common.paired_test_rows(results, baseline, TESTED)
    if tests:
        table += (f"\n\nAgainst {baseline}, pairs by model seed:\n\n"
                  + common.markdown_table(["run", *TESTED.values()], tests))
    return table
