"""Energy-based models: restricted and general Boltzmann machines, deep belief nets.

Importing this package registers its models. ``energy`` holds the energies,
free energies and TFP conditionals the models share.
"""
from zoo.boltzmann import boltzmann_machine  # noqa: F401
from zoo.boltzmann import rbm  # noqa: F401
from zoo.boltzmann import dbn  # noqa: F401
