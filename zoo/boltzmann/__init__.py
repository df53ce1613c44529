"""Energy-based models: restricted and general Boltzmann machines, deep belief nets.

Importing this package registers its models, one per module: ``rbm``,
``gaussian_rbm``, ``boltzmann_machine`` and ``dbn``. ``energy`` holds the
energies, free energies, TFP conditionals and the contrastive-divergence
gradient the models share; ``partition`` their partition functions.
"""
from zoo.boltzmann import boltzmann_machine  # noqa: F401
from zoo.boltzmann import dbn  # noqa: F401
from zoo.boltzmann import gaussian_rbm  # noqa: F401
from zoo.boltzmann import rbm  # noqa: F401
