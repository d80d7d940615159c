"""Gaussian blur and noise: what a decoder does to edges, for a judge that
must read decoded images as a person does.

The feature classifier's attribute judge (`classifier.ClassifierSettings`
with `augment=True`) trains on images passed through `degrade`, so that the
shape of a slightly blurred sprite is still read right; `gaussian_blur`
also makes the blurred real images it is checked on.
"""

import numpy as np
import tensorflow as tf

# Augmentation ranges: blur sigma ~ U(0, MAX_BLUR_SIGMA) px and noise
# std ~ U(0, MAX_NOISE_STD) (images in [-1, 1]), per example.
MAX_BLUR_SIGMA = 1.5
MAX_NOISE_STD = 0.1
# Kernel taps on each side of the centre: 2 sigma at the largest sigma.
_RADIUS = 3


def _kernels(sigmas):
    """(B, 2 * _RADIUS + 1) normalised 1-D Gaussians; sigma 0 is the identity."""
    offsets = tf.range(-_RADIUS, _RADIUS + 1, dtype=tf.float32)
    sigmas = tf.maximum(tf.cast(sigmas, tf.float32), 1e-3)[:, None]
    weights = tf.exp(-0.5 * (offsets[None, :] / sigmas) ** 2)
    return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def _blur_axis(images, kernels, axis):
    """Convolves (B, H, W, C) along `axis` (1 or 2) with each example's
    kernel, reflecting at the border."""
    size = images.shape[axis]
    padding = [[0, 0]] * 4
    padding[axis] = [_RADIUS, _RADIUS]
    padded = tf.pad(images, padding, mode="SYMMETRIC")
    taps = [tf.gather(padded, tf.range(offset, offset + size), axis=axis)
            for offset in range(2 * _RADIUS + 1)]
    return tf.einsum("bhwct,bt->bhwc", tf.stack(taps, axis=-1), kernels)


def gaussian_blur(images, sigmas):
    """Blurs each image by a Gaussian of its own sigma (px).

    Args:
        images: (B, H, W, C) float images (H, W > 3).
        sigmas: (B,) or a scalar, sigma in [0, 1.5]; 0 leaves an image as is.

    Returns:
        (B, H, W, C) float32 Tensor.
    """
    images = tf.cast(images, tf.float32)
    sigmas = tf.broadcast_to(tf.cast(sigmas, tf.float32), tf.shape(images)[:1])
    kernels = _kernels(sigmas)
    return _blur_axis(_blur_axis(images, kernels, 1), kernels, 2)


def degrade(images, seed):
    """A random blur and Gaussian noise per example, clipped to [-1, 1].

    Args:
        images: (B, H, W, C) images in [-1, 1].
        seed: int32/int64 (2,) stateless seed.

    Returns:
        (B, H, W, C) float32 Tensor in [-1, 1].
    """
    images = tf.cast(images, tf.float32)
    batch = tf.shape(images)[:1]
    blur_seed, std_seed, noise_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3))
    sigmas = tf.random.stateless_uniform(batch, blur_seed,
                                         maxval=MAX_BLUR_SIGMA)
    stds = tf.random.stateless_uniform(batch, std_seed, maxval=MAX_NOISE_STD)
    noise = tf.random.stateless_normal(tf.shape(images), noise_seed)
    noisy = gaussian_blur(images, sigmas) + stds[:, None, None, None] * noise
    return tf.clip_by_value(noisy, -1.0, 1.0)


def blurred(images, sigma):
    """NumPy (N, H, W, C) images blurred by one sigma, float32."""
    return np.asarray(gaussian_blur(images, np.float32(sigma)))
