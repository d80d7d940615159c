"""AMR (paper eq. 5, plus eq. 6 with the class mixer) and ARAE (eq. 2)."""

import tensorflow as tf

from amr_tf.core import losses
from amr_tf.core import mixers as mixer_lib
from amr_tf.core import replicas
from amr_tf.core.objectives.base import DISCRIMINATOR
from amr_tf.core.objectives.base import GENERATOR
from amr_tf.core.objectives.base import WATCHED
from amr_tf.core.objectives.base import AdversarialAutoencoder

# The consistency term of each kind of mix.
_CONSISTENCY_TERMS = {"mix": "consistency", "class_mix": "class_mix_consistency"}


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
                                          (weight 0 before iteration class_warmup)
        + consistency_weight * ||h~_mix - f(g(h~_mix))||  "class_mix_consistency"
        + mask_sparsity_weight * (sum(m) - C/2)^2         "mask_sparsity" (if > 0)

    The discriminator minimises

        l_GAN(D(x), real)                                 "real"
        + l_GAN(D(g(f(x))), fake)                         "fake_reconstruction"
        + l_GAN(D(g(h_mix)), fake)                        "fake_mix"
        + l_GAN(D(g(h~_mix)), fake)                       "fake_class_mix"
        + w_a * BCE(D_cls(x), y)                          "real_attributes"
        + gradient_penalty * ½‖∇ₓ D(x)‖²                  "gradient_penalty" (if > 0)

    with generated inputs held constant. BCE is the mean over the k
    attributes, so the default weight w_a = k makes D's attribute term their
    sum: each attribute weighs as much as one GAN term. The R1 gradient penalty on real
    inputs (Mescheder et al., 2018) is an extension beyond the paper, for a
    critic without spectral norm (docs/METHOD.md §4). With a class mixer, D_cls's accuracy
    is watched (logged, not minimised) on real images against y
    ("attribute_accuracy_real", in D's update) and on class mixes against
    round(y~_mix) ("attribute_accuracy_class_mix", in the generator's).
    Mixing is disabled when `mixer` is None (that is ARAE).

    Args:
        mixer: an unsupervised `mixers.Mixer`, or None.
        class_mixer: a `mixers.ClassMixer`, or None.
        consistency_weight: beta.
        cls_weight: weight of the class-consistency term.
        real_attributes_weight: w_a, or None for k.
        class_warmup: iterations at the start during which the
            class-consistency term is off (still logged), so D's attribute
            head learns from real images before the class mixer follows it.
        mask_sparsity_weight: weight of the class mixer's sparsity term.
        gradient_penalty: weight of D's R1 gradient penalty (0: none).
        **kwargs: see `AdversarialAutoencoder`.
    """

    def __init__(self, encoder, decoder, discriminator, *, mixer=None,
                 class_mixer=None, consistency_weight=0.0, cls_weight=1.0,
                 class_warmup=0, real_attributes_weight=None,
                 mask_sparsity_weight=0.0, gradient_penalty=0.0, **kwargs):
        super().__init__(encoder, decoder, discriminator, **kwargs)
        if class_mixer is not None and mixer is None:
            raise ValueError("the class mixer is added to an unsupervised mixer")
        self.mixer = mixer
        self.class_mixer = class_mixer
        self.consistency_weight = consistency_weight
        self.cls_weight = cls_weight
        self.class_warmup = class_warmup
        self.real_attributes_weight = real_attributes_weight
        self.mask_sparsity_weight = mask_sparsity_weight
        self.gradient_penalty = gradient_penalty
        self.create_trackers()

    @property
    def num_attributes(self):
        """k, the outputs of D's attribute head (0 without one)."""
        logits = self.discriminator.output.get("attribute_logits")
        return 0 if logits is None else logits.shape[-1]

    @property
    def mixers(self):
        return [m for m in (self.mixer, self.class_mixer) if m is not None]

    def generator_terms(self):
        terms = {"reconstruction": self.recon_weight,
                 "fool_d_reconstruction": 1.0}
        if self.mixer is not None:
            terms["fool_d_mix"] = 1.0
            if self.consistency_weight:
                terms["consistency"] = self.consistency_weight
        if self.class_mixer is not None:
            terms["fool_d_class_mix"] = 1.0
            terms["class_consistency"] = self.cls_weight
            if self.consistency_weight:
                terms["class_mix_consistency"] = self.consistency_weight
            if self.mask_sparsity_weight:
                terms["mask_sparsity"] = self.mask_sparsity_weight
            terms["attribute_accuracy_class_mix"] = WATCHED
        return terms

    def discriminator_terms(self):
        terms = {"real": 1.0, "fake_reconstruction": 1.0}
        if self.mixer is not None:
            terms["fake_mix"] = 1.0
        if self.class_mixer is not None:
            terms["fake_class_mix"] = 1.0
            terms["real_attributes"] = float(
                self.num_attributes if self.real_attributes_weight is None
                else self.real_attributes_weight)
            terms["attribute_accuracy_real"] = WATCHED
        if self.gradient_penalty:
            terms["gradient_penalty"] = self.gradient_penalty
        return terms

    def term_gate(self, prefix, name):
        if prefix != GENERATOR or name != "class_consistency" or not self.class_warmup:
            return None
        return tf.cast(self.iterations >= self.class_warmup, tf.float32)

    def _fool_d(self, logits):
        return losses.gan_loss(logits, target="real", kind=self.gan_loss,
                               player="generator")

    def _d_says(self, target, logits):
        return losses.gan_loss(logits, target=target, kind=self.gan_loss,
                               player="discriminator")

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

        def class_mix_attributes():
            """(D_cls logits, y~) of the class mixes."""
            return (tf.split(scores["attribute_logits"], len(images))[-1],
                    mixes["class_mix"].attributes)

        # The value of each term; `generator_terms` says which exist.
        terms = {
            "reconstruction": lambda: losses.distance(
                inputs, images["reconstruction"], self.recon_loss),
            "fool_d_reconstruction": lambda: self._fool_d(
                logits["reconstruction"]),
            "fool_d_mix": lambda: self._fool_d(logits["mix"]),
            "fool_d_class_mix": lambda: self._fool_d(logits["class_mix"]),
            "class_consistency": lambda: losses.attribute_loss(
                *class_mix_attributes()),
            "attribute_accuracy_class_mix": lambda: losses.attribute_accuracy(
                *class_mix_attributes()),
            "mask_sparsity": lambda: mixer_lib.mask_sparsity(
                mixes["class_mix"].mask),
        }
        wanted = self.term_weights[GENERATOR]
        values = {name: terms[name]() for name in wanted if name in terms}
        checked = [name for name in mixes if _CONSISTENCY_TERMS[name] in wanted]
        if checked:  # The consistency terms share one encoder call.
            values.update(self._consistency_values(checked, mixes, images))
        return values

    def _consistency_values(self, names, mixes, images):
        """||h_mix - f(g(h_mix))|| per example for the named kinds of mix."""
        reencoded = self.encoder(
            tf.concat([images[name] for name in names], axis=0), training=True)
        return {
            _CONSISTENCY_TERMS[name]: losses.distance(
                mixes[name].latents, latents, self.recon_loss)
            for name, latents in zip(names, tf.split(reencoded, len(names)))
        }

    def make_fakes(self, batch, seeds):
        latents = self.encoder(batch["inputs"], training=False)
        _, images = self._mix_and_decode(latents, batch, seeds, training=False)
        return {name: tf.stop_gradient(image) for name, image in images.items()}

    def discriminator_losses(self, batch, fakes):
        inputs = batch["inputs"]
        names = ["real"] + list(fakes)
        # The tape differentiates D's logits on real inputs for the R1 term
        # (D has no batch statistics: each logit depends on its input alone).
        with tf.GradientTape(watch_accessed_variables=False) as input_tape:
            input_tape.watch(inputs)
            images = [inputs] + [tf.cast(fakes[n], inputs.dtype) for n in fakes]
            # One training-mode call: spectral normalisation renormalises once.
            scores = self.discriminator(tf.concat(images, axis=0),
                                        training=True)
            logits = dict(zip(names, tf.split(scores["logits"], len(images))))
            real_logits_sum = tf.reduce_sum(tf.cast(logits["real"], tf.float32))

        values = {"real": self._d_says("real", logits["real"])}
        if self.gradient_penalty:
            values["gradient_penalty"] = losses.gradient_penalty(
                input_tape.gradient(real_logits_sum, inputs))
        for name in fakes:
            values[f"fake_{name}"] = self._d_says("fake", logits[name])
        if "real_attributes" in self.term_weights[DISCRIMINATOR]:
            real_attribute_logits = tf.split(
                scores["attribute_logits"], len(images))[0]
            values["real_attributes"] = losses.attribute_loss(
                real_attribute_logits, batch["attributes"])
            values["attribute_accuracy_real"] = losses.attribute_accuracy(
                real_attribute_logits, batch["attributes"])
        return values


class ARAE(AMR):
    """Adversarial reconstruction autoencoder (paper eq. 2): AMR without mixing."""

    def __init__(self, encoder, decoder, discriminator, **kwargs):
        super().__init__(encoder, decoder, discriminator, mixer=None,
                         class_mixer=None, **kwargs)
