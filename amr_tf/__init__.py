"""amr_tf: Adversarial Mixup Resynthesisers in TensorFlow / Keras 3."""

import os
import sys

from amr_tf.cli import console

# TensorFlow's oneDNN CPU kernels are on by default only on CPUs with
# AVX512-VNNI/BF16, AVX-VNNI or AMX. Elsewhere (AVX2 CPUs such as AMD EPYC)
# convolutions and their gradients run on Eigen, about 1.8x more CPU time per
# training iteration (benchmarks/README.md). TensorFlow reads the variable
# once, when it is imported: this applies when amr_tf is imported first (as
# by `python -m amr_tf.train`). TF_ENABLE_ONEDNN_OPTS=0 turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# Only for the command-line tools: see amr_tf/console.py.
if console.started_as_command(getattr(sys, "argv", None)):
    console.quiet_tensorflow()

__version__ = "0.1.0"
