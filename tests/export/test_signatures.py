"""Tests of export.signatures: the SavedModel a model's capabilities become.

The model under test is a toy ``GenerativeModel`` defined here (the export
layer must not depend on the zoo). Its SavedModel is written once per module
and run in fresh processes that cannot import the project, as TF Serving
would run it.
"""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

import export
from tfgen import config as config_lib
from tfgen.data import info
from tfgen.model import CapabilityInput
from tfgen.model import GenerativeModel

import serving_helpers

LATENT_DIM = 3
IMAGE_SHAPE = (4, 4, 1)
# Graph and eager runs of the same float32 ops may fuse differently.
TOLERANCE = dict(rtol=1e-5, atol=1e-6)
DENYLISTED_OPS = ("ReadFile", "WriteFile", "PrintV2", "Print", "PyFunc",
                  "PyFuncStateless", "EagerPyFunc")


class ToyModel(GenerativeModel):
    """A tiny autoencoder with a Gaussian prior, declaring four capabilities.

    ``sample`` is declared last so that the test of ``serving_default`` fails
    if the export layer took the first capability instead. ``complete`` draws
    its codes' noise from each row's seed, so its seed input matters.
    """

    capabilities = ("encode", "decode", "complete", "sample")

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.code_size = LATENT_DIM
        self.encoder = keras.layers.Dense(LATENT_DIM)
        self.encoder.build((None, data_info.num_pixels))
        # Its moving statistics are non-trainable variables the export keeps.
        self.normalization = keras.layers.BatchNormalization()
        self.normalization.build((None, LATENT_DIM))
        self.decoder = keras.layers.Dense(data_info.num_pixels,
                                          activation="sigmoid")
        self.decoder.build((None, LATENT_DIM))
        self.built = True

    def _encode(self, images):
        flat = tf.reshape(tf.cast(images, tf.float32),
                          [-1, self.data_info.num_pixels])  # (B, H*W*C)
        return {"codes": self.encoder(flat)}  # (B, latent_dim)

    def _decode(self, codes):
        normalized = self.normalization(codes, training=False)
        probabilities = self.decoder(normalized)  # (B, H*W*C)
        return {"images": tf.reshape(probabilities,
                                     (-1,) + self.data_info.image_shape),
                "mean_intensity": tf.reduce_mean(probabilities, axis=1)}

    def _complete(self, images, mask, seed):
        codes = self._encode(images)["codes"] + 0.1 * self.stream(
            "complete").normal_rows(seed, [LATENT_DIM])  # (B, latent_dim)
        filled = self._decode(codes)["images"]
        return {"images": mask * images + (1.0 - mask) * filled}

    def _sample(self, seed):
        codes = self.stream("sample").normal_rows(
            seed, [LATENT_DIM])  # (B, latent_dim)
        return {"images": self._decode(codes)["images"], "codes": codes}


def make_toy_model(preprocessing="unit", seed=7):
    """Returns a ``ToyModel`` whose variables all differ from defaults."""
    config = config_lib.base_config()
    config.preprocessing = preprocessing
    config.seed = seed
    data_info = info.DataInfo(name="toy", event_shape=IMAGE_SHAPE,
                              num_levels=17, num_classes=10)
    model = ToyModel(config, data_info)
    generator = np.random.default_rng(seed)
    for variable in model.trainable_variables + [
            model.normalization.moving_mean,
            model.normalization.moving_variance]:
        shape = tuple(variable.shape)
        if "variance" in variable.path:
            variable.assign(generator.uniform(0.5, 2.0, shape))
        else:
            variable.assign(generator.normal(0.0, 0.5, shape))
    return model


def in_memory(model, capability, inputs):
    outputs = getattr(model, capability)(
        **{name: tf.constant(value) for name, value in inputs.items()})
    return {name: tensor.numpy() for name, tensor in outputs.items()}


def valid_requests():
    generator = np.random.default_rng(0)
    images = generator.uniform(0.0, 1.0, (3,) + IMAGE_SHAPE).astype(np.float32)
    return {
        # Seed 11 twice in one batch; seed 12 again in serving_default's.
        "sample": {"seed": np.array([11, 12, 11, 13], np.int64)},
        "serving_default": {"seed": np.array([12, 99], np.int64)},
        "encode": {"images": images},
        "decode": {"codes": generator.normal(
            0.0, 1.0, (2, LATENT_DIM)).astype(np.float32)},
        "complete": {"images": images, "mask": (
            generator.uniform(0.0, 1.0, (3,) + IMAGE_SHAPE) > 0.5
        ).astype(np.float32), "seed": np.array([4, 5, 4], np.int64)},
    }


