"""tfgen: a TensorFlow 2 / Keras 3 zoo of the classic generative models.

The core package holds what every model family shares: the registry of
models, configs and their command-line overrides, datasets, the single
training loop with its callbacks, evaluation and plots. It never imports the
model families (``zoo``) nor the export layer (``export``); entry points
(``tfgen.train``) import ``zoo`` once to fill the registry.
"""

import os as _os

# Keras 3 must run on TensorFlow: TF Serving loads TensorFlow SavedModels.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
