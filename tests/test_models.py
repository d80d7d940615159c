"""Encoder, decoder and discriminator families of amr_tf.core.models (METHOD.md §4)."""

import dataclasses
import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf.core.errors import UsageError
from amr_tf.core.models import ArchitectureConfig
from amr_tf.core.models import build_networks

BATCH, LATENT_CHANNELS = 3, 5

# family -> (architecture, input shape, expected latent shape per example).
CASES = {
    "resnet_8px": (
        ArchitectureConfig("resnet", width=4, latent_size=4,
                           latent_channels=LATENT_CHANNELS),
        (8, 8, 3), (4, 4, LATENT_CHANNELS)),
    "resnet_16px": (
        ArchitectureConfig("resnet", width=4, depth=2, latent_size=4,
                           latent_channels=LATENT_CHANNELS),
        (16, 16, 1), (4, 4, LATENT_CHANNELS)),
    "acai_16px": (
        ArchitectureConfig("acai", width=4, latent_size=4,
                           latent_channels=LATENT_CHANNELS),
        (16, 16, 3), (4, 4, LATENT_CHANNELS)),
    "mlp": (
        ArchitectureConfig("mlp", width=8, depth=2,
                           latent_channels=LATENT_CHANNELS),
        (2,), (LATENT_CHANNELS,)),
}
CONV_CASES = [name for name in CASES if CASES[name][0].family != "mlp"]


def _inputs(input_shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (BATCH,) + input_shape).astype(np.float32)


def _build(case, num_attributes=0):
    arch, input_shape, _ = CASES[case]
    return build_networks(arch, input_shape, num_attributes)


@functools.cache
def _shared(case, num_attributes=0):
    """Networks built once per module, for tests that only run inference."""
    return _build(case, num_attributes)


def _layers(model):
    """Every layer of a model, recursing into nested models and wrappers."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        elif isinstance(layer, keras.layers.Wrapper):
            yield layer.layer


def _spectral_layers(model):
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.SpectralNormalization)]


def _weight_layers(model):
    return [layer for layer in _layers(model)
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]


# ----------------------------------------------------------------- shapes
@pytest.mark.parametrize("case", sorted(CASES))
def test_encoder_and_decoder_shapes_and_dtypes(case):
    _, input_shape, latent_shape = CASES[case]
    networks = _shared(case)
    latents = networks.encoder(_inputs(input_shape))
    assert tuple(latents.shape) == (BATCH,) + latent_shape
    assert latents.dtype == tf.float32
    decoded = networks.decoder(latents)
    assert tuple(decoded.shape) == (BATCH,) + input_shape
    assert decoded.dtype == tf.float32


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_decoder_output_is_in_unit_range(case):
    _, input_shape, latent_shape = CASES[case]
    decoder = _shared(case).decoder
    # Large latents drive the pre-activation far past +-1; tanh bounds it.
    latents = 100.0 * np.random.default_rng(0).normal(
        size=(BATCH,) + latent_shape).astype(np.float32)
    images = decoder(latents).numpy()
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert np.abs(images).max() > 0.9


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("num_attributes", [0, 3])
def test_discriminator_heads(case, num_attributes):
    _, input_shape, _ = CASES[case]
    discriminator = _shared(case, num_attributes).discriminator
    outputs = discriminator(_inputs(input_shape))
    assert isinstance(outputs, dict)
    expected_keys = {"logits"} | ({"attribute_logits"} if num_attributes else set())
    assert set(outputs) == expected_keys
    assert tuple(outputs["logits"].shape) == (BATCH, 1)
    assert outputs["logits"].dtype == tf.float32
    if num_attributes:
        assert tuple(outputs["attribute_logits"].shape) == (BATCH, num_attributes)
        assert outputs["attribute_logits"].dtype == tf.float32


def test_networks_depend_on_their_inputs():
    networks = _build("resnet_8px", 2)
    x = np.stack([_inputs((8, 8, 3), seed)[0] for seed in range(BATCH)])
    latents = networks.encoder(x).numpy()
    assert not np.allclose(latents[0], latents[1])
    logits = networks.discriminator(x)["logits"].numpy()
    assert not np.allclose(logits[0], logits[1])


# ----------------------------------------------------- spectral normalisation
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("attribute_head", ["map", "pooled"])
def test_spectral_norm_wraps_every_discriminator_layer_but_the_map_head(
        case, attribute_head):
    """The trunk and the real/fake head are normalised; the attribute head
    only in the authors' pooled form."""
    arch, input_shape, _ = CASES[case]
    discriminator = build_networks(
        dataclasses.replace(arch, disc_attribute_head=attribute_head),
        input_shape, 2).discriminator
    wrappers = _spectral_layers(discriminator)
    wrapped = {id(layer.layer) for layer in wrappers}
    assert all(isinstance(layer.layer, (keras.layers.Conv2D, keras.layers.Dense))
               for layer in wrappers)
    bare = [layer.name for layer in _weight_layers(discriminator)
            if id(layer) not in wrapped]
    assert bare == (["attribute_logits"] if attribute_head == "map" else [])
    assert len(wrappers) >= 2
    head_names = {layer.name for layer in wrappers}
    assert "logits" in head_names
    assert ("attribute_logits" in head_names) == (attribute_head == "pooled")


