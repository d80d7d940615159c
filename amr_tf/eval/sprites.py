"""Does a decoded `shapes` mix show one sprite, as a real image does?

A `shapes` image is one saturated sprite (HSV value 1) on a near-black
background (value <= 0.10). A realistic mix must look like that too; the
failure a person sees at once is two sprites overlaid, each faded, which
is what pixel interpolation gives. An image shows *one sprite* when:

- its bright pixels (value > `BRIGHT`) form exactly one 8-connected blob of
  at least `MIN_AREA_FRACTION` of the image, and
- no more than that area is *ghost*: clearly above the background
  (value > `GHOST`) yet neither bright nor at a bright pixel's edge.

Measured on real images this is ~1; on pixel midpoints of pairs whose
sprites do not overlap it is 0.
"""

import numpy as np
import scipy.ndimage

BRIGHT = 0.75
GHOST = 0.25
MIN_AREA_FRACTION = 0.01
_EIGHT_CONNECTED = np.ones((3, 3), bool)


def shows_one_sprite(images):
    """(N,) bool: whether each (N, S, S, 3) image in [-1, 1] shows one sprite."""
    images = np.asarray(images, np.float64)
    value = (images.max(axis=-1) + 1.0) / 2.0  # HSV value in [0, 1].
    min_area = max(1, round(MIN_AREA_FRACTION * value.shape[1] * value.shape[2]))
    result = np.zeros(len(images), bool)
    for index, image in enumerate(value):
        bright = image > BRIGHT
        blobs, count = scipy.ndimage.label(bright, _EIGHT_CONNECTED)
        areas = np.bincount(blobs.ravel(), minlength=count + 1)[1:]
        edges = scipy.ndimage.binary_dilation(bright, _EIGHT_CONNECTED)
        ghost = (image > GHOST) & ~edges
        result[index] = (np.sum(areas >= min_area) == 1
                         and ghost.sum() <= min_area)
    return result


def one_sprite_fraction(images):
    """Share of (N, S, S, 3) images in [-1, 1] that show one sprite."""
    return float(np.mean(shows_one_sprite(images)))
