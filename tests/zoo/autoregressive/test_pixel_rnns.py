"""Tests both PixelRNNs share (row_lstm.py, diagonal_bilstm.py, pixel_rnn.py).

Each test runs over both models: causality, normalization, training on
digits, config checks, and the fast sampler's equality with full passes.
What is a model's own (its receptive field, its layer's fields) is in
``test_row_lstm`` and ``test_diagonal_bilstm``. Dependencies are read off
the exact Jacobian of the logits with respect to the float inputs, with
random weights: masked paths give exact zeros.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_rnn_helpers import MODELS
from pixel_rnn_helpers import build
from pixel_rnn_helpers import logit_dependencies
from pixel_rnn_helpers import randomize
from tfgen import data
from tfgen import errors
from tfgen import registry

models = pytest.mark.parametrize("name", MODELS)


@models
@pytest.mark.parametrize("shape", [(4, 5, 1), (3, 3, 3)])
def test_logits_are_causal(name, shape):
    """Value i's logits read no input at or after i, and some before it."""
    # Two levels: fewer logits, a faster Jacobian.
    model = build(name, *shape, num_levels=2,
                  preprocessing="binarize_static", hidden_units=6,
                  num_layers=2, output_features=6)
    randomize(model, biases=False)
    depends = logit_dependencies(model)
    at_or_after = np.triu(np.ones_like(depends), k=0)
    assert not np.any(depends & at_or_after), np.argwhere(
        depends & at_or_after)[:5]
    assert np.all(depends[1:].any(axis=1))  # every value but the first


@models
@pytest.mark.parametrize("preprocessing,num_levels,shape", [
    ("binarize_static", 2, (2, 2, 1)),
    ("levels", 3, (2, 2, 1)),
    ("binarize_static", 2, (1, 2, 3)),  # colour: channel masks
])
def test_log_prob_sums_to_one_over_a_tiny_space(name, preprocessing,
                                                num_levels, shape):
    model = build(name, *shape, num_levels=num_levels,
                  preprocessing=preprocessing, hidden_units=6,
                  output_features=6)
    randomize(model)
    values = np.array(list(itertools.product(
        range(num_levels), repeat=int(np.prod(shape)))))
    images = values.reshape((-1,) + shape)
    if preprocessing == "levels":
        images = images.astype(np.int32)
    else:
        images = images.astype(np.float32)
    log_prob = model.log_prob(tf.constant(images))["log_prob"].numpy()
    # 1e-4: float32 sums of D log-softmaxes over up to 81 images.
    assert abs(float(tf.reduce_logsumexp(log_prob))) < 1e-4
    # The random weights make the distribution far from uniform.
    assert log_prob.max() - log_prob.min() > 1.0


def independent_pixel_nll(train_levels, test_levels, num_levels):
    """Test NLL (nats/image) of per-value categoricals fitted on train with
    add-one smoothing: the baseline any autoregressive model must beat."""
    counts = np.stack([(train_levels == level).sum(axis=0)
                       for level in range(num_levels)], axis=-1) + 1.0
    log_probs = np.log(counts / counts.sum(axis=-1, keepdims=True))
    chosen = np.take_along_axis(log_probs[None], test_levels[..., None],
                                axis=-1)
    return -chosen.reshape(len(test_levels), -1).sum(axis=1).mean()


def levels_of(dataset):
    return np.stack([example["image"].numpy() for example in dataset])


@models
def test_training_beats_independent_pixels_on_digits(name, data_dir):
    info = data.get_info("digits", data_dir=data_dir)
    train = data.load("digits", "train", preprocessing="levels", seed=0,
                      data_dir=data_dir)
    test_levels = levels_of(data.load("digits", "test",
                                      preprocessing="levels", seed=0,
                                      data_dir=data_dir))
    baseline = independent_pixel_nll(levels_of(train), test_levels,
                                     info.num_levels)
    spec = registry.get(name)
    config = spec.get_config("tiny")
    with config.unlocked():
        config.hidden_units = 8
        config.optimizers.model.learning_rate = 3e-3
    keras.utils.set_random_seed(0)
    model = spec.build(config, info)
    model.compile_for_training()
    model.fit(train.shuffle(2000, seed=0).batch(32), epochs=8, verbose=0)
    nll = -model.log_prob(tf.constant(test_levels))["log_prob"].numpy().mean()
    # About 10 (Row LSTM) or 11 (Diagonal BiLSTM) nats below the baseline
    # after 8 epochs; 5 leaves room.
    assert nll < baseline - 5.0, (nll, baseline)


