"""Export: SavedModels that TensorFlow Serving serves and programs reuse.

The export layer reads what a model can do from its declared capabilities
(``model.capabilities`` and ``model.capability_inputs``), never from its
class, and imports only the tfgen core.

- ``build_serving_module`` / ``save``: one signature per capability, a
  ``serving_default``, and the TF-Hub attributes (``__call__``,
  ``variables``, ``trainable_variables``, ``regularization_losses``).
- ``publish``: a new version under a TF Serving model base path, written
  to a hidden folder and renamed into place.
"""

from export.publish import existing_versions
from export.publish import publish
from export.signatures import SERVING_DEFAULT
from export.signatures import ServingModule
from export.signatures import build_serving_module
from export.signatures import default_capability
from export.signatures import save

__all__ = [
    "SERVING_DEFAULT",
    "ServingModule",
    "build_serving_module",
    "default_capability",
    "existing_versions",
    "publish",
    "save",
]
