"""Metric functions of amr_tf.eval against hand-computed cases."""

import math
import types
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import tensorflow as tf

from amr_tf import data
from amr_tf.core.errors import ArgumentError
from amr_tf.data import DataConfig
from amr_tf.data import get_info
from amr_tf.data import lines
from amr_tf.data import spiral
from amr_tf.eval import acai_metrics
from amr_tf.eval import classifier as classifier_lib
from amr_tf.eval import degrade
from amr_tf.eval import fid
from amr_tf.eval import latent_structure
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import mixes
from amr_tf.eval import spiral_mixes
from amr_tf.eval import sprites
from amr_tf.eval import summary


# -------------------------------------------------------------------- FID
def test_frechet_distance_of_diagonal_gaussians_by_hand():
    # |(1, 2)|^2 + (4 + 9 + 1 + 1) - 2 (sqrt(4 * 1) + sqrt(9 * 1)) = 5 + 5.
    distance = fid.frechet_distance([1.0, 2.0], np.diag([4.0, 9.0]),
                                    [0.0, 0.0], np.eye(2))
    assert distance == pytest.approx(10.0)


def test_frechet_distance_of_commuting_covariances_is_a_sum_of_root_gaps():
    # Same eigenvectors: tr(A + B - 2 (AB)^1/2) = sum (sqrt(a_i) - sqrt(b_i))^2.
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    distance = fid.frechet_distance(
        np.zeros(3), rotation @ np.diag(a) @ rotation.T,
        np.full(3, 0.5), rotation @ np.diag(b) @ rotation.T)
    expected = 3 * 0.25 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert distance == pytest.approx(expected)


def test_frechet_distance_matches_the_symmetric_form_for_general_covariances():
    rng = np.random.default_rng(1)
    factors = rng.normal(size=(2, 4, 4))
    a, b = (f @ f.T + 0.1 * np.eye(4) for f in factors)
    mean_a, mean_b = rng.normal(size=(2, 4))
    root_a = scipy.linalg.sqrtm(a).real
    expected = (np.sum((mean_a - mean_b) ** 2) + np.trace(a) + np.trace(b)
                - 2 * np.trace(scipy.linalg.sqrtm(root_a @ b @ root_a).real))
    assert fid.frechet_distance(mean_a, a, mean_b, b) == pytest.approx(expected)
    assert fid.frechet_distance(mean_a, a, mean_a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_is_exact_and_silent_for_singular_covariances():
    """A feature that never fires (a zero row and column) changes nothing:
    the distance is that of the live features, with no LinAlgWarning."""
    live = fid.frechet_distance([1.0, 2.0], np.diag([4.0, 9.0]), [0.0, 0.0],
                                np.eye(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dead = fid.frechet_distance([1.0, 2.0, 0.0], np.diag([4.0, 9.0, 0.0]),
                                    [0.0, 0.0, 0.0], np.diag([1.0, 1.0, 0.0]))
    assert dead == pytest.approx(live) == pytest.approx(10.0)


def test_feature_fid_of_samples_approaches_the_closed_form():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(20000, 2)) * [2.0, 3.0] + [1.0, 2.0]
    b = rng.normal(size=(20000, 2))
    assert fid.feature_fid(a, b) == pytest.approx(10.0, rel=0.05)
    mean, covariance = fid.feature_statistics([[0.0, 0.0], [2.0, 4.0]])
    np.testing.assert_allclose(mean, [1.0, 2.0])
    np.testing.assert_allclose(covariance, [[2.0, 4.0], [4.0, 8.0]])


# ------------------------------------------------------ ACAI's benchmarks
def test_hungarian_accuracy_finds_the_best_one_to_one_matching():
    labels = [0, 0, 1, 1, 2, 2]
    assert acai_metrics.hungarian_accuracy(labels, [2, 2, 0, 0, 1, 1]) == 1.0
    # Clusters {0,0,1} {1,2} {2}: best map 1->0, 0->1, 2->2 gets 2 + 1 + 1.
    assert acai_metrics.hungarian_accuracy(labels, [1, 1, 1, 0, 0, 2]) == 4 / 6
    # One cluster for everything: only one class can be matched.
    assert acai_metrics.hungarian_accuracy(labels, [5] * 6) == 2 / 6


def test_whitened_training_latents_are_orthonormal():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4)) + 7.0
    whitened, test = acai_metrics.whiten(train.reshape(500, 2, 2), train[:3])
    np.testing.assert_allclose(whitened.T @ whitened, np.eye(4), atol=1e-4)
    np.testing.assert_allclose(test, whitened[:3])


