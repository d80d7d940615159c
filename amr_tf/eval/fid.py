"""Fréchet distance between Gaussian fits of two sets of features (FID).

The paper's "FID" uses features of a classifier trained on the same dataset
instead of Inception (see `amr_tf.eval.classifier`); the distance is the same.
"""

import numpy as np


def feature_statistics(features):
    """Mean (D,) and covariance (D, D) of (N, D) features, float64."""
    features = np.asarray(features, np.float64).reshape(len(features), -1)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mean_a, covariance_a, mean_b, covariance_b):
    """Fréchet distance between N(mean_a, covariance_a) and N(mean_b, ...):

        |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))

    Exact for singular covariances too (features that never fire): the
    trace term comes from eigenvalues, not from a matrix square root of the
    product, which has none to rely on there.

    Returns:
        A non-negative float (tiny negative rounding is clipped to 0).
    """
    mean_a, mean_b = np.atleast_1d(mean_a), np.atleast_1d(mean_b)
    covariance_a = np.atleast_2d(covariance_a)
    covariance_b = np.atleast_2d(covariance_b)
    difference = mean_a - mean_b
    distance = (difference @ difference + np.trace(covariance_a)
                + np.trace(covariance_b)
                - 2.0 * _trace_of_root_product(covariance_a, covariance_b))
    return float(max(distance, 0.0))


def _trace_of_root_product(a, b):
    """tr((A B)^(1/2)) for symmetric positive semi-definite A and B: A B has
    the eigenvalues of the symmetric A^(1/2) B A^(1/2), all >= 0."""
    values, vectors = np.linalg.eigh(a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    product_values = np.linalg.eigvalsh(root_a @ b @ root_a)
    return float(np.sqrt(np.clip(product_values, 0.0, None)).sum())


def feature_fid(features_a, features_b):
    """FID between two (N, D) feature sets."""
    return frechet_distance(*feature_statistics(features_a),
                            *feature_statistics(features_b))
