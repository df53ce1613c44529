"""Gated PixelCNN: causality, no blind spot, normalization, conditioning.

Dependencies are read off the exact Jacobian of the logits with respect to
the float inputs, with random weights: the stacks' shifts and crops give
exact zeros where a value must not be seen.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from autoregressive_helpers import assert_causal
from autoregressive_helpers import build as build_registered
from autoregressive_helpers import dependencies
from autoregressive_helpers import every_image
from tfgen import data
from tfgen import errors
from tfgen import registry
from tfgen import train
from tfgen.data import DataInfo

NAME = "gated_pixelcnn"
NUM_CLASSES = 3


def build(shape, num_levels=3, preprocessing="levels", conditional=False,
          scale=0.3, seed=0, **overrides):
    """The tiny config with random weights of ``scale``, on a mock dataset
    of ``NUM_CLASSES`` classes."""
    spec = registry.get(NAME)
    config = spec.get_config("tiny")
    with config.unlocked():
        config.preprocessing = preprocessing
        config.conditional = conditional
        config.update(overrides)
    info = DataInfo(name="mock", event_shape=shape, num_levels=num_levels,
                    num_classes=NUM_CLASSES, split_sizes={"train": 16})
    model = spec.build(config, info)
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(scale * rng.standard_normal(variable.shape).astype(
            np.float32))
    return model


def logits_given(model, label):
    """The logits as a function of the inputs alone, for one label."""
    if not model.conditional:
        return model.logits
    return lambda inputs: model.logits(
        inputs, labels=tf.fill([tf.shape(inputs)[0]], tf.constant(
            label, tf.int64)))


@pytest.mark.parametrize("conditional", [False, True],
                         ids=["unconditional", "conditional"])
def test_logits_depend_only_on_earlier_values(conditional):
    """Position d's logits: zero gradient on inputs d, d+1, ...; four
    layers (7x7, then 3x3) on 7x7 images."""
    shape = (7, 7, 1)
    model = build(shape, conditional=conditional, num_layers=4)
    assert_causal(dependencies(logits_given(model, 1), shape), strict=True)


@pytest.mark.parametrize("num_layers", [2, 3])
def test_receptive_field_is_the_stated_reach(num_layers):
    """Pixel (i, j) sees exactly row i's r pixels to its left and rows
    i - r - 1 .. i - 1, columns j - r .. j + r, with r = 3//2 + (n - 1)
    * (3//2) = n for 3x3 kernels: the horizontal stack's reach and the
    vertical stack's, one row down. A missing down-shift, a vertical kernel
    of the wrong width or a horizontal one reading the pixel fails it."""
    shape = (11, 11, 1)
    model = build(shape, num_layers=num_layers, first_kernel_size=3,
                  kernel_size=3)
    depends = dependencies(model.logits, shape)
    row, column, reach = 7, 5, num_layers
    expected = np.zeros((11, 11), bool)
    expected[row, column - reach:column] = True
    expected[row - reach - 1:row, column - reach:column + reach + 1] = True
    np.testing.assert_array_equal(
        depends[row * 11 + column].reshape(11, 11), expected)


def test_no_blind_spot_unlike_the_plain_pixelcnn():
    """On 7x7 images, four gated layers (7x7, then 3x3) make the last
    pixel, a pixel in the middle of the last row and its first pixel
    depend on every earlier pixel; a plain PixelCNN as deep (the 7x7 mask-A
    layer and three residual blocks) misses (5, 4..6) from (6, 0), the
    blind spot above and to the right (van den Oord et al. 2016, figure
    1)."""
    shape = (7, 7, 1)
    gated = dependencies(build(shape, num_levels=2, num_layers=4).logits,
                         shape)
    for row, column in [(6, 6), (6, 3), (6, 0), (3, 3)]:
        position = row * 7 + column
        unseen = np.flatnonzero(~gated[position, :position])
        assert unseen.size == 0, (
            f"pixel ({row}, {column}) does not see {unseen.tolist()}")
    plain = dependencies(build_registered(
        "pixelcnn", shape, num_levels=2,
        overrides={"num_residual_blocks": 3}).logits, shape)
    sees = plain[6 * 7].reshape(7, 7)
    assert not sees[5, 4:].any(), "the plain PixelCNN has no blind spot"


@pytest.mark.parametrize(
    "shape,num_levels,preprocessing,conditional",
    [((2, 2, 1), 2, "binarize_dynamic", False),
     ((2, 2, 1), 3, "levels", False),
     ((2, 2, 1), 2, "binarize_static", True),
     ((2, 2, 1), 3, "levels", True)],
    ids=["binary_2x2", "levels3_2x2", "binary_2x2_conditional",
         "levels3_2x2_conditional"])
def test_log_prob_sums_to_one_over_a_tiny_space(shape, num_levels,
                                                preprocessing, conditional):
    """sum_x p(x) = 1, and sum_x p(x | y) = 1 for every label y."""
    model = build(shape, num_levels, preprocessing, conditional, scale=1.0)
    binarized = preprocessing != "levels"
    images = tf.constant(every_image(shape, num_levels, binarized))
    for label in range(NUM_CLASSES) if conditional else [None]:
        labels = None if label is None else tf.fill([len(images)], tf.constant(
            label, tf.int64))
        log_probs = np.asarray(model.log_prob(images=images, labels=labels)[
            "log_prob"], np.float64)
        # Not uniform: random weights make the test one of the maths.
        assert log_probs.std() > 0.1
        np.testing.assert_allclose(np.logaddexp.reduce(log_probs), 0.0,
                                   atol=1e-5, err_msg=f"label {label}")


def test_labels_change_every_conditional():
    """Every position's logits differ between labels, the first pixel's
    (which sees no pixel) included: the embedding reaches every gate's
    output."""
    shape = (3, 3, 1)
    model = build(shape, conditional=True)
    inputs = tf.constant(np.random.default_rng(0).random((1,) + shape),
                         tf.float32)
    by_label = [np.asarray(logits_given(model, label)(inputs))
                for label in range(NUM_CLASSES)]
    for first in range(NUM_CLASSES):
        for second in range(first + 1, NUM_CLASSES):
            difference = np.abs(by_label[first] - by_label[second]).max(
                axis=-1).ravel()  # (D,)
            assert np.all(difference > 1e-3), (first, second, difference)


def test_conditional_sample_is_seeded_row_by_row_and_follows_labels():
    model = build((3, 3, 1), num_levels=3, conditional=True, scale=1.0)
    seeds = tf.constant([3, 5, 7, 9], tf.int64)
    labels = tf.constant([2, 0, 1, 2], tf.int64)
    first = np.asarray(model.sample(seed=seeds, labels=labels)["images"])
    again = np.asarray(model.sample(seed=seeds, labels=labels)["images"])
    np.testing.assert_array_equal(first, again)
    alone = np.asarray(model.sample(seed=seeds[1:2],
                                    labels=labels[1:2])["images"])
    np.testing.assert_array_equal(first[1:2], alone)
    # The labels, not only the seeds, choose the images.
    many = tf.range(200, dtype=tf.int64)
    zeros = np.asarray(model.sample(seed=many, labels=tf.zeros_like(many))[
        "images"])
    ones = np.asarray(model.sample(seed=many, labels=tf.ones_like(many))[
        "images"])
    assert np.mean(np.any(zeros != ones, axis=(1, 2, 3))) > 0.2
    # Without labels, each row's label is drawn from its own seed.
    drawn = np.asarray(model.sample(seed=seeds)["images"])
    np.testing.assert_array_equal(
        drawn, np.asarray(model.sample(
            seed=seeds, labels=model.draw_labels(seeds))["images"]))
    completed = np.asarray(model.complete(
        images=tf.zeros((4, 3, 3, 1), tf.int32),
        mask=tf.zeros((4, 3, 3, 1)), seed=seeds, labels=labels)["images"])
    np.testing.assert_array_equal(completed, first)


def _digits(data_dir, split):
    examples = list(data.load("digits", split, preprocessing="levels",
                              seed=0, data_dir=data_dir))
    return (np.stack([example["image"].numpy() for example in examples]),
            np.array([example["label"].numpy() for example in examples]))


def test_conditional_model_trained_on_digits_classifies_by_likelihood(
        data_dir):
    """After a short training run, log p(x | true y) exceeds log p(x | y')
    on average over the test images, and argmax_y p(x | y) is right far
    more often than chance (1 in 10)."""
    info = data.get_info("digits", data_dir=data_dir)
    train_set = data.load("digits", "train", preprocessing="levels", seed=0,
                          data_dir=data_dir)
    images, labels = _digits(data_dir, "test")
    config = registry.get(NAME).get_config("tiny")
    with config.unlocked():
        config.conditional = True
        config.hidden_channels = 16
        config.num_layers = 3
        config.output_channels = 32
        config.optimizers.model.learning_rate = 3e-3
    keras.utils.set_random_seed(0)
    model = registry.get(NAME).build(config, info)
    model.compile_for_training()
    model.fit(train_set.shuffle(2000, seed=0).batch(32), epochs=6, verbose=0)
    classes = info.num_classes
    log_probs = np.stack([np.asarray(model.log_prob(
        images=tf.constant(images),
        labels=tf.fill([len(images)], tf.constant(label, tf.int64)))[
            "log_prob"]) for label in range(classes)], axis=1)  # (N, K)
    true = log_probs[np.arange(len(images)), labels]
    others = (log_probs.sum(axis=1) - true) / (classes - 1)
    # Measured: 11.6 nats apart and 86% right after 6 epochs; a model
    # that ignores its labels gives 0 nats and chance.
    assert np.mean(true - others) > 5.0, np.mean(true - others)
    accuracy = np.mean(np.argmax(log_probs, axis=1) == labels)
    assert accuracy > 0.5, accuracy


def test_conditional_variant_runs_end_to_end(data_dir, tmp_path):
    """The conditional tiny config through the command line's path: its
    metrics are finite and its export's sample signature takes labels."""
    prepared = train.prepare(NAME, variant="tiny",
                             overrides={"conditional": "True"},
                             workdir=tmp_path, data_dir=data_dir)
    results = train.execute(prepared, verbose=0)
    assert np.isfinite(results["test_nll"])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test_nll"] == results["test_nll"]
    loaded = tf.saved_model.load(results["export"])
    signature = loaded.signatures["sample"]
    assert "labels" in signature.structured_input_signature[1]
    images = signature(seed=tf.constant([1, 2], tf.int64),
                       labels=tf.constant([3, 4], tf.int64))["images"]
    expected = prepared.model.sample(seed=tf.constant([1, 2], tf.int64),
                                     labels=tf.constant([3, 4], tf.int64))
    np.testing.assert_allclose(images, expected["images"], atol=1e-6)


FAST_SAMPLERS = {
    # shape, levels, preprocessing, conditional, config overrides
    "gray17_5x5": ((5, 5, 1), 17, "levels", False, {}),
    "binary_8x8_3layers": ((8, 8, 1), 2, "binarize_dynamic", False,
                           {"num_layers": 3, "first_kernel_size": 5}),
    "gray17_5x5_conditional": ((5, 5, 1), 17, "levels", True,
                               {"num_layers": 3}),
    "binary_6x7_kernel5_conditional": ((6, 7, 1), 2, "binarize_static",
                                       True, {"num_layers": 3,
                                              "kernel_size": 5}),
}


@pytest.mark.parametrize("case", list(FAST_SAMPLERS))
def test_fast_sample_and_complete_equal_the_full_passes(case):
    """The cached stacks draw, for the same seeds (and labels), the images
    of a full pass per pixel: a vertical row linked one row late or early,
    a horizontal window shifted or a layer's cache skipped changes most
    draws of these random weights."""
    shape, num_levels, preprocessing, conditional, overrides = (
        FAST_SAMPLERS[case])
    fast, slow = (build(shape, num_levels, preprocessing, conditional,
                        scale=0.5, fast_sampling=flag, **overrides)
                  for flag in (True, False))
    for variable, twin in zip(fast.variables, slow.variables):
        np.testing.assert_array_equal(variable, twin)
    seeds = tf.range(8, dtype=tf.int64)
    labels = {"labels": seeds % NUM_CLASSES} if conditional else {}
    samples = np.asarray(fast.sample(seed=seeds, **labels)["images"])
    np.testing.assert_array_equal(
        samples, slow.sample(seed=seeds, **labels)["images"])
    levels = np.round(samples * (num_levels - 1))
    assert len(np.unique(levels)) > num_levels // 2
    assert len({image.tobytes() for image in levels}) == len(levels)

    rng = np.random.default_rng(1)
    images = rng.integers(0, num_levels, (8,) + shape)
    images = tf.constant(images, tf.int32 if preprocessing == "levels"
                         else tf.float32)
    mask = tf.constant(rng.random((8,) + shape) < 0.5, tf.float32)
    completed = np.asarray(fast.complete(images=images, mask=mask,
                                         seed=seeds, **labels)["images"])
    np.testing.assert_array_equal(completed, slow.complete(
        images=images, mask=mask, seed=seeds, **labels)["images"])
    known = np.asarray(mask) > 0
    np.testing.assert_array_equal(
        completed[known], np.asarray(fast.to_inputs(
            fast.to_levels(images)))[known])
    assert not np.array_equal(completed, samples)


@pytest.mark.parametrize("field,value", [
    ("hidden_channels", 0), ("num_layers", 0), ("output_channels", 0),
    ("first_kernel_size", 4), ("kernel_size", 2), ("preprocessing", "unit")])
def test_bad_configs_name_their_field(field, value):
    with pytest.raises(errors.UsageError, match=f"config.{field}="):
        build((4, 4, 1), **{field: value})


def test_colour_and_unlabelled_data_are_refused():
    with pytest.raises(errors.UsageError, match="3 channels"):
        build((4, 4, 3))
    spec = registry.get(NAME)
    config = spec.get_config("tiny")
    with config.unlocked():
        config.conditional = True
    info = DataInfo(name="mock", event_shape=(4, 4, 1), num_levels=3,
                    split_sizes={"train": 16})
    with pytest.raises(errors.UsageError, match="config.conditional=True"):
        spec.build(config, info)