def test_clustering_accuracy_of_separated_stretched_blobs_is_one():
    rng = np.random.default_rng(4)
    centres = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 1.0]])

    def blobs(count):
        labels = rng.integers(0, 3, count)
        # Stretched along x: without whitening, x spread would dominate.
        points = centres[labels] + rng.normal(size=(count, 2)) * [5.0, 0.05]
        return points, (labels + 1) % 3  # Cluster ids need not be labels.

    (train, _), (test, test_labels) = blobs(600), blobs(300)
    assert acai_metrics.clustering_accuracy(train, test, test_labels, 3) == 1.0


def test_linear_probe_separates_separable_classes_and_not_noise():
    rng = np.random.default_rng(5)
    latents = rng.normal(size=(800, 3))
    labels = (latents[:, 0] + 0.5 * latents[:, 1] > 0).astype(int)
    assert acai_metrics.linear_probe_accuracy(
        latents[:600], labels[:600], latents[600:], labels[600:]) >= 0.97
    noise = rng.integers(0, 2, 800)
    assert acai_metrics.linear_probe_accuracy(
        latents[:600], noise[:600], latents[600:], noise[600:]) < 0.65


def test_smoothness_by_hand():
    even = np.linspace(0.0, 1.5, 16)
    assert acai_metrics.smoothness(even)[0] == pytest.approx(0.0, abs=1e-12)
    jump = np.r_[np.zeros(8), np.ones(8)]  # All of the change in one step.
    assert acai_metrics.smoothness(jump)[0] == pytest.approx(1 - 1 / 15)
    # Evenly through 2 pi -> 0 is unwrapped: still perfectly smooth.
    wrapped = np.mod(np.linspace(6.0, 6.9, 16), 2 * np.pi)
    assert acai_metrics.smoothness(wrapped)[0] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(acai_metrics.smoothness(np.full(16, 2.0))[0])


def test_line_metrics_of_true_lines_and_of_a_pixel_cross_fade():
    # 16 reference lines per pair, evenly spaced angles: distance 0, smooth.
    step = 2 * np.pi / acai_metrics.NUM_REFERENCE_LINES
    angles = np.array([np.arange(16) * 100 * step,
                       5000 * step - np.arange(16) * 40 * step])
    images = np.asarray(lines.render_lines(angles.ravel(), 16)).reshape(
        2, 16, 16, 16, 1)
    distances, nearest = acai_metrics.nearest_lines(images.reshape(-1, 16, 16, 1))
    np.testing.assert_allclose(distances, 0.0, atol=1e-9)
    np.testing.assert_allclose(nearest, angles.ravel(), atol=1e-9)
    assert acai_metrics.line_metrics(images) == pytest.approx((0.0, 0.0), abs=1e-9)

    # Fading one line into a perpendicular one: the midpoint is no line, and
    # the nearest line jumps from one end to the other in one step.
    ends = np.asarray(lines.render_lines([0.0, math.pi / 2], 16))
    alphas = np.linspace(1.0, 0.0, 16).reshape(-1, 1, 1, 1)
    fade = alphas * ends[0] + (1 - alphas) * ends[1]
    distance, smooth = acai_metrics.line_metrics(fade[np.newaxis])
    fade_distances, _ = acai_metrics.nearest_lines(fade)
    assert fade_distances[0] < 1e-9 and fade_distances[7] > 0.01
    assert distance > 1e-3 and smooth > 0.8
    # A pair whose smoothness is undefined counts as 0 in the mean.
    still = np.repeat(ends[:1], 16, axis=0)
    _, mean_smooth = acai_metrics.line_metrics(np.stack([fade, still]))
    assert mean_smooth == pytest.approx(smooth / 2)


