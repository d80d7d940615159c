"""Metrics of decoded mixes: in latent space, by attribute.

(On the spiral: `amr_tf.eval.spiral_mixes`.)

- `mixing_consistency`: ||h_mix - f(g(h_mix))|| for mixup mixes of random
  pairs, the term β weights, measured whether or not a model trains on it
  (paper Fig. 8b); `relative_mixing_consistency` divides it by the distance
  between random pairs of codes, so that shrinking the codes cannot lower it.
- `cross_combinations`, `differing_attributes`: how often the class
  mixer's decoded mixes carry the attributes they were asked for, judged by
  the feature classifier, beside what copying a parent, chance and the
  classifier on reconstructions (the ceiling) give.
"""

import numpy as np
import tensorflow as tf
from scipy import stats

from amr_tf.core import interpolation
from amr_tf.core import losses
from amr_tf.core import mixers as mixer_lib
from amr_tf.core.errors import UsageError


def mixing_consistency(model, inputs, seed, kind="l2"):
    """Mean over examples of `losses.distance(h_mix, f(g(h_mix)), kind)`.

    h_mix mixes each example's code with a random partner's by mixup,
    alpha ~ U(0, 1) (whatever mixer the model trains with). `"l2"` is the
    mean squared difference, `"l1"` the mean absolute difference.
    """
    latents = tf.constant(interpolation.encode(model, inputs))
    mixed = mixer_lib.Mixup().mix_batch(
        latents, tf.constant([seed, 0], tf.int64)).latents
    reencoded = interpolation.encode(model, interpolation.decode(model, np.asarray(mixed)))
    return float(np.mean(losses.distance(mixed, reencoded, kind)))


def code_spread(model, inputs, seed, kind="l2"):
    """Mean `losses.distance(h, h', kind)` between the codes of random pairs.

    The scale of the latent space: dividing `mixing_consistency` by it gives
    a consistency that an encoder cannot shrink by shrinking its codes
    (paper Fig. 8b plots the absolute distance).
    """
    latents = interpolation.encode(model, inputs)
    partners = np.asarray(mixer_lib.random_partners(
        len(latents), tf.constant([seed, 1], tf.int64)))
    return float(np.mean(losses.distance(latents, latents[partners], kind)))


def relative_mixing_consistency(model, inputs, seed, kind="l2"):
    """`mixing_consistency` over `code_spread`: 0 is perfectly consistent,
    1 is as far as two random codes are apart."""
    return (mixing_consistency(model, inputs, seed, kind)
            / code_spread(model, inputs, seed, kind))


# Suffixes of the values reported beside a class-mix metric `<name>`:
# `<name>_copy_x1` etc., and its 95 % interval `<name>_low`, `<name>_high`.
BASELINES = ("copy_x1", "copy_x2", "chance", "ceiling")
INTERVAL = ("low", "high")


def cross_selectors(num_attributes):
    """The 2^k - 2 selectors of {0, 1}^k other than all ones and all zeros:
    (S, k) float32, row i the bits of i + 1 (attribute j is bit j)."""
    codes = np.arange(1, 2**num_attributes - 1)
    return ((codes[:, None] >> np.arange(num_attributes)) & 1).astype(np.float32)


def opposite_partners(attributes, seed):
    """For each example, a random partner whose attributes are all opposite.

    Args:
        attributes: (N, k) {0, 1} attributes.
        seed: integer seed of the partner choice.

    Returns:
        (firsts, partners): int index arrays of the examples that have an
        opposite partner and of the partner drawn for each.
    """
    rng = np.random.default_rng(seed)
    codes = attributes.astype(np.int64) @ (1 << np.arange(attributes.shape[1]))
    full = 2**attributes.shape[1] - 1
    firsts, partners = [], []
    for index, code in enumerate(codes):
        candidates = np.flatnonzero(codes == full - code)
        if len(candidates):
            firsts.append(index)
            partners.append(rng.choice(candidates))
    return np.array(firsts, np.int64), np.array(partners, np.int64)


def judged_mixes(model, classifier, images_a, images_b, selectors, targets):
    """The classifier's (N, k) {0, 1} attributes of decoded class mixes
    Mix(f(a), f(b), s) with targets y~ (the paper's mixer reads y~, the
    parent-aware one s)."""
    return classifier.predict_attributes(interpolation.class_mixes(
        model, images_a, images_b, selectors, targets))


