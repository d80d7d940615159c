"""Encoding, decoding and interpolating with a trained model."""

import numpy as np
import tensorflow as tf

from amr_tf.core import mixers as mixer_lib


def interpolation_mixer(model):
    """The mixer that interpolates for `model`: its own, or plain mixup."""
    return getattr(model, "mixer", None) or mixer_lib.Mixup()


def interpolate(model, images_a, images_b, alphas, mixer=None):
    """Decodes mixes of the codes of two batches at fixed coefficients.

    Args:
        model: an `AdversarialAutoencoder`.
        images_a, images_b: (N, ...) inputs in [-1, 1].
        alphas: T weights of `images_a` in [0, 1].
        mixer: defaults to `interpolation_mixer(model)`.

    Returns:
        (N, T, ...) float32 decoded mixes.
    """
    mixer = mixer or interpolation_mixer(model)
    latents_a = model.encoder(images_a, training=False)
    latents_b = model.encoder(images_b, training=False)
    batch = tf.shape(latents_a)[0]
    decoded = []
    for alpha in alphas:
        mask = mixer.fixed_mask(latents_a, tf.fill([batch], float(alpha)))
        mixed = mixer_lib.blend(latents_a, latents_b, mask)
        decoded.append(model.decoder(mixed, training=False))
    return np.stack([np.asarray(d) for d in decoded], axis=1)


def encode(model, inputs, batch_size=256):
    """Codes f(x) of (N, ...) inputs, `batch_size` at a time; float32 NumPy."""
    return _in_batches(model.encoder, inputs, batch_size)


def decode(model, latents, batch_size=256):
    """Decodings g(h) of (N, ...) codes, `batch_size` at a time; float32 NumPy."""
    return _in_batches(model.decoder, latents, batch_size)


def _in_batches(network, values, batch_size):
    return np.concatenate([
        np.asarray(network(values[start:start + batch_size], training=False))
        for start in range(0, len(values), batch_size)
    ])


def random_mixes(model, inputs, seed, attributes=None, mixer=None):
    """Decodes the training-time random mixes of a batch; (B, ...) float32.

    Each example is mixed with a random partner from `inputs` by `mixer`
    (default: `interpolation_mixer(model)`), with random draws from `seed`.
    """
    mixer = mixer or interpolation_mixer(model)
    latents = tf.constant(encode(model, inputs))
    mixed = mixer.mix_batch(latents, tf.constant([seed, 0], tf.int64),
                            attributes).latents
    return decode(model, np.asarray(mixed))


def class_mixes(model, images_a, images_b, selectors, targets):
    """Decodes supervised mixes Mix_sup(f(a), f(b), s) (paper eq. 6).

    Args:
        model: an `AMR` with a class mixer.
        images_a, images_b: (N, ...) inputs in [-1, 1].
        selectors: (N, k) s in [0, 1]: 1 asks for attribute j of a, 0 of b.
        targets: (N, k) y~ = s * y_a + (1 - s) * y_b, what the paper's mixer
            reads (the parent-aware one reads `selectors`).

    Returns:
        (N, ...) float32 decoded mixes, using the class mixer's inference
        mask (soft p, or p rounded for a hard mask).
    """
    latents_a = encode(model, images_a)
    latents_b = encode(model, images_b)
    mask = model.class_mixer.mask_for(tf.constant(latents_a),
                                      tf.constant(selectors, tf.float32),
                                      tf.constant(targets, tf.float32))
    return decode(model, np.asarray(mixer_lib.blend(latents_a, latents_b, mask)))
