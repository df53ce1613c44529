"""Least squares GAN.

Mao, Li, Xie, Lau, Wang & Smolley (2017), "Least Squares Generative
Adversarial Networks": the discriminator regresses real examples to b and
generated ones to a, the generator pushes its examples' scores towards c,

    min_D  1/2 E_data[(D(x) - b)^2] + 1/2 E_z[(D(G(z)) - a)^2],
    min_G  1/2 E_z[(D(G(z)) - c)^2],

with the paper's a = 0, b = c = 1 (``config.fake_label`` and
``config.real_label``). Unlike the sigmoid cross-entropy, the squared loss
still penalizes generated examples that lie on the real side of the
decision boundary but far from the data, so their gradients do not vanish.
With the DCGAN's convolutional players (the paper's architectures are
DCGAN-like); D's output is a score, not a probability.
"""

from tfgen import config as config_lib
from tfgen import registry
from zoo.adversarial import base
from zoo.adversarial import gan_config
from zoo.adversarial import dcgan


def get_config(variant=None):
    """Returns the LSGAN's locked config.

    ``python -m tfgen.train --model=lsgan`` trains on ``digits`` for 100
    epochs.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("lsgan", variant)
    config = dcgan.dcgan_config()
    config.loss = "least_squares"
    if variant == "tiny":
        gan_config.make_tiny(config)
    config.lock()
    return config


@registry.register("lsgan", family="adversarial",
                   get_config=get_config,
                   paper="Mao et al. 2017 (least squares)")
class LSGAN(base.GAN):
    """A GAN trained with the least squares losses."""

    model_name = "lsgan"
