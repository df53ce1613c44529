"""Requests and configuration files for TensorFlow Serving.

- ``example_request``: a small valid request (batch 1) for one capability,
  built from the inputs the model declares for it.
- ``grpc_predict_request`` / ``rest_predict_body``: a gRPC
  ``PredictRequest`` and a REST ``:predict`` body in TF Serving's columnar
  ("inputs") format.
- ``write_warmup_requests``: ``assets.extra/tf_serving_warmup_requests``, the
  requests TF Serving replays when it loads a version, so the first client
  request does not pay for graph initialization.
- ``write_models_config``: ``<base_dir>/models.config``, a
  ``ModelServerConfig`` naming every model published under a base folder, for
  ``tensorflow_model_server --model_config_file``.

What a model can do is read from ``model.capabilities`` and
``model.capability_inputs`` only.
"""

import base64
import math
import os
import pathlib
import secrets

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from export import signatures

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MODELS_CONFIG = "models.config"

# Names of files being written; a leading dot keeps them out of every
# listing that TF Serving or write_models_config acts on.
_TEMPORARY_PREFIX = ".writing-"


def _temporary_sibling(path):
    return path.with_name(f"{_TEMPORARY_PREFIX}{path.name}-"
                          f"{secrets.token_hex(4)}")


def _example_value(name, capability_input):
    """Returns a batch-1 array for one input: zeros moved into its range."""
    spec = capability_input.spec
    # Only the batch dimension must be None; any other unknown size gets 1.
    shape = [1] + [1 if size is None else size for size in spec.shape[1:]]
    if spec.dtype == tf.string:
        return np.full(shape, b"", dtype=object)
    dtype = spec.dtype.as_numpy_dtype
    minimum, maximum = capability_input.minimum, capability_input.maximum
    if spec.dtype.is_integer:
        # The graph keeps exactly the integers inside a fractional range
        # (signatures._bound_in_dtype), so the bounds are rounded inward.
        minimum = None if minimum is None else math.ceil(minimum)
        maximum = None if maximum is None else math.floor(maximum)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ValueError(f"input {name!r} declares the empty range "
                         f"[{capability_input.minimum}, "
                         f"{capability_input.maximum}] for {spec.dtype.name}")
    value = 0
    if minimum is not None and value < minimum:
        value = minimum
    if maximum is not None and value > maximum:
        value = maximum
    return np.full(shape, value, dtype=dtype)


def example_request(model, capability):
    """Returns a small valid request for one capability of a model.

    Every input is a batch of one: zeros of the declared dtype and shape
    (1 for unknown sizes, empty bytes for strings), moved to the nearest
    value inside the declared ``[minimum, maximum]``, so an int64 seed is
    ``[0]``.

    Args:
        model: a model declaring ``capability`` (see
            ``export.build_serving_module``).
        capability: one of ``model.capabilities``.

    Returns:
        ``{input_name: np.ndarray}`` in the capability's input order.

    Raises:
        ValueError: the model does not declare the capability, its inputs
            cannot make a signature, or an input's range holds no value of
            its dtype.
    """
    if capability not in tuple(getattr(model, "capabilities", ()) or ()):
        raise ValueError(f"{type(model).__name__} has no capability "
                         f"{capability!r}")
    # The same checks the signatures get, so a request is never built for
    # inputs that could not be exported.
    inputs = signatures._validated_inputs(model, capability)
    return {name: _example_value(name, capability_input)
            for name, capability_input in inputs.items()}


def _check_request(signature_name, inputs):
    if not isinstance(signature_name, str) or not signature_name:
        raise ValueError(f"signature_name={signature_name!r} must be a "
                         f"non-empty string")
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(f"inputs must be a non-empty dict of arrays, got "
                         f"{inputs!r}")
    for name in inputs:
        if not isinstance(name, str) or not name:
            raise ValueError(f"input name {name!r} must be a non-empty string")


def grpc_predict_request(model_name, signature_name, inputs):
    """Builds the gRPC ``PredictRequest`` for one signature of a model.

    Args:
        model_name: the model's name on the server.
        signature_name: the signature to run (a capability, or
            ``serving_default``).
        inputs: ``{input_name: array}``; each array keeps its dtype.

    Returns:
        A ``tensorflow_serving.apis.predict_pb2.PredictRequest``.

    Raises:
        ValueError: a name is empty or ``inputs`` is empty.
    """
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"model_name={model_name!r} must be a non-empty "
                         f"string")
    _check_request(signature_name, inputs)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return request


def _json_values(name, value):
    """Returns an array as nested lists that JSON and TF Serving accept."""
    array = np.asarray(value)
    if array.dtype.kind in "biuf":
        return array.tolist()
    if array.dtype.kind in "SO":
        # TF Serving's REST API takes text as JSON strings and other bytes
        # base64-encoded in an object whose one key is "b64".
        def encode(item):
            if isinstance(item, str):
                return item
            if not isinstance(item, bytes):
                raise ValueError(f"input {name!r} holds {type(item).__name__},"
                                 f" which a REST request cannot carry")
            return {"b64": base64.b64encode(item).decode("ascii")}
        return np.vectorize(encode, otypes=[object])(array).tolist()
    if array.dtype.kind == "U":
        return array.tolist()
    raise ValueError(f"input {name!r} has dtype {array.dtype}, which a REST "
                     f"request cannot carry")