# ------------------------------------------------------- latent structure
def test_inter_cluster_distance_of_square_corners_by_hand():
    rng = np.random.default_rng(6)
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    points = np.repeat(corners, 50, axis=0) + rng.normal(size=(200, 2)) * 1e-4
    # Four sides of 1 and two diagonals of sqrt(2), over 6 pairs.
    assert latent_structure.inter_cluster_distance(points, 4) == pytest.approx(
        (4 + 2 * math.sqrt(2)) / 6, abs=1e-3)


def test_tsne_keeps_separated_clusters_apart():
    rng = np.random.default_rng(7)
    latents = np.repeat(np.eye(3) * 50, 30, axis=0) + rng.normal(size=(90, 3))
    embedding = latent_structure.tsne(latents, seed=0, perplexity=10)
    assert embedding.shape == (90, 2)
    centres = embedding.reshape(3, 30, 2).mean(axis=1)
    spreads = embedding.reshape(3, 30, 2).std(axis=1).max()
    assert np.min(np.linalg.norm(centres[:, None] - centres[None], axis=-1)
                  + np.eye(3) * 1e9) > 3 * spreads


def test_paired_t_test_by_hand():
    a, b = [1.0, 2.0, 3.0, 4.0], [0.5, 1.0, 2.5, 4.5]
    d = np.subtract(a, b)  # 0.5, 1, 0.5, -0.5: mean 0.375.
    expected_t = d.mean() / (d.std(ddof=1) / 2.0)
    t, p = summary.paired_t_test(a, b)
    assert t == pytest.approx(expected_t) and 0.0 < p < 1.0
    assert summary.paired_t_test(a, [x - 10 for x in a])[0] == np.inf
    assert summary.paired_test(a, b) == (
        f"paired t-test over 4 seeds: t = {t:.3g}, p = {p:.3g}")


def test_write_metrics_writes_json_and_a_tensorboard_scalar_per_metric(tmp_path):
    metrics = {"iterations": 7, "fid_mix": [1.0, 3.0], "accuracy": 0.5,
               "note": "text"}
    path = summary.write_metrics(str(tmp_path), metrics)
    assert summary.read_metrics(str(tmp_path)) == metrics
    assert path == str(tmp_path / summary.METRICS_FILE)
    scalars = {}
    for event_file in (tmp_path / summary.TENSORBOARD_DIR).glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                scalars[value.tag] = (event.step,
                                      float(tf.make_ndarray(value.tensor)))
    assert scalars == {"fid_mix": (7, 2.0), "accuracy": (7, 0.5)}


def test_write_metrics_adds_to_the_same_checkpoints_metrics_only(tmp_path):
    summary.write_metrics(str(tmp_path), {"iterations": 7, "fid_mix": [4.0],
                                          "accuracy": 0.5})
    summary.write_metrics(str(tmp_path), {"iterations": 7, "accuracy": 0.75})
    assert summary.read_metrics(str(tmp_path)) == {
        "iterations": 7, "fid_mix": [4.0], "accuracy": 0.75}
    # A later checkpoint's metrics replace the earlier one's.
    summary.write_metrics(str(tmp_path), {"iterations": 9, "accuracy": 0.8})
    assert summary.read_metrics(str(tmp_path)) == {"iterations": 9,
                                                   "accuracy": 0.8}
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        summary.METRICS_FILE, "tensorboard"]


def test_paired_test_is_none_where_it_is_undefined():
    assert summary.paired_test([1.0, 2.0], [1.0]) is None  # Unpaired.
    assert summary.paired_test([1.0], [2.0]) is None  # One seed.
    assert summary.paired_test([1.0, 2.0], [0.0, 1.0]) is None  # Constant gap.


# ------------------------------------------------------------ mixes
def test_spiral_scores_count_points_near_the_curve_and_the_mid_alphas():
    on = np.asarray(spiral.spiral_points(np.linspace(0, 1, 30)))
    off = np.full((10, 2), 2.0)
    points = np.r_[on, off]
    # The first 20 on-curve points and 5 off points have a middle alpha.
    alphas = np.r_[np.full(20, 0.5), np.full(10, 0.1), np.full(5, 0.3),
                   np.full(5, 0.9)]
    measured = spiral_mixes.scores(points, epsilon=0.01, alphas=alphas)
    assert measured["on_manifold_fraction"] == 0.75
    assert measured["mid_alpha_on_manifold_fraction"] == 20 / 25
    assert measured["mean_distance_to_spiral"] == pytest.approx(
        spiral.distance_to_spiral(points).mean())
    assert "mid_alpha_on_manifold_fraction" not in spiral_mixes.scores(
        points, epsilon=0.01)


