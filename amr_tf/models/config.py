"""Architecture settings shared by the encoder, decoder and discriminator."""

import dataclasses
import math

from amr_tf.errors import UsageError

FAMILIES = ("resnet", "acai", "mlp")


@dataclasses.dataclass(frozen=True)
class ArchitectureConfig:
    """Sizes of the networks.

    Attributes:
        family: `"resnet"` (residual encoder/decoder, the paper's default),
            `"acai"` (the plain-conv networks of Berthelot et al. 2019) or
            `"mlp"` (fully connected, for 2-D data such as the spiral).
        width: channels at the first resolution (conv families) or hidden
            units (mlp). Channels double at every downsampling.
        depth: residual blocks (resnet) or conv pairs (acai) per resolution;
            hidden layers for mlp.
        latent_size: side of the spatial latent grid (conv families), e.g. 8
            for 64 px images -> (8, 8, latent_channels).
        latent_channels: channels of the latent grid, or the latent dimension
            for mlp.
        disc_width: width of the discriminator; `None` uses `width`.
        max_width: cap on the channels at deep resolutions.
    """

    family: str = "resnet"
    width: int = 64
    depth: int = 1
    latent_size: int = 8
    latent_channels: int = 16
    disc_width: int | None = None
    max_width: int = 512

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
        """Raises `UsageError` if the networks cannot take `input_shape`."""
        if self.family not in FAMILIES:
            raise UsageError(
                f"unknown --arch={self.family!r}; choose one of "
                f"{', '.join(FAMILIES)}"
            )
        for name in ("width", "depth", "latent_size", "latent_channels"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name} must be >= 1, got {getattr(self, name)}")
        is_image = len(input_shape) == 3
        if self.family == "mlp":
            if is_image:
                raise UsageError(
                    "--arch=mlp is for vector data such as the spiral; use "
                    "--arch=resnet or --arch=acai for images"
                )
            return
        if not is_image:
            raise UsageError(
                f"--arch={self.family} needs images; use --arch=mlp for "
                f"data of shape {tuple(input_shape)}"
            )
        height, width, _ = input_shape
        ratio = height // self.latent_size
        if (
            height != width
            or height % self.latent_size
            or ratio < 2
            or ratio & (ratio - 1)
        ):
            raise UsageError(
                f"--arch={self.family} cannot take {height}x{width} images with "
                f"--latent_size={self.latent_size}: the image must be square "
                "and image_size / latent_size a power of two >= 2 "
                f"(e.g. --image_size={self.latent_size * 4})"
            )

    def latent_shape(self, input_shape):
        """Shape of one latent code (no batch axis)."""
        if self.family == "mlp":
            return (self.latent_channels,)
        return (self.latent_size, self.latent_size, self.latent_channels)
