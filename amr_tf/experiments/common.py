"""What every experiment shares: its flags, training its runs, tables.

An experiment is a list of `Run`s (training flags on top of a packaged
config, `amr_tf.config.presets`), trained one after another into `output_dir/<run name>` with
`trainer.train` (so an interrupted experiment resumes where it stopped and
a finished run is not retrained), then evaluated with `amr_tf.eval`.

Training flags given on an experiment's command line (e.g. `--steps=50`)
override those of every run; `--model_dir` and `--seed` are the
experiment's to set.
"""

import dataclasses
import json
import os
import time

import numpy as np

from amr_tf.config import flag_text
from amr_tf.config import presets
from amr_tf.core import interpolation
from amr_tf.core.errors import check_choice
from amr_tf.data import pairs as data_pairs
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import summary
from amr_tf.figures import charts
from amr_tf.figures import drawing
from amr_tf.training import curves as curves_lib
from amr_tf.training import restore
from amr_tf.training import trainer

RESULTS_FILE = "results.json"
# Seconds a run has spent training, over every resume.
TIMING_FILE = "train_seconds.txt"
TABLE_FILE = "results.md"
# The loss terms of every run's curves in training_curves.png.
CURVE_TAGS = ("g_reconstruction", "g_total", "d_total")
# Training flags an experiment sets per run itself.
RUN_FLAGS = ("model_dir", "seed")


# --quick: 16 px images, 800 iterations of the config's own settings.
QUICK_FLAGS = ("--image_size=16", "--steps=800", "--log_every=100")
# Without --quick, shapes (the CPU demo config) takes the paper's optimiser
# and n_critic, and trains longer.
FULL_FLAGS = {"shapes": ("--n_critic=5", "--learning_rate=2e-4",
                         "--steps=10000", "--log_every=500")}

# The compared methods: name -> (table label, training flags). "acai" is
# ACAI's losses in AMR's set-up (the data config's networks, weights and
# optimiser); "acai_berthelot" adds the packaged `acai` config, ACAI's own
# set-up (critic without spectral norm, linear decoder, λ = 1 squared error,
# Adam 1e-4 (0.9, 0.999), one critic update per batch).
# "amr_mixup_beta50" adds the mixing consistency loss at the paper's §5.3
# β = 50 (the "amr_mixup" row takes the config's β: 0 in mnist, mnist5k, digits).
# "amr_mixup_unconstrained" is an extension beyond the paper: AMR with a
# critic without spectral norm (docs/METHOD.md §4); "amr_mixup_r1" adds the
# R1 gradient penalty on real inputs, weight R1_WEIGHT (Mescheder et al.'s
# usual γ = 10), the usual constraint on an unnormalised critic.
R1_WEIGHT = 10.0
METHODS = {
    "arae": ("ARAE", ("--objective=arae",)),
    "acai": ("ACAI", ("--objective=acai",)),
    "acai_berthelot": ("ACAI (Berthelot et al. set-up)",
                       (f"--flagfile={presets.path('acai')}",)),
    "amr_mixup": ("AMR (mixup)", ("--objective=amr", "--mixer=mixup")),
    "amr_mixup_beta50": ("AMR (mixup), β = 50",
                         ("--objective=amr", "--mixer=mixup",
                          "--consistency_weight=50")),
    "amr_bernoulli": ("AMR (Bernoulli)",
                      ("--objective=amr", "--mixer=bernoulli")),
    "amr_mixup_unconstrained": (
        "AMR (mixup), critic without spectral norm (extension)",
        ("--objective=amr", "--mixer=mixup", "--disc_norm=none")),
    "amr_mixup_r1": (
        "AMR (mixup), critic without spectral norm, R1 penalty (extension)",
        ("--objective=amr", "--mixer=mixup", "--disc_norm=none",
         f"--gradient_penalty={R1_WEIGHT:g}")),
}


class Preempted(Exception):
    """SIGTERM stopped a run after saving its checkpoint; the experiment
    stops there, and the same command resumes it."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of an experiment.

    Attributes:
        name: directory under the output folder, e.g. "amr_mixup_seed0".
        method: the row it belongs to in tables, e.g. "AMR (mixup)".
        args: training flags, e.g. ("--flagfile=...", "--objective=arae").
        seed: the model seed.
    """

    name: str
    method: str
    args: tuple[str, ...]
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Trained:
    """A run after training: the model and its training time in seconds,
    over every resume (wall clock, including tracing and checkpoints)."""

    run: Run
    restored: restore.Restored
    seconds: float


def method_runs(methods, base_args, seeds, method_flags=None):
    """A `Run` per method and seed: `<method>_seed<seed>`.

    `method_flags` maps a method name to flags of this experiment's that
    follow the method's own (e.g. a latent size of the authors' set-up).
    """
    method_flags = method_flags or {}
    for name in methods:
        check_choice("method", name, tuple(METHODS))
    return [Run(f"{name}_seed{seed}", METHODS[name][0],
                (*base_args, *METHODS[name][1], *method_flags.get(name, ())),
                seed)
            for name in methods for seed in range(seeds)]


def config_flag(name):
    """`--flagfile=` for the packaged config `name`."""
    return f"--flagfile={presets.path(name)}"


