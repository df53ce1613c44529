"""Wasserstein GAN with a gradient penalty.

Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville (2017), "Improved Training
of Wasserstein GANs": instead of clipping weights, the critic's loss gains

    lambda E_xhat[(||grad f(xhat)||_2 - 1)^2],  xhat = e x + (1 - e) G(z),

e ~ U[0, 1], which holds the critic's gradient norm near 1 on the lines
between real and generated examples (where the optimal critic's gradient
has norm 1). The paper's Algorithm 1: lambda = 10, n_critic = 5, Adam with
learning rate 1e-4, beta_1 = 0, beta_2 = 0.9; no batch norm in the critic
(the penalty is per example), layer norm in its place.
"""

import ml_collections

from tfgen import config as config_lib
from tfgen import optimizers as optimizers_lib
from tfgen import registry
from zoo.adversarial import base
from zoo.adversarial import gan_config
from zoo.adversarial import dcgan


def get_config(variant=None):
    """Returns the WGAN-GP's locked config.

    ``python -m tfgen.train --model=wgan_gp`` trains on ``digits`` for 300
    epochs (1,200 generator steps). On MNIST: ``--dataset=mnist
    --manual_dir=../shared/data/mnist --config.filters=64``.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("wgan_gp", variant)
    config = dcgan.dcgan_config()
    config.loss = "wasserstein"
    config.gradient_penalty = 10.0
    config.discriminator_steps = 5
    config.discriminator_normalization = "layer"
    config.epochs = 300
    config.optimizers = ml_collections.ConfigDict({
        name: optimizers_lib.optimizer_config("adam", 1e-4, beta_1=0.0,
                                              beta_2=0.9)
        for name in (base.GENERATOR, base.DISCRIMINATOR)})
    if variant == "tiny":
        gan_config.make_tiny(config)
    config.lock()
    return config


@registry.register("wgan_gp", family="adversarial",
                   get_config=get_config,
                   paper="Gulrajani et al. 2017 (gradient penalty)")
class WGANGP(base.GAN):
    """A Wasserstein GAN whose critic's gradient norm is penalized."""

    model_name = "wgan_gp"
