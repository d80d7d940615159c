"""The settings of one training run (filled from absl flags by `flags.py`)."""

import dataclasses

from amr_tf.data import DataConfig
from amr_tf.models import ArchitectureConfig

OBJECTIVE_NAMES = ("amr", "arae", "acai")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything `training.train` needs; see `flags.py` for each meaning."""

    data: DataConfig = DataConfig()
    arch: ArchitectureConfig = ArchitectureConfig()
    objective: str = "amr"
    mixer: str = "mixup"
    base_mixer: str = "bernoulli"
    kway_sources: int = 3
    hard_mask: bool = False
    label_mix: str = "convex"
    class_mixer_input: str = "paper"
    recon_weight: float = 10.0
    consistency_weight: float = 0.0
    cls_weight: float = 1.0
    mask_sparsity_weight: float = 0.0
    recon_loss: str = "l1"
    gan_loss: str = "bce"
    adversary_weight: float = 0.5
    acai_gamma: float = 0.2
    n_critic: int = 5
    learning_rate: float = 2e-4
    disc_learning_rate: float | None = None
    beta_1: float = 0.0
    beta_2: float = 0.99
    batch_size: int = 64
    cache_data: bool = True
    steps: int = 10000
    seed: int = 0
    model_dir: str = "runs/default"
    log_every: int = 100
    keep_checkpoints: int = 3
    interpolation_pairs: int = 6
    interpolation_steps: int = 8
    export: bool = True
    export_base: str | None = None
    strategy: str = "default"
    mixed_precision: str = "float32"
    jit_compile: bool = False
    on_nonfinite: str = "stop"
    max_rollbacks: int = 3
    deterministic: bool = False

    @property
    def steps_per_log(self):
        """Iterations per Keras epoch: `log_every`, at most `steps`."""
        return min(self.log_every, self.steps)

    @property
    def export_path(self):
        """The TF Serving model base path exports go to."""
        return self.export_base or f"{self.model_dir}/export"

    @property
    def uses_class_mixer(self):
        return self.objective == "amr" and self.mixer == "class_mixer"
