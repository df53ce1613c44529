"""The model zoo: one subpackage per family of generative models.

Importing ``zoo`` imports every family, whose modules register their models
with ``tfgen.registry`` under their ``--model`` names. Entry points import it
once; nothing in ``tfgen`` core or ``export`` imports it.
"""

from zoo import adversarial  # noqa: F401
from zoo import autoencoders  # noqa: F401
from zoo import autoregressive  # noqa: F401
from zoo import boltzmann  # noqa: F401
