"""PixelCNN++: causality and the full receptive field by gradients,
normalization over tiny spaces (down- and up-sampling included), logits
normalized over the levels, dropout in training only."""

import numpy as np
import pytest
import tensorflow as tf

from autoregressive_helpers import assert_causal
from autoregressive_helpers import build as build_random
from autoregressive_helpers import dependencies
from autoregressive_helpers import every_image
from tfgen import errors
from tfgen import registry
from tfgen.data import DataInfo
from zoo.autoregressive.pixelcnn_pp_layers import GatedResidualBlock


def build(*args, **kwargs):
    """A model of random weights; with weight norm, g = ||v||, so the
    kernels are the random v (random g would shrink them to norm ~scale)."""
    model = build_random(*args, **kwargs)
    for layer in model.conv_layers():
        if layer.weight_norm:
            layer.g.assign(layer.v_norm())
    return model


@pytest.mark.parametrize("shape,resolutions", [
    ((4, 4, 1), 2), ((5, 3, 1), 3), ((3, 3, 3), 2)],
    ids=["gray", "odd_sides", "colour"])
def test_logits_depend_only_on_earlier_values(shape, resolutions):
    """The logits of (pixel, channel) d: zero gradient on inputs d, d+1...
    (colour: G reads R of its pixel, B reads R and G, through the means'
    coefficients and the mixture's posterior weights)."""
    model = build("pixelcnn_pp", shape, num_levels=4,
                  overrides={"num_resolutions": resolutions})
    assert_causal(dependencies(model.logits, shape), strict=True)


def test_no_blind_spot_with_two_blocks_at_two_resolutions():
    """8x8 with the default's architecture (2 gated blocks per stream and
    resolution, 8x8 and 4x4; 8 filters): every conditional depends on every
    value before it, the pixels above and to the right included (the
    plain PixelCNN's blind spot). One block per resolution does not yet
    reach 7 columns to the right: pixel (7, 0) misses (6, 7)."""
    shape = (8, 8, 1)
    model = build("pixelcnn_pp", shape, num_levels=2, overrides={
        "num_filters": 8, "num_residual_blocks": 2, "num_resolutions": 2})
    depends = dependencies(model.logits, shape)
    assert_causal(depends, strict=True)
    earlier = np.tril(np.ones_like(depends), k=-1)
    assert (depends == earlier).all(), np.argwhere(depends != earlier)[:5]

    shallow = build("pixelcnn_pp", shape, num_levels=2, overrides={
        "num_filters": 8, "num_residual_blocks": 1, "num_resolutions": 2})
    sees = dependencies(shallow.logits, shape)[7 * 8].reshape(8, 8)
    assert not sees[6, 7] and sees[6, :7].all()


@pytest.mark.parametrize(
    "shape,num_levels,preprocessing,resolutions",
    [((2, 2, 1), 2, "binarize_dynamic", 2), ((2, 2, 1), 3, "levels", 2),
     ((2, 2, 1), 3, "levels", 3), ((1, 2, 3), 2, "binarize_static", 2),
     ((1, 2, 3), 3, "levels", 2)],
    ids=["binary_2x2", "levels3_2x2", "levels3_2x2_three_resolutions",
         "binary_1x2x3", "levels3_1x2x3"])
def test_log_prob_sums_to_one_over_a_tiny_space(shape, num_levels,
                                                preprocessing, resolutions):
    """Down-sampling 2 -> 1 (and 1 -> 1) and back to 2 keeps the sum."""
    model = build("pixelcnn_pp", shape, num_levels, preprocessing,
                  overrides={"num_resolutions": resolutions}, scale=0.5)
    binarized = preprocessing != "levels"
    images = every_image(shape, 2 if binarized else num_levels, binarized)
    log_probs = np.asarray(model.log_prob(images=tf.constant(images))[
        "log_prob"], np.float64)
    assert log_probs.std() > 0.1  # Random weights: not uniform.
    np.testing.assert_allclose(np.logaddexp.reduce(log_probs), 0.0,
                               atol=1e-5)