def test_spiral_references_score_input_mixes_uniform_points_and_data():
    inputs = np.asarray(spiral.spiral_points([0.1, 0.9]), np.float64)
    partners = np.array([1, 0])
    alphas = np.array([1.0, 0.5])  # x0 itself; the midpoint of x1 and x0.
    references = spiral_mixes.reference_scores(inputs, partners, alphas,
                                               epsilon=0.01, seed=0)
    expected_points = np.stack([inputs[0], inputs.mean(axis=0)])
    assert references["input_mix_on_manifold_fraction"] == 0.5
    assert references["input_mix_mid_alpha_on_manifold_fraction"] == 0.0
    assert references["input_mix_mean_distance_to_spiral"] == pytest.approx(
        spiral.distance_to_spiral(expected_points).mean())
    assert references["data_on_manifold_fraction"] == 1.0
    assert {"uniform_on_manifold_fraction",
            "uniform_mean_distance_to_spiral"} <= set(references)
    # The same seed draws the same uniform points.
    assert references == spiral_mixes.reference_scores(
        inputs, partners, alphas, epsilon=0.01, seed=0)


def test_decoded_spiral_mixes_of_an_identity_model_are_input_mixes():
    inputs = np.asarray(spiral.spiral_points(np.linspace(0, 1, 8)))
    partners, alphas = spiral_mixes.mixup_pairs(8, seed=3)
    decoded = spiral_mixes.decoded_mixes(_stub_model(lambda h: h), inputs,
                                         partners, alphas)
    expected = alphas[:, None] * inputs + (1 - alphas[:, None]) * inputs[partners]
    np.testing.assert_allclose(decoded, expected, rtol=1e-6)
    assert sorted(partners) == list(range(8))
    np.testing.assert_array_equal(partners, spiral_mixes.mixup_pairs(8, 3)[0])


def _stub_model(decode, class_mixer=None):
    """A model whose encoder is the identity and decoder `decode`."""
    return types.SimpleNamespace(
        encoder=lambda x, training=False: np.asarray(x, np.float32),
        decoder=lambda h, training=False: decode(np.asarray(h, np.float32)),
        class_mixer=class_mixer)


def test_mixing_consistency_of_identity_and_doubling_decoders():
    inputs = np.full((6, 4), 3.0, np.float32)  # Every mix is 3 as well.
    assert mixes.mixing_consistency(_stub_model(lambda h: h), inputs, 0) == 0.0
    double = _stub_model(lambda h: 2 * h)  # f(g(h)) = 2h: gap |3 - 6|.
    assert mixes.mixing_consistency(double, inputs, 0, "l2") == pytest.approx(9.0)
    assert mixes.mixing_consistency(double, inputs, 0, "l1") == pytest.approx(3.0)


def test_relative_mixing_consistency_does_not_shrink_with_the_codes():
    """Codes c·x with a decoder h -> 2h/c: f(g(h)) = 2h for every c, so the
    absolute consistency scales with c^2 and the relative one stays put."""
    inputs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)

    def scaled(c):
        return types.SimpleNamespace(
            encoder=lambda x, training=False: c * np.asarray(x, np.float32),
            decoder=lambda h, training=False: 2 * np.asarray(h, np.float32) / c)

    small, large = scaled(0.1), scaled(1.0)
    assert mixes.mixing_consistency(small, inputs, 0) == pytest.approx(
        0.01 * mixes.mixing_consistency(large, inputs, 0), rel=1e-4)
    assert mixes.relative_mixing_consistency(small, inputs, 0) == pytest.approx(
        mixes.relative_mixing_consistency(large, inputs, 0), rel=1e-4)
    assert mixes.code_spread(large, inputs, 0, "l1") > 0


# Constructed class-mix cases: an "image" is its attribute vector, the
# encoder and decoder are the identity and the classifier reads it back, so
# a mixer's mask decides the judged attributes exactly.
def _mask_mixer(mask_of):
    """A class mixer stub whose mask is `mask_of(selectors, latents)`."""
    return types.SimpleNamespace(
        mask_for=lambda latents, selectors, targets: mask_of(
            np.asarray(selectors, np.float32), np.asarray(latents)))


