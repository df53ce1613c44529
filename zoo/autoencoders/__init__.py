"""Autoencoding models: the variational autoencoder and its relatives.

Importing this package registers its models (``beta_vae``,
``contractive_ae``, ``cvae``, ``deep_ae``, ``denoising_ae``, ``iaf_vae``,
``linear_ae``, ``pca``, ``stacked_ae``, ``vae``) with ``tfgen.registry``.
"""

from zoo.autoencoders import beta_vae  # noqa: F401
from zoo.autoencoders import contractive_ae  # noqa: F401
from zoo.autoencoders import cvae  # noqa: F401
from zoo.autoencoders import deep_ae  # noqa: F401
from zoo.autoencoders import denoising_ae  # noqa: F401
from zoo.autoencoders import iaf_vae  # noqa: F401
from zoo.autoencoders import linear_ae  # noqa: F401
from zoo.autoencoders import pca  # noqa: F401
from zoo.autoencoders import stacked_ae  # noqa: F401
from zoo.autoencoders import vae  # noqa: F401
