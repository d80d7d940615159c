"""The training loop shared by every adversarial autoencoder objective.

One `train_step` is one iteration of the paper's loop (METHOD.md §4): the input
batch holds `n_critic` sub-batches; the discriminator takes one update on each
(fresh fakes every time), then the generator (encoder, decoder and any learned
mixer) takes one update on the last. Subclasses define the loss terms.

Each player's terms are declared once, as a table name -> weight
(`generator_terms`, `discriminator_terms`): the loss code computes the
per-example values of exactly those names, the update minimises
sum(weight * mean), and a running mean of each is logged (`g_<name>`,
`d_<name>`, TensorBoard and the progress line). A weight of `WATCHED` marks
a value that is logged under its own name but not minimised (e.g. D's
attribute accuracy).
"""

import keras
import tensorflow as tf

from amr_tf.core import distribution
from amr_tf.core import seeds as seed_lib

# The weight of a value that is logged, not minimised.
WATCHED = None
# Tracker prefix of each player's terms.
GENERATOR, DISCRIMINATOR = "g", "d"


def _split(batch, num_splits):
    """Splits every tensor of a batch dict into `num_splits` along axis 0."""
    pieces = {key: tf.split(value, num_splits) for key, value in batch.items()}
    return [{key: pieces[key][i] for key in batch} for i in range(num_splits)]


def _average_over_replicas(per_example, batch_size):
    """Mean over the global batch; gradients add up correctly across replicas."""
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return tf.nn.compute_average_loss(
        per_example, global_batch_size=batch_size * num_replicas
    )


