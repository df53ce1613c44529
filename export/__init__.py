"""Export: SavedModels that TensorFlow Serving serves and programs reuse.

The export layer reads what a model can do from its declared capabilities
(``model.capabilities`` and ``model.capability_inputs``), never from its
class, and imports only the tfgen core.

- ``build_serving_module`` / ``save``: one signature per capability, a
  ``serving_default``, and the TF-Hub attributes (``__call__``,
  ``variables``, ``trainable_variables``, ``regularization_losses``).
- ``publish``: a new version under a TF Serving model base path, written
  to a hidden folder and renamed into place, with its warmup requests, and
  the base folder's ``models.config`` refreshed.
- ``example_request``, ``grpc_predict_request``, ``rest_predict_body``:
  requests for a served model; ``write_warmup_requests`` and
  ``write_models_config``: the files TF Serving reads besides the SavedModel.
"""

import sys as _sys

# tfgen first: it sets Keras's backend and TensorFlow's log level, which
# must precede TensorFlow's import.
from tfgen import cli as _cli

if "tensorflow" not in _sys.modules:
    # This package is imported before the code of ``python -m export`` and
    # ``python -m export.client`` runs: TensorFlow's start-up lines are held
    # here, as the tfgen commands hold them, so that a bad request's error
    # is the one line on stderr.
    with _cli.native_stderr_held():
        import tensorflow  # noqa: F401

from export.publish import ExportError  # noqa: E402
from export.publish import existing_versions  # noqa: E402
from export.publish import publish  # noqa: E402
from export.publish import publish_trained  # noqa: E402
from export.publish import remove_abandoned  # noqa: E402
from export.serving import MODELS_CONFIG  # noqa: E402
from export.serving import WARMUP_DIR  # noqa: E402
from export.serving import WARMUP_FILE  # noqa: E402
from export.serving import example_request  # noqa: E402
from export.serving import grpc_predict_request  # noqa: E402
from export.serving import rest_predict_body  # noqa: E402
from export.serving import write_models_config  # noqa: E402
from export.serving import write_warmup_requests  # noqa: E402
from export.signatures import SERVING_DEFAULT  # noqa: E402
from export.signatures import ServingModule  # noqa: E402
from export.signatures import build_serving_module  # noqa: E402
from export.signatures import default_capability  # noqa: E402
from export.signatures import save  # noqa: E402

__all__ = [
    "ExportError",
    "MODELS_CONFIG",
    "SERVING_DEFAULT",
    "ServingModule",
    "WARMUP_DIR",
    "WARMUP_FILE",
    "build_serving_module",
    "default_capability",
    "example_request",
    "existing_versions",
    "grpc_predict_request",
    "publish",
    "publish_trained",
    "remove_abandoned",
    "rest_predict_body",
    "save",
    "write_models_config",
    "write_warmup_requests",
]
