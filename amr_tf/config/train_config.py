"""The settings of one training run.

Every setting declares its default, help text and allowed values here (or
in `DataConfig` and `ArchitectureConfig`, nested below): the flags of
`python -m amr_tf.train` (`amr_tf.cli.training_flags`) and the flagfile text
of a run (`amr_tf.config.flag_text`) are made from them. Where a setting
picks an implementation (an objective, a mixer, a loss, a strategy), its
allowed values are the keys that implementation's module declares. The
defaults are the paper's; the flagfiles under amr_tf/config/flagfiles/ set
each experiment.
"""

import dataclasses

from amr_tf.core import distribution
from amr_tf.core import losses
from amr_tf.core import mixers
from amr_tf.core import objectives
from amr_tf.core.fields import Range
from amr_tf.core.fields import check
from amr_tf.core.fields import setting
from amr_tf.core.models import ArchitectureConfig
from amr_tf.data import DataConfig

NON_NEGATIVE = Range(0)
POSITIVE = Range(0, low_open=True)
COUNT = Range(1)
UNIT_INTERVAL = Range(0, 1)
ADAM_BETA = Range(0, 1, high_open=True)
# What training does when a loss term is NaN or Inf (`amr_tf.training.loop`).
NONFINITE_POLICIES = ("stop", "rollback")
# What training does when its decoder collapses or D wins
# (`amr_tf.training.health`).
ON_COLLAPSE = ("warn", "stop")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything `training.train` needs; each field's help says what it
    holds.

    Raises:
        ArgumentError: a field outside its choices or range.
    """

    data: DataConfig = DataConfig()
    arch: ArchitectureConfig = ArchitectureConfig()

    # Objective.
    objective: str = setting("amr", "amr (eq. 5/6), arae (eq. 2) or acai.",
                             choices=tuple(objectives.OBJECTIVES),
                             structural=True)
    mixer: str = setting(
        "mixup", "AMR mixing function; class_mixer adds the supervised mixer "
        "(eq. 6) to --base_mixer.", choices=mixers.MIXER_NAMES,
        structural=True)
    base_mixer: str = setting(
        "bernoulli", "Unsupervised mixer used beside --mixer=class_mixer.",
        choices=tuple(mixers.UNSUPERVISED_MIXERS), structural=True)
    kway_sources: int = setting(3, "Sources mixed by --mixer=kway.",
                                bounds=Range(2), structural=True)
    hard_mask: bool = setting(
        False, "Class mixer: sample a hard Bernoulli mask (straight-through) "
        "instead of the soft mask.")
    label_mix: str = setting(
        "convex", "How training draws the class mixer's selector s: convex "
        "(alpha for every attribute, the paper's) or bernoulli (each "
        "attribute from either parent).", choices=mixers.LABEL_MIXES)
    class_mixer_input: str = setting(
        "paper", "What the class mixer's MLP reads: paper (the target "
        "attributes y~, eq. 6) or parent_aware (the selector s, an extension "
        "beyond the paper; see docs/RESULTS.md §4).",
        choices=mixers.CLASS_MIXER_INPUTS, structural=True)
    recon_weight: float = setting(10.0, "lambda: reconstruction weight.",
                                  bounds=NON_NEGATIVE)
    consistency_weight: float = setting(
        0.0, "beta: mixing-consistency weight.", bounds=NON_NEGATIVE)
    cls_weight: float = setting(1.0, "Class-consistency weight (eq. 6).",
                                bounds=NON_NEGATIVE)
    real_attributes_weight: float | None = setting(
        None, "Weight of D's attribute term on real images; default k, the "
        "number of attributes (their cross-entropies summed, each as heavy "
        "as one GAN term); 1 is their mean.", bounds=NON_NEGATIVE)
    class_warmup: int = setting(
        0, "Iterations at the start without the class-consistency term: D's "
        "attribute head learns from real images before the class mixer "
        "follows it.", bounds=NON_NEGATIVE)
    mask_sparsity_weight: float = setting(
        0.0, "Class mixer mask sparsity regulariser weight.",
        bounds=NON_NEGATIVE)
    recon_loss: str = setting("l1", "Distance for reconstruction and "
                              "consistency.", choices=losses.DISTANCES)
    gan_loss: str = setting("bce", "GAN loss.", choices=losses.GAN_LOSSES)
    adversary_weight: float = setting(0.5, "ACAI: weight of the critic term.",
                                      bounds=NON_NEGATIVE)
    acai_gamma: float = setting(0.2, "ACAI: data/reconstruction blend.",
                                bounds=UNIT_INTERVAL)
    n_critic: int = setting(5, "Discriminator updates per generator update.",
                            bounds=COUNT)
    gradient_penalty: float = setting(
        0.0, "AMR and ARAE: weight of the R1 penalty ½‖∇ₓD(x)‖² on D's "
        "gradient at real inputs (an extension beyond the paper, for "
        "--disc_norm=none; 0: none).", bounds=NON_NEGATIVE)

    # Optimisation.
    learning_rate: float = setting(2e-4, "Adam learning rate.",
                                   bounds=POSITIVE)
    disc_learning_rate: float | None = setting(
        None, "Discriminator learning rate; default --learning_rate.",
        bounds=POSITIVE)
    beta_1: float = setting(0.0, "Adam beta_1.", bounds=ADAM_BETA)
    beta_2: float = setting(0.99, "Adam beta_2.", bounds=ADAM_BETA)
    batch_size: int = setting(64, "Examples per D or G update, over all "
                              "replicas.", bounds=COUNT)
    cache_data: bool = setting(
        True, "Keep decoded images in memory after the first epoch (turn off "
        "for datasets larger than RAM, e.g. celeb_a; generated datasets are "
        "never cached).")
    steps: int = setting(10000, "Training iterations (generator updates).",
                         bounds=COUNT)
    stop_at_plateau: float | None = setting(
        None, "Stop before --steps once the reconstruction loss has levelled "
        "off: when the mean of its last tenth of iterations is less than "
        "this fraction (e.g. 0.02) below the tenth before, at 3 checks in a "
        "row, one every --log_every iterations, each tenth holding 10 of the "
        "TensorBoard scalars (--summary_every).",
        bounds=POSITIVE)
    seed: int = setting(0, "Seed of weights, data order and mixes.",
                        bounds=Range(0, 2**32 - 1))

    # Output.
    model_dir: str = setting(
        "runs/default", "Checkpoints, TensorBoard logs and figures go here; "
        "re-running with the same --model_dir resumes.")
    log_every: int = setting(
        100, "Iterations between progress lines, TensorBoard image grids and "
        "checkpoints; need not divide --steps (the last block is shorter).",
        bounds=COUNT)
    summary_every: int = setting(
        10, "Iterations between TensorBoard scalars: each loss term's mean "
        "over the interval, and the throughput.", bounds=COUNT)
    keep_checkpoints: int = setting(3, "Checkpoints kept.", bounds=COUNT)
    interpolation_pairs: int = setting(6, "Pairs in the final figure.",
                                       bounds=COUNT)
    interpolation_steps: int = setting(8, "Columns in the final figure.",
                                       bounds=Range(2))
    export: bool = setting(True, "Export the serving SavedModel when "
                           "training ends.")
    export_base: str | None = setting(
        None, "TF Serving model base path: versions are written to "
        "<export_base>/<training step>; default <model_dir>/export.")

    # Scale: devices, precision, compilation. None of them changes the
    # update or the variables, so a run may resume under other values.
    strategy: str = setting(
        "default", "default (one device), mirrored (all local GPUs), "
        "multi_worker (MultiWorkerMirroredStrategy from TF_CONFIG) or tpu. "
        "--batch_size is the global batch.", choices=distribution.STRATEGIES)
    mixed_precision: str = setting(
        "float32", "Keras dtype policy of the networks; heads, decoder output "
        "and variables stay float32. mixed_float16 adds dynamic loss scaling "
        "to both optimizers.", choices=distribution.PRECISIONS)
    jit_compile: bool = setting(False, "Compile the training step with XLA.")

    # Reliability.
    on_nonfinite: str = setting(
        "stop", "When a loss term is NaN or Inf: stop (exit 1, the last "
        "checkpoint kept) or rollback (restore the last checkpoint and go on "
        "with the next batch).", choices=NONFINITE_POLICIES)
    max_rollbacks: int = setting(
        3, "With --on_nonfinite=rollback: rollbacks in a row, with no "
        "checkpoint saved between them, before stopping.", bounds=NON_NEGATIVE)
    on_collapse: str = setting(
        "warn", "When the decoder outputs a constant image or D has won "
        "(checked every --log_every iterations): warn (in the progress line, "
        "TensorBoard, the summary and the figure) or stop (after 3 checks in "
        "a row; exit 1 with the checkpoint saved).", choices=ON_COLLAPSE)
    deterministic: bool = setting(
        False, "Use deterministic TF ops (tf.config.experimental."
        "enable_op_determinism): the same seed and flags give bitwise the "
        "same run, also when resumed; may be slower.")

    def __post_init__(self):
        check(self)

    @property
    def export_path(self):
        """The TF Serving model base path exports go to."""
        return self.export_base or f"{self.model_dir}/export"

    @property
    def uses_class_mixer(self):
        return self.objective == "amr" and self.mixer == "class_mixer"
