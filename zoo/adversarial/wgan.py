"""Wasserstein GAN with weight clipping.

Arjovsky, Chintala & Bottou (2017), "Wasserstein GAN": a critic f, kept
K-Lipschitz by clipping each of its weights to [-c, c] after every update,
estimates the earth mover's distance between the data and the model,

    W(p_data, p_model) ~ max_f  E_data[f(x)] - E_z[f(G(z))],

and the generator minimizes -E_z[f(G(z))]. The paper's Algorithm 1: c =
0.01, n_critic = 5 critic updates per generator update, RMSProp
(momentum-based optimizers made the critic unstable) with learning rate
5e-5; 5e-4 here, for a budget of a few minutes (``get_config``).
The critic's output is a score, not a probability; the DCGAN's
convolutional players, as in the paper.
"""

import ml_collections

from tfgen import config as config_lib
from tfgen import optimizers as optimizers_lib
from tfgen import registry
from zoo.adversarial import base
from zoo.adversarial import gan_config
from zoo.adversarial import dcgan


def get_config(variant=None):
    """Returns the WGAN's locked config.

    ``python -m tfgen.train --model=wgan`` trains on ``digits`` for 300
    epochs (1,200 generator steps: the critic takes five per step), about
    5 minutes on 2 shared CPU cores. The learning rate is ten times the
    paper's 5e-5, which is meant for 100,000 generator steps: at this
    budget 5e-5 leaves gray blobs (Fréchet distance 655, against 61 at
    5e-4; ``tfgen.frechet``).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("wgan", variant)
    config = dcgan.dcgan_config()
    config.loss = "wasserstein"
    config.weight_clip = 0.01
    config.discriminator_steps = 5
    config.epochs = 300
    config.optimizers = ml_collections.ConfigDict({
        name: optimizers_lib.optimizer_config("rmsprop", 5e-4)
        for name in (base.GENERATOR, base.DISCRIMINATOR)})
    if variant == "tiny":
        gan_config.make_tiny(config)
    config.lock()
    return config


@registry.register("wgan", family="adversarial",
                   get_config=get_config,
                   paper="Arjovsky, Chintala & Bottou 2017 (weight clipping)")
class WGAN(base.GAN):
    """A Wasserstein GAN whose critic's weights are clipped."""

    model_name = "wgan"
