"""The generative adversarial network with fully connected players.

Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville &
Bengio (2014), "Generative Adversarial Nets": a generator G and a
discriminator D, both multilayer perceptrons, play

    min_G max_D  E_data[log D(x)] + E_z[log(1 - D(G(z)))].

D ascends its objective; G, following the paper's own advice (section 3),
maximizes log D(G(z)) instead of minimizing log(1 - D(G(z))): the same
fixed point, but gradients that do not vanish early in training, when D
rejects G's samples with confidence (``--config.loss=minimax`` trains the
saturating game as written). The base class (``zoo.adversarial.base``)
holds the training step, the losses' choice and the refinements.
"""

from tfgen import config as config_lib
from tfgen import registry
from zoo.adversarial import base
from zoo.adversarial import gan_config


def get_config(variant=None):
    """Returns the MLP GAN's locked config.

    ``python -m tfgen.train --model=gan`` trains on ``digits`` (pixels in
    [-1, 1]) for 100 epochs (2,000 steps of each player) in about a minute
    on 2 CPU cores. For points in the plane: ``--dataset=ring8
    --config.preprocessing=identity``.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("gan", variant)
    config = gan_config.common_config()
    if variant == "tiny":
        gan_config.make_tiny(config)
    config.lock()
    return config


@registry.register("gan", family="adversarial",
                   get_config=get_config,
                   paper=("Goodfellow et al. 2014 (MLP players, "
                          "non-saturating generator loss)"))
class MLPGAN(base.GAN):
    """A GAN whose players are multilayer perceptrons (the paper's)."""

    model_name = "gan"
