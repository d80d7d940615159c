"""Latent-space structure (paper §5.3): t-SNE, then K-Means cluster spread.

For each t-SNE seed the latents are embedded in 2-D, clustered by K-Means
with one cluster per class, and the mean pairwise distance between cluster
centres is taken. A model's value is the mean over t-SNE seeds; two models
are compared over model seeds (`amr_tf.eval.summary.paired_test`).
"""

import numpy as np
import scipy.spatial.distance
import threadpoolctl
from sklearn import cluster as sklearn_cluster
from sklearn import manifold


def tsne(latents, seed, perplexity=30.0):
    """(N, ...) latents -> (N, 2) t-SNE embedding (PCA initialised).

    Runs on one thread: scikit-learn's OpenMP threads crawl when the CPU is
    shared (300 latents: 21 s with every thread, 3.8 s with one, on a busy
    2-core machine).
    """
    latents = np.asarray(latents, np.float64).reshape(len(latents), -1)
    embedding = manifold.TSNE(2, perplexity=min(perplexity, len(latents) - 1),
                              init="pca", random_state=seed)
    with threadpoolctl.threadpool_limits(1):
        return embedding.fit_transform(latents)


def inter_cluster_distance(points, num_clusters, seed=0, n_init=10):
    """Mean pairwise Euclidean distance between K-Means centres of points."""
    kmeans = sklearn_cluster.KMeans(num_clusters, n_init=n_init,
                                    random_state=seed)
    kmeans.fit(np.asarray(points, np.float64))
    return float(np.mean(scipy.spatial.distance.pdist(kmeans.cluster_centers_)))


def inter_cluster_distances(latents, num_clusters, tsne_seeds):
    """`inter_cluster_distance` of the t-SNE embedding, one per seed."""
    return [inter_cluster_distance(tsne(latents, seed), num_clusters, seed)
            for seed in tsne_seeds]