@pytest.mark.parametrize("num_levels,channels", [(256, 3), (17, 1)])
def test_logits_are_log_probabilities_of_the_levels(num_levels, channels):
    model = build("pixelcnn_pp", (3, 3, channels), num_levels, scale=0.5)
    inputs = tf.constant(np.random.default_rng(0).integers(
        0, num_levels, (2, 3, 3, channels)) / (num_levels - 1), tf.float32)
    logits = model.logits(inputs)
    assert logits.shape == (2, 3, 3, channels, num_levels)
    np.testing.assert_allclose(tf.reduce_logsumexp(logits, axis=-1), 0.0,
                               atol=2e-5)


@pytest.mark.parametrize("num_levels,channels", [(256, 3), (17, 1)])
def test_likelihood_scores_the_observed_levels_of_the_logits(num_levels,
                                                              channels):
    """``conditional_log_probs`` (the likelihood, which computes only the
    observed levels) is ``logits`` read at the observed levels."""
    model = build("pixelcnn_pp", (3, 4, channels), num_levels, scale=0.5)
    levels = tf.constant(np.random.default_rng(1).integers(
        0, num_levels, (3, 3, 4, channels)), tf.int32)
    logits = model.logits(model.to_inputs(levels))
    expected = tf.gather(logits, levels, axis=-1, batch_dims=4)
    np.testing.assert_allclose(model.conditional_log_probs(levels),
                               expected, atol=2e-5)


def _digits_like(shape, num_levels, seed):
    return tf.constant(np.random.default_rng(seed).integers(
        0, num_levels, (4,) + shape), tf.int32)


def test_dropout_acts_in_training_only():
    """log_prob is deterministic; a training step's logits are not."""
    shape = (4, 4, 1)
    model = build("pixelcnn_pp", shape, 17,
                  overrides={"dropout_rate": 0.5}, scale=0.3)
    images = _digits_like(shape, 17, 0)
    first = model.log_prob(images=images)["log_prob"]
    np.testing.assert_array_equal(first, model.log_prob(images=images)[
        "log_prob"])
    inputs = model.to_inputs(images)
    object.__setattr__(model, "_dropout_active", True)
    try:
        training = [model.logits(inputs) for _ in range(2)]
    finally:
        object.__setattr__(model, "_dropout_active", False)
    assert np.abs(training[0] - training[1]).max() > 1e-3
    assert np.abs(training[0] - model.logits(inputs)).max() > 1e-3
    np.testing.assert_array_equal(first, model.log_prob(images=images)[
        "log_prob"])


def test_train_step_uses_dropout_and_log_prob_does_not():
    """The compiled training step traces with dropout on: its loss on a
    batch differs from the same batch's exact NLL; evaluation matches it."""
    shape = (4, 4, 1)
    model = build("pixelcnn_pp", shape, 17, overrides={"dropout_rate": 0.5})
    model.compile_for_training()
    model.build_for_training()
    images = _digits_like(shape, 17, 1)
    nll = -float(tf.reduce_mean(model.log_prob(images=images)["log_prob"]))
    batch = {"image": images, "label": tf.zeros(4, tf.int64)}
    evaluated = model.test_step(batch)["nll"]
    np.testing.assert_allclose(float(evaluated), nll, rtol=1e-5)
    model.reset_metrics()
    trained = model.train_step(batch)["nll"]
    assert abs(float(trained) - nll) > 1e-3


def test_bad_configs_name_their_field():
    spec = registry.get("pixelcnn_pp")
    info = DataInfo(name="rgb", event_shape=(4, 4, 3), num_levels=4)
    for field, value in [("num_filters", 0), ("num_resolutions", 0),
                         ("num_components", 0), ("num_residual_blocks", -1),
                         ("dropout_rate", 1.0), ("preprocessing", "unit")]:
        config = spec.get_config("tiny")
        with config.unlocked():
            config[field] = value
        with pytest.raises(errors.UsageError, match=f"config.{field}="):
            spec.build(config, info)


# --- Weight normalization and its data-dependent initialization. ----------


