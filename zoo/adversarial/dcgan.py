"""Deep convolutional GAN.

Radford, Metz & Chintala (2016), "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks": the architecture
guidelines that made convolutional GANs train stably, which
``zoo.adversarial.networks`` follows for ``config.architecture="conv"``:

- strided convolutions in the discriminator and fractionally strided ones
  in the generator, no pooling;
- batch norm in both players, except at the generator's output and the
  discriminator's input;
- no hidden fully connected layers;
- ReLU in the generator with tanh at its output, LeakyReLU (0.2) in the
  discriminator;
- Adam with learning rate 2e-4 and beta_1 = 0.5, weights from N(0, 0.02).

The game and its losses are the GAN's (``zoo.adversarial.base``), with the
non-saturating generator loss.
"""

from tfgen import config as config_lib
from tfgen import registry
from zoo.adversarial import base
from zoo.adversarial import gan_config


def dcgan_config(**fields):
    """The DCGAN's unlocked config; ``lsgan`` and ``wgan`` start from it."""
    config = gan_config.common_config(**fields)
    config.architecture = "conv"
    config.generator_normalization = "batch"
    config.discriminator_normalization = "batch"
    config.latent_dim = 64
    config.filters = 32
    config.num_upsamplings = 2
    return config


def get_config(variant=None):
    """Returns the DCGAN's locked config.

    ``python -m tfgen.train --model=dcgan`` trains on ``digits`` (pixels in
    [-1, 1]; 8x8 images from 2x2 maps of 64 filters) for 100 epochs. On
    MNIST: ``--dataset=mnist --manual_dir=../shared/data/mnist
    --config.filters=64`` (28x28 from 7x7).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("dcgan", variant)
    config = dcgan_config()
    if variant == "tiny":
        gan_config.make_tiny(config)
    config.lock()
    return config


@registry.register("dcgan", family="adversarial",
                   get_config=get_config,
                   paper="Radford, Metz & Chintala 2016")
class DCGAN(base.GAN):
    """A GAN with DCGAN's convolutional players."""

    model_name = "dcgan"
