"""Random pairs of examples to interpolate between, across classes."""

import numpy as np

from amr_tf.data.examples import NO_LABEL

# Held-out examples that interpolation figures draw their pairs from.
PAIR_POOL = 512


def pick_pairs(labels, count, seed):
    """Indices of `count` random pairs of distinct examples.

    Where examples are labelled, each pair joins two different classes (a
    held-out split ordered by class would otherwise pair a class with
    itself); unlabelled examples (`NO_LABEL`) pair at random.

    Args:
        labels: (N,) integer class ids, `NO_LABEL` where there is none.
        count: pairs to pick.
        seed: integer seed; the same seed picks the same pairs.

    Returns:
        (first (count,), second (count,)) int indices into `labels`.
    """
    labels = np.asarray(labels)
    if len(labels) < 2:
        raise ValueError(f"pairs need at least 2 examples, got {len(labels)}")
    rng = np.random.default_rng(seed)
    first = rng.choice(len(labels), count, replace=count > len(labels))
    labelled = labels != NO_LABEL
    second = np.empty_like(first)
    for index, example in enumerate(first):
        partners = np.flatnonzero(labelled & (labels != labels[example]))
        if not labelled[example] or len(partners) == 0:
            partners = np.delete(np.arange(len(labels)), example)
        second[index] = rng.choice(partners)
    return first, second
