"""Fully connected networks for vector data such as the 2-D spiral."""

import keras
from keras import layers

from amr_tf.core.models import layers as blocks


def _hidden(x, arch, width, dense_fn, name):
    for index in range(arch.depth):
        x = dense_fn(width, name=f"{name}{index}")(x)
        x = layers.LeakyReLU(0.2, name=f"{name}{index}_lrelu")(x)
    return x


def build_encoder(arch, input_shape):
    """Points (B, D) -> latents (B, latent_channels)."""
    points = keras.Input(shape=input_shape, name="images")
    x = _hidden(points, arch, arch.width, layers.Dense, "hidden")
    x = layers.Dense(arch.latent_channels, name="to_latent")(x)
    return keras.Model(points, blocks.to_float32(x, "latents"), name="encoder")


def build_decoder(arch, input_shape):
    """Latents (B, latent_channels) -> points (B, D), linear output, float32."""
    latents = keras.Input(shape=arch.latent_shape(input_shape), name="latents")
    x = _hidden(latents, arch, arch.width, layers.Dense, "hidden")
    x = layers.Dense(input_shape[-1], name="to_points")(x)
    return keras.Model(latents, blocks.to_float32(x, "images"), name="decoder")


def build_discriminator(arch, input_shape, num_attributes):
    """MLP with real/fake and attribute heads, spectrally normalised unless
    `arch.disc_norm` is "none" (the attribute head never)."""
    _, dense_fn = blocks.discriminator_layers(arch)
    points = keras.Input(shape=input_shape, name="images")
    features = _hidden(points, arch, arch.discriminator_width, dense_fn,
                       "hidden")
    outputs = blocks.discriminator_heads(features, features, num_attributes,
                                         dense_fn, arch.disc_attribute_head)
    return keras.Model(points, outputs, name="discriminator")
