"""Fully visible belief net: causality, normalization, its fast sampler."""


import numpy as np
import pytest
import tensorflow as tf

from autoregressive_helpers import assert_causal
from autoregressive_helpers import build
from autoregressive_helpers import dependencies
from autoregressive_helpers import every_image
from tfgen import errors
from tfgen import registry
from tfgen.data import DataInfo


@pytest.mark.parametrize("shape", [(3, 3, 1), (2, 2, 3)],
                         ids=["gray", "colour"])
def test_logits_depend_only_on_earlier_values(shape):
    model = build("fvbn", shape, num_levels=3)
    depends = dependencies(model.logits, shape)
    assert_causal(depends, strict=True)
    # A regression on every earlier value: all of them, not just some.
    np.testing.assert_array_equal(depends, np.tril(np.ones_like(depends),
                                                   k=-1))


@pytest.mark.parametrize(
    "shape,num_levels,preprocessing",
    [((2, 2, 1), 2, "binarize_dynamic"), ((2, 2, 1), 3, "levels"),
     ((1, 2, 3), 2, "levels")],
    ids=["binary_2x2", "levels3_2x2", "levels2_1x2x3"])
def test_log_prob_sums_to_one_over_a_tiny_space(shape, num_levels,
                                                preprocessing):
    model = build("fvbn", shape, num_levels, preprocessing, scale=1.0)
    binarized = preprocessing != "levels"
    images = every_image(shape, num_levels, binarized)
    log_probs = np.asarray(model.log_prob(images=tf.constant(images))[
        "log_prob"], np.float64)
    assert log_probs.std() > 0.1
    np.testing.assert_allclose(np.logaddexp.reduce(log_probs), 0.0,
                               atol=1e-5)


def test_binary_conditionals_are_logistic_regressions():
    """log p(x) by hand: sigmoid of b + W x_<d per value, as Frey (1998)."""
    shape = (2, 2, 1)
    model = build("fvbn", shape, 2, "binarize_static", scale=1.0)
    images = every_image(shape, 2, binarized=True)
    flat = images.reshape(len(images), -1).astype(np.float64)
    kernel = np.asarray(model.kernel).reshape(4, 4, 2)
    bias = np.asarray(model.bias).reshape(4, 2)
    expected = np.zeros(len(images))
    for d in range(4):
        logits = bias[d] + flat[:, :d] @ kernel[:d, d]  # (N, 2)
        log_norm = np.logaddexp(logits[:, 0], logits[:, 1])
        chosen = np.where(flat[:, d] == 1, logits[:, 1], logits[:, 0])
        expected += chosen - log_norm
    np.testing.assert_allclose(model.log_prob(images=images)["log_prob"],
                               expected, rtol=1e-5, atol=1e-5)


def test_fast_sampler_draws_what_the_full_pass_draws(monkeypatch):
    """The running-sum sampler gives the base's full-pass samples."""
    model = build("fvbn", (3, 3, 2), num_levels=4, scale=1.0)
    rng = np.random.default_rng(0)
    levels = tf.constant(rng.integers(0, 4, (40, 3, 3, 2)), tf.int32)
    known = rng.random((40, 3, 3, 2)) < 0.5
    known[:20] = False  # samples from scratch
    # Completions whose first value is known: the running sums must count
    # its term once.
    known[20:, 0, 0, 0] = True
    known = tf.constant(known)
    seeds = tf.range(40, dtype=tf.int64)
    fast = model.draw_unknown(levels, known, seeds)

    monkeypatch.setattr(model, "fast_sampling", False)
    slow = model.draw_unknown(levels, known, seeds)
    np.testing.assert_array_equal(fast, slow)
    assert len(np.unique(np.asarray(fast))) == 4


def test_bad_config_names_its_field():
    spec = registry.get("fvbn")
    info = DataInfo(name="gray", event_shape=(4, 4, 1), num_levels=4)
    for field, value in [("weight_decay", -1.0),
                         ("preprocessing", "symmetric")]:
        config = spec.get_config("tiny")
        with config.unlocked():
            config[field] = value
        with pytest.raises(errors.UsageError, match=f"config.{field}="):
            spec.build(config, info)