def cross_combinations(model, classifier, images, attributes, judged_copies,
                       seed):
    """Cross-combination accuracy and swap consistency on opposite pairs.

    For every pair (x1, x2) with all attributes opposite and every selector s
    of `cross_selectors`, the mix Mix(x1, x2, s) is asked for a combination
    that neither parent has: y~ = s * y1 + (1 - s) * y2.

    Args:
        model: an `AMR` with a class mixer.
        classifier: has `predict_attributes(images) -> (N, k)` in {0, 1}.
        images: (N, ...) held-out inputs in [-1, 1].
        attributes: (N, k) their {0, 1} attributes.
        judged_copies: (N, k) the classifier's attributes of the model's
            reconstructions (what a mixer that copies a parent would give).
        seed: seed of the partner choice.

    Returns:
        Dict of `cross_combination_accuracy` (all k judged attributes equal
        y~) and `swap_consistency` (Mix(x1, x2, s) and Mix(x2, x1, 1 - s)
        judged alike), each with `_copy_x1`, `_copy_x2`, `_chance` and
        `_ceiling` baselines, and the number of mixes `cross_combination_mixes`.
    """
    firsts, partners = opposite_partners(attributes, seed)
    if not len(firsts):
        raise UsageError("no held-out pair with all attributes opposite")
    selectors = cross_selectors(attributes.shape[1])
    a = np.repeat(firsts, len(selectors))
    b = np.repeat(partners, len(selectors))
    s = np.tile(selectors, (len(firsts), 1))
    targets = np.asarray(mixer_lib.mix_targets(s, attributes[a], attributes[b]))
    judged = judged_mixes(model, classifier, images[a], images[b], s, targets)
    swapped = judged_mixes(model, classifier, images[b], images[a], 1.0 - s,
                           targets)
    chance = 0.5**attributes.shape[1]

    def all_equal(x, y):
        return float(np.mean(np.all(x == y, axis=1)))

    return {
        "cross_combination_accuracy": all_equal(judged, targets),
        "cross_combination_accuracy_copy_x1": all_equal(judged_copies[a], targets),
        "cross_combination_accuracy_copy_x2": all_equal(judged_copies[b], targets),
        "cross_combination_accuracy_chance": chance,
        "cross_combination_accuracy_ceiling": all_equal(judged_copies, attributes),
        "cross_combination_mixes": len(a),
        "swap_consistency": all_equal(judged, swapped),
        "swap_consistency_copy_x1": all_equal(judged_copies[a], judged_copies[b]),
        "swap_consistency_copy_x2": all_equal(judged_copies[b], judged_copies[a]),
        "swap_consistency_chance": chance,
        "swap_consistency_ceiling": 1.0,
    }


def differing_attributes(model, classifier, images, attributes, judged_copies,
                         names, seed):
    """Per-attribute accuracy of mixes where the parents differ.

    Each example is mixed with a random partner under a random selector
    s ~ Bernoulli(1/2)^k; attribute j of a mix counts only where
    y1_j != y2_j (elsewhere every mixer gets it for free).

    Args:
        names: the k attribute names, for the keys.
        (others as for `cross_combinations`; `seed` draws partners and
        selectors.)

    Returns:
        Dict with, per attribute `<name>`: `differing_accuracy_<name>`, its
        binomial (Wilson) 95 % interval `_low` / `_high`, the number of mixes
        counted `_count`, and the `_copy_x1`, `_copy_x2`, `_chance` (0.5) and
        `_ceiling` (the classifier on reconstructions) baselines.
    """
    rng = np.random.default_rng(seed)
    partners = rng.permutation(len(images))
    selectors = (rng.uniform(size=attributes.shape) < 0.5).astype(np.float32)
    targets = np.asarray(mixer_lib.mix_targets(selectors, attributes,
                                               attributes[partners]))
    judged = judged_mixes(model, classifier, images, images[partners],
                          selectors, targets)
    differ = attributes != attributes[partners]
    results = {}
    for j, name in enumerate(names):
        rows = differ[:, j]
        correct = int(np.sum(judged[rows, j] == targets[rows, j]))
        count = int(np.sum(rows))
        key = f"differing_accuracy_{name}"
        results[key] = correct / count if count else 0.0
        results[f"{key}_low"], results[f"{key}_high"] = binomial_interval(
            correct, count)
        results[f"{key}_count"] = count
        results[f"{key}_copy_x1"] = _share_equal(judged_copies[rows, j],
                                                 targets[rows, j])
        results[f"{key}_copy_x2"] = _share_equal(
            judged_copies[partners][rows, j], targets[rows, j])
        results[f"{key}_chance"] = 0.5
        results[f"{key}_ceiling"] = _share_equal(judged_copies[:, j],
                                                 attributes[:, j])
    return results


def binomial_interval(successes, trials):
    """Wilson 95 % interval (low, high) of a success rate; (0, 1) for no
    trials."""
    if not trials:
        return 0.0, 1.0
    interval = stats.binomtest(successes, trials).proportion_ci(
        0.95, method="wilson")
    return float(interval.low), float(interval.high)


def _share_equal(x, y):
    return float(np.mean(x == y)) if len(x) else 0.0
