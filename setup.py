"""Installs the tfgen distribution: the packages tfgen, zoo and export."""

import setuptools

setuptools.setup(
    name="tfgen",
    version="0.1.0",
    description=("A TensorFlow 2 / Keras 3 zoo of the classic generative "
                 "models, with SavedModel export for TensorFlow Serving."),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    # Every Python the pinned stack supports: TensorFlow 2.21 ships wheels
    # for 3.10 to 3.13, and Keras 3.15 requires 3.11 or newer.
    python_requires=">=3.11,<3.14",
    packages=setuptools.find_packages(include=["tfgen", "tfgen.*", "zoo",
                                               "zoo.*", "export", "export.*"]),
    install_requires=[
        # TF 2.21, Keras 3.15 and TFP 0.25 are known to work together; TFP's
        # "tf" extra brings tf-keras, which needs the full tensorflow wheel.
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<3.16",
        "tensorflow-probability[tf]>=0.25,<0.26",
        "tensorflow-datasets>=4.9.10,<4.10",
        # TFDS's own builders import it on every Python version.
        "importlib_resources>=6,<8",
        # Keras's TensorBoard callback writes through it.
        "tensorboard>=2.21,<2.22",
        "tensorflow-serving-api>=2.21,<2.22",
        "absl-py>=2.1,<3",
        "ml-collections>=1.0,<2",
        "numpy>=1.26,<3",
        "matplotlib>=3.8,<4",
        # Ships the embedded 8x8 digits dataset (no network needed).
        "scikit-learn>=1.4,<2",
        # The Fréchet distance's matrix square root (tfgen.frechet).
        "scipy>=1.11,<2",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "pytest-xdist>=3.5,<4",
            # Property-based fuzzing of signatures, configs and preprocessing.
            "hypothesis>=6.100,<7",
            # The export's TF-Hub-style reuse is tested through hub.KerasLayer.
            "tensorflow-hub>=0.16.1,<0.17",
            # tensorflow-hub 0.16.1 imports pkg_resources, which setuptools
            # 81 dropped; Python 3.12+ virtualenvs bring no setuptools.
            "setuptools>=65,<81",
        ],
    },
)
