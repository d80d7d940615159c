"""Fréchet distance between Gaussian fits of two sets of features (FID).

The paper's "FID" uses features of a classifier trained on the same dataset
instead of Inception (see `amr_tf.eval.classifier`); the distance is the same.
"""

import numpy as np
import scipy.linalg


def feature_statistics(features):
    """Mean (D,) and covariance (D, D) of (N, D) features, float64."""
    features = np.asarray(features, np.float64).reshape(len(features), -1)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mean_a, covariance_a, mean_b, covariance_b):
    """Fréchet distance between N(mean_a, covariance_a) and N(mean_b, ...):

        |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))

    Returns:
        A non-negative float (tiny negative rounding is clipped to 0).
    """
    mean_a, mean_b = np.atleast_1d(mean_a), np.atleast_1d(mean_b)
    covariance_a = np.atleast_2d(covariance_a)
    covariance_b = np.atleast_2d(covariance_b)
    root = scipy.linalg.sqrtm(covariance_a @ covariance_b)
    if not np.all(np.isfinite(root)):
        # Singular product: regularise both, as the reference FID code does.
        offset = 1e-6 * np.eye(len(covariance_a))
        root = scipy.linalg.sqrtm((covariance_a + offset) @ (covariance_b + offset))
    root = np.real(root)  # Rounding leaves tiny imaginary parts.
    difference = mean_a - mean_b
    distance = (difference @ difference + np.trace(covariance_a)
                + np.trace(covariance_b) - 2.0 * np.trace(root))
    return float(max(distance, 0.0))


def feature_fid(features_a, features_b):
    """FID between two (N, D) feature sets."""
    return frechet_distance(*feature_statistics(features_a),
                            *feature_statistics(features_b))
