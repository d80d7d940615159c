"""absl flags of `python -m amr_tf.train` and their conversion to a config.

Defaults here are the paper's; the flagfiles under configs/ set each
experiment. `--flagfile` expands in place, so later flags win.
"""

from absl import flags

from amr_tf import config as config_lib
from amr_tf import distribution
from amr_tf import loop
from amr_tf import losses
from amr_tf import mixers
from amr_tf import models
from amr_tf.data import DataConfig
from amr_tf.data import dataset_names
from amr_tf.data import shapes

# Data.
flags.DEFINE_enum("dataset", "shapes", dataset_names(), "Dataset to train on.")
flags.DEFINE_string("data_dir", None,
                    "TFDS data_dir, or the image root for --dataset=folder.")
flags.DEFINE_integer("image_size", None,
                     "Square image side in px; default: the dataset's own.")
flags.DEFINE_list("attributes", [],
                  "Binary attributes to use (celeb_a names, CSV columns).")
flags.DEFINE_string("attributes_csv", None,
                    "CSV of binary attributes for --dataset=folder: a row "
                    "for every image.")
flags.DEFINE_integer("channels", 3,
                     "Image channels for --dataset=folder, 1 or 3: images "
                     "with another channel count (alpha aside) are skipped.")
flags.DEFINE_bool("celeba_frontal", False,
                  "celeb_a: keep roughly frontal faces only.")
flags.DEFINE_bool("cache_data", True,
                  "Keep decoded images in memory after the first epoch (turn "
                  "off for datasets larger than RAM, e.g. celeb_a; generated "
                  "datasets are never cached).")
flags.DEFINE_integer("num_examples", None,
                     "Procedural datasets: number of training examples.")

# Data: aligned sprites for the class mixer.
flags.DEFINE_enum("sprite_position", "random", shapes.SPRITE_POSITIONS,
                  "shapes: sprites at random places (the unsupervised demo) "
                  "or centred, so channel masks can recombine their "
                  "attributes (supervised runs).")

# Networks.
flags.DEFINE_enum("arch", "resnet", models.FAMILIES, "Network family.")
flags.DEFINE_integer("width", 64, "Channels at the first resolution "
                     "(hidden units for mlp).")
flags.DEFINE_integer("depth", 1, "Blocks per resolution (layers for mlp).")
flags.DEFINE_integer("latent_size", 8, "Side of the spatial latent grid.")
flags.DEFINE_integer("latent_channels", 16,
                     "Latent channels (latent dimension for mlp).")
flags.DEFINE_integer("disc_width", None, "Discriminator width; default --width.")

# Objective.
flags.DEFINE_enum("objective", "amr", config_lib.OBJECTIVE_NAMES,
                  "amr (eq. 5/6), arae (eq. 2) or acai.")
flags.DEFINE_enum("mixer", "mixup", mixers.MIXER_NAMES,
                  "AMR mixing function; class_mixer adds the supervised "
                  "mixer (eq. 6) to --base_mixer.")
flags.DEFINE_enum("base_mixer", "bernoulli", list(mixers.UNSUPERVISED_MIXERS),
                  "Unsupervised mixer used beside --mixer=class_mixer.")
flags.DEFINE_integer("kway_sources", 3, "Sources mixed by --mixer=kway.")
flags.DEFINE_bool("hard_mask", False,
                  "Class mixer: sample a hard Bernoulli mask (straight-through) "
                  "instead of the soft mask.")
flags.DEFINE_enum("label_mix", "convex", mixers.LABEL_MIXES,
                  "How training draws the class mixer's selector s: convex "
                  "(alpha for every attribute, the paper's) or bernoulli "
                  "(each attribute from either parent).")

# Objective: which parent gives each attribute.
flags.DEFINE_enum("class_mixer_input", "paper", mixers.CLASS_MIXER_INPUTS,
                  "What the class mixer's MLP reads: paper (the target "
                  "attributes y~, eq. 6) or parent_aware (the selector s, "
                  "an extension beyond the paper; see docs/RESULTS.md §4).")
flags.DEFINE_float("recon_weight", 10.0, "lambda: reconstruction weight.")
flags.DEFINE_float("consistency_weight", 0.0, "beta: mixing-consistency weight.")
flags.DEFINE_float("cls_weight", 1.0, "Class-consistency weight (eq. 6).")
flags.DEFINE_float("mask_sparsity_weight", 0.0,
                   "Class mixer mask sparsity regulariser weight.")
flags.DEFINE_enum("recon_loss", "l1", losses.DISTANCES,
                  "Distance for reconstruction and consistency.")
flags.DEFINE_enum("gan_loss", "bce", losses.GAN_LOSSES, "GAN loss.")
flags.DEFINE_float("adversary_weight", 0.5, "ACAI: weight of the critic term.")
flags.DEFINE_float("acai_gamma", 0.2, "ACAI: data/reconstruction blend.")
flags.DEFINE_integer("n_critic", 5, "Discriminator updates per generator update.")

# Optimisation.
flags.DEFINE_float("learning_rate", 2e-4, "Adam learning rate.")
flags.DEFINE_float("disc_learning_rate", None,
                   "Discriminator learning rate; default --learning_rate.")
flags.DEFINE_float("beta_1", 0.0, "Adam beta_1.")
flags.DEFINE_float("beta_2", 0.99, "Adam beta_2.")
flags.DEFINE_integer("batch_size", 64, "Examples per D or G update, over "
                     "all replicas.")
