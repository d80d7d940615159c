"""Pooling metric values over runs and printing them as mean ± std.

A run's metrics are a dict of name -> float or list of floats (one per
resample or t-SNE seed). Pooling several runs (model seeds) first averages
each run's values, so that every statistic counts model seeds, not
resamples of one model: n is the number of seeds, the std is the spread
between seeds, and two groups of runs made with the same seeds pair by seed
(`paired_test`).
"""

import json
import os

import numpy as np
import scipy.stats
import tensorflow as tf

from amr_tf.core.errors import UsageError

# Where `python -m amr_tf.evaluate` writes a run's metrics.
METRICS_FILE = "metrics.json"
# ... and their TensorBoard scalars, a run beside training's in `tensorboard/`.
TENSORBOARD_DIR = os.path.join("tensorboard", "eval")


def write_metrics(model_dir, metrics):
    """Writes a run's metrics to `model_dir/metrics.json` and TensorBoard.

    Metrics the file already holds for the same `metrics["iterations"]` (the
    same checkpoint) and not measured again are kept, so evaluating a subset
    (`--metrics=...`) adds to a run's metrics; a file of another iteration
    is replaced. TensorBoard gets one scalar per numeric metric given (a
    list's mean) under `model_dir/tensorboard/eval`, at step
    `metrics["iterations"]`, so that evaluations of a run's checkpoints line
    up with its training curves. Returns the JSON file's path.
    """
    path = os.path.join(model_dir, METRICS_FILE)
    stored = {}
    if os.path.isfile(path):
        stored = read_metrics(model_dir)
    if stored.get("iterations") != metrics.get("iterations"):
        stored = {}
    with open(path + ".tmp", "w") as metrics_file:
        json.dump({**stored, **metrics}, metrics_file, indent=2)
    os.replace(path + ".tmp", path)
    step = int(metrics.get("iterations", 0))
    writer = tf.summary.create_file_writer(os.path.join(model_dir, TENSORBOARD_DIR))
    with writer.as_default():
        for name, values in pool([metrics]).items():
            if name != "iterations":
                tf.summary.scalar(name, values[0], step=step)
    writer.close()
    return path


def read_metrics(model_dir):
    """The metrics dict of an evaluated run."""
    path = os.path.join(model_dir, METRICS_FILE)
    if not os.path.isfile(path):
        raise UsageError(f"{path} does not exist: run python -m "
                         f"amr_tf.evaluate --model_dir={model_dir} first")
    with open(path) as metrics_file:
        return json.load(metrics_file)


def pool(runs):
    """Dicts of metrics -> dict of name -> one value per run, run order.

    A run's list of values (resamples, t-SNE seeds) counts as its mean.
    Names missing from some runs pool the runs that have them; non-numeric
    entries are skipped.
    """
    pooled = {}
    for run in runs:
        for name, value in run.items():
            values = value if isinstance(value, list) else [value]
            if values and all(isinstance(v, (int, float)) for v in values):
                pooled.setdefault(name, []).append(float(np.mean(values)))
    return pooled


def paired_t_test(values_a, values_b):
    """Paired t-test of two equally long sequences; returns (t, p-value).

    t = mean(d) / (std(d, ddof=1) / sqrt(n)) with d = a - b, two-sided p.
    """
    result = scipy.stats.ttest_rel(np.asarray(values_a, np.float64),
                                   np.asarray(values_b, np.float64))
    return float(result.statistic), float(result.pvalue)


def paired_test(values, baseline):
    """Paired t-test of two groups' per-seed values, as table text.

    Returns `"paired t-test over N seeds: t = …, p = …"`, or None where the
    groups differ in length, have fewer than 2 seeds, or their differences
    do not vary (the test is undefined).
    """
    if len(values) != len(baseline) or len(values) < 2:
        return None
    differences = np.subtract(values, baseline)
    if np.std(differences) == 0:
        return None
    t, p = paired_t_test(values, baseline)
    return f"paired t-test over {len(values)} seeds: t = {t:.3g}, p = {p:.3g}"


def mean_std(values):
    """(mean, sample standard deviation (0 for one value), count)."""
    values = np.asarray(values, np.float64)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std, len(values)


def format_value(value, digits=4):
    """A float as `%.{digits}g`; a list as `mean ± std (n=N)`."""
    if isinstance(value, list):
        mean, std, count = mean_std(value)
        if count == 1:
            return f"{mean:.{digits}g}"
        return f"{mean:.{digits}g} ± {std:.2g} (n={count})"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
