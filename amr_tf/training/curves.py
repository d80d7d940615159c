"""Training curves read back from a run's TensorBoard scalars, and whether
one has levelled off.

Training writes each logged loss term every `--summary_every` iterations to
`<model_dir>/tensorboard`; a resumed run appends a new events file, and
where two files hold the same iteration the later file's value is kept.
"""

import glob
import os

import numpy as np
import tensorflow as tf
from tensorflow.core.util import event_pb2

from amr_tf.training import run_directory

# `plateau_change` compares the mean of the last PLATEAU_SHARE of the
# iterations with the mean of the share before it.
PLATEAU_SHARE = 0.1
# Logged values per share before `--stop_at_plateau` trusts the change: a
# share of 10 values averages 10 * --summary_every iterations.
PLATEAU_MIN_POINTS = 10
# `--stop_at_plateau` checks (one every --log_every iterations) in a row that
# must find the change within tolerance: one flat stretch of a noisy curve
# does not end a run.
PLATEAU_CHECKS = 3


def read_scalars(model_dir, tags):
    """The run's logged values of each of `tags`, read in one pass:
    {tag: float64 [n, 2] of (iteration, value)}, sorted by iteration; an
    empty [0, 2] for a tag never logged."""
    values = {tag: {} for tag in tags}
    pattern = os.path.join(model_dir, run_directory.TENSORBOARD,
                           "events.out.tfevents.*")
    for path in sorted(glob.glob(pattern), key=os.path.getmtime):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag in values:
                    values[value.tag][event.step] = float(
                        tf.make_ndarray(value.tensor) if value.HasField("tensor")
                        else value.simple_value)
    return {tag: np.array(sorted(points.items()), np.float64).reshape(-1, 2)
            for tag, points in values.items()}


def plateau_change(curve, min_points=2):
    """Relative change of a curve over its last `PLATEAU_SHARE` of
    iterations: (mean of the last share − mean of the share before) / |mean
    of the share before|. Near 0 when the loss has levelled off; negative
    while it still falls. NaN with fewer than `min_points` points per share.

    Args:
        curve: float [n, 2] of (iteration, value), sorted by iteration, as
            `read_scalars` returns it.
    """
    count = int(len(curve) * PLATEAU_SHARE)
    if count < max(min_points, 2):
        return float("nan")
    last = curve[-count:, 1].mean()
    before = curve[-2 * count:-count, 1].mean()
    return float((last - before) / abs(before))


def plateau_changes(curve, iteration, every):
    """The `plateau_change` (with `PLATEAU_MIN_POINTS`) of `curve` as it
    stood at `iteration` and at the `PLATEAU_CHECKS - 1` checks before it,
    `every` iterations apart; latest first. Computed from the curve alone,
    so a resumed run gets the answers it would have had without the stop."""
    return [plateau_change(curve[curve[:, 0] <= iteration - check * every],
                           PLATEAU_MIN_POINTS)
            for check in range(PLATEAU_CHECKS)]
