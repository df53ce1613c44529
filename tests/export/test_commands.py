"""``python -m export`` publishes a trained run again; ``export.client``
prints requests that the export answers.

A tiny VAE is trained once (its export is version 1). Re-exporting its
workdir gives version 2, which answers every request exactly as version 1
does; the client's REST body and gRPC request, read back from what it
prints, run through the SavedModel's signatures and give the same outputs.
"""

import json
import pathlib
import shlex
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2

import export
from export import client
from tfgen import errors
from tfgen import evaluate
from tfgen import train

REPO = pathlib.Path(__file__).resolve().parents[2]


def _command(*args, cwd):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    workdir = tmp_path_factory.mktemp("run")
    results = train.run("vae", variant="tiny", workdir=workdir,
                        data_dir=data_dir, verbose=0)
    return workdir, pathlib.Path(results["export"])


def _call(saved_model, signature, inputs):
    function = saved_model.signatures[signature]
    specs = function.structured_input_signature[1]
    outputs = function(**{name: tf.constant(value, dtype=specs[name].dtype)
                          for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def test_a_run_exported_again_answers_as_its_first_export(trained,
                                                          tmp_path):
    workdir, first = trained
    completed = _command("export", f"--workdir={workdir}", cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-3000:]
    second = first.parent / "2"
    assert completed.stdout.strip().splitlines()[-1] == f"SavedModel: {second}"
    assert export.existing_versions(first.parent) == [1, 2]
    assert (second / "assets.extra" / "tfgen_model.json").is_file()
    old, new = (tf.saved_model.load(str(path)) for path in (first, second))
    assert sorted(old.signatures) == sorted(new.signatures)
    # Every signature, on the requests its warmup file holds.
    for request in client.requests(first):
        inputs = {name: np.asarray(value) for name, value in
                  request["rest_body"]["inputs"].items()}
        expected = _call(old, request["signature"], inputs)
        for name, value in _call(new, request["signature"], inputs).items():
            np.testing.assert_array_equal(value, expected[name])

    # Elsewhere, by --export_base.
    elsewhere = tmp_path / "serving"
    completed = _command("export", f"--workdir={workdir}",
                         f"--export_base={elsewhere}", cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert export.existing_versions(elsewhere / "vae") == [1]
    assert (elsewhere / export.MODELS_CONFIG).is_file()


def _printed_requests(stdout):
    """``{signature: (url, REST body, PredictRequest)}`` from the output."""
    found, lines = {}, stdout.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("curl "):
            continue
        words = shlex.split(line)
        url, body = words[3], json.loads(words[words.index("-d") + 1])
        proto_lines = []
        for proto_line in lines[index + 2:]:
            if not proto_line.strip():
                break
            proto_lines.append(proto_line)
        request = text_format.Parse("\n".join(proto_lines),
                                    predict_pb2.PredictRequest())
        found[body["signature_name"]] = (url, body, request)
    return found


def test_the_client_prints_requests_the_export_answers(trained):
    _, first = trained
    completed = _command("export.client", f"--export_dir={first}",
                         "--host=serving.example", "--rest_port=9001",
                         cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-3000:]
    printed = _printed_requests(completed.stdout)
    saved_model = tf.saved_model.load(str(first))
    assert sorted(printed) == sorted(saved_model.signatures)
    for signature, (url, body, request) in printed.items():
        assert url == ("http://serving.example:9001/v1/models/vae/versions/"
                       "1:predict")
        assert request.model_spec.name == "vae"
        assert request.model_spec.version.value == 1
        assert request.model_spec.signature_name == signature
        rest = {name: np.asarray(value)
                for name, value in body["inputs"].items()}
        grpc = {name: tf.make_ndarray(value)
                for name, value in request.inputs.items()}
        assert sorted(rest) == sorted(grpc)
        from_rest = _call(saved_model, signature, rest)
        from_grpc = _call(saved_model, signature, grpc)
        assert from_rest
        for name, value in from_grpc.items():
            assert np.all(np.isfinite(value)), (signature, name)
            np.testing.assert_allclose(value, from_rest[name], rtol=1e-6)


def test_an_export_without_warmup_gets_requests_from_its_signatures(
        trained, tmp_path):
    workdir, _ = trained
    prepared = evaluate.prepare_workdir(workdir)
    version = export.publish(prepared.model, tmp_path, "vae", warmup=False)
    found = client.requests(version, signature="sample")
    (request,) = found
    assert request["source"] == "signature"
    assert request["rest_body"] == {"signature_name": "sample",
                                    "inputs": {"seed": [0]}}
    saved_model = tf.saved_model.load(str(version))
    outputs = _call(saved_model, "sample", {"seed": np.zeros(1, np.int64)})
    assert outputs["images"].shape[0] == 1


@pytest.mark.parametrize("module, args, words", [
    ("export.client", ["--export_dir=absent"], "is not a folder"),
    ("export.client", [], "--export_dir is required"),
    ("export", [], "--workdir is required"),
    ("export", ["--workdir=absent"], "does not exist"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, module, args, words):
    completed = _command(module, *args, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr[-2000:]
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], lines


def test_the_client_names_the_signatures_of_an_unknown_one(trained):
    _, first = trained
    with pytest.raises(errors.UsageError) as raised:
        client.requests(first, signature="nope")
    assert "--signature=nope: the export's signatures are " in str(
        raised.value)
    with pytest.raises(errors.UsageError, match="is not a version folder"):
        client.requests(first.parent)
