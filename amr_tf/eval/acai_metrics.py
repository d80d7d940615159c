"""The benchmarks of ACAI (Berthelot et al. 2019) that the paper cites.

- Linear probe: accuracy of one dense (softmax) layer trained on frozen
  latent codes.
- Clustering accuracy: latents whitened, K-Means with one cluster per
  class, clusters matched to classes by the Hungarian algorithm.
- Lines: for interpolations between lines (`amr_tf.data.lines`), the Mean
  Distance of each decoded interpolant to the closest of 10,000 reference
  lines (cosine distance), and Smoothness: the largest step of the nearest
  lines' unwrapped angles over the total change, minus 1 / (T - 1), where
  T is the number of interpolants; 0 is perfectly even.

Latents are (N, ...) arrays (flattened here); labels are (N,) ints.
"""

import functools

import numpy as np
import scipy.optimize
import scipy.spatial.distance
from sklearn import cluster as sklearn_cluster
from sklearn import linear_model

from amr_tf.data import lines as lines_lib

NUM_REFERENCE_LINES = 10_000
# Below this total change of angle (radians) Smoothness is undefined.
_MIN_TOTAL_ANGLE_CHANGE = 1e-4


def _flat(latents):
    latents = np.asarray(latents, np.float64)
    return latents.reshape(len(latents), -1)


def linear_probe_accuracy(train_latents, train_labels, test_latents,
                          test_labels, max_iterations=1000):
    """Test accuracy of multinomial logistic regression on frozen latents.

    Latents are standardised with the training set's mean and standard
    deviation first (an affine map, so the model class is unchanged).
    """
    train, test = _flat(train_latents), _flat(test_latents)
    mean, scale = train.mean(axis=0), train.std(axis=0) + 1e-8
    probe = linear_model.LogisticRegression(max_iter=max_iterations)
    probe.fit((train - mean) / scale, np.asarray(train_labels))
    predicted = probe.predict((test - mean) / scale)
    return float(np.mean(predicted == np.asarray(test_labels)))


def whiten(train_latents, *others, epsilon=1e-5):
    """Whitens latents with the statistics of `train_latents`, as ACAI does.

    Centres on the training mean, rotates onto the right singular vectors of
    the centred training latents and divides by their singular values, so
    the whitened training latents have identity covariance up to one common
    scale, 1 / (N - 1).

    Returns:
        The whitened `train_latents`, then each of `others`, as (N, D) arrays.
    """
    train = _flat(train_latents)
    mean = train.mean(axis=0)
    _, singular_values, right = np.linalg.svd(train - mean, full_matrices=False)

    def transform(latents):
        return (_flat(latents) - mean) @ right.T / (singular_values + epsilon)

    return tuple(transform(latents) for latents in (train, *others))


def hungarian_accuracy(labels, clusters):
    """Accuracy of cluster ids under the best one-to-one cluster -> label map.

    Args:
        labels: (N,) true class ids.
        clusters: (N,) cluster ids.
    """
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    label_ids, label_index = np.unique(labels, return_inverse=True)
    cluster_ids, cluster_index = np.unique(clusters, return_inverse=True)
    counts = np.zeros((len(cluster_ids), len(label_ids)))
    np.add.at(counts, (cluster_index, label_index), 1)
    rows, columns = scipy.optimize.linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, columns].sum() / len(labels))


def clustering_accuracy(train_latents, test_latents, test_labels,
                        num_clusters, n_init=10, seed=0):
    """Hungarian accuracy of K-Means clusters of whitened latents.

    Whitening and K-Means are fitted on `train_latents`; the accuracy is
    measured on the test latents.
    """
    train, test = whiten(train_latents, test_latents)
    kmeans = sklearn_cluster.KMeans(num_clusters, n_init=n_init,
                                    random_state=seed)
    kmeans.fit(train)
    return hungarian_accuracy(test_labels, kmeans.predict(test))


@functools.lru_cache(maxsize=4)
def _reference_lines(image_size, count):
    angles = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    images = np.asarray(lines_lib.render_lines(angles, image_size), np.float64)
    return images.reshape(count, -1), angles


def nearest_lines(images, num_reference=NUM_REFERENCE_LINES, chunk=512):
    """Cosine distance to, and angle of, the closest reference line.

    Args:
        images: (N, S, S, 1) images in [-1, 1].
        num_reference: reference lines at evenly spaced angles in [0, 2 pi).

    Returns:
        (distances (N,), angles (N,)) as float64 arrays.
    """
    images = np.asarray(images, np.float64)
    reference, reference_angles = _reference_lines(images.shape[1],
                                                   num_reference)
    flat = images.reshape(len(images), -1)
    distances, angles = [], []
    for start in range(0, len(flat), chunk):
        block = scipy.spatial.distance.cdist(flat[start:start + chunk],
                                             reference, "cosine")
        nearest = np.argmin(block, axis=1)
        distances.append(block[np.arange(len(block)), nearest])
        angles.append(reference_angles[nearest])
    return np.concatenate(distances), np.concatenate(angles)


def smoothness(angles):
    """Smoothness of each interpolation from its lines' angles.

    Args:
        angles: (P, T) angles in radians of the T interpolants of P pairs.

    Returns:
        (P,) max_t |step_t| / |total change| - 1 / (T - 1) after unwrapping;
        NaN where the total change is below 1e-4 rad.
    """
    angles = np.unwrap(np.atleast_2d(np.asarray(angles, np.float64)), axis=-1)
    steps = np.abs(np.diff(angles, axis=-1))
    total = np.abs(angles[:, -1] - angles[:, 0])
    defined = total >= _MIN_TOTAL_ANGLE_CHANGE
    scores = np.full(len(angles), np.nan)
    scores[defined] = (steps[defined].max(axis=-1) / total[defined]
                       - 1.0 / (angles.shape[1] - 1))
    return scores


def line_metrics(interpolations):
    """ACAI's Mean Distance and Smoothness of line interpolations.

    Args:
        interpolations: (P, T, S, S, 1) decoded interpolants in [-1, 1].

    Returns:
        `(mean_distance, mean_smoothness)`. As in ACAI's code, pairs whose
        Smoothness is undefined count as 0 in the mean (NaN if all are).
    """
    interpolations = np.asarray(interpolations)
    pairs, steps = interpolations.shape[:2]
    distances, angles = nearest_lines(
        interpolations.reshape((pairs * steps,) + interpolations.shape[2:]))
    scores = smoothness(angles.reshape(pairs, steps))
    mean_smoothness = (np.nan if np.all(np.isnan(scores))
                       else float(np.nansum(scores) / pairs))
    return float(np.mean(distances)), mean_smoothness
