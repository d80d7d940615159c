"""Residual encoder, decoder and SNGAN-style discriminator (paper §3, METHOD.md §4).

Encoder: (B, S, S, C) in [-1, 1] -> (B, s, s, latent_channels), s = latent_size,
through log2(S / s) residual down-blocks. Decoder mirrors it with nearest
upsampling and ends in tanh, so images come out in [-1, 1] and float32.
"""

import keras
from keras import layers

from amr_tf.core.models import layers as blocks


def _residual_block(x, filters, resample, conv_fn, name):
    """Pre-activation residual block.

    `resample` is `"down"` (2x average pool at the end), `"up"` (2x nearest
    upsampling at the start) or `None`. `conv_fn(filters, kernel_size, name)`
    builds the convolutions, so the discriminator can pass a spectrally
    normalised one.
    """
    shortcut = x
    if resample == "up":
        x = layers.UpSampling2D(name=f"{name}_up")(x)
        shortcut = x
    h = layers.ReLU(name=f"{name}_relu1")(x)
    h = conv_fn(filters, 3, name=f"{name}_conv1")(h)
    h = layers.ReLU(name=f"{name}_relu2")(h)
    h = conv_fn(filters, 3, name=f"{name}_conv2")(h)
    if shortcut.shape[-1] != filters:
        shortcut = conv_fn(filters, 1, name=f"{name}_shortcut")(shortcut)
    if resample == "down":
        h = layers.AveragePooling2D(2, name=f"{name}_pool")(h)
        shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    return layers.Add(name=f"{name}_add")([h, shortcut])


def _stage(x, filters, depth, resample, conv_fn, name):
    """One resampling block followed by `depth - 1` plain blocks."""
    x = _residual_block(x, filters, resample, conv_fn, f"{name}_0")
    for index in range(1, depth):
        x = _residual_block(x, filters, None, conv_fn, f"{name}_{index}")
    return x


def build_encoder(arch, input_shape):
    """Residual encoder: images (B, S, S, C) -> latents (B, s, s, Cz)."""
    images = keras.Input(shape=input_shape, name="images")
    x = blocks.conv(arch.width, name="stem")(images)
    for scale in range(arch.num_downsamplings(input_shape[0])):
        x = _stage(x, arch.channels_at(scale), arch.depth, "down",
                   blocks.conv, f"down{scale}")
    x = layers.ReLU(name="head_relu")(x)
    x = blocks.conv(arch.latent_channels, name="to_latent")(x)
    latents = blocks.to_float32(x, "latents")
    return keras.Model(images, latents, name="encoder")


def build_decoder(arch, input_shape):
    """Residual decoder: latents (B, s, s, Cz) -> images (B, S, S, C) in [-1, 1]."""
    latents = keras.Input(shape=arch.latent_shape(input_shape), name="latents")
    num_up = arch.num_downsamplings(input_shape[0])
    x = blocks.conv(arch.channels_at(num_up - 1), name="stem")(latents)
    for scale in reversed(range(num_up)):
        x = _stage(x, arch.channels_at(scale), arch.depth, "up",
                   blocks.conv, f"up{scale}")
    x = layers.ReLU(name="head_relu")(x)
    images = blocks.decoder_output(x, input_shape[-1], arch.decoder_output)
    return keras.Model(latents, images, name="decoder")


def build_discriminator(arch, input_shape, num_attributes):
    """SNGAN-style residual discriminator.

    Every convolution and the real/fake dense layer are wrapped in
    `keras.layers.SpectralNormalization` (unless `arch.disc_norm` is
    "none"). Downsamples to 4x4, then ReLU,
    global average pooling (a mean of a linear map, so ACAI's critic is the
    `logits` head) and the heads of `layers.discriminator_heads`.
    """
    conv_fn, dense_fn = blocks.discriminator_layers(arch)
    images = keras.Input(shape=input_shape, name="images")
    width = arch.discriminator_width
    num_down = max(1, (input_shape[0] // 4).bit_length() - 1)
    x = conv_fn(width, name="stem")(images)
    for scale in range(num_down):
        x = _stage(x, arch.channels_at(scale, width), arch.depth, "down",
                   conv_fn, f"down{scale}")
    x = layers.ReLU(name="head_relu")(x)
    features = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = blocks.discriminator_heads(features, x, num_attributes, dense_fn,
                                         arch.disc_attribute_head)
    return keras.Model(images, outputs, name="discriminator")