@pytest.mark.parametrize("case", CONV_CASES)
def test_attribute_head_reads_the_flattened_final_map(case):
    """(B, k) logits from a dense layer over every position of D's last map,
    while the real/fake head reads the pooled features."""
    _, input_shape, _ = CASES[case]
    discriminator = _shared(case, 3).discriminator
    final_map = discriminator.get_layer("attribute_flatten").input
    height, width, channels = final_map.shape[1:]
    assert (height, width) == (4, 4)
    kernel = discriminator.get_layer("attribute_logits").kernel
    assert tuple(kernel.shape) == (height * width * channels, 3)
    assert discriminator.get_layer("logits").layer.kernel.shape == (channels, 1)
    logits = discriminator(_inputs(input_shape))["attribute_logits"]
    assert tuple(logits.shape) == (BATCH, 3)


def _sprite(position, shape):
    """A 16 px image in [-1, 1]: one white sprite of 16 pixels on black, a
    4x4 square (`shape="square"`) or a 2x8 bar, whose top-left corner is at
    `position` (row, col)."""
    image = -np.ones((16, 16, 3), np.float32)
    row, col = position
    rows, cols = (4, 4) if shape == "square" else (2, 8)
    image[row:row + rows, col:col + cols] = 1.0
    return image


def test_attribute_logits_change_when_a_sprite_moves_or_changes_shape():
    """At a fixed mean colour (the same number of white pixels), moving the
    sprite or changing its shape changes the attribute logits."""
    keras.utils.set_random_seed(0)
    arch, input_shape, _ = CASES["resnet_16px"]
    discriminator = build_networks(arch, (16, 16, 3), 3).discriminator
    images = np.stack([_sprite((6, 6), "square"), _sprite((2, 2), "square"),
                       _sprite((7, 4), "bar")])
    means = images.mean(axis=(1, 2))
    np.testing.assert_allclose(means, means[:1].repeat(3, axis=0))
    logits = discriminator(images)["attribute_logits"].numpy()
    scale = np.abs(logits).max()
    assert np.abs(logits[1] - logits[0]).max() > 1e-3 * scale  # moved
    assert np.abs(logits[2] - logits[0]).max() > 1e-3 * scale  # reshaped


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupervised_discriminator_has_no_attribute_layers(case):
    """Without attributes D is the trunk and the pooled real/fake head
    whatever the attribute head setting: the same layers and variables,
    the same logits from the same seed."""
    arch, input_shape, _ = CASES[case]
    built = []
    for attribute_head in ("map", "pooled"):
        keras.utils.set_random_seed(0)
        built.append(build_networks(
            dataclasses.replace(arch, disc_attribute_head=attribute_head),
            input_shape, 0).discriminator)
    names = [[layer.name for layer in d.layers] for d in built]
    assert names[0] == names[1]
    assert not {"attribute_flatten", "attribute_logits"} & set(names[0])
    assert [tuple(v.shape) for v in built[0].variables] == [
        tuple(v.shape) for v in built[1].variables]
    supervised = _shared(case, 3).discriminator
    assert len(supervised.trainable_variables) == (
        len(built[0].trainable_variables) + 2)  # the head's kernel and bias
    x = _inputs(input_shape)
    np.testing.assert_array_equal(built[0](x)["logits"], built[1](x)["logits"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_encoder_and_decoder_have_no_spectral_normalisation(case):
    networks = _shared(case)
    for model in (networks.encoder, networks.decoder):
        assert not [layer for layer in _layers(model)
                    if isinstance(layer, keras.layers.SpectralNormalization)]
        assert _weight_layers(model), "no weights at all"


@pytest.mark.parametrize("case", sorted(CASES))
def test_critic_without_spectral_norm_has_plain_weight_layers(case):
    """ACAI's critic: the same layers and heads, none normalised."""
    arch, input_shape, _ = CASES[case]
    plain = build_networks(dataclasses.replace(arch, disc_norm="none"),
                           input_shape, 2).discriminator
    assert not _spectral_layers(plain)
    normalised = _shared(case, 2).discriminator
    assert len(_weight_layers(plain)) == len(_weight_layers(normalised))
    assert {"logits", "attribute_logits"} <= {layer.name for layer in plain.layers}
    outputs = plain(_inputs(input_shape))
    assert tuple(outputs["attribute_logits"].shape) == (BATCH, 2)


@pytest.mark.parametrize("case", CONV_CASES)
def test_linear_decoder_output_is_not_bounded(case):
    arch, input_shape, latent_shape = CASES[case]
    decoder = build_networks(dataclasses.replace(arch, decoder_output="linear"),
                             input_shape, 0).decoder
    latents = 100.0 * np.random.default_rng(0).normal(
        size=(BATCH,) + latent_shape).astype(np.float32)
    assert np.abs(decoder(latents).numpy()).max() > 1.0


def test_discriminator_spectral_state_moves_only_in_training_mode():
    discriminator = _build("resnet_8px").discriminator
    wrapper = _spectral_layers(discriminator)[0]
    x = _inputs((8, 8, 3))
    before = wrapper.vector_u.numpy().copy(), wrapper.kernel.numpy().copy()
    discriminator(x, training=False)
    np.testing.assert_array_equal(wrapper.vector_u.numpy(), before[0])
    np.testing.assert_array_equal(wrapper.kernel.numpy(), before[1])
    discriminator(x, training=True)
    assert not np.array_equal(wrapper.vector_u.numpy(), before[0])


# --------------------------------------------------------- mixed precision
@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_are_float32_under_mixed_float16(case, mixed_float16):
    _, input_shape, _ = CASES[case]
    networks = _build(case, num_attributes=2)
    # The policy reached the networks: their hidden layers compute in float16.
    assert any(layer.compute_dtype == "float16"
               for layer in _weight_layers(networks.encoder))
    assert any(layer.compute_dtype == "float16"
               for layer in _weight_layers(networks.discriminator))
    latents = networks.encoder(_inputs(input_shape))
    assert latents.dtype == tf.float32
    assert networks.decoder(latents).dtype == tf.float32
    outputs = networks.discriminator(_inputs(input_shape), training=True)
    assert outputs["logits"].dtype == tf.float32
    assert outputs["attribute_logits"].dtype == tf.float32
    assert np.all(np.isfinite(outputs["logits"].numpy()))


# ------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "arch,input_shape,message",
    [
        (ArchitectureConfig("resnet", latent_size=4), (16, 8, 3), "square"),
        (ArchitectureConfig("resnet", latent_size=4), (24, 24, 3), "power of two"),
        (ArchitectureConfig("acai", latent_size=4), (12, 12, 3), "power of two"),
        (ArchitectureConfig("resnet", latent_size=3), (16, 16, 3), "power of two"),
        (ArchitectureConfig("resnet", latent_size=16), (16, 16, 3), "power of two"),
        (ArchitectureConfig("mlp"), (16, 16, 3), "mlp"),
        (ArchitectureConfig("resnet"), (2,), "needs images"),
        (ArchitectureConfig("acai"), (2,), "needs images"),
    ],
)
def test_validate_rejects_unusable_configurations(arch, input_shape, message):
    with pytest.raises(UsageError, match=message):
        arch.validate(input_shape)
    with pytest.raises(UsageError):
        build_networks(arch, input_shape, 0)


@pytest.mark.parametrize(
    "arch,input_shape",
    [
        (ArchitectureConfig("resnet", latent_size=4), (8, 8, 3)),
        (ArchitectureConfig("resnet", latent_size=8), (64, 64, 3)),
        (ArchitectureConfig("acai", latent_size=4), (32, 32, 1)),
        (ArchitectureConfig("mlp"), (2,)),
    ],
)
def test_validate_accepts_usable_configurations(arch, input_shape):
    arch.validate(input_shape)


def test_latent_shape():
    arch = ArchitectureConfig("resnet", latent_size=8, latent_channels=16)
    assert arch.latent_shape((64, 64, 3)) == (8, 8, 16)
    assert ArchitectureConfig("mlp", latent_channels=7).latent_shape((2,)) == (7,)
