"""The plain-convolution networks of ACAI (Berthelot et al. 2019), METHOD.md §4.

With the authors' 32 px settings (width 16, latent_size 4, latent_channels 2
or 16) the code is 32- or 256-dimensional. Leaky ReLU (slope 0.2), two 3x3
convolutions per resolution (times `depth`), average pooling down and nearest
upsampling up. The decoder ends in `arch.decoder_output`: tanh keeps images
in [-1, 1]; ACAI's own decoder is linear.
"""

import keras
from keras import layers

from amr_tf.core.models import layers as blocks


def _conv_stack(x, filters, count, conv_fn, name):
    """`count` 3x3 convolutions, each followed by leaky ReLU."""
    for index in range(count):
        x = conv_fn(filters, 3, name=f"{name}_conv{index}")(x)
        x = layers.LeakyReLU(0.2, name=f"{name}_lrelu{index}")(x)
    return x


def _features(images, arch, width, num_down, conv_fn):
    """Shared encoder / critic trunk down to `num_down` poolings."""
    x = conv_fn(width, 1, name="stem")(images)
    for scale in range(num_down):
        x = _conv_stack(x, arch.channels_at(scale, width), 2 * arch.depth,
                        conv_fn, f"scale{scale}")
        x = layers.AveragePooling2D(2, name=f"scale{scale}_pool")(x)
    return _conv_stack(x, arch.channels_at(num_down, width), 1, conv_fn, "bottom")


def build_encoder(arch, input_shape):
    """Images (B, S, S, C) -> latents (B, s, s, Cz), linear output."""
    images = keras.Input(shape=input_shape, name="images")
    x = _features(images, arch, arch.width,
                  arch.num_downsamplings(input_shape[0]), blocks.conv)
    x = blocks.conv(arch.latent_channels, name="to_latent")(x)
    return keras.Model(images, blocks.to_float32(x, "latents"), name="encoder")


def build_decoder(arch, input_shape):
    """Latents (B, s, s, Cz) -> images (B, S, S, C) in [-1, 1]."""
    latents = keras.Input(shape=arch.latent_shape(input_shape), name="latents")
    x = latents
    for scale in reversed(range(arch.num_downsamplings(input_shape[0]))):
        x = _conv_stack(x, arch.channels_at(scale), 2 * arch.depth,
                        blocks.conv, f"scale{scale}")
        x = layers.UpSampling2D(name=f"scale{scale}_up")(x)
    x = _conv_stack(x, arch.width, 1, blocks.conv, "top")
    images = blocks.decoder_output(x, input_shape[-1], arch.decoder_output)
    return keras.Model(latents, images, name="decoder")


def build_discriminator(arch, input_shape, num_attributes):
    """ACAI's critic trunk, a pooled real/fake head and an attribute head
    over the un-pooled map (`layers.discriminator_heads`); spectrally
    normalised unless `arch.disc_norm` is "none" (ACAI's own critic has no
    normalisation), the attribute head never."""
    conv_fn, dense_fn = blocks.discriminator_layers(arch)
    images = keras.Input(shape=input_shape, name="images")
    x = _features(images, arch, arch.discriminator_width,
                  arch.num_downsamplings(input_shape[0]), conv_fn)
    features = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = blocks.discriminator_heads(features, x, num_attributes, dense_fn,
                                         arch.disc_attribute_head)
    return keras.Model(images, outputs, name="discriminator")