ORACLE = _mask_mixer(lambda selectors, latents: selectors)
COPY_X1 = _mask_mixer(lambda selectors, latents: np.ones_like(latents))


def _random_mixer(seed):
    rng = np.random.default_rng(seed)
    return _mask_mixer(lambda selectors, latents: (
        rng.uniform(size=latents.shape) < 0.5).astype(np.float32))


JUDGE = types.SimpleNamespace(
    predict_attributes=lambda images: (np.asarray(images) > 0.5).astype(np.float32))


def _attribute_images(count=400, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(count, 3)) < 0.5).astype(np.float32)


def _cross(class_mixer, images):
    return mixes.cross_combinations(_stub_model(lambda h: h, class_mixer),
                                    JUDGE, images, images, images, seed=1)


def _differing(class_mixer, images):
    return mixes.differing_attributes(
        _stub_model(lambda h: h, class_mixer), JUDGE, images, images, images,
        ("round", "warm", "large"), seed=2)


def test_cross_selectors_differ_from_both_parents():
    selectors = mixes.cross_selectors(3)
    assert selectors.shape == (6, 3)
    assert len({tuple(row) for row in selectors}) == 6
    assert np.all(selectors.sum(axis=1) % 3 != 0)  # Neither 000 nor 111.


def test_opposite_partners_have_every_attribute_opposite():
    attributes = np.array([[1, 0], [0, 1], [1, 1], [0, 1], [1, 0]], np.float32)
    firsts, partners = mixes.opposite_partners(attributes, seed=0)
    np.testing.assert_array_equal(firsts, [0, 1, 3, 4])  # [1, 1] has none.
    np.testing.assert_array_equal(attributes[partners], 1 - attributes[firsts])


def test_cross_combination_metric_of_an_oracle_copy_and_random_mixer():
    images = _attribute_images()
    oracle = _cross(ORACLE, images)
    assert oracle["cross_combination_accuracy"] == 1.0
    assert oracle["swap_consistency"] == 1.0
    assert oracle["cross_combination_mixes"] == 6 * 400
    copy = _cross(COPY_X1, images)
    assert copy["cross_combination_accuracy"] == 0.0
    assert copy["swap_consistency"] == 0.0  # x1 one way, x2 the other.
    randomly = _cross(_random_mixer(3), images)
    # 2,400 mixes, each right with probability 1/8.
    assert randomly["cross_combination_accuracy"] == pytest.approx(0.125, abs=0.025)
    # Baselines: copies judged by the same classifier, chance and ceiling.
    for metrics in (oracle, copy, randomly):
        assert metrics["cross_combination_accuracy_copy_x1"] == 0.0
        assert metrics["cross_combination_accuracy_copy_x2"] == 0.0
        assert metrics["cross_combination_accuracy_chance"] == 0.125
        assert metrics["cross_combination_accuracy_ceiling"] == 1.0
        assert metrics["swap_consistency_copy_x1"] == 0.0


def test_differing_attribute_metric_counts_only_differing_parents():
    images = _attribute_images()
    oracle = _differing(ORACLE, images)
    copy = _differing(COPY_X1, images)
    randomly = _differing(_random_mixer(4), images)
    for name in ("round", "warm", "large"):
        key = f"differing_accuracy_{name}"
        assert oracle[key] == 1.0 and oracle[f"{key}_high"] == 1.0
        assert 0.95 < oracle[f"{key}_low"] < 1.0
        # About half the random pairs differ in each attribute.
        assert 150 < oracle[f"{key}_count"] < 250
        # Copying x1 is right exactly where the selector picked x1: ~1/2.
        assert copy[key] == pytest.approx(oracle[f"{key}_copy_x1"])
        assert copy[key] + oracle[f"{key}_copy_x2"] == pytest.approx(1.0)
        assert randomly[f"{key}_low"] < 0.5 < randomly[f"{key}_high"]
        assert oracle[f"{key}_chance"] == 0.5 and oracle[f"{key}_ceiling"] == 1.0


