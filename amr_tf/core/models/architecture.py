"""Architecture settings shared by the encoder, decoder and discriminator."""

import dataclasses
import math

from amr_tf.core.errors import ArgumentError
from amr_tf.core.fields import Range
from amr_tf.core.fields import argument
from amr_tf.core.fields import check
from amr_tf.core.fields import setting

FAMILIES = ("resnet", "acai", "mlp")
DISC_NORMS = ("spectral", "none")
DECODER_OUTPUTS = ("tanh", "linear")
ATTRIBUTE_HEADS = ("map", "pooled")


@dataclasses.dataclass(frozen=True)
class ArchitectureConfig:
    """Sizes of the networks; each field's help says what it holds.

    `family` is "resnet" (residual encoder/decoder, the paper's default),
    "acai" (the plain-conv networks of Berthelot et al. 2019) or "mlp"
    (fully connected, for 2-D data such as the spiral). Channels double at
    every downsampling, up to `max_width`.

    Raises:
        ArgumentError: a field outside its choices or range.
    """

    family: str = setting("resnet", "Network family.", choices=FAMILIES,
                          flag="arch", structural=True)
    width: int = setting(64, "Channels at the first resolution (hidden units "
                         "for mlp).", bounds=Range(1), structural=True)
    depth: int = setting(1, "Blocks per resolution (layers for mlp).",
                         bounds=Range(1), structural=True)
    latent_size: int = setting(8, "Side of the spatial latent grid, e.g. 8 "
                               "for 64 px images.", bounds=Range(1),
                               structural=True)
    latent_channels: int = setting(
        16, "Latent channels (latent dimension for mlp).", bounds=Range(1),
        structural=True)
    disc_width: int | None = setting(
        None, "Discriminator width; default --width.", bounds=Range(1),
        structural=True)
    disc_norm: str = setting(
        "spectral", "Normalisation of the discriminator's (critic's) weight "
        "layers: spectral (the paper's) or none (ACAI's critic).",
        choices=DISC_NORMS, structural=True)
    decoder_output: str = setting(
        "tanh", "Activation of the image decoders' output: tanh (images in "
        "[-1, 1], the paper's) or linear (ACAI's).", choices=DECODER_OUTPUTS,
        structural=True)
    disc_attribute_head: str = setting(
        "map", "Discriminator's attribute head (supervised runs): map (a "
        "plain dense layer over the whole final feature map, so it sees "
        "where things are) or pooled (the authors': over the globally "
        "averaged features, normalised like the real/fake head).",
        choices=ATTRIBUTE_HEADS, structural=True)
    max_width: int = 512

    def __post_init__(self):
        check(self)

    @property
    def discriminator_width(self):
        return self.disc_width or self.width

    def num_downsamplings(self, image_size):
        """Number of 2x downsamplings from `image_size` to `latent_size`."""
        return int(round(math.log2(image_size // self.latent_size)))

    def channels_at(self, scale, width=None):
        """Channels of the blocks at the resolution after `scale` downsamplings."""
        return min((width or self.width) << scale, self.max_width)

    def validate(self, input_shape):
        """Raises `ArgumentError` if the networks cannot take `input_shape`."""
        family = argument(self, "family")
        is_image = len(input_shape) == 3
        if self.family == "mlp":
            if is_image:
                raise ArgumentError(
                    "{family} is for vector data such as the spiral; use "
                    "{resnet} or {acai} for images", family=family,
                    resnet=dataclasses.replace(family, value="resnet"),
                    acai=dataclasses.replace(family, value="acai"))
            return
        if not is_image:
            raise ArgumentError(
                "{family} needs images; use {mlp} for data of shape {shape}",
                family=family, mlp=dataclasses.replace(family, value="mlp"),
                shape=tuple(input_shape))
        height, width, _ = input_shape
        ratio = height // self.latent_size
        if (
            height != width
            or height % self.latent_size
            or ratio < 2
            or ratio & (ratio - 1)
        ):
            raise ArgumentError(
                "{family} cannot take {height}x{width} images with "
                "{latent_size}: the image must be square and its side "
                "latent_size times a power of two >= 2 (e.g. {example})",
                family=family, height=height, width=width,
                latent_size=argument(self, "latent_size"),
                example=self.latent_size * 4)

    def latent_shape(self, input_shape):
        """Shape of one latent code (no batch axis)."""
        if self.family == "mlp":
            return (self.latent_channels,)
        return (self.latent_size, self.latent_size, self.latent_channels)
