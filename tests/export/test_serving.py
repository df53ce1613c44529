"""Tests of export.serving: requests, warmup records and models.config.

The model under test is a toy ``GenerativeModel`` defined here (the export
layer must not depend on the zoo). Its ``decode`` input only accepts values
in [0.5, 3.0], so a warmup request of plain zeros would be rejected by the
served graph: the fresh-process test below fails unless requests respect
the declared ranges.
"""

import base64
import json
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

import export
from tfgen import config as config_lib
from tfgen.data import info
from tfgen.model import CapabilityInput
from tfgen.model import GenerativeModel

import serving_helpers

LATENT_DIM = 2
IMAGE_SHAPE = (3, 3, 1)
CODE_RANGE = (0.5, 3.0)  # Excludes zero on purpose.
SIGNATURES = ("serving_default", "encode", "decode", "sample")


class ToyModel(GenerativeModel):
    """A tiny autoencoder; ``sample`` is declared last, ``serving_default``."""

    capabilities = ("encode", "decode", "sample")

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.code_size = LATENT_DIM
        self.encoder = keras.Sequential(
            [keras.Input((data_info.num_pixels,)),
             keras.layers.Dense(LATENT_DIM)])
        self.decoder = keras.Sequential(
            [keras.Input((LATENT_DIM,)),
             keras.layers.Dense(data_info.num_pixels, activation="sigmoid")])
        self.built = True

    def capability_inputs(self, capability):
        inputs = super().capability_inputs(capability)
        if capability == "decode":
            # The base's codes input, narrowed to a range without zero.
            inputs["codes"] = CapabilityInput(inputs["codes"].spec,
                                              *CODE_RANGE)
        return inputs

    def _encode(self, images):
        flat = tf.reshape(images, [-1, self.data_info.num_pixels])  # (B, H*W*C)
        return {"codes": self.encoder(flat)}  # (B, latent_dim)

    def _decode(self, codes):
        probabilities = self.decoder(codes)  # (B, H*W*C)
        return {"images": tf.reshape(probabilities,
                                     (-1,) + self.data_info.image_shape)}

    def _sample(self, seed):
        codes = self.stream("sample").uniform_rows(seed, [LATENT_DIM])
        return self._decode(codes=codes + CODE_RANGE[0])


class IntegerRanges(ToyModel):
    """Declares integer inputs whose bounds are fractional or empty."""

    capabilities = ("encode", "classify")

    def capability_inputs(self, capability):
        if capability == "classify":
            return {
                "above": CapabilityInput(tf.TensorSpec([None, 2], tf.int32),
                                         1.5, None),
                "below": CapabilityInput(tf.TensorSpec([None], tf.int64),
                                         None, -2.5),
                "inside": CapabilityInput(
                    tf.TensorSpec([None, None], tf.int32), -3, 4),
                "words": CapabilityInput(tf.TensorSpec([None], tf.string)),
            }
        if capability == "encode":
            return {"images": CapabilityInput(
                tf.TensorSpec([None, 2], tf.int32), 0.2, 0.8)}
        return super().capability_inputs(capability)

    def _classify(self, **inputs):
        raise NotImplementedError("only its requests are built")


def make_model(model_class=ToyModel):
    config = config_lib.base_config()
    config.preprocessing = "unit"
    data_info = info.DataInfo(name="toy", event_shape=IMAGE_SHAPE,
                              num_levels=2, num_classes=2)
    return model_class(config, data_info)


def entries(folder):
    """Names in ``folder``, or None if it does not exist."""
    return sorted(os.listdir(folder)) if folder.exists() else None


def read_warmup(version_dir):
    path = version_dir / "assets.extra" / "tf_serving_warmup_requests"
    logs = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs


