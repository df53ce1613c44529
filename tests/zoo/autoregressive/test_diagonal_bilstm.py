"""Tests of the Diagonal BiLSTM PixelRNN (diagonal_bilstm.py).

Dependencies are read off the exact Jacobian of the logits with respect to
the float inputs, with random weights: masked paths give exact zeros.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data
from tfgen import errors
from tfgen import registry
from tfgen.data import DataInfo
from zoo.autoregressive import diagonal_bilstm
from zoo.autoregressive import recurrent

NAME = "diagonal_bilstm"


def build(height, width, channels=1, num_levels=17, preprocessing="levels",
          seed=0, **overrides):
    config = diagonal_bilstm.get_config("tiny")
    with config.unlocked():
        config.preprocessing = preprocessing
        config.update(overrides)
    info = DataInfo(name="mock", event_shape=(height, width, channels),
                    num_levels=num_levels, num_classes=None,
                    split_sizes={"train": 8, "validation": 8, "test": 8})
    keras.utils.set_random_seed(seed)
    return registry.get(NAME).build(config, info)


def randomize(model, scale=0.7, seed=0, biases=True):
    """Random weights, far from the near-uniform conditionals of Glorot's;
    ``biases=False`` zeroes the biases, so that no ReLU is shut for every
    input of a dependency test."""
    for index, variable in enumerate(model.trainable_variables):
        value = scale * tf.random.stateless_normal(variable.shape,
                                                   seed=[seed, index])
        if len(variable.shape) == 1 and not biases:
            value = tf.zeros_like(value)
        variable.assign(value)


def logit_dependencies(model, seed=0, num_inputs=16):
    """(D, D) bool: value i's logits have a nonzero gradient wrt input j
    (raster order, channels inner) at one of ``num_inputs`` random inputs
    (a ReLU may close a path at one input; causality must hold at all).

    Row i is the gradient of a random combination of value i's logits: a
    masked path gives an exact zero, an open one a nonzero almost surely.
    One traced loop over the rows is faster than ``tape.jacobian``.
    """
    # Centred inputs (the network is defined beyond [0, 1]) open more ReLUs.
    inputs = tf.random.stateless_uniform((num_inputs,) + model.image_shape,
                                         seed=[seed, 7], minval=-1.0)
    size = model.num_dims
    weights = tf.random.stateless_normal([model.num_levels], seed=[seed, 8])

    def row(position):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logits = tf.reshape(model.logits(inputs),
                                [num_inputs, size, model.num_levels])
            target = tf.reduce_sum(logits[:, position] * weights)
        gradient = tape.gradient(target, inputs)  # (N, H, W, C)
        return tf.reduce_sum(tf.abs(gradient), axis=0)

    rows = tf.function(lambda: tf.map_fn(
        row, tf.range(size), fn_output_signature=tf.float32))()
    return tf.reshape(rows, [size, size]).numpy() > 0


@pytest.mark.parametrize("shape", [(4, 5, 1), (3, 3, 3)])
def test_logits_are_causal(shape):
    """Value i's logits read no input at or after i, and some before it."""
    # Two levels: fewer logits, a faster Jacobian.
    model = build(*shape, num_levels=2,
                  preprocessing="binarize_static", hidden_units=6,
                  num_layers=2, output_features=6)
    randomize(model, biases=False)
    depends = logit_dependencies(model)
    at_or_after = np.triu(np.ones_like(depends), k=0)
    assert not np.any(depends & at_or_after), np.argwhere(
        depends & at_or_after)[:5]
    assert np.all(depends[1:].any(axis=1))  # every value but the first


def test_receptive_field_holds_every_earlier_pixel():
    """No blind spot of the recurrence: the last value reads every value
    before it, and every value reads all earlier ones (far to the upper
    right too, through the right-to-left direction) but the last pixel of
    the row above when it lies beyond the mask-A convolution's reach: only
    that convolution, whose feature at a pixel excludes the pixel, carries
    it, and the row's recurrence reaches no feature to its right."""
    height = width = 5
    first_kernel_size = 3
    model = build(height, width, num_levels=2,
                  preprocessing="binarize_static",
                  first_kernel_size=first_kernel_size)
    randomize(model, biases=False)
    depends = logit_dependencies(model)
    assert depends[-1, :-1].all()
    expected = np.tril(np.ones_like(depends), k=-1)
    reach = first_kernel_size // 2
    for row in range(1, height):
        for column in range(width - 1 - reach):
            expected[row * width + column, row * width - 1] = False
    np.testing.assert_array_equal(depends, expected)


def test_unshifted_right_to_left_direction_breaks_causality(monkeypatch):
    """Without the one-row shift of the right-to-left direction, a value's
    logits read the value to its right."""
    layer_class = recurrent.DiagonalBiLSTM

    def unshifted(*args, **kwargs):
        return layer_class(*args, shift_right_to_left=False, **kwargs)

    monkeypatch.setattr(recurrent, "DiagonalBiLSTM", unshifted)
    model = build(4, 4, num_levels=2, preprocessing="binarize_static",
                  first_kernel_size=3)
    randomize(model, biases=False)
    depends = logit_dependencies(model)
    assert np.any(np.triu(depends, k=0))


@pytest.mark.parametrize("preprocessing,num_levels,shape", [
    ("binarize_static", 2, (2, 2, 1)),
    ("levels", 3, (2, 2, 1)),
    ("binarize_static", 2, (1, 2, 3)),  # colour: channel masks
])
def test_log_prob_sums_to_one_over_a_tiny_space(preprocessing, num_levels,
                                                shape):
    model = build(*shape, num_levels=num_levels, preprocessing=preprocessing,
                  hidden_units=6, output_features=6)
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


def test_training_beats_independent_pixels_on_digits(data_dir):
    info = data.get_info("digits", data_dir=data_dir)
    train = data.load("digits", "train", preprocessing="levels", seed=0,
                      data_dir=data_dir)
    test_levels = levels_of(data.load("digits", "test",
                                      preprocessing="levels", seed=0,
                                      data_dir=data_dir))
    baseline = independent_pixel_nll(levels_of(train), test_levels,
                                     info.num_levels)
    config = diagonal_bilstm.get_config("tiny")
    with config.unlocked():
        config.hidden_units = 8
        config.optimizers.model.learning_rate = 3e-3
    keras.utils.set_random_seed(0)
    model = registry.get(NAME).build(config, info)
    model.compile_for_training()
    model.fit(train.shuffle(2000, seed=0).batch(32), epochs=8, verbose=0)
    nll = -model.log_prob(tf.constant(test_levels))["log_prob"].numpy().mean()
    # About 11 nats below the baseline after 8 epochs; 5 leaves room.
    assert nll < baseline - 5.0, (nll, baseline)


@pytest.mark.parametrize("field,value", [
    ("hidden_units", 0), ("num_layers", -1), ("first_kernel_size", 4),
    ("output_features", 0)])
def test_bad_config_raises_usage_error_naming_the_field(field, value):
    with pytest.raises(errors.UsageError, match=f"config.{field}"):
        build(4, 4, **{field: value})


def test_colour_needs_hidden_units_a_multiple_of_the_channels():
    with pytest.raises(errors.UsageError, match="config.hidden_units"):
        build(4, 4, channels=3, hidden_units=4)


def test_registered_with_a_tiny_variant():
    spec = registry.get(NAME)
    assert spec.family == "autoregressive"
    assert spec.get_config("tiny").epochs == 1
    assert spec.get_config().preprocessing == "levels"
