"""Encoder, decoder and discriminator families, selected by `--arch`."""

import collections

from amr_tf.core.models import acai
from amr_tf.core.models import mlp
from amr_tf.core.models import resnet
from amr_tf.core.models.architecture import FAMILIES
from amr_tf.core.models.architecture import ArchitectureConfig

_FAMILY_MODULES = {"resnet": resnet, "acai": acai, "mlp": mlp}

Networks = collections.namedtuple(
    "Networks", ["encoder", "decoder", "discriminator"]
)


def build_networks(arch, input_shape, num_attributes):
    """Builds the three networks of an adversarial autoencoder.

    Args:
        arch: an `ArchitectureConfig`.
        input_shape: shape of one example, (H, W, C) or (D,).
        num_attributes: k, outputs of the discriminator's attribute head.

    Returns:
        `Networks(encoder, decoder, discriminator)` of functional Keras models.
        The discriminator returns a dict of float32 logits (see
        `layers.discriminator_heads`).

    Raises:
        UsageError: when the family cannot take `input_shape`.
    """
    input_shape = tuple(input_shape)
    arch.validate(input_shape)
    family = _FAMILY_MODULES[arch.family]
    return Networks(
        encoder=family.build_encoder(arch, input_shape),
        decoder=family.build_decoder(arch, input_shape),
        discriminator=family.build_discriminator(
            arch, input_shape, num_attributes
        ),
    )


__all__ = ["FAMILIES", "ArchitectureConfig", "Networks", "build_networks"]
