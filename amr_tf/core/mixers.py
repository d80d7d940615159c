"""Mixing functions: combine two latent codes into a new one (METHOD.md §3).

Every mixer computes

    h_mix = m * h_a + (1 - m) * h_b

with a per-example coefficient `m` in [0, 1] that weights `h_a`. Latents are
spatial (B, H, W, C) or flat (B, C); a coefficient has shape (B, 1, 1, 1) /
(B, 1) when it is shared by all channels and (B, 1, 1, C) / (B, C) when it is
per channel (it always broadcasts over H and W).

During training `mix_batch` pairs each example with a random partner from the
same batch (x' is a permutation of x). Under a distribution strategy "the
same batch" is the global batch: partners and coefficients are drawn for the
global batch and every replica mixes its own rows (`amr_tf.core.replicas`), so N
replicas make exactly the mixes of one device. At inference `fixed_mask` turns an
interpolation coefficient alpha (the weight of `h_a`) into a mask, so that
alpha = 1 decodes `h_a` and alpha = 0 decodes `h_b`.
"""

import collections

import keras
import tensorflow as tf

from amr_tf.core import replicas
from amr_tf.core import seeds as seed_lib
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import check_choice

# What the class mixer's MLP reads, and how training draws its selector.
CLASS_MIXER_INPUTS = ("paper", "parent_aware")
LABEL_MIXES = ("convex", "bernoulli")

MixOutput = collections.namedtuple(
    "MixOutput", ["latents", "attributes", "mask"]
)
MixOutput.__doc__ = """Result of `Mixer.mix_batch`.

latents: the mixed codes, shape of the input latents.
attributes: the mixed attributes (B, k) for the class mixer, else None.
mask: the coefficient that weighted the first source.
"""


def coefficient_shape(latents, per_channel):
    """Shape of a per-example coefficient that broadcasts against `latents`."""
    shape = tf.shape(latents)
    ones = [1] * (latents.shape.rank - 2)
    channels = shape[-1] if per_channel else 1
    return tf.stack([shape[0], *ones, channels])


def random_partners(batch_size, seed):
    """A random permutation of range(batch_size): the partner of each example."""
    return seed_lib.permutation(batch_size, seed)


def _global_partners(everyone, seed):
    """For this replica's rows, the global index of a partner drawn from the
    whole global batch `everyone`."""
    return replicas.local(random_partners(tf.shape(everyone)[0], seed))


def blend(latents_a, latents_b, mask):
    """m * h_a + (1 - m) * h_b, with `mask` cast to the latents' dtype."""
    mask = tf.cast(mask, latents_a.dtype)
    return mask * latents_a + (1.0 - mask) * latents_b


def _broadcast_alpha(latents, alpha):
    """Reshapes alpha (B,) or a scalar to a coefficient for `latents`."""
    alpha = tf.cast(alpha, latents.dtype)
    alpha = tf.broadcast_to(alpha, tf.shape(latents)[:1])
    return tf.reshape(alpha, coefficient_shape(latents, per_channel=False))


class Mixer(keras.layers.Layer):
    """Base class: a random mask `sample_mask` and a fixed one `fixed_mask`."""

    requires_attributes = False

    def __init__(self, **kwargs):
        # Blend in the latents' own dtype (float32 under mixed precision).
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def sample_mask(self, latents, seed):
        """A random coefficient for `latents` (B, ...), float in [0, 1]."""
        raise NotImplementedError

    def fixed_mask(self, latents, alpha):
        """The interpolation coefficient for weight `alpha` (B,) of h_a."""
        return _broadcast_alpha(latents, alpha)

    def call(self, latents_a, latents_b, mask):
        return blend(latents_a, latents_b, mask)

    def mix_batch(self, latents, seed, attributes=None, everyone=None):
        """Mixes each example with a random partner from the same batch.

        Args:
            latents: (B, ...) codes f(x).
            seed: shape-[2] stateless seed.
            attributes: unused by unsupervised mixers.
            everyone: `replicas.gather(latents)` when the caller has it. Pass
                it to mixers sharing `latents` in one update: the gather's
                gradient is a collective, and replicas may launch the
                collectives of two such gradients in different orders.

        Returns:
            A `MixOutput`.
        """
        partner_seed, mask_seed = tf.unstack(seed_lib.split(seed, 2))
        if everyone is None:
            everyone = replicas.gather(latents)
        partners = _global_partners(everyone, partner_seed)
        mask = replicas.local(self.sample_mask(everyone, mask_seed))
        return MixOutput(self(latents, tf.gather(everyone, partners), mask),
                         None, mask)


