"""Training objectives, one Keras Model subclass each."""

from amr_tf.core.objectives.acai import ACAI
from amr_tf.core.objectives.amr import AMR
from amr_tf.core.objectives.amr import ARAE
from amr_tf.core.objectives.base import WATCHED
from amr_tf.core.objectives.base import AdversarialAutoencoder

OBJECTIVES = {"amr": AMR, "arae": ARAE, "acai": ACAI}

__all__ = ["ACAI", "AMR", "ARAE", "AdversarialAutoencoder", "OBJECTIVES", "WATCHED"]
