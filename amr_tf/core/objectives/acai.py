"""ACAI baseline (Berthelot et al. 2019), on the same networks and data path.

Mixing: alpha ~ U(0, 0.5) per example (U(0, 1) folded by 0.5 - |u - 0.5|),
partner = the (global) batch reversed,
h_mix = alpha * f(x_rev) + (1 - alpha) * f(x) as in the ACAI code. The critic
d(x) is the discriminator's real/fake logit, a mean of a linear map of its
features (global average pooling + dense).

Autoencoder:  recon_weight * rec(x, g(f(x)))       "reconstruction"
              + adversary_weight * d(g(h_mix))^2   "fool_critic"
Critic:       (d(g(h_mix)) - alpha)^2              "alpha_regression"
              + d(gamma * x + (1 - gamma) * g(f(x)))^2   "blend_regulariser"
"""

import tensorflow as tf

from amr_tf.core import losses
from amr_tf.core import mixers as mixer_lib
from amr_tf.core import replicas
from amr_tf.core.objectives.base import AdversarialAutoencoder


class ACAI(AdversarialAutoencoder):
    """Adversarially constrained autoencoder interpolation.

    Args:
        adversary_weight: weight of the autoencoder's critic term (0.5).
        gamma: blend of data and reconstruction for the critic's
            regulariser (0.2).
        **kwargs: see `AdversarialAutoencoder`.
    """

    def __init__(self, encoder, decoder, discriminator, *, adversary_weight=0.5,
                 gamma=0.2, **kwargs):
        super().__init__(encoder, decoder, discriminator, **kwargs)
        self.adversary_weight = adversary_weight
        self.gamma = gamma
        self.create_trackers()

    def generator_terms(self):
        return {"reconstruction": self.recon_weight,
                "fool_critic": self.adversary_weight}

    def discriminator_terms(self):
        return {"alpha_regression": 1.0, "blend_regulariser": 1.0}

    def _critic(self, images, training):
        return self.discriminator(images, training=training)["logits"]

    def _interpolate(self, latents, seed):
        """alpha (B, 1, ...) in [0, 0.5] and the mix with the reversed batch.

        Under a distribution strategy the batch reversed is the global batch
        (`amr_tf.core.replicas`), as on one device.
        """
        shape = mixer_lib.coefficient_shape(latents, per_channel=False)
        uniform = replicas.uniform(shape, seed, latents.dtype)
        alpha = 0.5 - tf.abs(uniform - 0.5)
        partners = replicas.local(tf.reverse(replicas.gather(latents), axis=[0]))
        mixed = mixer_lib.blend(partners, latents, alpha)
        return alpha, mixed

    def generator_losses(self, batch, seeds):
        inputs = batch["inputs"]
        latents = self.encoder(inputs, training=True)
        reconstruction = self.decoder(latents, training=True)
        _, mixed = self._interpolate(latents, seeds.next())
        critic = self._critic(self.decoder(mixed, training=True), training=False)
        return {
            "reconstruction": losses.distance(inputs, reconstruction,
                                              self.recon_loss),
            "fool_critic": losses.squared(critic),
        }

    def make_fakes(self, batch, seeds):
        latents = self.encoder(batch["inputs"], training=False)
        alpha, mixed = self._interpolate(latents, seeds.next())
        return {
            "alpha": tf.reshape(alpha, [-1, 1]),
            "reconstruction": tf.stop_gradient(
                self.decoder(latents, training=False)),
            "mix": tf.stop_gradient(self.decoder(mixed, training=False)),
        }

    def discriminator_losses(self, batch, fakes):
        inputs = batch["inputs"]
        blend = (self.gamma * inputs
                 + (1.0 - self.gamma) * tf.cast(fakes["reconstruction"],
                                                inputs.dtype))
        images = tf.concat([tf.cast(fakes["mix"], inputs.dtype), blend], axis=0)
        mix_scores, blend_scores = tf.split(self._critic(images, training=True), 2)
        return {
            "alpha_regression": losses.squared(mix_scores, fakes["alpha"]),
            "blend_regulariser": losses.squared(blend_scores),
        }