@pytest.fixture(scope="module")
def toy_model():
    return make_toy_model()


@pytest.fixture(scope="module")
def saved_model_dir(toy_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "saved_model"
    export.save(toy_model, path)
    return path


@pytest.fixture(scope="module")
def fresh_outputs(saved_model_dir):
    return serving_helpers.run_all_signatures_fresh(saved_model_dir,
                                                    valid_requests())


@pytest.fixture(scope="module")
def loaded(saved_model_dir):
    return tf.saved_model.load(str(saved_model_dir))


def test_every_capability_and_serving_default_is_a_signature(loaded):
    assert set(loaded.signatures) == {"encode", "decode", "complete", "sample",
                                      "serving_default"}


def test_signature_inputs_and_outputs_are_named(loaded):
    expected = {
        "sample": ({"seed"}, {"images", "codes"}),
        "encode": ({"images"}, {"codes"}),
        "decode": ({"codes"}, {"images", "mean_intensity"}),
        "complete": ({"images", "mask", "seed"}, {"images"}),
    }
    for signature, (input_names, output_names) in expected.items():
        function = loaded.signatures[signature]
        _, input_specs = function.structured_input_signature
        assert set(input_specs) == input_names, signature
        for spec in input_specs.values():
            assert spec.shape[0] is None, signature
        assert set(function.structured_outputs) == output_names, signature


def test_fresh_process_matches_in_memory_model(toy_model, fresh_outputs):
    requests = valid_requests()
    assert set(fresh_outputs) == set(requests)
    for signature, inputs in requests.items():
        capability = "sample" if signature == "serving_default" else signature
        expected = in_memory(toy_model, capability, inputs)
        assert set(fresh_outputs[signature]) == set(expected), signature
        for name, value in expected.items():
            np.testing.assert_allclose(fresh_outputs[signature][name], value,
                                       err_msg=f"{signature}/{name}",
                                       **TOLERANCE)


def test_saved_model_cli_run_matches_in_memory_model(toy_model,
                                                     saved_model_dir):
    inputs = valid_requests()["serving_default"]
    outputs = serving_helpers.run_saved_model_cli(saved_model_dir,
                                                  "serving_default", inputs)
    expected = in_memory(toy_model, "sample", inputs)
    assert set(outputs) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, err_msg=name,
                                   **TOLERANCE)


def test_sample_depends_only_on_each_rows_seed(fresh_outputs):
    sampled = fresh_outputs["sample"]["images"]  # seeds 11, 12, 11, 13
    other_batch = fresh_outputs["serving_default"]["images"]  # seeds 12, 99
    np.testing.assert_array_equal(sampled[0], sampled[2])
    np.testing.assert_array_equal(sampled[1], other_batch[0])
    assert np.abs(sampled[0] - sampled[1]).max() > 1e-3
    assert np.abs(sampled[0] - sampled[3]).max() > 1e-3
    assert np.abs(other_batch[0] - other_batch[1]).max() > 1e-3


def test_sample_is_identical_for_the_same_request(loaded):
    seeds = tf.constant([5, 6, 7], tf.int64)
    first = loaded.signatures["sample"](seed=seeds)["images"].numpy()
    second = loaded.signatures["sample"](seed=seeds)["images"].numpy()
    np.testing.assert_array_equal(first, second)


def test_sample_depends_on_the_instance_seed():
    seeds = tf.constant([5], tf.int64)
    codes = [make_toy_model(seed=seed).sample(seed=seeds)["codes"].numpy()
             for seed in (1, 2)]
    assert np.abs(codes[0] - codes[1]).max() > 1e-3


def test_serving_default_is_sample(loaded):
    default = loaded.signatures["serving_default"]
    _, input_specs = default.structured_input_signature
    assert set(input_specs) == {"seed"}
    seeds = tf.constant([3, 4], tf.int64)
    np.testing.assert_array_equal(
        default(seed=seeds)["images"].numpy(),
        loaded.signatures["sample"](seed=seeds)["images"].numpy())


