"""Metrics of decoded mixes: in latent space, by attribute.

(On the spiral: `amr_tf.eval.spiral_mixes`.)

- `mixing_consistency`: ||h_mix - f(g(h_mix))|| for mixup mixes of random
  pairs, the term β weights, measured whether or not a model trains on it
  (paper Fig. 8b); `relative_mixing_consistency` divides it by the distance
  between random pairs of codes, so that shrinking the codes cannot lower it.
- `mix_attribute_accuracy`: how often the class mixer's decoded mixes carry
  the attributes they were asked for, judged by the feature classifier.
"""

import numpy as np
import tensorflow as tf

from amr_tf import inference
from amr_tf import losses
from amr_tf import mixers as mixer_lib


def mixing_consistency(model, inputs, seed, kind="l2"):
    """Mean over examples of `losses.distance(h_mix, f(g(h_mix)), kind)`.

    h_mix mixes each example's code with a random partner's by mixup,
    alpha ~ U(0, 1) (whatever mixer the model trains with). `"l2"` is the
    mean squared difference, `"l1"` the mean absolute difference.
    """
    latents = tf.constant(inference.encode(model, inputs))
    mixed = mixer_lib.Mixup().mix_batch(
        latents, tf.constant([seed, 0], tf.int64)).latents
    reencoded = inference.encode(model, inference.decode(model, np.asarray(mixed)))
    return float(np.mean(losses.distance(mixed, reencoded, kind)))


def code_spread(model, inputs, seed, kind="l2"):
    """Mean `losses.distance(h, h', kind)` between the codes of random pairs.

    The scale of the latent space: dividing `mixing_consistency` by it gives
    a consistency that an encoder cannot shrink by shrinking its codes
    (paper Fig. 8b plots the absolute distance).
    """
    latents = inference.encode(model, inputs)
    partners = np.asarray(mixer_lib.random_partners(
        len(latents), tf.constant([seed, 1], tf.int64)))
    return float(np.mean(losses.distance(latents, latents[partners], kind)))


def relative_mixing_consistency(model, inputs, seed, kind="l2"):
    """`mixing_consistency` over `code_spread`: 0 is perfectly consistent,
    1 is as far as two random codes are apart."""
    return (mixing_consistency(model, inputs, seed, kind)
            / code_spread(model, inputs, seed, kind))


def attribute_targets(class_mixer, attributes, seed):
    """Random partners and mixed target attributes, as in training.

    Args:
        class_mixer: a `ClassMixer` (its `label_mix` rule mixes the targets).
        attributes: (N, k) {0, 1} attributes.
        seed: integer seed.

    Returns:
        (partners (N,) int indices, targets y~ (N, k) in [0, 1]).
    """
    partner_seed, label_seed = tf.unstack(tf.random.experimental.stateless_split(
        tf.constant([seed, 0], tf.int64), 2))
    partners = np.asarray(mixer_lib.random_partners(len(attributes),
                                                    partner_seed))
    targets = class_mixer.mix_attributes(attributes, attributes[partners],
                                         label_seed)
    return partners, np.asarray(targets)


def mix_attribute_accuracy(model, classifier, images_a, images_b, targets):
    """Do the class mixer's mixes have the attributes they were asked for?

    Decodes Mix_sup(f(a), f(b), y~) with the class mixer's inference mask
    and has the classifier judge its attributes against round(y~).

    Args:
        model: an `AMR` with a class mixer.
        classifier: a `FeatureClassifier` trained on the same attributes
            (anything with `predict_attributes(images) -> (N, k)` in {0, 1}).
        images_a, images_b: (N, H, W, C) images in [-1, 1].
        targets: (N, k) target attributes y~ in [0, 1].

    Returns:
        (per-attribute accuracy (k,), fraction with all k attributes right).
    """
    mixes = inference.class_mixes(model, images_a, images_b, targets)
    correct = classifier.predict_attributes(mixes) == np.round(targets)
    return correct.mean(axis=0), float(np.mean(np.all(correct, axis=1)))
