"""Training objectives of amr_tf.core.objectives: what one iteration updates and logs.

Models are tiny (8 px images, width 4) and every fitted model is built and
traced once per module: tracing a train_step costs seconds on a CPU.
"""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf.core import mixers
from amr_tf.core import objectives
from amr_tf.core import seeds as seed_lib
from amr_tf.core.models import ArchitectureConfig
from amr_tf.core.models import build_networks
from amr_tf.core.objectives.base import tracker_name
from amr_tf.data import DataConfig
from amr_tf.data import get_info
from amr_tf.data import load
from amr_tf.data import make_batches

IMAGE_SHAPE = (8, 8, 3)
BATCH = 4
NUM_ATTRIBUTES = 3
LATENT_CHANNELS = 4
ARCH = ArchitectureConfig("resnet", width=4, latent_size=4,
                          latent_channels=LATENT_CHANNELS)
KINDS = ("amr_mixup", "amr_class_mixer", "arae", "acai")


# ------------------------------------------------------------------ helpers
def _optimizer(learning_rate=2e-4, loss_scale=False):
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.0, beta_2=0.99)
    if loss_scale:
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _objective(kind, *, n_critic=1, seed=0, init_seed=0, learning_rate=2e-4,
               consistency_weight=1.0, loss_scale=False, **kwargs):
    """A compiled objective on freshly initialised networks.

    `init_seed` fixes the weights (`keras.utils.set_random_seed`), `seed`
    the objective's own random draws (partners, mixing coefficients);
    `loss_scale` wraps both optimizers for mixed precision.
    """
    keras.utils.set_random_seed(init_seed)
    supervised = kind == "amr_class_mixer"
    networks = build_networks(ARCH, IMAGE_SHAPE,
                              NUM_ATTRIBUTES if supervised else 0)
    common = dict(recon_weight=kwargs.pop("recon_weight", 10.0),
                  n_critic=n_critic, seed=seed, **kwargs)
    if kind == "amr_mixup":
        model = objectives.AMR(*networks, mixer=mixers.build_mixer("mixup"),
                               consistency_weight=consistency_weight, **common)
    elif supervised:
        model = objectives.AMR(
            *networks, mixer=mixers.build_mixer("bernoulli"),
            class_mixer=mixers.ClassMixer(LATENT_CHANNELS),
            consistency_weight=consistency_weight, mask_sparsity_weight=0.01,
            **common)
        model.class_mixer.build((None, NUM_ATTRIBUTES))
    elif kind == "arae":
        model = objectives.ARAE(*networks, **common)
    else:
        model = objectives.ACAI(*networks, **common)
    model.compile(_optimizer(learning_rate, loss_scale),
                  _optimizer(learning_rate, loss_scale))
    return model


def _examples(count, seed=0):
    """Synthetic examples: random images in [-1, 1], random attributes."""
    rng = np.random.default_rng(seed)
    return {
        "inputs": rng.uniform(-1, 1, (count,) + IMAGE_SHAPE).astype(np.float32),
        "attributes": (rng.uniform(size=(count, NUM_ATTRIBUTES)) < 0.5
                       ).astype(np.float32),
        "label": np.zeros(count, np.int32),
    }


def _batches(examples, batch_size):
    """Fixed order, every iteration a new batch of `batch_size`."""
    return (tf.data.Dataset.from_tensor_slices(examples).repeat()
            .batch(batch_size, drop_remainder=True))


def _fit(model, examples, steps):
    history = model.fit(_batches(examples, BATCH * model.n_critic),
                        steps_per_epoch=steps, epochs=1, shuffle=False,
                        verbose=0)
    return {name: values[-1] for name, values in history.history.items()}


def _variable_groups(model):
    groups = {
        "encoder": model.encoder.variables,
        "decoder": model.decoder.variables,
        "discriminator": model.discriminator.variables,
    }
    class_mixer = getattr(model, "class_mixer", None)
    if class_mixer is not None:
        groups["class_mixer"] = class_mixer.variables
    return groups


def _snapshot(model):
    return {group: {v.path: v.numpy().copy() for v in variables}
            for group, variables in _variable_groups(model).items()}