def test_binomial_interval_is_wilsons():
    low, high = mixes.binomial_interval(50, 100)
    # Wilson: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
    z, n, p = 1.959964, 100, 0.5
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-5)
    assert mixes.binomial_interval(0, 0) == (0.0, 1.0)


# ------------------------------------------------------ the classifier
def test_feature_classifier_trains_once_then_loads_from_the_cache(tmp_path):
    data_config = DataConfig("shapes", image_size=8)
    info = get_info(data_config)
    settings = classifier_lib.ClassifierSettings(width=4, steps=3, batch_size=8)
    first = classifier_lib.load_or_train(data_config, info, tmp_path, settings)
    assert first.target == "attributes" and 0.0 <= first.test_accuracy <= 1.0
    (directory,) = tmp_path.iterdir()
    assert directory.name.startswith("shapes_")
    second = classifier_lib.load_or_train(data_config, info, tmp_path, settings)
    images = np.random.default_rng(8).uniform(-1, 1, (5, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(first.features(images), second.features(images))
    assert first.features(images).shape == (5, classifier_lib.FEATURE_SIZE)
    assert second.test_accuracy == first.test_accuracy
    assert set(np.unique(second.predict_attributes(images))) <= {0.0, 1.0}
    # Other settings are another classifier.
    assert (classifier_lib.cache_key(data_config, settings)
            != classifier_lib.cache_key(DataConfig("shapes", image_size=16), settings))


# ------------------------------------------------------------ summary
def test_pool_averages_each_run_first_and_keeps_run_order():
    pooled = summary.pool([{"fid": [1.0, 2.0], "acc": 0.5, "name": "x"},
                           {"fid": [3.0, 5.0], "acc": 0.7}])
    assert pooled == {"fid": [1.5, 4.0], "acc": [0.5, 0.7]}
    mean, std, count = summary.mean_std(pooled["fid"])
    assert (mean, count) == (2.75, 2)  # n counts runs (seeds), not resamples.
    assert std == pytest.approx(np.std([1.5, 4.0], ddof=1))
    assert summary.format_value([1.0, 3.0]) == "2 ± 1.4 (n=2)"
    assert summary.format_value(0.123456) == "0.1235"


# ------------------------------------------------------------ sprites
def _sprite_image(size=16, squares=(), value=1.0):
    """A dark [-1, 1] image with a red square of HSV `value` per (row, col, side)."""
    image = np.full((size, size, 3), 0.05)
    for row, col, side in squares:
        image[row:row + side, col:col + side] = (value, 0.0, 0.0)
    return 2.0 * image - 1.0


def test_one_sprite_needs_a_single_solid_blob_and_no_faded_ghost():
    images = np.stack([
        _sprite_image(squares=[(2, 2, 5)]),                  # One sprite.
        _sprite_image(),                                      # Blank.
        _sprite_image(squares=[(1, 1, 4), (10, 10, 4)]),      # Two sprites.
        _sprite_image(squares=[(2, 2, 5)], value=0.55),       # One, faded.
    ])
    # A solid sprite with a faded second one beside it (a pixel mix).
    ghosted = images[0].copy()
    ghosted[10:14, 10:14] = 2.0 * np.array([0.4, 0.0, 0.0]) - 1.0
    expected = [True, False, False, False, False]
    np.testing.assert_array_equal(
        sprites.shows_one_sprite(np.r_[images, ghosted[None]]), expected)
    assert sprites.one_sprite_fraction(images[:2]) == 0.5


def test_real_shapes_show_one_sprite_and_their_pixel_midpoints_do_not():
    images = np.asarray(data.load(DataConfig("shapes", image_size=16),
                                  "test").batch(64).take(1).get_single_element()["inputs"])
    assert sprites.one_sprite_fraction(images) == 1.0
    assert sprites.one_sprite_fraction(0.5 * (images[:32] + images[32:])) < 0.2


def test_a_dataset_without_targets_is_named_as_an_argument_and_as_a_flag():
    info = get_info(DataConfig("lines", image_size=8))
    with pytest.raises(ArgumentError) as raised:
        classifier_lib.target_of(info)
    assert str(raised.value).startswith("dataset='lines' has neither")
    assert raised.value.flag_message().startswith("--dataset=lines has neither")


def test_random_examples_draw_across_the_split_under_a_seed():
    config = DataConfig(name="spiral", num_examples=400)
    first = metrics_lib.first_examples(config, "train", 400)["inputs"]
    drawn = metrics_lib._random_examples(config, "train", 20, seed=0)
    assert drawn.shape == (20, 2)
    np.testing.assert_array_equal(
        drawn, metrics_lib._random_examples(config, "train", 20, seed=0))
    assert not np.array_equal(
        drawn, metrics_lib._random_examples(config, "train", 20, seed=1))
    # Drawn from the first 400, not the first 20.
    rows = [int(np.flatnonzero((first == point).all(axis=1))[0]) for point in drawn]
    assert max(rows) >= 20 and len(set(rows)) == 20


# ------------------------------------------------- the judge's blur and noise
@pytest.mark.parametrize("sigma", [0.4, 1.0, 1.5])
def test_gaussian_blur_matches_scipy(sigma):
    """Each image by its own sigma, reflected at the border, as scipy's
    separable filter with the same 7 taps; sigma 0 is the identity."""
    images = np.random.default_rng(0).uniform(-1, 1, (2, 10, 9, 3))
    blurred = degrade.gaussian_blur(images, [sigma, 0.0]).numpy()
    expected = np.stack([scipy.ndimage.gaussian_filter(
        images[0, ..., c], sigma, mode="reflect", truncate=3.0 / sigma)
        for c in range(3)], axis=-1)
    np.testing.assert_allclose(blurred[0], expected, atol=1e-5)
    np.testing.assert_allclose(blurred[1], images[1], atol=1e-6)


def test_degrade_is_seeded_bounded_and_varies_per_example():
    images = np.repeat(_sprite_image(squares=[(4, 4, 8)])[None], 6, axis=0)
    first = degrade.degrade(images, tf.constant([1, 2], tf.int64)).numpy()
    again = degrade.degrade(images, tf.constant([1, 2], tf.int64)).numpy()
    other = degrade.degrade(images, tf.constant([1, 3], tf.int64)).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.min() >= -1.0 and first.max() <= 1.0
    # Different blur and noise per example of one batch.
    assert len({float(np.abs(image - images[0]).mean()) for image in first}) == 6


def _circles_and_squares(size=16, radius=3.0):
    """(8, size, size, 3) white circles (round = 1) and squares of the same
    area (round = 0) on black at the centre, and their (8, 1) attributes."""
    pixels = np.arange(size) + 0.5 - size / 2
    dx, dy = np.meshgrid(pixels, pixels)
    half = radius * math.sqrt(math.pi) / 2
    circle = np.sqrt(dx ** 2 + dy ** 2) <= radius
    square = np.maximum(np.abs(dx), np.abs(dy)) <= half
    masks = [circle] * 4 + [square] * 4
    images = np.stack([np.where(m, 1.0, -1.0) for m in masks]).astype(np.float32)
    return (np.repeat(images[..., None], 3, axis=-1),
            np.array([[1.0]] * 4 + [[0.0]] * 4, np.float32))


def test_blur_check_tells_an_edge_reader_from_a_robust_judge():
    """On constructed circles and squares, both judges are right on crisp
    images; at sigma = 1 the judge reading one corner pixel (is it white?)
    calls the softened square corners round, the judge reading the corner
    against the centre of the sprite still tells them apart."""
    images, attributes = _circles_and_squares()
    corner = (5, 5)  # Inside the square (half side 2.66 px), outside the circle.

    def judge(read):
        return types.SimpleNamespace(predict_attributes=lambda x: read(
            np.asarray(x)).astype(np.float32)[:, None])

    edge_reader = judge(lambda x: x[:, corner[0], corner[1], 0] < 0.9)
    relative = judge(lambda x: x[:, corner[0], corner[1], 0] < -0.2)
    for reader in (edge_reader, relative):
        np.testing.assert_array_equal(classifier_lib.blurred_accuracies(
            reader, images, attributes, 0.0), [1.0])
    np.testing.assert_array_equal(classifier_lib.blurred_accuracies(
        edge_reader, images, attributes, 1.0), [0.5])
    np.testing.assert_array_equal(classifier_lib.blurred_accuracies(
        relative, images, attributes, 1.0), [1.0])