@models
@pytest.mark.parametrize("field,value", [
    ("hidden_units", 0), ("num_layers", -1), ("first_kernel_size", 4),
    ("first_kernel_size", 1),
    ("output_features", 0)])
def test_bad_config_raises_usage_error_naming_the_field(name, field, value):
    with pytest.raises(errors.UsageError, match=f"config.{field}="):
        build(name, 4, 4, **{field: value})


@models
def test_colour_needs_hidden_units_a_multiple_of_the_channels(name):
    with pytest.raises(errors.UsageError, match="config.hidden_units="):
        build(name, 4, 4, channels=3, hidden_units=4)


@models
def test_registered_with_a_tiny_variant(name):
    spec = registry.get(name)
    assert spec.family == "autoregressive"
    assert spec.get_config("tiny").epochs == 1
    assert spec.get_config().preprocessing == "levels"


# --- The fast sampler: the same images as the full pass at every step. ----

FAST_CASES = {
    # shape, levels, preprocessing, config overrides
    "gray17_5x5": ((5, 5, 1), 17, "levels", {}),
    "binary_8x8_2layers": ((8, 8, 1), 2, "binarize_dynamic",
                           {"num_layers": 2, "first_kernel_size": 5}),
    "colour4_3x4_2layers": ((3, 4, 3), 4, "levels",
                            {"hidden_units": 6, "output_features": 12,
                             "num_layers": 2}),
}


def fast_and_full(name, case):
    """Twin models of equal random weights: ``fast_sampling`` on and off."""
    shape, num_levels, preprocessing, overrides = FAST_CASES[case]
    twins = []
    for fast in (True, False):
        model = build(name, *shape, num_levels=num_levels,
                      preprocessing=preprocessing, fast_sampling=fast,
                      **overrides)
        randomize(model, scale=0.5)
        twins.append(model)
    return twins


@models
@pytest.mark.parametrize("case", list(FAST_CASES))
def test_fast_sampler_logits_equal_the_full_pass_at_every_position(name,
                                                                   case):
    """Fed an image value by value, the carried rows give every value's
    logits as the whole network does (float rounding apart)."""
    model, _ = fast_and_full(name, case)
    rng = np.random.default_rng(0)
    images = model.to_inputs(tf.constant(rng.integers(
        0, model.num_levels, (4,) + model.image_shape), tf.int32))
    flat = tf.reshape(images, [4, model.num_dims])
    expected = tf.reshape(model.logits(images),
                          [4, model.num_dims, model.num_levels]).numpy()
    step = tf.function(model.sampler_logits)
    state = model.sampler_state(tf.zeros_like(images))
    for position in range(model.num_dims):
        # Values from ``position`` on are zeros, as in the sampler's chain.
        before = flat * tf.cast(tf.range(model.num_dims) < position,
                                tf.float32)
        logits, state = step(tf.reshape(before, images.shape), state,
                             tf.constant(position, tf.int64))
        np.testing.assert_allclose(logits, expected[:, position], atol=1e-5,
                                   err_msg=f"position {position}")


@models
@pytest.mark.parametrize("case", list(FAST_CASES))
def test_fast_sample_and_complete_equal_the_full_passes(name, case):
    """The same seeds draw exactly the same images either way. The two sum
    in different orders, so logits differ by float rounding; an argmax of
    logits + Gumbel noise would flip only on a tie within a few ulps, which
    these fixed seeds do not meet."""
    fast, full = fast_and_full(name, case)
    seeds = tf.range(10, dtype=tf.int64)
    sampled = fast.sample(seeds)["images"].numpy()
    np.testing.assert_array_equal(sampled, full.sample(seeds)["images"])
    rng = np.random.default_rng(1)
    levels = rng.integers(0, fast.num_levels, (10,) + fast.image_shape)
    images = (levels.astype(np.float32) if fast.binarized
              else levels.astype(np.int32))
    mask = (rng.random(levels.shape) < 0.5).astype(np.float32)
    completed = fast.complete(images, mask, seeds)["images"].numpy()
    np.testing.assert_array_equal(
        completed, full.complete(images, mask, seeds)["images"])
    np.testing.assert_array_equal(
        np.where(mask > 0, completed, 0),
        np.where(mask > 0, fast.to_inputs(levels), 0))
    # Non-trivial draws: many levels, no two images alike.
    for drawn in (sampled, completed):
        assert len(np.unique(drawn)) > fast.num_levels // 2
        assert len({image.tobytes() for image in drawn}) == len(drawn)