class AdversarialAutoencoder(keras.Model):
    """Encoder f, decoder g and discriminator D trained adversarially.

    Calling the model reconstructs its input: g(f(x)).

    Args:
        encoder: Keras model, inputs (B, ...) -> latents.
        decoder: Keras model, latents -> inputs, float32.
        discriminator: Keras model, inputs -> dict with `"logits"` (B, 1) and,
            for supervised objectives, `"attribute_logits"` (B, k).
        recon_weight: lambda, weight of the reconstruction term.
        recon_loss: `"l1"` or `"l2"` distance for reconstruction (and
            consistency).
        gan_loss: `"bce"`, `"mse"` or `"hinge"`.
        n_critic: discriminator updates per generator update.
        seed: seed of the stateless random draws of each iteration.
    """

    def __init__(self, encoder, decoder, discriminator, *, recon_weight=1.0,
                 recon_loss="l1", gan_loss="bce", n_critic=5, seed=0, **kwargs):
        super().__init__(**kwargs)
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator
        self.recon_weight = recon_weight
        self.recon_loss = recon_loss
        self.gan_loss = gan_loss
        self.n_critic = n_critic
        self.seed = seed
        # Counts train_step calls. The generator optimizer's own counter
        # stalls when a loss-scale optimizer skips an overflowing step.
        self._iterations = keras.Variable(
            0, dtype="int64", trainable=False,
            aggregation="only_first_replica", name="iterations")
        # Counts the batches taken from the training stream: one per
        # iteration, and the batches skipped by a rollback (see
        # `amr_tf.training.loop`), so a resumed run continues the stream where it was.
        self._batches_consumed = keras.Variable(
            0, dtype="int64", trainable=False,
            aggregation="only_first_replica", name="batches_consumed")

    def create_trackers(self):
        """Creates one running mean per term and watched value; subclasses
        call it at the end of `__init__`, once their terms are known."""
        self.term_weights = {GENERATOR: self.generator_terms(),
                             DISCRIMINATOR: self.discriminator_terms()}
        names = [tracker_name(prefix, name, weight)
                 for prefix, weights in self.term_weights.items()
                 for name, weight in weights.items()]
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in names + [f"{GENERATOR}_total", f"{DISCRIMINATOR}_total"]
        }

    # ----------------------------------------------------------- subclass API
    def generator_terms(self):
        """Name -> weight (or `WATCHED`) of each value `generator_losses`
        returns."""
        raise NotImplementedError

    def discriminator_terms(self):
        """Name -> weight (or `WATCHED`) of each value
        `discriminator_losses` returns."""
        raise NotImplementedError

    def generator_losses(self, batch, seeds):
        """Dict name -> (B,) values, for the names of `generator_terms`."""
        raise NotImplementedError

    def make_fakes(self, batch, seeds):
        """Generated inputs the discriminator sees in one D update."""
        raise NotImplementedError

    def discriminator_losses(self, batch, fakes):
        """Dict name -> (B,) values, for the names of `discriminator_terms`."""
        raise NotImplementedError

    @property
    def mixers(self):
        """Learned or random mixers (Keras layers) owned by the generator."""
        return []

    # ------------------------------------------------------------------ model
    def call(self, inputs, training=False):
        """Reconstructions g(f(x)) of images, or of an example dict's
        `"inputs"` (Keras builds a model under a distribution strategy by
        calling it on a training batch)."""
        if isinstance(inputs, dict):
            inputs = inputs["inputs"]
        return self.decoder(self.encoder(inputs, training=training),
                            training=training)

    @property
    def generator_variables(self):
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        for mixer in self.mixers:
            variables += mixer.trainable_variables
        return variables

    @property
    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        """Sets (and builds) the optimizers of the generator and of D.

        Call inside the distribution strategy's scope. Wrap either optimizer
        in `keras.optimizers.LossScaleOptimizer` for mixed_float16.
        """
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        generator_optimizer.build(self.generator_variables)
        discriminator_optimizer.build(self.discriminator_variables)

    @property
    def iterations(self):
        """Completed training iterations (calls of `train_step`)."""
        return self._iterations

    @property
    def batches_consumed(self):
        """Training batches taken from the input stream so far."""
        return self._batches_consumed

    def completed_iterations(self):
        """`iterations` as a Python int, also under a distribution strategy."""
        return int(self.iterations.numpy())

    def build(self, input_shape):
        # The networks are functional models, built when constructed.
        self.built = True

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy, Keras's `fit` fetches a batch and all-reduces it
        # to build the model symbolically. Everything here is built by
        # __init__ and compile, and MultiWorkerMirroredStrategy cannot
        # all-reduce a dict batch, so skip it.
        del iterator, data_batch

    @property
    def metrics(self):
        return list(self.trackers.values())

    def term_gate(self, prefix, name):
        """A scalar (0 or 1) by which a term's weight is multiplied in this
        iteration, or None for always on; subclasses switch terms on late."""
        del prefix, name
        return None

    def _weight_now(self, prefix, name, weight):
        """A minimised term's weight in this iteration (`term_gate` applied)."""
        gate = self.term_gate(prefix, name)
        return weight if gate is None else gate * weight

    # ------------------------------------------------------------------- step
    def _total(self, prefix, values, batch_size):
        weights = self.term_weights[prefix]
        if set(values) != set(weights):
            raise ValueError(f"{prefix} losses returned {sorted(values)}, but "
                             f"the terms declared are {sorted(weights)}")
        total = 0.0
        for name, weight in weights.items():
            if weight is not WATCHED:
                total += self._weight_now(prefix, name, weight) * (
                    _average_over_replicas(values[name], batch_size))
        return total

    def _log(self, prefix, values):
        total = 0.0
        for name, weight in self.term_weights[prefix].items():
            mean = tf.reduce_mean(values[name])
            self.trackers[tracker_name(prefix, name, weight)].update_state(mean)
            if weight is not WATCHED:
                total += self._weight_now(prefix, name, weight) * mean
        self.trackers[f"{prefix}_total"].update_state(total)

    def _update(self, prefix, optimizer, variables, loss_fn, batch_size):
        with tf.GradientTape() as tape:
            values = loss_fn()
            loss = optimizer.scale_loss(self._total(prefix, values, batch_size))
        gradients = tape.gradient(loss, variables)
        optimizer.apply(gradients, variables)
        self._log(prefix, values)

    def discriminator_update(self, batch, seeds):
        """One D update on `batch`; only D's weights change."""
        batch_size = tf.shape(batch["inputs"])[0]
        fakes = self.make_fakes(batch, seeds)
        self._update(
            DISCRIMINATOR, self.discriminator_optimizer,
            self.discriminator_variables,
            lambda: self.discriminator_losses(batch, fakes), batch_size,
        )

    def generator_update(self, batch, seeds):
        """One generator update on `batch`; D's weights do not change."""
        batch_size = tf.shape(batch["inputs"])[0]
        self._update(
            GENERATOR, self.generator_optimizer, self.generator_variables,
            lambda: self.generator_losses(batch, seeds), batch_size,
        )

    def train_step(self, data):
        seeds = seed_lib.SeedStream(
            seed_lib.iteration_seed(self.seed, self.iterations)
        )
        batches = _split(data, self.n_critic)
        for batch in batches:
            self.discriminator_update(batch, seeds)
        self.generator_update(batches[-1], seeds)
        self._iterations.assign_add(1)
        self._batches_consumed.assign_add(1)
        logs = {name: tracker.result() for name, tracker in self.trackers.items()}
        if distribution.spans_workers(tf.distribute.get_strategy()):
            # Keras reduces multi-worker logs with a MEAN along axis 0,
            # which scalars do not have: give each a length-1 axis.
            logs = {name: value[tf.newaxis] for name, value in logs.items()}
        return logs


def tracker_name(prefix, name, weight):
    """`<prefix>_<name>` for a minimised term, `name` for a watched value."""
    return name if weight is WATCHED else f"{prefix}_{name}"