class Mixup(Mixer):
    """Manifold mixup (paper eq. 3): alpha ~ U(0, 1) per example."""

    def sample_mask(self, latents, seed):
        shape = coefficient_shape(latents, per_channel=False)
        return seed_lib.uniform(shape, seed, latents.dtype)


class MixupChannel(Mixer):
    """Mixup with alpha ~ U(0, 1) per example and per channel."""

    def sample_mask(self, latents, seed):
        shape = coefficient_shape(latents, per_channel=True)
        return seed_lib.uniform(shape, seed, latents.dtype)


class Bernoulli(Mixer):
    """Bernoulli mixup (paper eq. 4): channels kept from h_a with probability p.

    p ~ U(0, 1) once per batch; m ~ Bernoulli(p) per example and channel.
    At inference, alpha keeps the first round(alpha * C) channels of a fixed
    permutation (drawn from `permutation_seed`) from h_a.
    """

    def __init__(self, permutation_seed=0, **kwargs):
        super().__init__(**kwargs)
        self.permutation_seed = permutation_seed

    def sample_mask(self, latents, seed):
        p_seed, mask_seed = tf.unstack(seed_lib.split(seed, 2))
        p = seed_lib.uniform([], p_seed, latents.dtype)
        shape = coefficient_shape(latents, per_channel=True)
        uniform = seed_lib.uniform(shape, mask_seed, latents.dtype)
        return tf.cast(uniform < p, latents.dtype)

    def fixed_mask(self, latents, alpha):
        channels = tf.shape(latents)[-1]
        order = random_partners(
            channels, tf.constant([self.permutation_seed, 0], tf.int64)
        )
        rank = tf.cast(tf.argsort(order), latents.dtype)  # position of each channel
        alpha = tf.broadcast_to(tf.cast(alpha, latents.dtype),
                                tf.shape(latents)[:1])
        kept = tf.round(alpha * tf.cast(channels, latents.dtype))
        mask = tf.cast(rank[tf.newaxis, :] < kept[:, tf.newaxis], latents.dtype)
        return tf.reshape(mask, coefficient_shape(latents, per_channel=True))

    def get_config(self):
        return {**super().get_config(), "permutation_seed": self.permutation_seed}


class KWay(Mixer):
    """Mixes K examples: weights ~ Dirichlet(1, ..., 1) per example.

    The sources are the batch itself and K - 1 random permutations of it.
    `mask` in the output holds the (B, K) weights; the first is the weight of
    the example itself. With two inputs at inference it is plain mixup.
    """

    def __init__(self, num_sources=3, **kwargs):
        super().__init__(**kwargs)
        if num_sources < 2:
            raise UsageError(f"num_sources must be >= 2, got {num_sources}")
        self.num_sources = num_sources

    def sample_weights(self, batch_size, seed, dtype):
        """(B, K) Dirichlet(1, ..., 1) weights: normalised exponentials."""
        uniform = seed_lib.uniform([batch_size, self.num_sources], seed, dtype)
        exponential = -tf.math.log(1.0 - uniform)  # 1 - U is in (0, 1].
        return exponential / tf.reduce_sum(exponential, axis=1, keepdims=True)

    def mix_batch(self, latents, seed, attributes=None, everyone=None):
        seeds = seed_lib.split(seed, self.num_sources)
        if everyone is None:
            everyone = replicas.gather(latents)
        weights = replicas.local(self.sample_weights(
            tf.shape(everyone)[0], seeds[0], latents.dtype))
        sources = [latents] + [
            tf.gather(everyone, _global_partners(everyone, seeds[k]))
            for k in range(1, self.num_sources)
        ]
        mixed = 0.0
        for k, source in enumerate(sources):
            weight = tf.reshape(weights[:, k],
                                coefficient_shape(latents, per_channel=False))
            mixed += weight * source
        return MixOutput(mixed, None, weights)

    def get_config(self):
        return {**super().get_config(), "num_sources": self.num_sources}


