"""amr_tf: Adversarial Mixup Resynthesisers in TensorFlow / Keras 3."""

__version__ = "0.1.0"
