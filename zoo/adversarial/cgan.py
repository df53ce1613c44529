"""Conditional GAN.

Mirza & Osindero (2014), "Conditional Generative Adversarial Nets": both
players see the class label y, the generator as G(z, y) and the
discriminator as D(x, y), and the game becomes

    min_G max_D  E_data[log D(x, y)] + E_{z, y}[log(1 - D(G(z, y), y))].

One-hot labels join the code and the discriminator's input (the base's
conditioning, ``zoo.adversarial.base``); the generator is trained on the
labels of each data batch, so it learns p(x | y) for every class. Every
capability takes ``labels`` (int64 (B,) in [0, num_classes)); ``sample``
called without them draws each row's label uniformly from its seed.
"""

from tfgen import config as config_lib
from tfgen import registry
from zoo.adversarial import base
from zoo.adversarial import gan_config


def get_config(variant=None):
    """Returns the conditional GAN's locked config (the MLP GAN's fields).

    ``python -m tfgen.train --model=cgan`` trains on ``digits`` (10
    classes) for 300 epochs, about 5 minutes on 2 shared CPU cores: at 100
    the samples do not yet follow their labels. On MNIST: ``--dataset=mnist
    --manual_dir=../shared/data/mnist``.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("cgan", variant)
    config = gan_config.common_config()
    config.epochs = 300
    if variant == "tiny":
        gan_config.make_tiny(config)
    config.lock()
    return config


@registry.register("cgan", family="adversarial",
                   get_config=get_config,
                   paper="Mirza & Osindero 2014")
class ConditionalGAN(base.GAN):
    """A GAN whose players are conditioned on the class label."""

    labelled_capabilities = base.GAN.capabilities

    model_name = "cgan"
