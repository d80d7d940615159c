"""amr_tf: Adversarial Mixup Resynthesisers in TensorFlow / Keras 3."""

import setuptools

setuptools.setup(
    name="amr_tf",
    version="0.1.0",
    description=(
        "Adversarial Mixup Resynthesisers (AMR) with ARAE and ACAI baselines, "
        "in TensorFlow 2 / Keras 3."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["amr_tf", "amr_tf.*"]),
    package_data={"amr_tf.serving": ["explorer_static/*"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.8,<4",
        "tensorboard>=2.16,<2.22",
        "tensorflow-datasets>=4.9,<5",
        "tensorflow-serving-api>=2.16,<2.22",
        "grpcio>=1.60,<2",
        "absl-py>=2.1,<3",
        "numpy>=1.26,<3",
        "matplotlib>=3.8,<4",
        "scipy>=1.11,<2",
        "scikit-learn>=1.5,<2",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "selenium>=4.30,<5"],
    },
    entry_points={"console_scripts": [
        "amr-train=amr_tf.train:run",
        "amr-evaluate=amr_tf.evaluate:run",
        "amr-aggregate=amr_tf.aggregate:run",
        "amr-explorer=amr_tf.serving.explorer:run",
    ]},
)