def _changed(before, after):
    """For every group, the paths of the variables whose value changed."""
    return {group: {path for path, value in values.items()
                    if not np.array_equal(value, after[group][path])}
            for group, values in before.items()}


def _spectral_layers(model):
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.SpectralNormalization)]


def _largest_singular_value(kernel):
    kernel = np.asarray(kernel, np.float64)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]),
                         compute_uv=False)[0]


def _power_iteration(layer):
    """NumPy version of one SpectralNormalization training-mode step.

    Returns the normalised kernel and the updated `vector_u` that the layer
    should use for and store after a `training=True` call.
    """
    kernel = layer.kernel.numpy().astype(np.float64)
    weights = kernel.reshape(-1, kernel.shape[-1])
    u = layer.vector_u.numpy().astype(np.float64)
    v = u @ weights.T
    v /= np.linalg.norm(v)
    u = v @ weights
    u /= np.linalg.norm(u)
    sigma = (v @ weights @ u.T).item()
    return (weights / sigma).reshape(kernel.shape), u


def _softplus(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


def _expected_history_keys(model):
    return ({tracker_name(prefix, name, weight)
             for prefix, weights in model.term_weights.items()
             for name, weight in weights.items()}
            | {"g_total", "d_total"})


def _sub_batch(examples, size=BATCH):
    return {key: tf.constant(value[:size]) for key, value in examples.items()}


# ------------------------------------------- which update changes what
@pytest.mark.parametrize("kind", KINDS)
class TestUpdatesTouchOnlyTheirOwnNetworks:

    def _update(self, kind, update):
        model = _objective(kind)
        batch = _sub_batch(_examples(BATCH))
        seeds = seed_lib.SeedStream(seed_lib.iteration_seed(0, 0))
        before = _snapshot(model)
        getattr(model, update)(batch, seeds)
        return model, _changed(before, _snapshot(model))

    def test_discriminator_update_changes_only_the_discriminator(self, kind):
        model, changed = self._update(kind, "discriminator_update")
        discriminator = model.discriminator
        assert changed["discriminator"] == {v.path for v in discriminator.variables}
        # ... which includes the spectral-norm state and the kernels.
        for layer in _spectral_layers(discriminator):
            assert layer.vector_u.path in changed["discriminator"]
            assert layer.kernel.path in changed["discriminator"]
        for group, paths in changed.items():
            if group != "discriminator":
                assert not paths, f"the D update changed {group}: {paths}"

    def test_generator_update_changes_encoder_decoder_and_mixers(self, kind):
        model, changed = self._update(kind, "generator_update")
        assert not changed["discriminator"], (
            f"the G update changed D: {changed['discriminator']}")
        for group in set(changed) - {"discriminator"}:
            trainable = {v.path for v in _variable_groups(model)[group]
                         if v.trainable}
            assert trainable <= changed[group], (
                f"not updated in {group}: {trainable - changed[group]}")
        if kind == "amr_class_mixer":
            assert len(changed["class_mixer"]) == 6


@pytest.mark.parametrize("kind", KINDS)
def test_updates_under_mixed_float16(kind, mixed_float16):
    """METHOD.md §7: loss-scaled G and D updates train every network in float16."""
    model = _objective(kind, loss_scale=True)
    batch = _sub_batch(_examples(BATCH))
    seeds = seed_lib.SeedStream(seed_lib.iteration_seed(0, 0))
    before = _snapshot(model)
    model.discriminator_update(batch, seeds)
    model.generator_update(batch, seeds)
    changed = _changed(before, _snapshot(model))
    for group, variables in _variable_groups(model).items():
        trainable = {v.path for v in variables if v.trainable}
        assert trainable <= changed[group], group
    for name, tracker in model.trackers.items():
        assert np.isfinite(float(tracker.result())), name
    assert model(batch["inputs"]).dtype == tf.float32


# ------------------------------------------- a fitted unsupervised AMR
N_CRITIC, STEPS = 2, 5
# |sigma - 1| allowed after N_CRITIC * STEPS power iterations (one per D
# update, from a random vector_u).
SIGMA_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def fitted_amr():
    """AMR with mixup and beta = 0, fitted for STEPS iterations."""
    examples = _examples(64)
    model = _objective("amr_mixup", n_critic=N_CRITIC, seed=3, init_seed=1,
                       consistency_weight=0.0)
    losses = _fit(model, examples, STEPS)
    return types.SimpleNamespace(model=model, examples=examples, losses=losses,
                                 weights=_snapshot(model))


def test_discriminator_takes_n_critic_updates_per_generator_update(fitted_amr):
    model = fitted_amr.model
    assert int(model.generator_optimizer.iterations) == STEPS
    assert int(model.iterations) == STEPS
    assert int(model.discriminator_optimizer.iterations) == N_CRITIC * STEPS


def test_logged_terms_without_consistency(fitted_amr):
    keys = set(fitted_amr.losses)
    assert keys == _expected_history_keys(fitted_amr.model)
    assert keys == {"g_reconstruction", "g_fool_d_reconstruction",
                    "g_fool_d_mix", "g_total", "d_real",
                    "d_fake_reconstruction", "d_fake_mix", "d_total"}
    assert all(np.isfinite(value) for value in fitted_amr.losses.values())


def test_training_normalises_every_discriminator_kernel(fitted_amr):
    layers = _spectral_layers(fitted_amr.model.discriminator)
    assert len(layers) >= 4
    sigmas = {layer.name: _largest_singular_value(layer.kernel.numpy())
              for layer in layers}
    assert all(abs(sigma - 1.0) < SIGMA_TOLERANCE
               for sigma in sigmas.values()), sigmas


def test_untrained_discriminator_kernels_are_not_normalised():
    """Shows that the spectral-norm check above can fail."""
    keras.utils.set_random_seed(1)
    discriminator = build_networks(ARCH, IMAGE_SHAPE, 0).discriminator
    sigmas = [_largest_singular_value(layer.kernel.numpy())
              for layer in _spectral_layers(discriminator)]
    assert max(abs(sigma - 1.0) for sigma in sigmas) > 2 * SIGMA_TOLERANCE


def test_identically_seeded_training_is_reproducible(fitted_amr):
    twin = _objective("amr_mixup", n_critic=N_CRITIC, seed=3, init_seed=1,
                      consistency_weight=0.0)
    losses = _fit(twin, fitted_amr.examples, STEPS)
    assert losses == fitted_amr.losses
    weights = _snapshot(twin)
    for group, values in fitted_amr.weights.items():
        for (path, value), twin_value in zip(values.items(),
                                             weights[group].values()):
            np.testing.assert_array_equal(twin_value, value, err_msg=path)


def test_objective_seed_changes_the_mixes(fitted_amr):
    other = _objective("amr_mixup", n_critic=N_CRITIC, seed=4, init_seed=1,
                       consistency_weight=0.0)
    losses = _fit(other, fitted_amr.examples, STEPS)
    for name in ("g_fool_d_mix", "d_fake_mix", "g_reconstruction"):
        assert losses[name] != fitted_amr.losses[name], name


# ----------------------------------- logged losses of one ARAE iteration
def test_arae_iteration_logs_losses_of_the_pre_step_networks():
    """With n_critic = 1 the D update and then the G update use one batch.

    D's update cannot change f or g, so the logged reconstruction is that of
    the pre-step weights; D scores with kernels normalised by one power
    iteration from the stored vector_u; the G update's adversarial term is
    scored by the updated D.
    """
    recon_weight = 2.0
    model = _objective("arae", n_critic=1, seed=0, init_seed=2,
                       recon_weight=recon_weight)
    batch = _sub_batch(_examples(BATCH, seed=5))
    x = batch["inputs"].numpy()
    discriminator = model.discriminator
    layers = _spectral_layers(discriminator)

    reconstruction = model.decoder(model.encoder(x)).numpy()
    stored = [layer.kernel.numpy() for layer in layers]
    normalised = [_power_iteration(layer) for layer in layers]
    for layer, (kernel, _) in zip(layers, normalised):
        layer.kernel.assign(kernel.astype(np.float32))
    real_logits = discriminator(x)["logits"].numpy()
    fake_logits = discriminator(reconstruction)["logits"].numpy()
    for layer, kernel in zip(layers, stored):
        layer.kernel.assign(kernel)

    history = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1,
                        steps_per_epoch=1, shuffle=False, verbose=0).history
    logged = {name: values[-1] for name, values in history.items()}

    updated_logits = discriminator(reconstruction)["logits"].numpy()
    expected = {
        "g_reconstruction": np.abs(x - reconstruction).mean(),
        "g_fool_d_reconstruction": _softplus(-updated_logits).mean(),
        "d_real": _softplus(-real_logits).mean(),
        "d_fake_reconstruction": _softplus(fake_logits).mean(),
    }
    expected["g_total"] = (recon_weight * expected["g_reconstruction"]
                           + expected["g_fool_d_reconstruction"])
    expected["d_total"] = expected["d_real"] + expected["d_fake_reconstruction"]
    assert set(logged) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(logged[name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    # The D update stored the power-iterated u of every layer.
    for layer, (_, u) in zip(layers, normalised):
        np.testing.assert_allclose(layer.vector_u.numpy(), u, atol=1e-5,
                                   err_msg=layer.name)
    # The scores before and after D's update differ, so the comparison of
    # g_fool_d_reconstruction above tells the two apart.
    assert not np.allclose(updated_logits, fake_logits, atol=1e-4)


# ------------------------------------ the class mixer's terms and trackers
def test_attribute_accuracy_trackers_match_a_hand_count():
    """D's attribute accuracy on real images (its update) and on class mixes
    (the generator's) against counts from D's own logits."""
    model = _objective("amr_class_mixer")
    batch = _sub_batch(_examples(BATCH, seed=5))
    seeds = seed_lib.SeedStream(seed_lib.iteration_seed(0, 0))
    before = [v.numpy() for v in model.discriminator.variables]
    model.discriminator_update(batch, seeds)
    # Replay D's training-mode call on the weights its update started from.
    for variable, value in zip(model.discriminator.variables, before):
        variable.assign(value)
    logits = model.discriminator(batch["inputs"], training=True)[
        "attribute_logits"].numpy()
    hand_count = np.mean((logits > 0) == (batch["attributes"].numpy() > 0.5))
    assert float(model.trackers["attribute_accuracy_real"].result()) == (
        pytest.approx(hand_count, abs=1e-6))

    generator_seeds = seed_lib.SeedStream(seed_lib.iteration_seed(0, 1))
    values = model.generator_losses(batch, generator_seeds)
    replay = seed_lib.SeedStream(seed_lib.iteration_seed(0, 1))
    latents = model.encoder(batch["inputs"], training=True)
    mixes, images = model._mix_and_decode(latents, batch, replay, training=True)
    mix_logits = model.discriminator(images["class_mix"], training=False)[
        "attribute_logits"].numpy()
    targets = mixes["class_mix"].attributes.numpy()
    per_example = np.mean((mix_logits > 0) == (targets > 0.5), axis=1)
    np.testing.assert_allclose(values["attribute_accuracy_class_mix"],
                               per_example, atol=1e-6)
    # Watched, not minimised: logged under their own names.
    assert model.term_weights["g"]["attribute_accuracy_class_mix"] is (
        objectives.WATCHED)
    assert "g_attribute_accuracy_class_mix" not in model.trackers


@pytest.mark.parametrize("mixer_input", mixers.CLASS_MIXER_INPUTS)
def test_the_class_term_alone_trains_the_class_mixer(mixer_input):
    """Gradients reach every class-mixer weight from class_consistency."""
    keras.utils.set_random_seed(0)
    model = objectives.AMR(
        *build_networks(ARCH, IMAGE_SHAPE, NUM_ATTRIBUTES),
        mixer=mixers.build_mixer("bernoulli"),
        class_mixer=mixers.ClassMixer(LATENT_CHANNELS, label_mix="bernoulli",
                                      mixer_input=mixer_input))
    model.class_mixer.build((None, NUM_ATTRIBUTES))
    batch = _sub_batch(_examples(BATCH))
    with tf.GradientTape() as tape:
        values = model.generator_losses(
            batch, seed_lib.SeedStream(seed_lib.iteration_seed(0, 0)))
        loss = tf.reduce_mean(values["class_consistency"])
    gradients = tape.gradient(loss, model.class_mixer.trainable_variables)
    assert len(gradients) == (6 if mixer_input == "paper" else 5)
    for variable, gradient in zip(model.class_mixer.trainable_variables,
                                  gradients):
        assert gradient is not None and np.any(gradient.numpy() != 0), (
            variable.path)


def test_declared_terms_are_the_computed_ones():
    model = _objective("amr_class_mixer")
    assert model.term_weights["g"]["class_consistency"] == model.cls_weight
    assert model.term_weights["g"]["mask_sparsity"] == 0.01
    assert model.term_weights["d"]["attribute_accuracy_real"] is objectives.WATCHED
    del model.term_weights["g"]["mask_sparsity"]
    model.term_weights["g"]["made_up"] = 1.0
    with pytest.raises(ValueError, match="made_up"):
        model.generator_update(_sub_batch(_examples(BATCH)), seed_lib.SeedStream(
            seed_lib.iteration_seed(0, 0)))


def test_real_attribute_term_sums_the_attributes_by_default():
    """D's attribute term weighs k (each attribute as much as one GAN
    term) unless its weight is given."""
    assert _objective("amr_class_mixer").term_weights["d"][
        "real_attributes"] == NUM_ATTRIBUTES
    assert _objective("amr_class_mixer", real_attributes_weight=1.0
                      ).term_weights["d"]["real_attributes"] == 1.0
    assert "real_attributes" not in _objective("amr_mixup").term_weights["d"]


def test_class_warmup_switches_the_class_term_on_at_its_iteration():
    """Before iteration `class_warmup` the class-consistency term counts 0
    in the generator's total (and its logged total); from then on its weight."""
    model = _objective("amr_class_mixer", class_warmup=2)
    values = {name: tf.fill([BATCH], 0.5) for name in model.term_weights["g"]}
    values["class_consistency"] = tf.fill([BATCH], 3.0)
    weights = model.term_weights["g"]
    rest = sum(0.5 * weight for name, weight in weights.items()
               if weight is not objectives.WATCHED and name != "class_consistency")
    totals = []
    for iteration in (0, 1, 2, 5):
        model.iterations.assign(iteration)
        totals.append(float(model._total("g", values, BATCH)))
    np.testing.assert_allclose(totals, [rest, rest] + [rest + 3.0] * 2,
                               rtol=1e-6)
    model.iterations.assign(0)
    model._log("g", values)
    assert float(model.trackers["g_total"].result()) == pytest.approx(rest)
    assert float(model.trackers["g_class_consistency"].result()) == 3.0
    assert _objective("amr_class_mixer").term_gate("g", "class_consistency") is None


def test_gradient_penalty_matches_a_numpy_reference_per_example():
    """R1 on a tanh MLP critic: ½‖W1 ((1 − h²) ⊙ w2)‖² at each real input
    x, with h = tanh(W1ᵀx + b1); fakes in the same D call do not enter it."""
    rng = np.random.default_rng(0)
    size = int(np.prod(IMAGE_SHAPE))
    hidden_kernel = rng.normal(0, 0.1, (size, 5)).astype(np.float32)
    hidden_bias = rng.normal(0, 0.1, 5).astype(np.float32)
    logit_kernel = rng.normal(0, 1.0, (5, 1)).astype(np.float32)
    image = keras.Input(IMAGE_SHAPE)
    hidden = keras.layers.Dense(5, activation="tanh")(
        keras.layers.Flatten()(image))
    dense = keras.layers.Dense(1)
    critic = keras.Model(image, {"logits": dense(hidden)})
    critic.layers[2].set_weights([hidden_kernel, hidden_bias])
    dense.set_weights([logit_kernel, np.zeros(1, np.float32)])
    encoder, decoder, _ = build_networks(ARCH, IMAGE_SHAPE, 0)
    model = objectives.ARAE(encoder, decoder, critic, gradient_penalty=10.0)
    assert model.term_weights["d"]["gradient_penalty"] == 10.0

    real = _examples(BATCH)["inputs"]
    fakes = {"reconstruction": _examples(BATCH, seed=1)["inputs"]}
    values = model.discriminator_losses({"inputs": tf.constant(real)}, fakes)
    flat = real.reshape(BATCH, size)
    h = np.tanh(flat @ hidden_kernel + hidden_bias)
    gradients = ((1 - h ** 2) * logit_kernel[:, 0]) @ hidden_kernel.T
    np.testing.assert_allclose(values["gradient_penalty"].numpy(),
                               0.5 * np.sum(gradients ** 2, axis=1), rtol=1e-4)
    without = objectives.ARAE(encoder, decoder, critic)
    assert "gradient_penalty" not in without.term_weights["d"]


def test_gradient_penalty_trains_in_graph_mode_and_counts_in_d_total():
    model = _objective("arae", gradient_penalty=10.0)
    logged = _fit(model, _examples(16), 1)  # One iteration: exact values.
    assert logged["d_gradient_penalty"] > 0
    assert logged["d_total"] == pytest.approx(
        logged["d_real"] + logged["d_fake_reconstruction"]
        + 10.0 * logged["d_gradient_penalty"], rel=1e-5)


# ---------------------------- training AMR with the class mixer on shapes
@pytest.fixture(scope="module")
def trained_on_shapes():
    """AMR + Bernoulli + class mixer, 60 iterations on 8 px `shapes`."""
    config = DataConfig(name="shapes", image_size=8, num_examples=512)
    info = get_info(config)
    assert info.input_shape == IMAGE_SHAPE
    assert info.num_attributes == NUM_ATTRIBUTES
    model = _objective("amr_class_mixer", n_critic=1, seed=0, init_seed=0,
                       learning_rate=1e-3)
    batches = make_batches(load(config, "train"), 16, shuffle=True, seed=0,
                           repeat=True)
    test_images = next(iter(load(config, "test").batch(64)))["inputs"]

    def reconstruction_error():
        return float(np.abs(test_images - model(test_images)).mean())

    before = reconstruction_error()
    history = model.fit(batches, steps_per_epoch=60, epochs=1, shuffle=False,
                        verbose=0)
    return types.SimpleNamespace(model=model, history=history.history,
                                 before=before, after=reconstruction_error())


def test_short_training_lowers_reconstruction_error(trained_on_shapes):
    assert trained_on_shapes.after < 0.7 * trained_on_shapes.before, (
        trained_on_shapes.before, trained_on_shapes.after)


def test_logged_terms_with_class_mixer(trained_on_shapes):
    keys = set(trained_on_shapes.history)
    assert keys == _expected_history_keys(trained_on_shapes.model)
    assert {"g_consistency", "g_class_consistency", "g_class_mix_consistency",
            "g_fool_d_class_mix", "g_mask_sparsity", "d_fake_class_mix",
            "d_real_attributes", "attribute_accuracy_real",
            "attribute_accuracy_class_mix"} <= keys
    assert all(np.all(np.isfinite(values))
               for values in trained_on_shapes.history.values())


def test_fits_under_a_mirrored_strategy():
    # Keras builds the model by calling it on a training batch (a dict), and
    # the iteration counter becomes a MirroredVariable.
    strategy = tf.distribute.MirroredStrategy(["CPU:0"])
    with strategy.scope():
        model = _objective("amr_class_mixer", n_critic=2)
    history = model.fit(_batches(_examples(16), BATCH * 2), steps_per_epoch=2,
                        epochs=1, shuffle=False, verbose=0)
    assert model.completed_iterations() == 2
    assert int(model.discriminator_optimizer.iterations.numpy()) == 4
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    reconstructions = model({"inputs": _examples(2)["inputs"]})
    assert reconstructions.shape == (2,) + IMAGE_SHAPE
