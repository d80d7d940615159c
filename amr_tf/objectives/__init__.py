"""Training objectives, one Keras Model subclass each."""

from amr_tf.objectives.acai import ACAI
from amr_tf.objectives.amr import AMR
from amr_tf.objectives.amr import ARAE
from amr_tf.objectives.base import AdversarialAutoencoder
from amr_tf.objectives.base import WATCHED

OBJECTIVES = {"amr": AMR, "arae": ARAE, "acai": ACAI}

__all__ = ["ACAI", "AMR", "ARAE", "AdversarialAutoencoder", "OBJECTIVES", "WATCHED"]
