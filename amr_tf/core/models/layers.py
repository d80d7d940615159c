"""Building blocks shared by the network families."""

from keras import layers


class SpectralNormalization(layers.SpectralNormalization):
    """`keras.layers.SpectralNormalization` that renormalises in float32.

    Under a mixed policy the Keras layer computes the power iteration and
    the normalised kernel in the compute dtype and writes that rounded kernel
    back into the float32 variable at every training call, so float16 would
    erase the optimizer's small updates. With `autocast=False` this wrapper
    reads its variables in their own dtype; the wrapped layer still computes
    in the policy's compute dtype.
    """

    def __init__(self, layer, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(layer, **kwargs)


def conv(filters, kernel_size=3, name=None):
    """A same-padded 2-D convolution."""
    return layers.Conv2D(filters, kernel_size, padding="same", name=name)


def sn_conv(filters, kernel_size=3, name=None):
    """A same-padded convolution wrapped in spectral normalisation."""
    return SpectralNormalization(
        layers.Conv2D(filters, kernel_size, padding="same"), name=name
    )


def sn_dense(units, name=None, dtype=None):
    """A dense layer wrapped in spectral normalisation."""
    return SpectralNormalization(
        layers.Dense(units, dtype=dtype), name=name, dtype=dtype
    )


def dense(units, name=None, dtype=None):
    """A plain dense layer, with `sn_dense`'s signature."""
    return layers.Dense(units, name=name, dtype=dtype)


def discriminator_layers(arch):
    """(conv_fn, dense_fn) of the discriminator: spectrally normalised
    (`sn_conv`, `sn_dense`), or plain where `arch.disc_norm` is "none"."""
    return (sn_conv, sn_dense) if arch.disc_norm == "spectral" else (conv, dense)


def to_float32(x, name):
    """Casts a tensor to float32 (heads and outputs stay float32 under
    mixed precision)."""
    return layers.Activation("linear", dtype="float32", name=name)(x)


def discriminator_heads(features, num_attributes, dense_fn=sn_dense):
    """Real/fake and attribute logits from pooled discriminator features.

    Args:
        features: (B, F) pooled features.
        num_attributes: k, the number of binary attributes (0 for none).
        dense_fn: `sn_dense`, or `dense` for a critic without spectral norm.

    Returns:
        A dict with `"logits"` (B, 1) and, when k > 0,
        `"attribute_logits"` (B, k); both float32.
    """
    features = to_float32(features, "features_float32")
    outputs = {"logits": dense_fn(1, name="logits", dtype="float32")(features)}
    if num_attributes:
        outputs["attribute_logits"] = dense_fn(
            num_attributes, name="attribute_logits", dtype="float32"
        )(features)
    return outputs


def decoder_output(x, channels, activation, name="images"):
    """Final 3x3 convolution to `channels`, then `activation` in float32."""
    x = conv(channels, name="to_image")(x)
    return layers.Activation(activation, dtype="float32", name=name)(x)
