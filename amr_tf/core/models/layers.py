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


def discriminator_heads(features, feature_map, num_attributes,
                        dense_fn=sn_dense, attribute_head="map"):
    """Real/fake logits from pooled features; attribute logits from the
    un-pooled feature map (or, as the authors', from the pooled features).

    With `attribute_head="map"` the attribute head is a plain dense layer
    (no spectral norm, whatever `dense_fn`) over the flattened map, so it
    sees where things are: a circle and a square of one area and colour
    have almost the same pooled features. With "pooled" it is `dense_fn`
    over `features`. It is built only when k > 0, so a discriminator
    without attributes has no layer more than the real/fake head.

    Args:
        features: (B, F) pooled features.
        feature_map: (B, ..., F') the features before pooling (the same
            tensor as `features` where nothing is pooled).
        num_attributes: k, the number of binary attributes (0 for none).
        dense_fn: `sn_dense`, or `dense` for a critic without spectral norm;
            the real/fake head's layer.
        attribute_head: "map" or "pooled" (`ArchitectureConfig`'s
            `disc_attribute_head`).

    Returns:
        A dict with `"logits"` (B, 1) and, when k > 0,
        `"attribute_logits"` (B, k); both float32.
    """
    features = to_float32(features, "features_float32")
    outputs = {"logits": dense_fn(1, name="logits", dtype="float32")(features)}
    if num_attributes and attribute_head == "pooled":
        outputs["attribute_logits"] = dense_fn(
            num_attributes, name="attribute_logits", dtype="float32"
        )(features)
    elif num_attributes:
        flat = layers.Flatten(name="attribute_flatten")(feature_map)
        outputs["attribute_logits"] = dense(
            num_attributes, name="attribute_logits", dtype="float32"
        )(to_float32(flat, "attribute_features_float32"))
    return outputs


def decoder_output(x, channels, activation, name="images"):
    """Final 3x3 convolution to `channels`, then `activation` in float32."""
    x = conv(channels, name="to_image")(x)
    return layers.Activation(activation, dtype="float32", name=name)(x)
