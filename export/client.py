"""Command line: ready requests for a served export, REST and gRPC.

    python -m export.client --export_dir=runs/vae/export/vae/1
    python -m export.client --export_dir=runs/vae/export/vae/1 \\
        --signature=decode --host=serving.example --rest_port=8501

For each signature of the SavedModel (or the one ``--signature`` names)
prints a ``curl`` line that POSTs a valid request to TF Serving's REST API
(``/v1/models/<model>/versions/<version>:predict``) and the gRPC
``PredictRequest`` for ``PredictionService/Predict`` as a text proto, the
model's name and version taken from the path
(``<export_base>/<model>/<version>``). The requests are those of the
export's warmup file (``assets.extra/tf_serving_warmup_requests``, which
``export.publish`` writes: requests the model accepts); an export without
one gets a request built from the signature's declared inputs, one example
of zeros (unknown sizes taken as 1).

Works for any SavedModel version folder, without this project's models:
only the files are read. Bad input prints one line on stderr and exits
with status 2.
"""

import json
import pathlib
import shlex

from absl import app
from absl import flags

from tfgen import cli
from tfgen import errors

FLAGS = flags.FLAGS

cli.define_shared_flag(flags.DEFINE_string, "export_dir", None,
                       "An exported version, "
                       "<export_base>/<model>/<version>.")
flags.DEFINE_string("signature", None,
                    "Only this signature (default: every one).")
flags.DEFINE_string("host", "localhost", "The server's host name.")
flags.DEFINE_integer("rest_port", 8501, "TF Serving's REST port.",
                     lower_bound=1, upper_bound=65535)
flags.DEFINE_integer("grpc_port", 8500, "TF Serving's gRPC port.",
                     lower_bound=1, upper_bound=65535)


def _signature_defs(export_dir):
    """``{name: SignatureDef}`` of the export's ``serve`` graph."""
    from google.protobuf import message
    from tensorflow.core.protobuf import saved_model_pb2

    path = export_dir / "saved_model.pb"
    if not path.is_file():
        raise errors.UsageError(f"--export_dir={export_dir} holds no "
                                "SavedModel (saved_model.pb)")
    try:
        proto = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    except message.DecodeError as error:
        raise errors.UsageError(f"{path} cannot be read: {error}") from None
    for meta_graph in proto.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            # Not "__saved_model_init_op": the loader runs it, no client.
            return {name: signature_def for name, signature_def in
                    meta_graph.signature_def.items()
                    if not name.startswith("__")}
    raise errors.UsageError(f"{path} has no graph tagged 'serve'")


def _warmup_inputs(export_dir):
    """``{signature: {input: TensorProto}}`` of the export's warmup file."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from export import serving

    path = export_dir / serving.WARMUP_DIR / serving.WARMUP_FILE
    if not path.is_file():
        return {}
    found = {}
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        request = prediction_log_pb2.PredictionLog.FromString(
            record).predict_log.request
        found.setdefault(request.model_spec.signature_name or
                         "serving_default", dict(request.inputs))
    return found


def _declared_inputs(signature_def):
    """``{input: TensorProto}``: zeros of each declared input, batch 1."""
    import numpy as np
    import tensorflow as tf

    inputs = {}
    for name, tensor_info in signature_def.inputs.items():
        dtype = tf.dtypes.as_dtype(tensor_info.dtype)
        shape = [1 if dim.size < 0 else dim.size
                 for dim in tensor_info.tensor_shape.dim]
        value = (np.full(shape, b"", object) if dtype == tf.string
                 else np.zeros(shape, dtype.as_numpy_dtype))
        inputs[name] = tf.make_tensor_proto(value, dtype=dtype)
    return inputs


def requests(export_dir, *, signature=None, host="localhost",
             rest_port=8501, grpc_port=8500):
    """The requests for an export, one per signature.

    Returns:
        A list of ``{"signature", "curl", "url", "rest_body", "grpc",
        "grpc_target", "source"}`` dicts: the ``curl`` command line, the
        REST URL and JSON body, the gRPC ``PredictRequest`` (a proto),
        where to send it, and ``"warmup"`` or ``"signature"`` (what the
        request was built from).

    Raises:
        UsageError: the folder is not a version folder, holds no
            SavedModel, or has no such signature.
    """
    import tensorflow as tf

    from export import serving

    export_dir = pathlib.Path(export_dir)
    if not export_dir.is_dir():
        raise errors.UsageError(f"--export_dir={export_dir} is not a folder")
    if not export_dir.name.isdigit():
        raise errors.UsageError(
            f"--export_dir={export_dir} is not a version folder: the path "
            "ends <model>/<version>, the version a number")
    model_name, version = export_dir.parent.name, int(export_dir.name)
    defs = _signature_defs(export_dir)
    if signature is not None and signature not in defs:
        raise errors.UsageError(
            f"--signature={signature}: the export's signatures are "
            f"{', '.join(sorted(defs))}")
    warmup = _warmup_inputs(export_dir)
    found = []
    for name in sorted(defs) if signature is None else [signature]:
        source = "warmup" if name in warmup else "signature"
        inputs = warmup.get(name) or _declared_inputs(defs[name])
        arrays = {key: tf.make_ndarray(value) for key, value in inputs.items()}
        body = serving.rest_predict_body(name, arrays)
        url = (f"http://{host}:{rest_port}/v1/models/{model_name}/versions/"
               f"{version}:predict")
        grpc = serving.grpc_predict_request(model_name, name, arrays)
        grpc.model_spec.version.value = version
        found.append({
            "signature": name, "source": source, "url": url,
            "rest_body": body,
            "curl": (f"curl -X POST {shlex.quote(url)} -d "
                     + shlex.quote(json.dumps(body, separators=(",", ":")))),
            "grpc": grpc, "grpc_target": f"{host}:{grpc_port}",
        })
    return found


def main(argv):
    del argv  # Checked by cli.parse_flags.
    try:
        with cli.native_stderr_held():
            cli.refuse_config_overrides(
                "export.client", "it reads the export's files alone")
            if not FLAGS.export_dir:
                raise errors.UsageError("--export_dir is required")
            found = requests(FLAGS.export_dir, signature=FLAGS.signature,
                             host=FLAGS.host, rest_port=FLAGS.rest_port,
                             grpc_port=FLAGS.grpc_port)
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    for request in found:
        what = ("the export's warmup request" if request["source"] == "warmup"
                else "zeros of the signature's declared inputs")
        print(f"# {request['signature']} ({what})")
        print("# REST:")
        print(request["curl"])
        print(f"# gRPC: tensorflow.serving.PredictionService/Predict at "
              f"{request['grpc_target']}, this PredictRequest:")
        print(str(request["grpc"]).rstrip())
        print()


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
