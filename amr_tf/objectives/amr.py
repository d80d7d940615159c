"""AMR (paper eq. 5, plus eq. 6 with the class mixer) and ARAE (eq. 2)."""

import tensorflow as tf

from amr_tf import losses
from amr_tf import mixers as mixer_lib
from amr_tf import replicas
from amr_tf.objectives.base import AdversarialAutoencoder
from amr_tf.objectives.base import Term


class AMR(AdversarialAutoencoder):
    """Adversarial mixup resynthesiser.

    Generator (f, g and the class mixer) minimises, on a batch x with mixes
    h_mix = Mix(f(x), f(x')):

        recon_weight * rec(x, g(f(x)))                    "reconstruction"
        + l_GAN(D(g(f(x))), real)                         "fool_d_reconstruction"
        + l_GAN(D(g(h_mix)), real)                        "fool_d_mix"
        + consistency_weight * ||h_mix - f(g(h_mix))||    "consistency" (if > 0)

    and, with a class mixer (eq. 6), on supervised mixes h~_mix:

        + l_GAN(D(g(h~_mix)), real)                       "fool_d_class_mix"
        + cls_weight * BCE(D_cls(g(h~_mix)), y~_mix)      "class_consistency"
        + consistency_weight * ||h~_mix - f(g(h~_mix))||  "class_mix_consistency"
        + mask_sparsity_weight * (sum(m) - C/2)^2         "mask_sparsity" (if > 0)

    The discriminator minimises

        l_GAN(D(x), real)                                 "real"
        + l_GAN(D(g(f(x))), fake)                         "fake_reconstruction"
        + l_GAN(D(g(h_mix)), fake)                        "fake_mix"
        + l_GAN(D(g(h~_mix)), fake)                       "fake_class_mix"
        + BCE(D_cls(x), y)                                "real_attributes"

    with generated inputs held constant. Mixing is disabled when `mixer` is
    None (that is ARAE).

    Args:
        mixer: an unsupervised `mixers.Mixer`, or None.
        class_mixer: a `mixers.ClassMixer`, or None.
        consistency_weight: beta.
        cls_weight: weight of the class-consistency term.
        mask_sparsity_weight: weight of the class mixer's sparsity term.
        **kwargs: see `AdversarialAutoencoder`.
    """

    def __init__(self, encoder, decoder, discriminator, *, mixer=None,
                 class_mixer=None, consistency_weight=0.0, cls_weight=1.0,
                 mask_sparsity_weight=0.0, **kwargs):
        super().__init__(encoder, decoder, discriminator, **kwargs)
        if class_mixer is not None and mixer is None:
            raise ValueError("the class mixer is added to an unsupervised mixer")
        self.mixer = mixer
        self.class_mixer = class_mixer
        self.consistency_weight = consistency_weight
        self.cls_weight = cls_weight
        self.mask_sparsity_weight = mask_sparsity_weight
        self.create_trackers()

    @property
    def mixers(self):
        return [m for m in (self.mixer, self.class_mixer) if m is not None]

    def generator_term_names(self):
        names = ["reconstruction", "fool_d_reconstruction"]
        if self.mixer is not None:
            names.append("fool_d_mix")
            if self.consistency_weight:
                names.append("consistency")
        if self.class_mixer is not None:
            names += ["fool_d_class_mix", "class_consistency"]
            if self.consistency_weight:
                names.append("class_mix_consistency")
            if self.mask_sparsity_weight:
                names.append("mask_sparsity")
        return names

    def discriminator_term_names(self):
        names = ["real", "fake_reconstruction"]
        if self.mixer is not None:
            names.append("fake_mix")
        if self.class_mixer is not None:
            names += ["fake_class_mix", "real_attributes"]
        return names

    def _gan(self, logits, real, discriminator):
        return losses.gan_loss(logits, real, self.gan_loss, discriminator)

    def _mix_and_decode(self, latents, batch, seeds, training):
        """Mixes `latents` and decodes them with the mixes in one decoder call.

        Returns:
            `(mixes, images)`: the `MixOutput`s under "mix" / "class_mix", and
            the decoded "reconstruction", "mix" and "class_mix" images (the
            mixes only when their mixer exists), in that order.
        """
        mixes = {}
        # Partners come from the global batch; gather it once for both mixers.
        everyone = replicas.gather(latents) if self.mixers else None
        if self.mixer is not None:
            mixes["mix"] = self.mixer.mix_batch(latents, seeds.next(),
                                                everyone=everyone)
        if self.class_mixer is not None:
            mixes["class_mix"] = self.class_mixer.mix_batch(
                latents, seeds.next(), batch["attributes"], everyone=everyone
            )
        names = ["reconstruction", *mixes]
        codes = [latents] + [mix.latents for mix in mixes.values()]
        decoded = self.decoder(tf.concat(codes, axis=0), training=training)
        return mixes, dict(zip(names, tf.split(decoded, len(names))))

    def generator_losses(self, batch, seeds):
        inputs = batch["inputs"]
        latents = self.encoder(inputs, training=True)
        mixes, images = self._mix_and_decode(latents, batch, seeds, training=True)
        # D is only read here: training=False leaves its spectral-norm state alone.
        scores = self.discriminator(tf.concat(list(images.values()), axis=0),
                                    training=False)
        logits = dict(zip(images, tf.split(scores["logits"], len(images))))

        terms = {
            "reconstruction": Term(
                self.recon_weight,
                losses.distance(inputs, images["reconstruction"],
                                self.recon_loss)),
            "fool_d_reconstruction": Term(
                1.0, self._gan(logits["reconstruction"], True, False)),
        }
        if "mix" in mixes:
            terms["fool_d_mix"] = Term(1.0, self._gan(logits["mix"], True, False))
        if "class_mix" in mixes:
            attribute_logits = dict(zip(
                images, tf.split(scores["attribute_logits"], len(images))))
            terms["fool_d_class_mix"] = Term(
                1.0, self._gan(logits["class_mix"], True, False))
            terms["class_consistency"] = Term(
                self.cls_weight,
                losses.attribute_loss(attribute_logits["class_mix"],
                                      mixes["class_mix"].attributes))
        if self.consistency_weight and mixes:
            terms.update(self._consistency_terms(mixes, images))
        if "class_mix" in mixes and self.mask_sparsity_weight:
            terms["mask_sparsity"] = Term(
                self.mask_sparsity_weight,
                mixer_lib.mask_sparsity(mixes["class_mix"].mask))
        return terms

    def _consistency_terms(self, mixes, images):
        """beta * ||h_mix - f(g(h_mix))|| for each kind of mix."""
        reencoded = self.encoder(
            tf.concat([images[name] for name in mixes], axis=0), training=True)
        terms = {}
        for name, latents in zip(mixes, tf.split(reencoded, len(mixes))):
            term_name = "consistency" if name == "mix" else "class_mix_consistency"
            terms[term_name] = Term(
                self.consistency_weight,
                losses.distance(mixes[name].latents, latents, self.recon_loss))
        return terms

    def make_fakes(self, batch, seeds):
        latents = self.encoder(batch["inputs"], training=False)
        _, images = self._mix_and_decode(latents, batch, seeds, training=False)
        return {name: tf.stop_gradient(image) for name, image in images.items()}

    def discriminator_losses(self, batch, fakes):
        inputs = batch["inputs"]
        names = ["real"] + list(fakes)
        images = [inputs] + [tf.cast(fakes[n], inputs.dtype) for n in fakes]
        # One training-mode call: spectral normalisation renormalises once.
        scores = self.discriminator(tf.concat(images, axis=0), training=True)
        logits = dict(zip(names, tf.split(scores["logits"], len(images))))

        terms = {
            "real": Term(1.0, self._gan(logits["real"], True, True)),
            "fake_reconstruction": Term(
                1.0, self._gan(logits["reconstruction"], False, True)),
        }
        if "mix" in fakes:
            terms["fake_mix"] = Term(1.0, self._gan(logits["mix"], False, True))
        if "class_mix" in fakes:
            real_attribute_logits = tf.split(
                scores["attribute_logits"], len(images))[0]
            terms["fake_class_mix"] = Term(
                1.0, self._gan(logits["class_mix"], False, True))
            terms["real_attributes"] = Term(
                1.0, losses.attribute_loss(real_attribute_logits,
                                           batch["attributes"]))
        return terms


class ARAE(AMR):
    """Adversarial reconstruction autoencoder (paper eq. 2): AMR without mixing."""

    def __init__(self, encoder, decoder, discriminator, **kwargs):
        super().__init__(encoder, decoder, discriminator, mixer=None,
                         class_mixer=None, **kwargs)
