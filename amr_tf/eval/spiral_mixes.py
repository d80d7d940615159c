"""Are decoded spiral mixes on the spiral (paper §5.2, Fig. 7)? With floors.

A model's score only means something beside what needs no model. Each
measure is reported for the decoded mixes and for three references scored
by the same rule:

- `input_mix`: the same pairs mixed in input space, x = α·x1 + (1−α)·x2.
  Short chords between neighbouring points stay within ε of the curve, so
  this floor is far from 0 (about 0.39 at ε = 0.05 on the default spiral).
- `uniform`: points drawn uniformly over the data's bounding box.
- `data`: the held-out points themselves (a ceiling; the data's noise has
  std 0.02).

Measures, for points with the mix's α (the weight of x1):
- `on_manifold_fraction`: share within ε of the noiseless spiral;
- `mid_alpha_on_manifold_fraction`: the same share over α in [0.25, 0.75],
  where a mix is furthest from both parents;
- `mean_distance_to_spiral`: mean Euclidean distance to the curve.
"""

import numpy as np

from amr_tf.core import interpolation
from amr_tf.data import spiral

MID_ALPHA = (0.25, 0.75)
REFERENCES = ("input_mix", "uniform", "data")


def mixup_pairs(count, seed):
    """Random partners and mixup weights for `count` points.

    Returns:
        (partners (count,) int indices, alphas (count,) in [0, 1)).
    """
    rng = np.random.default_rng(seed)
    return rng.permutation(count), rng.uniform(size=count)


def decoded_mixes(model, inputs, partners, alphas):
    """g(α·f(x) + (1−α)·f(x[partners])) for (N, 2) `inputs`; (N, 2) NumPy."""
    latents = interpolation.encode(model, inputs)
    weights = alphas[:, None].astype(np.float32)
    mixed = weights * latents + (1.0 - weights) * latents[partners]
    return interpolation.decode(model, mixed)


def scores(points, epsilon, alphas=None):
    """The measures of (N, 2) `points`; the mid-α share only with `alphas`."""
    distances = spiral.distance_to_spiral(points)
    on_spiral = distances <= epsilon
    result = {"on_manifold_fraction": float(on_spiral.mean()),
              "mean_distance_to_spiral": float(distances.mean())}
    if alphas is not None:
        middle = (alphas >= MID_ALPHA[0]) & (alphas <= MID_ALPHA[1])
        result["mid_alpha_on_manifold_fraction"] = float(on_spiral[middle].mean())
    return result


def reference_scores(inputs, partners, alphas, epsilon, seed):
    """`scores` of each reference, keyed `<reference>_<measure>`."""
    weights = alphas[:, None]
    low, high = inputs.min(axis=0), inputs.max(axis=0)
    uniform = np.random.default_rng(seed).uniform(low, high, size=inputs.shape)
    references = {
        "input_mix": scores(weights * inputs + (1 - weights) * inputs[partners],
                            epsilon, alphas),
        "uniform": scores(uniform, epsilon),
        "data": scores(inputs, epsilon),
    }
    return {f"{reference}_{name}": value
            for reference, measured in references.items()
            for name, value in measured.items()}


def spiral_report(model, inputs, epsilon, seed):
    """The decoded mixes' scores and every reference's, one flat dict."""
    inputs = np.asarray(inputs, np.float64)
    partners, alphas = mixup_pairs(len(inputs), seed)
    decoded = decoded_mixes(model, inputs.astype(np.float32), partners, alphas)
    return {**scores(decoded, epsilon, alphas),
            **reference_scores(inputs, partners, alphas, epsilon, seed)}