class _Recorder:
    """Records every ``Conv``'s outputs while the model runs."""

    def __init__(self, model, monkeypatch):
        self.outputs = {}
        for layer in model.conv_layers():
            call = layer.call

            def recording(inputs, layer=layer, call=call):
                outputs = call(inputs)
                self.outputs[layer.path] = outputs
                return outputs

            monkeypatch.setattr(layer, "call", recording)


def _second_convolutions(model):
    """ids of the ``Conv`` of every gated block's second convolution."""
    return {id(layer.conv_out.conv) for layer in model._flatten_layers()
            if isinstance(layer, GatedResidualBlock)}


@pytest.mark.parametrize("shape,resolutions", [((6, 6, 1), 2),
                                               ((5, 4, 3), 3)])
def test_data_init_standardizes_every_layer_on_its_batch(
        shape, resolutions, monkeypatch):
    """After ``adapt``, every layer's outputs (pre-activations, the
    transposed and 1x1 ones included) on the initialization images have
    mean 0 and standard deviation 1 per feature (a gated block's second
    convolution 0.1, the paper's init scale), though the random weights
    gave them other moments before."""
    model = build("pixelcnn_pp", shape, 17, overrides={
        "num_resolutions": resolutions, "num_residual_blocks": 2,
        "num_filters": 6, "weight_norm": True}, scale=0.7)
    images = _digits_like(shape, 17, 2)
    images = tf.concat([images] * 10, 0)[:38]  # Two batches: 32 and 6.
    batches = tf.data.Dataset.from_tensor_slices({"image": images}).batch(32)
    values = 2.0 * model.to_inputs(images) - 1.0
    recorder = _Recorder(model, monkeypatch)
    model.network_parameters(values)
    before = dict(recorder.outputs)
    model.adapt(batches)
    recorder.outputs.clear()
    model.network_parameters(values)
    assert len(recorder.outputs) == len(model.conv_layers()) > 20
    second = _second_convolutions(model)
    scales = {layer.path: 0.1 if id(layer) in second else 1.0
              for layer in model.conv_layers()}
    assert sorted(set(scales.values())) == [0.1, 1.0]
    for name, outputs in recorder.outputs.items():
        mean, variance = tf.nn.moments(outputs, [0, 1, 2])
        np.testing.assert_allclose(mean, 0.0, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(np.sqrt(variance), scales[name],
                                   rtol=1e-3, err_msg=name)
        old_std = np.sqrt(tf.nn.moments(before[name], [0, 1, 2])[1])
        assert np.abs(old_std - scales[name]).max() > 0.05, name


def test_a_gated_blocks_second_convolution_starts_at_a_tenth():
    """Without weight norm every kernel is Glorot-uniform, a gated block's
    second convolution's times 0.1 (the paper's init_scale): its entries
    fill [-0.1 b, 0.1 b], b = sqrt(6 / (fan_in + fan_out)), the others'
    [-b, b]."""
    model = registry.get("pixelcnn_pp").build(
        registry.get("pixelcnn_pp").get_config(),
        DataInfo(name="gray", event_shape=(8, 8, 1), num_levels=17))
    second = _second_convolutions(model)
    seen = set()
    for layer in model.conv_layers():
        kernel = layer.kernel.numpy()
        kh, kw, a, b = kernel.shape
        bound = np.sqrt(6.0 / (kh * kw * (a + b)))
        scale = 0.1 if id(layer) in second else 1.0
        seen.add(scale)
        extent = np.abs(kernel).max() / bound
        assert scale * 0.8 < extent <= scale * (1 + 1e-6), layer.path
    assert seen == {0.1, 1.0}


def test_weight_norm_kernel_has_norm_g_per_output_feature():
    model = build("pixelcnn_pp", (4, 4, 1), 5,
                  overrides={"weight_norm": True}, scale=0.5)
    layers = model.conv_layers()
    assert any(layer.transpose for layer in layers)
    for layer in layers:
        axes = (0, 1, 3) if layer.transpose else (0, 1, 2)
        norms = tf.sqrt(tf.reduce_sum(tf.square(layer.kernel), axes))
        np.testing.assert_allclose(norms, np.abs(layer.g), rtol=1e-5)
        # Rescaling v leaves w unchanged: only its direction counts.
        kernel = layer.kernel.numpy()
        layer.v.assign(3.0 * layer.v)
        np.testing.assert_allclose(layer.kernel, kernel, rtol=1e-5)


def test_without_weight_norm_the_kernel_is_the_variable():
    model = build("pixelcnn_pp", (4, 4, 1), 5,
                  overrides={"weight_norm": False})
    for layer in model.conv_layers():
        assert layer.kernel is layer.v and not hasattr(layer, "g")
    before = [v.numpy() for v in model.variables]
    model.adapt(tf.data.Dataset.from_tensor_slices(
        {"image": _digits_like((4, 4, 1), 5, 0)}).batch(4))
    for variable, value in zip(model.variables, before):
        np.testing.assert_array_equal(variable, value)



# --- The fast sampler: rows from cached maps. ------------------------------

FAST_CASES = {
    # shape, levels, preprocessing, resolutions
    "gray17_4x4": ((4, 4, 1), 17, "levels", 2),
    "gray5_6x6": ((6, 6, 1), 5, "levels", 2),
    "binary_8x8": ((8, 8, 1), 2, "binarize_dynamic", 2),
    "gray4_5x3_three_resolutions": ((5, 3, 1), 4, "levels", 3),
    "colour4_3x4": ((3, 4, 3), 4, "levels", 2),
}


def _twins(shape, num_levels, preprocessing, resolutions):
    """Fast and full-pass samplers of the same random weights."""
    models = [build("pixelcnn_pp", shape, num_levels, preprocessing,
                    overrides={"num_resolutions": resolutions,
                               "num_residual_blocks": 2, "num_filters": 6,
                               "dropout_rate": 0.5, "fast_sampling": fast},
                    scale=0.2) for fast in (True, False)]
    for variable, twin in zip(models[0].variables, models[1].variables):
        np.testing.assert_array_equal(variable, twin)
    return models


@pytest.mark.parametrize("case", list(FAST_CASES))
def test_fast_sample_and_complete_equal_the_full_passes(case):
    """The same seeds draw the same images, value for value, as a full
    network pass per value; completions keep the known values."""
    shape, num_levels, preprocessing, resolutions = FAST_CASES[case]
    fast, slow = _twins(shape, num_levels, preprocessing, resolutions)
    rng = np.random.default_rng(1)
    seeds = tf.range(8, dtype=tf.int64)
    samples = fast.sample(seed=seeds)["images"]
    np.testing.assert_array_equal(samples, slow.sample(seed=seeds)["images"])
    levels = np.round(np.asarray(samples) * (num_levels - 1))
    assert len(np.unique(levels)) > num_levels // 2
    assert len({image.tobytes() for image in levels}) == 8

    levels = rng.integers(0, num_levels, (8,) + shape)
    images = (tf.constant(levels, tf.int32) if preprocessing == "levels"
              else tf.constant(levels, tf.float32))
    known = rng.random(levels.shape) < 0.5
    mask = tf.constant(known, tf.float32)
    completed = fast.complete(images=images, mask=mask, seed=seeds)["images"]
    np.testing.assert_array_equal(
        completed, slow.complete(images=images, mask=mask,
                                 seed=seeds)["images"])
    np.testing.assert_array_equal(
        np.asarray(completed)[known],
        np.asarray(fast.to_inputs(levels))[known])


def test_the_sampler_runs_no_full_pass_by_default(monkeypatch):
    assert registry.get("pixelcnn_pp").get_config().fast_sampling
    model = build("pixelcnn_pp", (4, 4, 1), 5)
    calls = []
    full_pass = model.network_parameters
    monkeypatch.setattr(model, "network_parameters",
                        lambda values: calls.append(1) or full_pass(values))
    model.sample(seed=tf.range(2, dtype=tf.int64))
    assert not calls
    model.log_prob(images=tf.zeros((2, 4, 4, 1), tf.int32))
    assert calls
