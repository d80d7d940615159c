"""Pooling metric values over runs and printing them as mean ± std.

A run's metrics are a dict of name -> float or list of floats (one per
resample or t-SNE seed). Pooling several runs (model seeds) concatenates
each metric's values in run order, so values of two groups of runs made
with the same seeds stay paired.
"""

import json
import os

import numpy as np

from amr_tf.errors import UsageError

# Where `python -m amr_tf.evaluate` writes a run's metrics.
METRICS_FILE = "metrics.json"


def write_metrics(model_dir, metrics):
    """Writes a run's metrics dict to `model_dir/metrics.json`; its path."""
    path = os.path.join(model_dir, METRICS_FILE)
    with open(path, "w") as metrics_file:
        json.dump(metrics, metrics_file, indent=2)
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
    """Dicts of metrics -> dict of name -> list of all values, run order.

    Names missing from some runs pool the runs that have them; non-numeric
    entries are skipped.
    """
    pooled = {}
    for run in runs:
        for name, value in run.items():
            values = value if isinstance(value, list) else [value]
            if all(isinstance(v, (int, float)) for v in values):
                pooled.setdefault(name, []).extend(float(v) for v in values)
    return pooled


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
