"""Adversarial models: generative adversarial networks and their refinements.

Importing this package registers its models (``cgan``, ``dcgan``, ``gan``,
``lsgan``, ``unrolled_gan``, ``wgan``, ``wgan_gp``) with ``tfgen.registry``.
The losses (``losses``), the refinements' layers (``layers``) and the two
architectures (``networks``) are shared by all of them through the family's
base model (``base.GAN``).
"""

from zoo.adversarial import cgan  # noqa: F401
from zoo.adversarial import dcgan  # noqa: F401
from zoo.adversarial import gan  # noqa: F401
from zoo.adversarial import lsgan  # noqa: F401
from zoo.adversarial import unrolled_gan  # noqa: F401
from zoo.adversarial import wgan  # noqa: F401
from zoo.adversarial import wgan_gp  # noqa: F401