def rest_predict_body(signature_name, inputs):
    """Builds the JSON body of a REST ``:predict`` call, columnar format.

    POST it to ``/v1/models/<model_name>:predict``.

    Args:
        signature_name: the signature to run.
        inputs: ``{input_name: array}``.

    Returns:
        ``{"signature_name": ..., "inputs": {input_name: nested lists}}``,
        which ``json.dumps`` serializes; bytes become ``{"b64": ...}``.

    Raises:
        ValueError: a name is empty, ``inputs`` is empty, or an input has a
            dtype JSON cannot carry (complex numbers, say).
    """
    _check_request(signature_name, inputs)
    return {"signature_name": signature_name,
            "inputs": {name: _json_values(name, value)
                       for name, value in inputs.items()}}


def _signature_inputs(saved_model_dir):
    """Returns ``{signature_name: {input names}}`` of the serve graph.

    Raises:
        ValueError: the folder holds no SavedModel with a ``serve`` graph.
    """
    path = pathlib.Path(saved_model_dir) / "saved_model.pb"
    if not path.is_file():
        raise ValueError(f"{str(saved_model_dir)!r} holds no saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return {name: set(signature_def.inputs)
                    for name, signature_def in
                    meta_graph.signature_def.items()}
    raise ValueError(f"the SavedModel in {str(saved_model_dir)!r} has no "
                     f"graph tagged 'serve'")


def write_warmup_requests(saved_model_dir, model, model_name,
                          serving_default=None):
    """Writes the warmup requests TF Serving replays when it loads a version.

    One ``PredictionLog`` per signature, ``serving_default`` first and then
    each capability in declaration order, each holding the capability's
    ``example_request``, in the TFRecord file
    ``<saved_model_dir>/assets.extra/tf_serving_warmup_requests``. The file is
    written under a temporary name and renamed, so it is never seen half
    written.

    Args:
        saved_model_dir: a SavedModel of ``model`` (as written by
            ``export.save`` or inside ``export.publish``).
        model: the model it was exported from.
        model_name: the model's name on the server, put in each request.
        serving_default: the capability behind ``serving_default``, as given
            when the SavedModel was exported; by default the model's
            ``export.default_capability``.

    Returns:
        The ``pathlib.Path`` of the warmup file.

    Raises:
        ValueError: the folder is not a SavedModel whose signatures take the
            inputs the model declares, or as for ``example_request`` and
            ``grpc_predict_request``. Nothing is written then.
    """
    capabilities = tuple(getattr(model, "capabilities", ()) or ())
    if serving_default is None:
        serving_default = signatures.default_capability(capabilities)
    elif serving_default not in capabilities:
        raise ValueError(f"serving_default={serving_default!r} is not a "
                         f"capability of {type(model).__name__}")
    by_signature = {signatures.SERVING_DEFAULT: serving_default}
    by_signature.update((capability, capability) for capability in capabilities)

    saved_inputs = _signature_inputs(saved_model_dir)
    logs = []
    for signature_name, capability in by_signature.items():
        inputs = example_request(model, capability)
        if saved_inputs.get(signature_name) != set(inputs):
            raise ValueError(
                f"the SavedModel's signature {signature_name!r} takes "
                f"{sorted(saved_inputs.get(signature_name, ()))}, but "
                f"{type(model).__name__}.{capability} declares "
                f"{sorted(inputs)}; was it exported from this model?")
        log = prediction_log_pb2.PredictionLog()
        log.predict_log.request.CopyFrom(
            grpc_predict_request(model_name, signature_name, inputs))
        logs.append(log)

    folder = pathlib.Path(saved_model_dir) / WARMUP_DIR
    folder.mkdir(exist_ok=True)
    path = folder / WARMUP_FILE
    temporary = _temporary_sibling(path)
    try:
        with tf.io.TFRecordWriter(str(temporary)) as writer:
            for log in logs:
                writer.write(log.SerializeToString())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _has_version(folder):
    return any(entry.name.isdigit() and entry.is_dir()
               for entry in folder.iterdir())


def write_models_config(base_dir):
    """Writes ``<base_dir>/models.config`` naming every model published there.

    A model is a sub-folder of ``base_dir`` (not hidden) that holds at least
    one numeric version folder; each is listed under its folder name with its
    absolute ``base_path`` and ``model_platform: "tensorflow"``. The file is a
    ``ModelServerConfig`` text proto for ``tensorflow_model_server
    --model_config_file``, written under a temporary name and renamed, so a
    server re-reading it never sees it half written. It is rebuilt from the
    folders each time, so a later call repairs an earlier one that raced
    with another publisher.

    Args:
        base_dir: the folder holding ``<model_name>/<version>/`` trees.

    Returns:
        The ``pathlib.Path`` of ``models.config``.

    Raises:
        ValueError: ``base_dir`` is not an existing folder.
    """
    if not isinstance(base_dir, (str, os.PathLike)) or not str(base_dir):
        raise ValueError(f"base_dir={base_dir!r} must be a folder path")
    base_dir = pathlib.Path(base_dir).absolute()
    if not base_dir.is_dir():
        raise ValueError(f"base_dir {str(base_dir)!r} is not a folder")
    config = model_server_config_pb2.ModelServerConfig()
    # An empty list still says "serve nothing" rather than "no list".
    config.model_config_list.SetInParent()
    for folder in sorted(base_dir.iterdir()):
        if (folder.name.startswith(".") or not folder.is_dir()
                or not _has_version(folder)):
            continue
        model_config = config.model_config_list.config.add()
        model_config.name = folder.name
        model_config.base_path = str(folder)
        model_config.model_platform = "tensorflow"

    path = base_dir / MODELS_CONFIG
    temporary = _temporary_sibling(path)
    try:
        temporary.write_text(text_format.MessageToString(config),
                             encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