def test_default_capability_preference():
    assert export.default_capability(("encode", "sample", "decode")) == "sample"
    assert export.default_capability(("encode", "decode")) == "decode"
    assert export.default_capability(("log_prob", "encode")) == "log_prob"
    with pytest.raises(ValueError, match="no capabilities"):
        export.default_capability(())


def test_serving_default_override(toy_model):
    module = export.build_serving_module(toy_model, serving_default="encode")
    assert module.default_capability == "encode"
    signatures = module.serving_signatures()
    assert signatures["serving_default"] is signatures["encode"]
    positional_specs, _ = signatures["encode"].structured_input_signature
    assert [spec.name for spec in positional_specs] == ["images"]
    with pytest.raises(ValueError, match="log_prob"):
        export.build_serving_module(toy_model, serving_default="log_prob")


def test_out_of_range_request_fails_in_serving_naming_the_input(
        saved_model_dir):
    images = np.full((2,) + IMAGE_SHAPE, 0.5, np.float32)
    images[1, 0, 0, 0] = 2.0  # unit images must lie in [0, 1]
    with pytest.raises(serving_helpers.FreshProcessError) as raised:
        serving_helpers.run_saved_model_cli(saved_model_dir, "encode",
                                            {"images": images})
    message = str(raised.value)
    assert "InvalidArgument" in message
    assert "input images of encode must lie in [0.0, 1.0]" in message


@pytest.mark.parametrize("bad_mask_value", [-0.5, 1.5, np.nan])
def test_out_of_range_second_input_is_named(loaded, bad_mask_value):
    images = tf.fill((1,) + IMAGE_SHAPE, 0.5)
    mask = np.zeros((1,) + IMAGE_SHAPE, np.float32)
    mask[0, 1, 1, 0] = bad_mask_value
    expected = r"input mask of complete must lie in \[0.0, 1.0\]"
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
        loaded.signatures["complete"](images=images, mask=tf.constant(mask),
                                      seed=tf.constant([0], tf.int64))


def test_in_range_edges_are_accepted(loaded):
    outputs = loaded.signatures["complete"](
        images=tf.ones((1,) + IMAGE_SHAPE), mask=tf.zeros((1,) + IMAGE_SHAPE),
        seed=tf.constant([0], tf.int64))
    assert outputs["images"].shape == (1,) + IMAGE_SHAPE


def test_integer_levels_range_is_checked():
    model = make_toy_model(preprocessing="levels")
    module = export.build_serving_module(model)
    module.encode(images=tf.fill((1,) + IMAGE_SHAPE, 16))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"input images of encode must lie in \[0, 16\]"):
        module.encode(images=tf.fill((1,) + IMAGE_SHAPE, 17))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="input images of encode"):
        module.encode(images=tf.fill((1,) + IMAGE_SHAPE, -1))


def test_saved_model_cli_scan_finds_no_denylisted_ops(saved_model_dir):
    report = serving_helpers.scan_for_denylisted_ops(saved_model_dir)
    assert "does not contain the default denylisted ops" in report
    assert "contains the following denylisted ops" not in report


def test_graph_has_no_python_or_file_ops(saved_model_dir):
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(
        (saved_model_dir / "saved_model.pb").read_bytes())
    op_types = set()
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        op_types.update(node.op for node in graph.node)
        for function in graph.library.function:
            op_types.update(node.op for node in function.node_def)
    # The range checks must be in the graph for the test above to mean much.
    assert "Assert" in op_types
    assert not op_types & set(DENYLISTED_OPS)


def test_hub_style_attributes_hold_the_models_variables(toy_model, loaded):
    for attribute in ("variables", "trainable_variables",
                      "non_trainable_variables"):
        restored = getattr(loaded, attribute)
        original = getattr(toy_model, attribute)
        assert len(restored) == len(original) > 0, attribute
        for restored_variable, original_variable in zip(restored, original):
            np.testing.assert_array_equal(restored_variable.numpy(),
                                          original_variable.numpy())
    assert len(loaded.non_trainable_variables) >= 2  # moving mean, variance
    assert list(loaded.regularization_losses) == []


