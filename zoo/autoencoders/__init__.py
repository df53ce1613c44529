"""Autoencoding models: the variational autoencoder and its relatives.

Importing this package registers its models (``vae``) with ``tfgen.registry``.
"""

from zoo.autoencoders import vae  # noqa: F401
