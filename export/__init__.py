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

from export.publish import existing_versions
from export.publish import publish
from export.serving import MODELS_CONFIG
from export.serving import WARMUP_DIR
from export.serving import WARMUP_FILE
from export.serving import example_request
from export.serving import grpc_predict_request
from export.serving import rest_predict_body
from export.serving import write_models_config
from export.serving import write_warmup_requests
from export.signatures import SERVING_DEFAULT
from export.signatures import ServingModule
from export.signatures import build_serving_module
from export.signatures import default_capability
from export.signatures import save

__all__ = [
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
    "rest_predict_body",
    "save",
    "write_models_config",
    "write_warmup_requests",
]