def train_runs(runs, output_dir, overrides=(), callbacks_for=None):
    """Trains (or resumes, or skips when finished) each run in turn.

    Args:
        runs: `Run`s.
        output_dir: each run goes to `output_dir/run.name`.
        overrides: training flags applied after every run's own.
        callbacks_for: optional function `(run, config) -> Keras callbacks`.

    Returns:
        A list of `Trained`, in the order of `runs`.

    Raises:
        Preempted: SIGTERM stopped a run; later runs were not started.
    """
    trained = []
    for index, run in enumerate(runs):
        model_dir = os.path.join(output_dir, run.name)
        config = flag_text.config_from_args(
            ["--noexport", *run.args, *overrides, f"--seed={run.seed}",
             f"--model_dir={model_dir}"])
        print(f"[{index + 1}/{len(runs)}] {run.method}, seed {run.seed}: "
              f"{config.steps} iterations in {model_dir}", flush=True)
        start = time.perf_counter()
        callbacks = callbacks_for(run, config) if callbacks_for else ()
        result = trainer.train(config, callbacks)
        seconds = _add_training_time(
            model_dir, time.perf_counter() - start if result.history else 0.0)
        if result.preempted:
            raise Preempted(
                f"Stopped by SIGTERM after iteration {result.iterations} of "
                f"{model_dir}; checkpoint saved. Re-run the same command to "
                "resume.")
        info = trainer.validate(config)
        trained.append(Trained(run, restore.Restored(config, info, result.model),
                               seconds))
    return trained


def _add_training_time(model_dir, seconds):
    """Adds `seconds` to the run's recorded training time; the total."""
    path = os.path.join(model_dir, TIMING_FILE)
    if os.path.exists(path):
        with open(path) as timing_file:
            seconds += float(timing_file.read())
    with open(path, "w") as timing_file:
        timing_file.write(f"{seconds:.1f}\n")
    return seconds


def save_interpolation_grid(path, items, pairs=4, steps=8, seed=0):
    """Interpolations of held-out pairs, rows pixel then one per run.

    Rows follow the paper's order: pixel, ARAE, ACAI, AMR (Fig. 3-5). The
    pairs are drawn at random (`seed`) from the first `data.pairs.PAIR_POOL`
    held-out examples, across classes where the data has labels.

    Args:
        path: output PNG.
        items: `Trained` runs on the same data, one per method.
    """
    restored = items[0].restored
    examples = metrics_lib.first_examples(restored.config.data, "test",
                                          data_pairs.PAIR_POOL)
    first, second = data_pairs.pick_pairs(examples["label"], pairs, seed)
    images_a, images_b = examples["inputs"][first], examples["inputs"][second]
    alphas = np.linspace(1.0, 0.0, steps)
    order = [label for label, _ in METHODS.values()]
    items = sorted(items, key=lambda item: order.index(item.run.method)
                   if item.run.method in order else len(order))
    rows = [drawing.pixel_interpolation(images_a, images_b, alphas)]
    rows += [interpolation.interpolate(item.restored.model, images_a, images_b,
                                   alphas) for item in items]
    drawing.save_interpolation_figure(
        path, np.stack(rows, axis=1),
        ["pixel"] + [item.run.method for item in items],
        title=f"{restored.info.name}: interpolations (α from 1 to 0)")


def save_training_curves(path, trained, tags=CURVE_TAGS):
    """Draws every run's logged curves of `tags` (which hold
    "g_reconstruction"), a colour per method; returns each run's
    `curves.plateau_change` of its reconstruction loss, in the order of
    `trained`."""
    runs = [curves_lib.read_scalars(item.restored.config.model_dir, tags)
            for item in trained]
    by_run_method = by_method(zip(trained, runs), lambda pair: pair[0].run.method)
    charts.save_training_curves(
        path, {method: [run for _, run in group]
               for method, group in by_run_method.items()})
    return [curves_lib.plateau_change(run["g_reconstruction"]) for run in runs]


def paired_test_rows(pooled, baseline, names, skip=()):
    """Table rows `[method, test of each of names]`: each method of `pooled`
    other than `baseline` and `skip`, paired t-tests over model seeds against
    `baseline` ("-" where a test is undefined or a metric is missing)."""
    return [[method] + [summary.paired_test(metrics.get(name, []),
                                            pooled[baseline].get(name, []))
                        or "-" for name in names]
            for method, metrics in pooled.items()
            if method != baseline and method not in skip]


def iterations_cell(metrics):
    """A table cell of a method's training iterations: the count its seeds
    share, or each seed's in seed order (runs that stopped at a plateau,
    `--stop_at_plateau`, differ); "-" without any."""
    counts = [f"{count:.0f}" for count in metrics.get("iterations", [])]
    if not counts:
        return "-"
    return counts[0] if len(set(counts)) == 1 else ", ".join(counts)


def by_method(items, method_of):
    """Groups items by method, keeping first-seen order: {method: [items]}."""
    groups = {}
    for item in items:
        groups.setdefault(method_of(item), []).append(item)
    return groups


def markdown_table(header, rows):
    """A GitHub markdown table from a header and rows of strings."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_outputs(output_dir, results, table_text):
    """Writes `results.json` and `results.md`, prints the table; paths."""
    os.makedirs(output_dir, exist_ok=True)
    json_path = os.path.join(output_dir, RESULTS_FILE)
    with open(json_path, "w") as results_file:
        json.dump(results, results_file, indent=2)
    table_path = os.path.join(output_dir, TABLE_FILE)
    with open(table_path, "w") as table_file:
        table_file.write(table_text + "\n")
    print(table_text)
    print(f"Results in {json_path} and {table_path}")
    return json_path, table_path
