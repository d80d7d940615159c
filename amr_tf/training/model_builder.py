"""Building and compiling the model a `TrainConfig` asks for."""

import keras

from amr_tf.core import distribution
from amr_tf.core import mixers as mixer_lib
from amr_tf.core import models
from amr_tf.core import objectives
from amr_tf.core import optimizers


def _build_mixers(config, info):
    """(unsupervised mixer or None, class mixer or None) for the config."""
    if config.objective != "amr":
        return None, None
    if not config.uses_class_mixer:
        return mixer_lib.build_mixer(config.mixer, seed=config.seed,
                                     kway_sources=config.kway_sources), None
    mixer = mixer_lib.build_mixer(config.base_mixer, seed=config.seed,
                                  kway_sources=config.kway_sources)
    class_mixer = mixer_lib.ClassMixer(
        config.arch.latent_channels, hard=config.hard_mask,
        label_mix=config.label_mix, mixer_input=config.class_mixer_input,
        name="class_mixer",
    )
    class_mixer.build((None, info.num_attributes))
    return mixer, class_mixer


def build_model(config, info):
    """Builds and compiles the objective's model (call inside a strategy scope).

    The networks take the dtype policy of `config.mixed_precision`; under
    mixed_float16 both optimizers are loss-scale optimizers.

    Args:
        config: a `TrainConfig`.
        info: the dataset's `DatasetInfo`.
    """
    with distribution.dtype_policy(config.mixed_precision):
        return _build_model(config, info)


def _build_model(config, info):
    keras.utils.set_random_seed(config.seed)
    mixer, class_mixer = _build_mixers(config, info)
    networks = models.build_networks(
        config.arch, info.input_shape,
        num_attributes=info.num_attributes if class_mixer else 0,
    )
    common = dict(recon_weight=config.recon_weight, recon_loss=config.recon_loss,
                  gan_loss=config.gan_loss, n_critic=config.n_critic,
                  seed=config.seed)
    if config.objective == "amr":
        model = objectives.AMR(
            *networks, mixer=mixer, class_mixer=class_mixer,
            consistency_weight=config.consistency_weight,
            cls_weight=config.cls_weight, class_warmup=config.class_warmup,
            real_attributes_weight=config.real_attributes_weight,
            mask_sparsity_weight=config.mask_sparsity_weight,
            gradient_penalty=config.gradient_penalty, **common)
    elif config.objective == "arae":
        model = objectives.ARAE(*networks,
                                gradient_penalty=config.gradient_penalty,
                                **common)
    else:
        model = objectives.ACAI(*networks, adversary_weight=config.adversary_weight,
                                gamma=config.acai_gamma, **common)

    def adam(learning_rate):
        return distribution.wrap_optimizer(
            optimizers.FusedAdam(learning_rate, beta_1=config.beta_1,
                                 beta_2=config.beta_2),
            config.mixed_precision)

    model.compile(
        generator_optimizer=adam(config.learning_rate),
        discriminator_optimizer=adam(config.disc_learning_rate
                                     or config.learning_rate),
        jit_compile=config.jit_compile,
    )
    return model
