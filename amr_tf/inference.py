"""Encoding, decoding and interpolating with a trained model."""

import numpy as np
import tensorflow as tf

from amr_tf import mixers as mixer_lib


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


def random_mixes(model, inputs, seed, attributes=None):
    """Decodes the training-time random mixes of a batch; (B, ...) float32."""
    mixer = interpolation_mixer(model)
    latents = model.encoder(inputs, training=False)
    mixed = mixer.mix_batch(latents, tf.constant([seed, 0], tf.int64),
                            attributes).latents
    return np.asarray(model.decoder(mixed, training=False))
