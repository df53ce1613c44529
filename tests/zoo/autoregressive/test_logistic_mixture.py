"""The discretized logistic mixture: normalization, hand numbers, TFP, RGB.

Salimans et al. (2017), PixelCNN++, sections 2.1-2.2. Checked against
numpy (CDF differences, edge bins), against TFP's quantized logistic
mixture as ``tfd.PixelCNN`` builds it, and, for colour, against the joint
mixture of the paper's equation (3) enumerated in numpy.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.autoregressive import logistic_mixture

tfd = tfp.distributions


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_level_probs(mean, scale, num_levels):
    """P(l) for l = 0..L-1 by CDF differences, the edges taking the tails."""
    centres = np.linspace(-1.0, 1.0, num_levels)
    half = 1.0 / (num_levels - 1)
    upper = _sigmoid((centres + half - mean) / scale)
    lower = _sigmoid((centres - half - mean) / scale)
    upper[-1], lower[0] = 1.0, 0.0
    return upper - lower


def _random_parameters(rng, shape, num_components, num_channels, spread=2.0):
    size = logistic_mixture.num_parameters(num_components, num_channels)
    return tf.constant(spread * rng.standard_normal(shape + (size,)),
                       tf.float32)


@pytest.mark.parametrize("num_levels", [2, 17, 256])
@pytest.mark.parametrize("num_channels", [1, 3])
def test_level_probabilities_sum_to_one(num_levels, num_channels):
    rng = np.random.default_rng(num_levels + num_channels)
    parameters = _random_parameters(rng, (6, 5), num_components=4,
                                    num_channels=num_channels)
    values = tf.constant(rng.integers(0, num_levels, (6, 5, num_channels))
                         * 2.0 / (num_levels - 1) - 1.0, tf.float32)
    log_probs = logistic_mixture.channel_log_probs(
        parameters, values, num_components=4, num_levels=num_levels)
    assert log_probs.shape == (6, 5, num_channels, num_levels)
    np.testing.assert_allclose(
        tf.reduce_logsumexp(log_probs, axis=-1), 0.0, atol=2e-5)
    # Far from uniform: the test is one of the maths, not of a flat table.
    assert np.ptp(np.asarray(log_probs)) > 1.0


@pytest.mark.parametrize("mean,log_scale", [(0.1, np.log(0.3)),
                                            (-0.9, np.log(0.05)),
                                            (1.7, np.log(2.0))])
@pytest.mark.parametrize("num_levels", [2, 5, 17])
def test_one_logistic_matches_cdf_differences(mean, log_scale, num_levels):
    log_probs = logistic_mixture.discretized_logistic_log_prob(
        logistic_mixture.level_values(num_levels), np.float32(mean),
        np.float32(log_scale), num_levels)
    np.testing.assert_allclose(
        np.exp(log_probs),
        _numpy_level_probs(mean, np.exp(log_scale), num_levels),
        rtol=1e-5, atol=1e-7)


def test_hand_computed_numbers():
    """L = 5 (centres -1, -0.5, 0, 0.5, 1; half-width 0.25), mu = 0.1,
    s = 0.3: P(0) = sigmoid((-0.75 - 0.1) / 0.3) = sigmoid(-2.8333),
    P(2) = sigmoid(0.5) - sigmoid(-1.1667), P(4) = 1 - sigmoid(2.1667)."""
    log_probs = np.asarray(logistic_mixture.discretized_logistic_log_prob(
        tf.constant([-1.0, 0.0, 1.0]), np.float32(0.1),
        np.float32(np.log(0.3)), 5))
    np.testing.assert_allclose(np.exp(log_probs),
                               [0.0555493, 0.3850013, 0.1027840], rtol=1e-5)


def test_far_tail_interior_bins_are_finite_and_exact():
    """A bin 20 scales above the mean: its two CDFs round to 1 in float32
    (their difference to 0); its log-probability is finite and the one
    float64 gives."""
    num_levels, scale = 256, np.exp(-7.0)  # the floor on the scale
    value = 2.0 * 200 / 255 - 1.0
    mean = value - 20 * scale
    log_prob = float(logistic_mixture.discretized_logistic_log_prob(
        tf.constant(value), np.float32(mean), np.float32(-7.0),
        num_levels))
    width = 2.0 / 255
    exact = np.log(_sigmoid((value + width / 2 - mean) / scale)
                   - _sigmoid((value - width / 2 - mean) / scale))
    assert np.isfinite(log_prob)
    np.testing.assert_allclose(log_prob, exact, rtol=1e-4)


def test_gray_mixture_matches_tfp_quantized_logistic_mixture():
    """C = 1: the levels' log-probabilities are those of TFP's quantized
    logistic mixture on the integer levels, built as ``tfd.PixelCNN`` builds
    it (a Logistic on the level scale shifted by -1/2, quantized)."""
    num_levels, num_components = 17, 3
    rng = np.random.default_rng(0)
    parameters = _random_parameters(rng, (7,), num_components, 1, spread=1.0)
    ours = logistic_mixture.channel_log_probs(
        parameters, tf.zeros((7, 1)), num_components, num_levels)[:, 0]
    logits, means, log_scales, _ = logistic_mixture.split_parameters(
        parameters, num_components, 1)
    half_range = 0.5 * (num_levels - 1)
    quantized = tfd.QuantizedDistribution(
        tfd.TransformedDistribution(
            tfd.Logistic(loc=half_range * (means[:, 0] + 1.0),
                         scale=half_range * tf.exp(log_scales[:, 0])),
            tfp.bijectors.Shift(-0.5)),
        low=0.0, high=float(num_levels - 1))
    mixture = tfd.MixtureSameFamily(tfd.Categorical(logits=logits), quantized)
    levels = tf.range(num_levels, dtype=tf.float32)[:, None]  # (L, 1)
    theirs = tf.transpose(mixture.log_prob(levels))  # (7, L)
    np.testing.assert_allclose(ours, theirs, atol=2e-4)


def test_green_and_blue_means_follow_the_coefficients():
    """mu_G = mu'_G + alpha x_R, mu_B = mu'_B + beta x_R + gamma x_G."""
    rng = np.random.default_rng(1)
    means = rng.standard_normal((4, 3, 2)).astype(np.float32)  # (B, C, K)
    coefficients = rng.uniform(-1, 1, (4, 3, 2)).astype(np.float32)
    values = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    adjusted = np.asarray(logistic_mixture.channel_means(
        tf.constant(means), tf.constant(coefficients), tf.constant(values)))
    alpha, beta, gamma = coefficients[:, 0], coefficients[:, 1], (
        coefficients[:, 2])
    red, green = values[:, :1], values[:, 1:2]
    np.testing.assert_allclose(adjusted[:, 0], means[:, 0])
    np.testing.assert_allclose(adjusted[:, 1], means[:, 1] + alpha * red,
                               rtol=1e-6)
    np.testing.assert_allclose(
        adjusted[:, 2], means[:, 2] + beta * red + gamma * green, rtol=1e-6)


def test_colour_conditionals_multiply_to_the_papers_joint_mixture():
    """For every (r, g, b) of 4 levels: the product of the three channels'
    conditionals is sum_k pi_k P_k(r) P_k(g | r) P_k(b | r, g), the joint
    of equation (3), with P_k by CDF differences in numpy."""
    num_levels, num_components = 4, 3
    rng = np.random.default_rng(2)
    parameters = _random_parameters(rng, (), num_components, 3, spread=1.0)
    logits, means, log_scales, coefficients = (
        np.asarray(t, np.float64) for t in logistic_mixture.split_parameters(
            parameters, num_components, 3))
    weights = np.exp(logits - np.logaddexp.reduce(logits))
    scales = np.exp(log_scales)  # (C, K)
    centres = np.linspace(-1.0, 1.0, num_levels)
    pixels = np.array(list(itertools.product(range(num_levels), repeat=3)))
    values = centres[pixels]  # (64, 3)
    ours = logistic_mixture.channel_log_probs(
        tf.broadcast_to(parameters, (len(pixels), parameters.shape[-1])),
        tf.constant(values, tf.float32), num_components, num_levels)
    ours = np.exp(np.take_along_axis(np.asarray(ours, np.float64),
                                     pixels[..., None], -1)[..., 0].sum(-1))
    joint = np.zeros(len(pixels))
    for k in range(num_components):
        (alpha, beta, gamma) = coefficients[:, k]
        red, green = values[:, 0], values[:, 1]
        component_means = [np.full(len(pixels), means[0, k]),
                           means[1, k] + alpha * red,
                           means[2, k] + beta * red + gamma * green]
        product = weights[k] * np.ones(len(pixels))
        for channel in range(3):
            table = np.stack([_numpy_level_probs(m, scales[channel, k],
                                                 num_levels)
                              for m in component_means[channel]])
            product *= table[np.arange(len(pixels)), pixels[:, channel]]
        joint += product
    np.testing.assert_allclose(joint.sum(), 1.0, rtol=1e-9)
    np.testing.assert_allclose(ours, joint, rtol=1e-4, atol=1e-8)