flags.DEFINE_integer("steps", 10000, "Training iterations (generator updates).")
flags.DEFINE_integer("seed", 0, "Seed of weights, data order and mixes.")

# Output.
flags.DEFINE_string("model_dir", "runs/default",
                    "Checkpoints, TensorBoard logs and figures go here; "
                    "re-running with the same --model_dir resumes.")
flags.DEFINE_integer("log_every", 100,
                     "Iterations between progress lines, summaries and "
                     "checkpoints.")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept.")
flags.DEFINE_integer("interpolation_pairs", 6, "Pairs in the final figure.")
flags.DEFINE_integer("interpolation_steps", 8, "Columns in the final figure.")
flags.DEFINE_bool("export", True,
                  "Export the serving SavedModel when training ends.")
flags.DEFINE_string("export_base", None,
                    "TF Serving model base path: versions are written to "
                    "<export_base>/<training step>; default <model_dir>/export.")

# Scale: devices, precision, compilation. None of them changes the update or
# the variables, so a run may resume under other values.
flags.DEFINE_enum("strategy", "default", distribution.STRATEGIES,
                  "default (one device), mirrored (all local GPUs), "
                  "multi_worker (MultiWorkerMirroredStrategy from TF_CONFIG) "
                  "or tpu. --batch_size is the global batch.")
flags.DEFINE_enum("mixed_precision", "float32", distribution.PRECISIONS,
                  "Keras dtype policy of the networks; heads, decoder output "
                  "and variables stay float32. mixed_float16 adds dynamic "
                  "loss scaling to both optimizers.")
flags.DEFINE_bool("jit_compile", False,
                  "Compile the training step with XLA.")

# Reliability.
flags.DEFINE_enum("on_nonfinite", "stop", loop.NONFINITE_POLICIES,
                  "When a loss term is NaN or Inf: stop (exit 1, the last "
                  "checkpoint kept) or rollback (restore the last checkpoint "
                  "and go on with the next batch).")
flags.DEFINE_integer("max_rollbacks", 3,
                     "With --on_nonfinite=rollback: rollbacks in a row, with "
                     "no checkpoint saved between them, before stopping.")
flags.DEFINE_bool("deterministic", False,
                  "Use deterministic TF ops (tf.config.experimental."
                  "enable_op_determinism): the same seed and flags give "
                  "bitwise the same run, also when resumed; may be slower.")

FLAGS = flags.FLAGS

# Flags that fix the model's variables: a resumed run must match them.
STRUCTURAL_FLAGS = (
    "dataset", "image_size", "channels", "attributes", "arch", "width",
    "depth", "latent_size", "latent_channels", "disc_width", "objective",
    "mixer", "base_mixer", "kway_sources", "class_mixer_input",
)


def config_from_flags(values=FLAGS):
    """A `TrainConfig` from parsed flag values."""
    return config_lib.TrainConfig(
        data=DataConfig(
            name=values.dataset,
            image_size=values.image_size,
            data_dir=values.data_dir,
            attributes=tuple(values.attributes),
            attributes_csv=values.attributes_csv,
            channels=values.channels,
            celeba_frontal=values.celeba_frontal,
            num_examples=values.num_examples,
            sprite_position=values.sprite_position,
        ),
        arch=models.ArchitectureConfig(
            family=values.arch,
            width=values.width,
            depth=values.depth,
            latent_size=values.latent_size,
            latent_channels=values.latent_channels,
            disc_width=values.disc_width,
        ),
        objective=values.objective,
        mixer=values.mixer,
        base_mixer=values.base_mixer,
        kway_sources=values.kway_sources,
        hard_mask=values.hard_mask,
        label_mix=values.label_mix,
        class_mixer_input=values.class_mixer_input,
        recon_weight=values.recon_weight,
        consistency_weight=values.consistency_weight,
        cls_weight=values.cls_weight,
        mask_sparsity_weight=values.mask_sparsity_weight,
        recon_loss=values.recon_loss,
        gan_loss=values.gan_loss,
        adversary_weight=values.adversary_weight,
        acai_gamma=values.acai_gamma,
        n_critic=values.n_critic,
        learning_rate=values.learning_rate,
        disc_learning_rate=values.disc_learning_rate,
        beta_1=values.beta_1,
        beta_2=values.beta_2,
        batch_size=values.batch_size,
        cache_data=values.cache_data,
        steps=values.steps,
        seed=values.seed,
        model_dir=values.model_dir,
        log_every=values.log_every,
        keep_checkpoints=values.keep_checkpoints,
        interpolation_pairs=values.interpolation_pairs,
        interpolation_steps=values.interpolation_steps,
        export=values.export,
        export_base=values.export_base,
        strategy=values.strategy,
        mixed_precision=values.mixed_precision,
        jit_compile=values.jit_compile,
        on_nonfinite=values.on_nonfinite,
        max_rollbacks=values.max_rollbacks,
        deterministic=values.deterministic,
    )


def serialize(values=FLAGS):
    """This module's flags as flagfile text, one `--name=value` a line."""
    lines = [
        flag.serialize()
        for flag in values.get_key_flags_for_module(__name__)
        if flag.value is not None
    ]
    return "\n".join(sorted(lines)) + "\n"
