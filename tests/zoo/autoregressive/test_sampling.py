"""The family's one sampler and likelihood units (zoo.autoregressive.base).

Samples are checked against the model's own conditionals: on a space small
enough to enumerate, the frequencies of many seeded samples match
exp(log_prob) by a chi-square test.
"""

import math

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from autoregressive_helpers import build
from autoregressive_helpers import every_image
from tfgen import train

# Seeds are fixed, so each test is deterministic; a correct sampler fails
# a chi-square test at this level once in 10,000 seed choices.
_P_VALUE = 1e-4


def _frequencies(images, space):
    """Counts of each image of ``space`` among ``images``."""
    flat_space = space.reshape(len(space), -1)
    index = {tuple(row): i for i, row in enumerate(flat_space)}
    counts = np.zeros(len(space))
    for row in np.asarray(images).reshape(len(images), -1):
        counts[index[tuple(row)]] += 1
    return counts


def _assert_matches(counts, probabilities):
    """Chi-square goodness of fit of counts to probabilities."""
    expected = probabilities / probabilities.sum() * counts.sum()
    statistic, p_value = scipy.stats.chisquare(counts, expected)
    assert p_value > _P_VALUE, (statistic, p_value)


@pytest.mark.parametrize(
    "name,shape,num_levels,preprocessing",
    [("pixelcnn", (1, 2, 3), 2, "binarize_dynamic"),
     ("fvbn", (2, 2, 1), 3, "levels")],
    ids=["pixelcnn_binary_1x2x3", "fvbn_levels3_2x2"])
def test_samples_follow_the_model_distribution(name, shape, num_levels,
                                               preprocessing):
    model = build(name, shape, num_levels, preprocessing, scale=1.0,
                  overrides={"hidden_channels": 3, "output_channels": 6}
                  if name == "pixelcnn" else None)
    binarized = preprocessing != "levels"
    space = every_image(shape, num_levels, binarized)
    probabilities = np.exp(np.asarray(
        model.log_prob(images=space)["log_prob"], np.float64))
    num_samples = 20_000
    images = np.asarray(model.sample(seed=tf.range(
        num_samples, dtype=tf.int64))["images"])
    levels = np.rint(images * (num_levels - 1)).astype(space.dtype)
    counts = _frequencies(levels, space)
    _assert_matches(counts, probabilities)
    # The test has power: a distribution 10% off fails it.
    skewed = probabilities * np.exp(0.2 * np.sign(np.arange(len(space)) % 2
                                                  - 0.5))
    with pytest.raises(AssertionError):
        _assert_matches(counts, skewed)


def test_completions_follow_the_conditional_given_the_first_pixel():
    """With pixel 0 known, the rest follow p(x) / p(x_0)."""
    shape = (2, 2, 1)
    model = build("fvbn", shape, 2, "binarize_static", scale=1.5)
    space = every_image(shape, 2, binarized=True)
    probabilities = np.exp(np.asarray(
        model.log_prob(images=space)["log_prob"], np.float64))
    given = space[:, 0, 0, 0] == 1
    num_samples = 10_000
    images = np.ones((num_samples,) + shape, np.float32)
    mask = np.zeros_like(images)
    mask[:, 0, 0, 0] = 1.0
    completed = np.asarray(model.complete(
        images=images, mask=mask,
        seed=tf.range(num_samples, dtype=tf.int64))["images"])
    assert np.all(completed[:, 0, 0, 0] == 1)
    counts = _frequencies(completed, space)
    assert counts[~given].sum() == 0
    _assert_matches(counts[given], probabilities[given])


@pytest.fixture(scope="module")
def model():
    return build("pixelcnn", (3, 4, 3), 5, "levels", scale=0.5,
                 overrides={"hidden_channels": 6, "output_channels": 6})


def test_sample_row_depends_on_its_seed_alone(model):
    seeds = tf.constant([11, 12, 13, 14], tf.int64)
    rows = np.asarray(model.sample(seed=seeds)["images"])
    alone = np.asarray(model.sample(seed=seeds[2:3])["images"])
    np.testing.assert_array_equal(rows[2:3], alone)
    assert len({row.tobytes() for row in rows}) == 4
    levels = rows * 4
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-6)


def test_complete_keeps_known_values_and_is_seeded_by_row(model):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 5, (4, 3, 4, 3)).astype(np.int32)
    mask = (rng.random(images.shape) < 0.5).astype(np.float32)
    seeds = tf.constant([1, 2, 3, 4], tf.int64)
    completed = np.asarray(model.complete(images=images, mask=mask,
                                          seed=seeds)["images"]) * 4
    known = mask == 1
    np.testing.assert_allclose(completed[known], images[known], atol=1e-6)
    assert np.any(np.rint(completed[~known]) != images[~known])
    alone = np.asarray(model.complete(images=images[1:2], mask=mask[1:2],
                                      seed=seeds[1:2])["images"]) * 4
    np.testing.assert_array_equal(completed[1:2], alone)
    everything = np.asarray(model.complete(
        images=images, mask=np.ones_like(mask), seed=seeds)["images"]) * 4
    np.testing.assert_allclose(everything, images, atol=1e-6)


def test_sample_and_complete_run_inside_a_tf_function(model):
    """As the export traces them: the same results as eager calls."""
    seeds = tf.constant([5, 6], tf.int64)
    images = tf.constant(np.random.default_rng(2).integers(
        0, 5, (2, 3, 4, 3)), tf.int32)
    mask = tf.cast(tf.random.stateless_uniform(images.shape, [1, 2]) < 0.5,
                   tf.float32)
    sample = tf.function(lambda seed: model.sample(seed=seed))
    complete = tf.function(lambda images, mask, seed: model.complete(
        images=images, mask=mask, seed=seed))
    np.testing.assert_array_equal(sample(seeds)["images"],
                                  model.sample(seed=seeds)["images"])
    np.testing.assert_array_equal(
        complete(images, mask, seeds)["images"],
        model.complete(images=images, mask=mask, seed=seeds)["images"])


def test_metrics_in_nats_and_bits_per_dim_agree(model):
    images = np.random.default_rng(3).integers(0, 5, (6, 3, 4, 3)).astype(
        np.int32)
    log_prob = np.asarray(model.log_prob(images=images)["log_prob"])
    model.reset_metrics()
    logs = model.test_step({"image": tf.constant(images)})
    nats = -log_prob.mean()
    np.testing.assert_allclose(logs["nll"], nats, rtol=1e-5)
    np.testing.assert_allclose(logs["bits_per_dim"],
                               nats / (3 * 4 * 3 * math.log(2.0)), rtol=1e-5)


@pytest.mark.parametrize("name,overrides,epochs", [
    ("fvbn", {}, 5),
    ("pixelcnn", {"hidden_channels": "16", "output_channels": "32"}, 3)])
def test_training_beats_independent_pixels_on_digits(name, overrides, epochs,
                                                     data_dir, tmp_path):
    """A few epochs of a small model, through the command line's path."""
    run = train.prepare(name, variant="tiny", overrides=overrides,
                        epochs=epochs, workdir=tmp_path, data_dir=data_dir)
    results = train.execute(run, verbose=0)
    assert results["test_nll"] < results["baseline_independent_pixels_nll"]
    np.testing.assert_allclose(
        results["test_bits_per_dim"],
        results["test_nll"] / (64 * math.log(2.0)), rtol=1e-6)