class ClassMixer(Mixer):
    """The supervised mixer Mix_sup (paper §2.1, eq. 6), and a parent-aware one.

    A selector s in [0, 1]^k says how much of each attribute comes from the
    first code: the target of a mix is y~ = s * y_a + (1 - s) * y_b. An MLP
    g: k -> C -> C -> C (ReLU hidden layers, linear output) gives per-channel
    probabilities p (B, C) of keeping h_a's channel:

    - `mixer_input="paper"`: p = sigmoid(g(y~)), the paper's mixer. It sees
      only y~, which does not say which parent holds an attribute.
    - `mixer_input="parent_aware"` (an extension beyond the paper, see
      docs/RESULTS.md §4): p = sigmoid(g(s) - g(1 - s)). It sees the
      selector, and p(1 - s) = 1 - p(s), so Mix(h_a, h_b, s) =
      Mix(h_b, h_a, 1 - s): the mask flips with the pair's order, which no
      function of y~ alone can do (y~ is the same for both orders).

    The mask is p itself (`hard=False`, the paper's better variant) or a
    Bernoulli(p) sample with straight-through gradients (`hard=True`).

    During training the selector is drawn per example: `label_mix="convex"`
    takes s = alpha (1, ..., 1) with alpha ~ U(0, 1) (the paper's
    y~ = alpha y + (1 - alpha) y'); `"bernoulli"` takes each s_j from {0, 1}
    with probability 1/2.
    """

    requires_attributes = True

    def __init__(self, latent_channels, hard=False, label_mix="convex",
                 mixer_input="paper", **kwargs):
        super().__init__(**kwargs)
        check_choice("label_mix", label_mix, LABEL_MIXES)
        check_choice("mixer_input", mixer_input, CLASS_MIXER_INPUTS)
        self.latent_channels = latent_channels
        self.hard = hard
        self.label_mix = label_mix
        self.mixer_input = mixer_input
        self.hidden1 = keras.layers.Dense(latent_channels, activation="relu",
                                          name="hidden1")
        self.hidden2 = keras.layers.Dense(latent_channels, activation="relu",
                                          name="hidden2")
        # The parent-aware difference g(s) - g(1 - s) cancels an output bias.
        self.to_logits = keras.layers.Dense(
            latent_channels, use_bias=mixer_input == "paper", name="logits",
            dtype="float32")

    def build(self, attributes_shape):
        self.hidden1.build(attributes_shape)
        self.hidden2.build((None, self.latent_channels))
        self.to_logits.build((None, self.latent_channels))

    @property
    def num_attributes(self):
        """k, the length of a selector or target."""
        return self.hidden1.kernel.shape[0]

    def _logits(self, values):
        return self.to_logits(self.hidden2(self.hidden1(values)))

    def probabilities(self, selector, targets):
        """Channel probabilities p (B, C) in [0, 1] of keeping h_a.

        Args:
            selector: (B, k) s in [0, 1]; read by the parent-aware mixer.
            targets: (B, k) y~ in [0, 1]; read by the paper's mixer.
        """
        if self.mixer_input == "paper":
            return tf.sigmoid(self._logits(targets))
        selector = tf.cast(selector, tf.float32)
        return tf.sigmoid(self._logits(selector) - self._logits(1.0 - selector))

    def mask_for(self, latents, selector, targets, seed=None):
        """The mask for a selector and its targets, shaped for `latents`.

        With `hard=True` and a seed, a straight-through Bernoulli(p) sample;
        with `hard=True` and no seed (inference), p rounded to {0, 1}.
        """
        p = tf.cast(self.probabilities(selector, targets), latents.dtype)
        if self.hard:
            if seed is None:
                sample = tf.round(p)
            else:
                uniform = replicas.uniform(tf.shape(p), seed, p.dtype)
                sample = tf.cast(uniform < p, p.dtype)
            p = p + tf.stop_gradient(sample - p)
        return tf.reshape(p, coefficient_shape(latents, per_channel=True))

    def sample_selector(self, batch_size, seed):
        """Training selectors s (B, k) drawn by the `label_mix` rule."""
        if self.label_mix == "convex":
            alpha = replicas.uniform([batch_size, 1], seed)
            return tf.tile(alpha, [1, self.num_attributes])
        uniform = replicas.uniform([batch_size, self.num_attributes], seed)
        return tf.cast(uniform < 0.5, tf.float32)

    def mix_batch(self, latents, seed, attributes=None, everyone=None):
        if attributes is None:
            raise ValueError("the class mixer needs the batch's attributes")
        partner_seed, selector_seed, mask_seed = tf.unstack(
            seed_lib.split(seed, 3))
        if everyone is None:
            everyone = replicas.gather(latents)
        partners = _global_partners(everyone, partner_seed)
        partner_attributes = tf.gather(replicas.gather(attributes), partners)
        selector = self.sample_selector(tf.shape(latents)[0], selector_seed)
        targets = mix_targets(selector, attributes, partner_attributes)
        mask = self.mask_for(latents, selector, targets, mask_seed)
        mixed = blend(latents, tf.gather(everyone, partners), mask)
        return MixOutput(mixed, targets, mask)

    def sample_mask(self, latents, seed):
        raise TypeError("the class mixer's mask comes from attributes: "
                        "use mask_for(latents, selector, targets)")

    def get_config(self):
        return {
            **super().get_config(),
            "latent_channels": self.latent_channels,
            "hard": self.hard,
            "label_mix": self.label_mix,
            "mixer_input": self.mixer_input,
        }


