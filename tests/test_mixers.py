"""Mixing functions of amr_tf.core.mixers (METHOD.md §3)."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from amr_tf.core import mixers
from amr_tf.core import seeds as seed_lib
from amr_tf.core.errors import UsageError

BATCH, SIZE, CHANNELS, NUM_ATTRIBUTES = 8, 2, 6, 3
SPATIAL = (BATCH, SIZE, SIZE, CHANNELS)
FLAT = (BATCH, CHANNELS)
UNSUPERVISED = ("mixup", "mixup_channel", "bernoulli", "kway")


def _seed(value):
    return tf.constant([value, 7], tf.int64)


def _latents(shape=SPATIAL, seed=0):
    """Random codes: every example and position distinct."""
    rng = np.random.default_rng(seed)
    return tf.constant(rng.normal(size=shape).astype(np.float32))


def _attributes(batch=BATCH, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(
        (rng.uniform(size=(batch, NUM_ATTRIBUTES)) < 0.5).astype(np.float32)
    )


def _class_mixer(hard=False, label_mix="convex", mixer_input="paper"):
    mixer = mixers.ClassMixer(CHANNELS, hard=hard, label_mix=label_mix,
                              mixer_input=mixer_input)
    mixer.build((None, NUM_ATTRIBUTES))
    return mixer


def _selectors(batch=BATCH, seed=0):
    """Soft selectors in [0, 1]^k."""
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(size=(batch, NUM_ATTRIBUTES)).astype(np.float32))


def _mix(mixer, latents, seed):
    if isinstance(mixer, mixers.ClassMixer):
        return mixer.mix_batch(latents, seed, _attributes(latents.shape[0]))
    return mixer.mix_batch(latents, seed)


def _find_partners(latents, mixed, mask):
    """Index of the partner of every example, recovered from the outputs.

    Asserts that each output row is exactly `m * h_i + (1 - m) * h_j` for
    some j, with the returned mask m; returns the j of each row.
    """
    latents, mixed = latents.numpy(), mixed.numpy()
    mask = np.broadcast_to(mask.numpy(), latents.shape)
    partners = []
    for i in range(latents.shape[0]):
        candidates = [
            j for j in range(latents.shape[0])
            if np.allclose(mixed[i], mask[i] * latents[i]
                           + (1 - mask[i]) * latents[j], rtol=0, atol=1e-6)
        ]
        assert candidates, f"row {i} is not a blend of h[{i}] and another row"
        partners.append(candidates[0])
    return np.array(partners)


# ------------------------------------------------------------ mask shapes
@pytest.mark.parametrize(
    "name,spatial_shape,flat_shape",
    [
        ("mixup", (BATCH, 1, 1, 1), (BATCH, 1)),
        ("mixup_channel", (BATCH, 1, 1, CHANNELS), (BATCH, CHANNELS)),
        ("bernoulli", (BATCH, 1, 1, CHANNELS), (BATCH, CHANNELS)),
    ],
)
def test_sample_mask_shapes(name, spatial_shape, flat_shape):
    mixer = mixers.build_mixer(name)
    assert mixer.sample_mask(_latents(SPATIAL), _seed(0)).shape == spatial_shape
    assert mixer.sample_mask(_latents(FLAT), _seed(0)).shape == flat_shape


@pytest.mark.parametrize("shape", [SPATIAL, FLAT])
def test_kway_weights_shape(shape):
    mixer = mixers.build_mixer("kway", kway_sources=4)
    output = mixer.mix_batch(_latents(shape), _seed(0))
    assert output.mask.shape == (BATCH, 4)
    assert output.latents.shape == shape


@pytest.mark.parametrize("shape", [SPATIAL, FLAT])
def test_class_mixer_mask_shape(shape):
    mask = _class_mixer().mask_for(_latents(shape), _selectors(), _attributes())
    expected = (BATCH, 1, 1, CHANNELS) if len(shape) == 4 else (BATCH, CHANNELS)
    assert mask.shape == expected


@pytest.mark.parametrize("name", UNSUPERVISED)
@pytest.mark.parametrize("shape", [SPATIAL, FLAT])
def test_mix_batch_keeps_latent_shape_and_dtype(name, shape):
    output = mixers.build_mixer(name).mix_batch(_latents(shape), _seed(3))
    assert output.latents.shape == shape
    assert output.latents.dtype == tf.float32
    assert output.attributes is None


# ---------------------------------------------------------- distributions
def test_mixup_alpha_is_uniform_on_unit_interval():
    latents = tf.zeros((4000, 1, 1, 2))
    alpha = mixers.build_mixer("mixup").sample_mask(latents, _seed(0)).numpy()
    alpha = alpha.ravel()
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert abs(alpha.mean() - 0.5) < 0.02
    assert stats.kstest(alpha, "uniform").pvalue > 1e-3


def test_mixup_channel_draws_independent_uniform_per_channel():
    latents = tf.zeros((500, 1, 1, 8))
    alpha = mixers.build_mixer("mixup_channel").sample_mask(latents, _seed(0))
    alpha = alpha.numpy().reshape(500, 8)
    assert stats.kstest(alpha.ravel(), "uniform").pvalue > 1e-3
    # Per channel, not one alpha per example.
    assert np.all(alpha.std(axis=1) > 0)
    correlation = np.corrcoef(alpha[:, 0], alpha[:, 1])[0, 1]
    assert abs(correlation) < 0.2


def test_bernoulli_mask_is_binary_and_shares_one_p_per_batch():
    """Each batch draws one p ~ U(0, 1); the mask is Bernoulli(p) per element.

    With 64 x 64 elements the mask's mean estimates the batch's p within
    about 0.01, so over many seeds the means are uniform on [0, 1]; within
    one batch every example's channel mean is a binomial estimate of the
    same p (spread about sqrt(p (1 - p) / 64) <= 0.0625).
    """
    mixer = mixers.build_mixer("bernoulli")
    latents = tf.zeros((64, 64))
    batch_means, row_spreads = [], []
    for seed in range(300):
        mask = mixer.sample_mask(latents, _seed(seed)).numpy()
        assert set(np.unique(mask)) <= {0.0, 1.0}
        p = mask.mean()
        batch_means.append(p)
        row_spreads.append(mask.mean(axis=1).std() / np.sqrt(
            max(p * (1 - p), 1e-3) / 64))
    batch_means = np.array(batch_means)
    assert batch_means.std() > 0.2  # p varies across seeds
    assert stats.kstest(batch_means, "uniform").pvalue > 1e-3
    # Row means scatter like Binomial(64, p) / 64 around the shared p; with a
    # p per example they would spread several times more.
    assert np.median(row_spreads) < 1.5


@pytest.mark.parametrize("num_sources", [2, 3, 5])
def test_kway_weights_are_dirichlet_ones(num_sources):
    mixer = mixers.build_mixer("kway", kway_sources=num_sources)
    weights = mixer.sample_weights(4000, _seed(0), tf.float32).numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert weights.min() >= 0.0
    np.testing.assert_allclose(weights.mean(axis=0), 1.0 / num_sources,
                               atol=0.02)
    # Marginals of Dirichlet(1, ..., 1) are Beta(1, K - 1).
    for k in range(num_sources):
        pvalue = stats.kstest(weights[:, k], "beta", args=(1, num_sources - 1)).pvalue
        assert pvalue > 1e-3, k


# ---------------------------------------------------------------- blending
def test_blend_is_convex_combination_with_mask_cast():
    a, b = _latents(seed=1), _latents(seed=2)
    mask = tf.constant(np.random.default_rng(0).uniform(size=(BATCH, 1, 1, CHANNELS)),
                       tf.float64)
    expected = mask.numpy() * a.numpy() + (1 - mask.numpy()) * b.numpy()
    result = mixers.blend(a, b, mask)
    assert result.dtype == tf.float32
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["mixup", "mixup_channel", "bernoulli",
                                  "class_mixer"])
@pytest.mark.parametrize("shape", [SPATIAL, FLAT])
def test_mix_batch_blends_each_example_with_a_permuted_partner(name, shape):
    mixer = _class_mixer() if name == "class_mixer" else mixers.build_mixer(name)
    latents = _latents(shape, seed=5)
    # A seed whose Bernoulli p is not extreme, so most rows reveal a partner.
    output = _mix(mixer, latents, _seed(11))
    mask = output.mask.numpy()
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    partners = _find_partners(latents, output.latents, output.mask)
    identifiable = [i for i in range(BATCH)
                    if np.any(np.broadcast_to(mask[i], shape[1:]) < 1)]
    assert len(identifiable) >= BATCH // 2
    found = partners[identifiable]
    assert len(set(found)) == len(found), "partners are not a permutation"
    assert np.any(found != np.array(identifiable)), "nothing was mixed"


def test_kway_output_is_weighted_sum_of_batch_permutations():
    mixer = mixers.build_mixer("kway", kway_sources=3)
    latents = _latents(FLAT, seed=3).numpy()
    output = mixer.mix_batch(tf.constant(latents), _seed(4))
    weights = output.mask.numpy()
    mixed = output.latents.numpy()
    # Each row is sum_k w_k * h[pi_k(i)] with pi_0 = identity: remove the
    # own term and look for the two remaining sources among all pairs.
    for i in range(BATCH):
        rest = mixed[i] - weights[i, 0] * latents[i]
        matches = [
            (j, k) for j in range(BATCH) for k in range(BATCH)
            if np.allclose(rest, weights[i, 1] * latents[j]
                           + weights[i, 2] * latents[k], atol=1e-5)
        ]
        assert matches, i


@pytest.mark.parametrize("name", UNSUPERVISED + ("class_mixer",))
def test_mix_batch_is_a_function_of_the_seed(name):
    mixer = _class_mixer() if name == "class_mixer" else mixers.build_mixer(name)
    latents = _latents(seed=6)
    first = _mix(mixer, latents, _seed(1))
    again = _mix(mixer, latents, _seed(1))
    other = _mix(mixer, latents, _seed(2))
    np.testing.assert_array_equal(first.latents.numpy(), again.latents.numpy())
    np.testing.assert_array_equal(first.mask.numpy(), again.mask.numpy())
    assert not np.allclose(first.latents.numpy(), other.latents.numpy())


def test_mix_batch_works_inside_tf_function():
    mixer = mixers.build_mixer("bernoulli")
    latents = _latents()
    traced = tf.function(lambda h, s: mixer.mix_batch(h, s).latents)
    np.testing.assert_allclose(
        traced(latents, _seed(3)).numpy(),
        mixer.mix_batch(latents, _seed(3)).latents.numpy(), atol=1e-6,
    )


@pytest.mark.parametrize("name", UNSUPERVISED + ("class_mixer",))
def test_mixers_keep_float32_latents_under_mixed_float16(name, mixed_float16):
    """Encoders emit float32 latents under mixed precision (METHOD.md §4); every
    mixer must return them in that dtype, or AMR's concat of the
    unsupervised and the class mixes fails (TF does not promote dtypes)."""
    mixer = _class_mixer() if name == "class_mixer" else mixers.build_mixer(name)
    a, b = _latents(seed=1), _latents(seed=2)
    mixed = _mix(mixer, a, _seed(0)).latents
    interpolated = mixer(a, b, mixer.fixed_mask(a, 0.5))
    assert (mixed.dtype.name, interpolated.dtype.name) == ("float32", "float32")


# ------------------------------------------------------------ fixed masks
def _fixed_mix(mixer, a, b, alpha):
    return mixer(a, b, mixer.fixed_mask(a, alpha)).numpy()


@pytest.mark.parametrize("name", UNSUPERVISED + ("class_mixer",))
@pytest.mark.parametrize("shape", [SPATIAL, FLAT])
def test_fixed_mask_endpoints_return_the_sources(name, shape):
    mixer = _class_mixer() if name == "class_mixer" else mixers.build_mixer(name)
    a, b = _latents(shape, seed=1), _latents(shape, seed=2)
    np.testing.assert_array_equal(_fixed_mix(mixer, a, b, 1.0), a.numpy())
    np.testing.assert_array_equal(_fixed_mix(mixer, a, b, 0.0), b.numpy())
    alphas = tf.constant([1.0, 0.0] * (shape[0] // 2))
    mixed = _fixed_mix(mixer, a, b, alphas)
    np.testing.assert_array_equal(mixed[0::2], a.numpy()[0::2])
    np.testing.assert_array_equal(mixed[1::2], b.numpy()[1::2])


def test_fixed_mixup_mask_is_alpha():
    mixer = mixers.build_mixer("mixup")
    a, b = _latents(seed=1), _latents(seed=2)
    np.testing.assert_allclose(
        _fixed_mix(mixer, a, b, 0.25), 0.25 * a.numpy() + 0.75 * b.numpy(),
        atol=1e-6,
    )


@pytest.mark.parametrize("shape", [(4, 2, 2, 8), (4, 8)])
def test_fixed_bernoulli_mask_keeps_round_alpha_c_channels_nested(shape):
    mixer = mixers.build_mixer("bernoulli", seed=3)
    latents = tf.zeros(shape)
    alphas = [0.0, 0.1, 0.25, 0.5, 0.6, 0.9, 1.0]
    previous = np.zeros(8, bool)
    for alpha in alphas:
        mask = mixer.fixed_mask(latents, alpha).numpy().reshape(4, 8)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert np.all(mask.sum(axis=1) == np.round(alpha * 8)), alpha
        assert np.all(mask == mask[0]), "the channel subset is fixed"
        kept = mask[0].astype(bool)
        assert np.all(kept[previous]), "larger alpha keeps a superset"
        previous = kept
    # Per-example alphas.
    mask = mixer.fixed_mask(latents, tf.constant([0.0, 0.25, 0.5, 1.0]))
    np.testing.assert_array_equal(mask.numpy().reshape(4, 8).sum(axis=1),
                                  [0, 2, 4, 8])


def test_fixed_bernoulli_subset_depends_on_permutation_seed():
    latents = tf.zeros((1, 16))
    subsets = {
        tuple(mixers.build_mixer("bernoulli", seed=s).fixed_mask(latents, 0.5)
              .numpy().ravel())
        for s in range(5)
    }
    assert len(subsets) > 1


# ------------------------------------------------------------ class mixer
INPUTS = mixers.CLASS_MIXER_INPUTS


@pytest.mark.parametrize("mixer_input", INPUTS)
def test_class_mixer_soft_mask_lies_in_unit_interval(mixer_input):
    mixer = _class_mixer(mixer_input=mixer_input)
    mask = mixer.mask_for(_latents(), _selectors(), _attributes()).numpy()
    assert mask.shape == (BATCH, 1, 1, CHANNELS)
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert len(np.unique(mask)) > 2  # soft, not binary


def test_class_mixer_inputs_read_the_selector_or_the_targets():
    selectors, targets = _selectors(seed=1), _attributes(seed=2)
    other_selectors, other_targets = _selectors(seed=3), _attributes(seed=4)
    paper = _class_mixer(mixer_input="paper")
    aware = _class_mixer(mixer_input="parent_aware")
    np.testing.assert_array_equal(paper.probabilities(selectors, targets),
                                  paper.probabilities(other_selectors, targets))
    np.testing.assert_array_equal(aware.probabilities(selectors, targets),
                                  aware.probabilities(selectors, other_targets))
    assert not np.allclose(paper.probabilities(selectors, targets),
                           paper.probabilities(selectors, other_targets))
    assert not np.allclose(aware.probabilities(selectors, targets),
                           aware.probabilities(other_selectors, targets))


def test_parent_aware_mask_is_swap_antisymmetric():
    """p(1 - s) = 1 - p(s), so Mix(h_a, h_b, s) = Mix(h_b, h_a, 1 - s)."""
    mixer = _class_mixer(mixer_input="parent_aware")
    selectors = _selectors(seed=5)
    p = mixer.probabilities(selectors, None).numpy()
    np.testing.assert_allclose(mixer.probabilities(1.0 - selectors, None),
                               1.0 - p, atol=1e-6)
    np.testing.assert_allclose(
        mixer.probabilities(tf.fill([2, NUM_ATTRIBUTES], 0.5), None), 0.5,
        atol=1e-6)
    latents_a, latents_b = _latents(seed=1), _latents(seed=2)
    forward = mixers.blend(latents_a, latents_b,
                           mixer.mask_for(latents_a, selectors, None))
    swapped = mixers.blend(latents_b, latents_a,
                           mixer.mask_for(latents_b, 1.0 - selectors, None))
    np.testing.assert_allclose(forward, swapped, atol=1e-5)
    # The paper's mixer, fed the same target both ways, is not.
    paper = _class_mixer(mixer_input="paper")
    targets = _attributes()
    p_paper = paper.probabilities(selectors, targets).numpy()
    assert np.abs(p_paper - 0.5).max() > 1e-3
    np.testing.assert_array_equal(
        paper.probabilities(1.0 - selectors, targets), p_paper)


@pytest.mark.parametrize("mixer_input", INPUTS)
def test_class_mixer_hard_mask_is_binary_without_and_with_seed(mixer_input):
    mixer = _class_mixer(hard=True, mixer_input=mixer_input)
    latents, selectors, targets = _latents(), _selectors(), _attributes()
    probabilities = mixer.probabilities(selectors, targets).numpy()
    rounded = mixer.mask_for(latents, selectors, targets).numpy()
    np.testing.assert_array_equal(rounded.reshape(BATCH, CHANNELS),
                                  np.round(probabilities))
    sampled = mixer.mask_for(latents, selectors, targets, _seed(0)).numpy()
    assert set(np.unique(sampled)) <= {0.0, 1.0}


@pytest.mark.parametrize("mixer_input", INPUTS)
def test_class_mixer_hard_mask_has_straight_through_gradients(mixer_input):
    """Forward: Bernoulli sample; backward: the gradient of p itself."""
    hard = _class_mixer(hard=True, mixer_input=mixer_input)
    soft = _class_mixer(hard=False, mixer_input=mixer_input)
    soft.set_weights(hard.get_weights())
    latents, selectors, targets = _latents(), _selectors(), _attributes()
    weights = tf.constant(np.random.default_rng(0).normal(
        size=(BATCH, 1, 1, CHANNELS)).astype(np.float32))

    def gradients(mixer, seed):
        with tf.GradientTape() as tape:
            mask = mixer.mask_for(latents, selectors, targets, seed)
            loss = tf.reduce_sum(weights * mask)
        return mask, tape.gradient(loss, mixer.trainable_variables)

    hard_mask, hard_grads = gradients(hard, _seed(0))
    _, soft_grads = gradients(soft, _seed(0))
    assert set(np.unique(hard_mask.numpy())) <= {0.0, 1.0}
    # Two hidden layers and an output kernel; the paper's output has a bias.
    assert len(hard_grads) == (6 if mixer_input == "paper" else 5)
    for hard_grad, soft_grad in zip(hard_grads, soft_grads):
        assert hard_grad is not None
        np.testing.assert_allclose(hard_grad.numpy(), soft_grad.numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert any(np.any(g.numpy() != 0) for g in hard_grads)


@pytest.mark.parametrize("mixer_input", INPUTS)
def test_class_mixer_mix_batch_gradients_reach_the_mlp(mixer_input):
    # Convex selectors alpha * (1, ..., 1) leave the parent-aware mixer's
    # hidden biases without a gradient at their zero initialisation.
    mixer = _class_mixer(label_mix="bernoulli", mixer_input=mixer_input)
    latents = _latents()
    with tf.GradientTape() as tape:
        output = mixer.mix_batch(latents, _seed(0), _attributes())
        loss = tf.reduce_sum(tf.square(output.latents))
    grads = tape.gradient(loss, mixer.trainable_variables)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_convex_selectors_use_one_alpha_per_example():
    mixer = _class_mixer(label_mix="convex")
    selectors = mixer.sample_selector(2000, _seed(0)).numpy()
    assert selectors.shape == (2000, NUM_ATTRIBUTES)
    np.testing.assert_array_equal(selectors,
                                  np.repeat(selectors[:, :1], 3, axis=1))
    assert stats.kstest(selectors[:, 0], "uniform").pvalue > 1e-3


def test_bernoulli_selectors_pick_each_attribute_from_either_parent():
    mixer = _class_mixer(label_mix="bernoulli")
    selectors = mixer.sample_selector(2000, _seed(0)).numpy()
    assert set(np.unique(selectors)) <= {0.0, 1.0}
    assert abs(selectors.mean() - 0.5) < 0.03
    # Per attribute, not one choice per example.
    assert np.mean(selectors.min(axis=1) != selectors.max(axis=1)) > 0.5


def test_mix_targets_take_each_attribute_as_the_selector_says():
    y_a = np.array([[1, 0, 1], [1, 1, 0]], np.float32)
    y_b = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    selector = np.array([[1, 1, 0], [0.25, 0.5, 1]], np.float32)
    np.testing.assert_allclose(mixers.mix_targets(selector, y_a, y_b),
                               [[1, 0, 0], [1, 0.5, 0]])


@pytest.mark.parametrize("mixer_input", INPUTS)
def test_class_mixer_mix_batch_targets_come_from_the_partner(mixer_input):
    mixer = _class_mixer(label_mix="bernoulli", mixer_input=mixer_input)
    latents, attributes = _latents(seed=4), _attributes(seed=4)
    output = mixer.mix_batch(latents, _seed(2), attributes)
    partners = _find_partners(latents, output.latents, output.mask)
    y, y_partner = attributes.numpy(), attributes.numpy()[partners]
    targets = output.attributes.numpy()
    assert targets.shape == (BATCH, NUM_ATTRIBUTES)
    assert np.all((targets == y) | (targets == y_partner))
    # The selector mix_batch drew (from the second of its three seeds):
    # the targets follow it, and the mask is the MLP's answer to it.
    selectors = mixer.sample_selector(
        BATCH, seed_lib.split(_seed(2), 3)[1]).numpy()
    np.testing.assert_array_equal(
        targets, selectors * y + (1 - selectors) * y_partner)
    np.testing.assert_allclose(
        output.mask.numpy().reshape(BATCH, CHANNELS),
        mixer.probabilities(selectors, targets).numpy(), atol=1e-6)


def test_class_mixer_needs_attributes_and_has_no_random_mask():
    mixer = _class_mixer()
    with pytest.raises(ValueError):
        mixer.mix_batch(_latents(), _seed(0))
    with pytest.raises(TypeError):
        mixer.sample_mask(_latents(), _seed(0))


# ------------------------------------------------------------- regulariser
@pytest.mark.parametrize("shape", [(BATCH, 1, 1, CHANNELS), (BATCH, CHANNELS)])
def test_mask_sparsity_matches_numpy(shape):
    mask = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
    expected = (mask.reshape(BATCH, -1).sum(axis=1) - CHANNELS / 2) ** 2
    result = mixers.mask_sparsity(tf.constant(mask))
    assert result.shape == (BATCH,)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-5)
    half = np.zeros(shape, np.float32)
    half[..., : CHANNELS // 2] = 1.0
    np.testing.assert_array_equal(mixers.mask_sparsity(half).numpy(), 0.0)


# ------------------------------------------------------------- usage errors
def test_build_mixer_unknown_name_raises_usage_error():
    with pytest.raises(UsageError, match="slerp"):
        mixers.build_mixer("slerp")
    with pytest.raises(UsageError):
        mixers.build_mixer("class_mixer")  # built separately


def test_invalid_mixer_settings_raise_usage_error():
    with pytest.raises(UsageError):
        mixers.build_mixer("kway", kway_sources=1)
    with pytest.raises(UsageError, match="unknown label_mix='uniform'"):
        mixers.ClassMixer(CHANNELS, label_mix="uniform")
    with pytest.raises(UsageError, match="unknown mixer_input='both'"):
        mixers.ClassMixer(CHANNELS, mixer_input="both")


@pytest.mark.parametrize("name", UNSUPERVISED)
def test_build_mixer_returns_named_mixer(name):
    mixer = mixers.build_mixer(name)
    assert isinstance(mixer, mixers.UNSUPERVISED_MIXERS[name])
    assert not mixer.requires_attributes