def test_hub_style_call_is_the_main_capability_and_differentiable(
        toy_model, loaded):
    seeds = tf.constant([21, 22], tf.int64)
    with tf.GradientTape() as tape:
        images = loaded(seeds)["images"]
        loss = tf.reduce_sum(images)
    np.testing.assert_allclose(
        images.numpy(), toy_model.sample(seed=seeds)["images"].numpy(),
        **TOLERANCE)
    # sample reaches the decoder's weights, so fine-tuning can move them.
    gradients = tape.gradient(loss, loaded.trainable_variables)
    decoder_kernel = next(
        index for index, variable in enumerate(toy_model.trainable_variables)
        if variable is toy_model.decoder.kernel)
    assert gradients[decoder_kernel] is not None
    assert np.abs(gradients[decoder_kernel].numpy()).max() > 0


def test_model_without_capabilities_is_rejected():
    class Inert(ToyModel):
        capabilities = ()

    reference = make_toy_model()
    model = Inert(reference.config, reference.data_info)
    with pytest.raises(ValueError, match="no capabilities"):
        export.build_serving_module(model)


def test_fixed_batch_dimension_is_rejected():
    class FixedBatch(ToyModel):
        def capability_inputs(self, capability):
            if capability == "decode":
                return {"codes": CapabilityInput(
                    tf.TensorSpec([8, LATENT_DIM], tf.float32))}
            return super().capability_inputs(capability)

    reference = make_toy_model()
    model = FixedBatch(reference.config, reference.data_info)
    with pytest.raises(ValueError, match="'codes'.*batch dimension"):
        export.build_serving_module(model)


def test_model_creating_variables_when_traced_is_rejected():
    class Lazy(ToyModel):
        """Breaks the contract: a layer built on first call, not in __init__."""

        def __init__(self, config, data_info, **kwargs):
            super().__init__(config, data_info, **kwargs)
            self.late = keras.layers.Dense(LATENT_DIM)

        def _encode(self, images):
            flat = tf.reshape(tf.cast(images, tf.float32),
                              [-1, self.data_info.num_pixels])
            return {"codes": self.late(flat)}

    reference = make_toy_model()
    module = export.build_serving_module(
        Lazy(reference.config, reference.data_info))
    with pytest.raises(ValueError, match="created variables.*__init__"):
        module.serving_signatures()


def test_fresh_process_cannot_import_the_project():
    repository_root = pathlib.Path(__file__).resolve().parents[2]
    # From the repository root the packages would import; the guard refuses.
    for package in serving_helpers.BLOCKED_PACKAGES:
        with pytest.raises(serving_helpers.FreshProcessError, match="refused"):
            serving_helpers.run_fresh_python(f"import {package}", [],
                                             repository_root, package)
    assert serving_helpers.run_fresh_python(
        "import json; print('ok')", [], repository_root, "json") == "ok\n"


def test_reusable_as_keras_layers_and_fine_tuned(saved_model_dir):
    hub = pytest.importorskip("tensorflow_hub",
                              reason="TF-Hub reuse needs tensorflow_hub")
    tf_keras = pytest.importorskip("tf_keras",
                                   reason="hub.KerasLayer needs tf_keras")
    seeds = tf.constant([1, 2], tf.int64)
    served = keras.layers.TFSMLayer(str(saved_model_dir),
                                    call_endpoint="serving_default")(seeds)
    assert served["images"].shape == (2,) + IMAGE_SHAPE

    hub_layer = hub.KerasLayer(str(saved_model_dir), trainable=True,
                               output_key="images")
    seed_input = tf_keras.Input(shape=(), dtype=tf.int64)
    brightness = tf_keras.layers.Dense(1)(
        tf_keras.layers.Flatten()(hub_layer(seed_input)))
    reuser = tf_keras.Model(seed_input, brightness)
    reuser.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss="mse")
    before = [weight.numpy() for weight in hub_layer.trainable_weights]
    reuser.fit(np.arange(4, dtype=np.int64), np.ones((4, 1), np.float32),
               epochs=1, verbose=0)
    after = [weight.numpy() for weight in hub_layer.trainable_weights]
    assert len(before) == 6  # the toy's kernels, biases, gamma and beta
    # sample reaches the decoder, so fine-tuning moves some of the weights.
    assert any(np.abs(b - a).max() > 0 for b, a in zip(before, after))