def mix_targets(selector, attributes_a, attributes_b):
    """y~ = s * y_a + (1 - s) * y_b, float32 (B, k) in [0, 1]."""
    selector = tf.cast(selector, tf.float32)
    return (selector * tf.cast(attributes_a, tf.float32)
            + (1.0 - selector) * tf.cast(attributes_b, tf.float32))


def mask_sparsity(mask):
    """Per-example (sum_j m_j - C / 2)^2 of a per-channel mask; shape (B,)."""
    flat = tf.reshape(mask, [tf.shape(mask)[0], -1])
    channels = tf.cast(tf.shape(flat)[1], flat.dtype)
    return tf.square(tf.reduce_sum(flat, axis=1) - channels / 2.0)


UNSUPERVISED_MIXERS = {
    "mixup": Mixup,
    "mixup_channel": MixupChannel,
    "bernoulli": Bernoulli,
    "kway": KWay,
}
MIXER_NAMES = (*UNSUPERVISED_MIXERS, "class_mixer")


def build_mixer(name, *, seed=0, kway_sources=3):
    """An unsupervised mixer by name (the class mixer is built separately)."""
    check_choice("name", name, tuple(UNSUPERVISED_MIXERS))
    if name == "bernoulli":
        return Bernoulli(permutation_seed=seed, name=name)
    if name == "kway":
        return KWay(num_sources=kway_sources, name=name)
    return UNSUPERVISED_MIXERS[name](name=name)