def serve_signatures(version_dir):
    """``{signature_name: SignatureDef}`` a client can call in a SavedModel."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(
        (version_dir / "saved_model.pb").read_bytes())
    (meta_graph,) = [graph for graph in saved_model.meta_graphs
                     if "serve" in graph.meta_info_def.tags]
    # __saved_model_init_op initializes tables when loading; nobody calls it.
    return {name: signature
            for name, signature in meta_graph.signature_def.items()
            if not name.startswith("__")}


def read_models_config(base_dir):
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((base_dir / "models.config").read_text(), config)
    return config


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.fixture(scope="module")
def published(model, tmp_path_factory):
    return export.publish(model, tmp_path_factory.mktemp("base"), "toy")


def test_warmup_holds_one_predict_log_per_signature(published):
    logs = read_warmup(published)
    saved = serve_signatures(published)
    names = [log.predict_log.request.model_spec.signature_name
             for log in logs]
    assert names[0] == "serving_default"
    assert sorted(names) == sorted(saved) == sorted(SIGNATURES)
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.name == "toy"
        signature = saved[request.model_spec.signature_name]
        assert set(request.inputs) == set(signature.inputs), names
        for input_name, tensor in request.inputs.items():
            expected = signature.inputs[input_name]
            assert tensor.dtype == expected.dtype, input_name
            dims = [dim.size for dim in tensor.tensor_shape.dim]
            declared = [dim.size for dim in expected.tensor_shape.dim]
            assert len(dims) == len(declared) and dims[0] == 1, input_name
            assert all(want in (-1, got)
                       for got, want in zip(dims[1:], declared[1:]))


def test_warmup_requests_run_in_a_fresh_process(model, published):
    requests = {
        log.predict_log.request.model_spec.signature_name: {
            name: tf.make_ndarray(tensor)
            for name, tensor in log.predict_log.request.inputs.items()}
        for log in read_warmup(published)}
    served = serving_helpers.run_all_signatures_fresh(published, requests)
    assert set(served) == set(SIGNATURES)
    # The served default is the in-memory sample of the same seed.
    np.testing.assert_allclose(
        served["serving_default"]["images"],
        model.sample(seed=tf.constant(requests["serving_default"]["seed"])
                     )["images"].numpy(), rtol=1e-5, atol=1e-6)


def test_serving_default_override_reaches_the_warmup(model, tmp_path):
    published = export.publish(model, tmp_path, "toy",
                               serving_default="encode", models_config=False)
    (default_log,) = [log for log in read_warmup(published)
                      if log.predict_log.request.model_spec.signature_name
                      == "serving_default"]
    assert set(default_log.predict_log.request.inputs) == {"images"}


def test_example_request_is_batch_one_inside_the_declared_range(model):
    assert export.example_request(model, "sample") == {
        "seed": np.zeros(1, np.int64)}
    (seed,) = export.example_request(model, "sample").values()
    assert seed.dtype == np.int64
    images = export.example_request(model, "encode")["images"]
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images, np.zeros((1,) + IMAGE_SHAPE))
    codes = export.example_request(model, "decode")["codes"]
    assert codes.dtype == np.float32
    np.testing.assert_array_equal(codes, np.full((1, LATENT_DIM), 0.5))


def test_example_request_rounds_integer_bounds_inward():
    model = make_model(IntegerRanges)
    request = export.example_request(model, "classify")
    assert list(request) == ["above", "below", "inside", "words"]
    np.testing.assert_array_equal(request["above"], [[2, 2]])
    assert request["above"].dtype == np.int32
    np.testing.assert_array_equal(request["below"], [-3])
    assert request["below"].dtype == np.int64
    np.testing.assert_array_equal(request["inside"], [[0]])
    assert request["words"].tolist() == [b""]
    with pytest.raises(ValueError, match="empty range"):
        export.example_request(model, "encode")
    with pytest.raises(ValueError, match="sample"):
        export.example_request(model, "sample")


def test_models_config_lists_exactly_the_published_models(model, tmp_path,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = pathlib.Path("base")  # Relative: the config must not be.
    (base / "unpublished" / "latest").mkdir(parents=True)
    (base / ".hidden" / "1").mkdir(parents=True)
    (base / "notes").write_text("not a model")
    export.publish(model, base, "first", warmup=False)
    config = read_models_config(base)
    assert [(entry.name, entry.base_path, entry.model_platform)
            for entry in config.model_config_list.config] == [
                ("first", str(tmp_path / "base" / "first"), "tensorflow")]

    export.publish(model, base, "second", warmup=False)
    export.publish(model, base, "first", warmup=False)  # Version 2.
    config = read_models_config(base)
    assert {entry.name: entry.base_path
            for entry in config.model_config_list.config} == {
                "first": str(tmp_path / "base" / "first"),
                "second": str(tmp_path / "base" / "second")}
    for entry in config.model_config_list.config:
        assert pathlib.Path(entry.base_path).is_absolute()
        assert export.existing_versions(entry.base_path)
    # Only finished files: the temporary one was renamed over models.config.
    assert sorted(entries(base)) == [".hidden", "first", "models.config",
                                     "notes", "second", "unpublished"]


def test_models_config_of_an_empty_base_serves_nothing(tmp_path):
    path = export.write_models_config(tmp_path)
    assert path == tmp_path / "models.config"
    config = read_models_config(tmp_path)
    assert config.HasField("model_config_list")
    assert len(config.model_config_list.config) == 0
    with pytest.raises(ValueError, match="not a folder"):
        export.write_models_config(tmp_path / "missing")


def test_publish_can_skip_warmup_and_models_config(model, tmp_path):
    published = export.publish(model, tmp_path, "toy", warmup=False,
                               models_config=False)
    assert not (published / "assets.extra").exists()
    assert entries(tmp_path) == ["toy"]


class HalfWriter:
    """A TFRecord writer that writes one record, then fails."""

    real_writer = tf.io.TFRecordWriter

    def __init__(self, path):
        self._writer = self.real_writer(path)
        self._written = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._writer.close()

    def write(self, record):
        if self._written:
            raise OSError("disk full while writing warmup requests")
        self._writer.write(record)
        self._written += 1


def test_failed_warmup_leaves_no_version_behind(model, tmp_path,
                                                monkeypatch):
    export.publish(model, tmp_path / "base", "kept", warmup=False)
    config_before = (tmp_path / "base" / "models.config").read_text()
    monkeypatch.setattr(tf.io, "TFRecordWriter", HalfWriter)
    with pytest.raises(OSError, match="warmup"):
        export.publish(model, tmp_path / "base", "kept")
    with pytest.raises(OSError, match="warmup"):
        export.publish(model, tmp_path / "base", "toy")
    assert entries(tmp_path / "base") == ["kept", "models.config"]
    assert entries(tmp_path / "base" / "kept") == ["1"]
    assert not (tmp_path / "base" / "kept" / "1" / "assets.extra").exists()
    assert (tmp_path / "base" / "models.config").read_text() == config_before


def test_warmup_refuses_signatures_it_does_not_match(model, tmp_path):
    saved = tmp_path / "saved"
    export.save(model, saved)
    warmup = export.write_warmup_requests(saved, model, "toy")
    assert warmup == saved / "assets.extra" / "tf_serving_warmup_requests"
    written = warmup.read_bytes()
    # The SavedModel's serving_default is sample, which takes no images.
    with pytest.raises(ValueError, match="serving_default"):
        export.write_warmup_requests(saved, model, "toy",
                                     serving_default="encode")
    assert warmup.read_bytes() == written
    assert entries(warmup.parent) == ["tf_serving_warmup_requests"]
    with pytest.raises(ValueError, match="saved_model.pb"):
        export.write_warmup_requests(tmp_path, model, "toy")


def test_grpc_predict_request_round_trips_tensors():
    generator = np.random.default_rng(0)
    inputs = {
        "images": generator.random((2, 3, 3, 1)).astype(np.float32),
        "seed": np.array([0, -5, 2**40], np.int64),
        "levels": generator.integers(0, 255, (2, 4)).astype(np.uint8),
        "mask": generator.random((3,)) > 0.5,
        "words": np.array([b"a", b"\x00\xff"], dtype=object),
    }
    request = export.grpc_predict_request("toy", "encode", inputs)
    assert request.model_spec.name == "toy"
    assert request.model_spec.signature_name == "encode"
    assert set(request.inputs) == set(inputs)
    for name, value in inputs.items():
        decoded = tf.make_ndarray(request.inputs[name])
        assert decoded.dtype == value.dtype, name
        np.testing.assert_array_equal(decoded, value, err_msg=name)
    with pytest.raises(ValueError, match="model_name"):
        export.grpc_predict_request("", "encode", inputs)
    with pytest.raises(ValueError, match="inputs"):
        export.grpc_predict_request("toy", "encode", {})


def test_rest_predict_body_is_json_holding_the_values():
    generator = np.random.default_rng(1)
    images = generator.random((2, 3, 3, 1)).astype(np.float32)
    seeds = np.array([3, 2**40], np.int64)
    body = json.loads(json.dumps(export.rest_predict_body(
        "serving_default",
        {"images": images, "seed": seeds,
         "words": np.array([b"\x00\xff", "text"], dtype=object)})))
    assert body["signature_name"] == "serving_default"
    assert set(body["inputs"]) == {"images", "seed", "words"}
    # JSON numbers carry float32 and int64 values exactly.
    np.testing.assert_array_equal(np.asarray(body["inputs"]["images"],
                                             np.float32), images)
    assert body["inputs"]["seed"] == [3, 2**40]
    binary, text = body["inputs"]["words"]
    assert base64.b64decode(binary["b64"]) == b"\x00\xff"
    assert text == "text"
    with pytest.raises(ValueError, match="complex"):
        export.rest_predict_body("sample", {"z": np.ones(2, np.complex64)})
    with pytest.raises(ValueError, match="signature_name"):
        export.rest_predict_body("", {"seed": seeds})
