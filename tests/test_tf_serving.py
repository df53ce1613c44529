"""A real TensorFlow Serving instance serves the export, over REST and gRPC.

The server is configured by the ``models.config`` that ``export.publish``
writes, loads the version's warmup requests, and is sent requests built by
``export.grpc_predict_request`` and ``export.rest_predict_body``.

Runs where ``tensorflow_model_server`` is on PATH (it cannot be installed on
every machine; elsewhere the fresh-process ``saved_model_cli`` tests of the
conformance suite stand in for it, through the same SavedModel loader). The
server listens on loopback only and is stopped at the end of the test.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import tfgen  # noqa: F401
from tfgen import registry
from tfgen import training
from tfgen.data import DataInfo
import export
import zoo  # noqa: F401

SERVER = shutil.which("tensorflow_model_server")
pytestmark = pytest.mark.skipif(
    SERVER is None,
    reason="tensorflow_model_server is not on PATH; the conformance suite's "
           "saved_model_cli tests use the same loader")

STARTUP_SECONDS = 120


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_available(rest_port, server):
    deadline = time.time() + STARTUP_SECONDS
    url = f"http://127.0.0.1:{rest_port}/v1/models/vae"
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"tensorflow_model_server exited with "
                               f"status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status = json.load(response)["model_version_status"]
            if any(entry["state"] == "AVAILABLE" for entry in status):
                return
        except (urllib.error.URLError, ConnectionError, KeyError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"model not AVAILABLE after {STARTUP_SECONDS} s")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(model, rest_port, grpc_port): the tiny VAE behind a live server."""
    spec = registry.get("vae")
    info = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                    num_classes=10)
    model = training.build_model(spec, spec.get_config("tiny"), info)
    base = tmp_path_factory.mktemp("serving")
    export.publish(model, base, "vae")
    rest_port, grpc_port = _free_port(), _free_port()
    server = subprocess.Popen(
        [SERVER, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
         f"--model_config_file={base / export.MODELS_CONFIG}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_available(rest_port, server)
        yield model, rest_port, grpc_port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_rest_predict_matches_in_memory_sample(served):
    model, rest_port, _ = served
    seeds = np.array([1, 2, 3], np.int64)
    body = json.dumps(export.rest_predict_body(
        "serving_default", {"seed": seeds})).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{rest_port}/v1/models/vae:predict", data=body,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        outputs = json.load(response)["outputs"]
    images = np.asarray(outputs["images"] if isinstance(outputs, dict)
                        else outputs, np.float32)
    expected = model.sample(seed=tf.constant(seeds))["images"]
    np.testing.assert_allclose(images, expected, rtol=1e-5, atol=1e-5)


def test_grpc_predict_matches_in_memory_encode(served):
    grpc = pytest.importorskip("grpc")
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    model, _, grpc_port = served
    images = (np.random.default_rng(0).random((2, 8, 8, 1)) < 0.5).astype(
        np.float32)
    request = export.grpc_predict_request("vae", "encode", {"images": images})
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=30)
    codes = tf.make_ndarray(response.outputs["codes"])
    np.testing.assert_allclose(codes, model.encode(images=images)["codes"],
                               rtol=1e-5, atol=1e-5)
