"""The discretized logistic mixture likelihood of PixelCNN++, as functions.

Salimans, Karpathy, Chen & Kingma (2017), "PixelCNN++: Improving the
PixelCNN with discretized logistic mixture likelihood and other
modifications", section 2.1-2.2. A channel value of L levels is the level's
centre v = 2 l / (L - 1) - 1 in [-1, 1]; its bin is [v - d, v + d] with
half-width d = 1 / (L - 1), and the edge bins take the tails:

    P(l) = sigma((v + d - mu) / s) - sigma((v - d - mu) / s)    0 < l < L-1
    P(0) = sigma((v + d - mu) / s)
    P(L - 1) = 1 - sigma((v - d - mu) / s)

so the L probabilities sum to 1 for any mu and s (a telescoping sum). The
interior difference is computed in log space as

    log P(l) = log sigma(a) + log(1 - sigma(b)) + log(1 - exp(b - a)),

a = (v + d - mu) / s, b = (v - d - mu) / s, each term by TFP's
``tfd.Logistic`` (``log_cdf``, ``log_survival_function``) or ``expm1``:
exact where the plain difference of CDFs rounds to zero in float32.

A pixel's C channels share one mixture of K components, each a product of
per-channel discretized logistics whose means move linearly with the values
of the earlier channels (equation 3, for C = 3):

    mu_G = mu'_G + alpha * x_R,   mu_B = mu'_B + beta * x_R + gamma * x_G.

``channel_log_probs`` turns the mixture into the autoregressive family's
categorical conditionals: log p(x_c = l | x_<c of the pixel), each a
normalized distribution over the L levels. The mixture weights of channel c
are the components' posteriors given the pixel's earlier channels, so the
conditionals' product is exactly the joint mixture of the paper.
``observed_log_probs`` gives the same conditionals at the pixel's own
values alone: the likelihood without the other L - 1 levels.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

# log s in [-7, 7]: the paper's floor on the scales, and a ceiling
# (s about 1100, far wider than [-1, 1]) that keeps exp finite.
MIN_LOG_SCALE = -7.0
MAX_LOG_SCALE = 7.0


def level_values(num_levels):
    """The centres of the L bins on [-1, 1], float32 (L,)."""
    return tf.linspace(-1.0, 1.0, num_levels)


def discretized_logistic_log_prob(values, means, log_scales, num_levels):
    """log P(value) under a discretized logistic of L levels.

    Args:
        values: float32 bin centres in [-1, 1] (any shape broadcasting with
            ``means``).
        means: float32 mu.
        log_scales: float32 log s (clipped to [``MIN_LOG_SCALE``,
            ``MAX_LOG_SCALE``]).
        num_levels: L >= 2.

    Returns:
        float32 log-probabilities, the broadcast shape.
    """
    half_width = 1.0 / (num_levels - 1)
    scales = tf.exp(tf.clip_by_value(log_scales, MIN_LOG_SCALE,
                                     MAX_LOG_SCALE))
    logistic = tfd.Logistic(loc=means, scale=scales)
    log_below_top = logistic.log_cdf(values + half_width)  # log sigma(a)
    log_above_bottom = logistic.log_survival_function(
        values - half_width)  # log(1 - sigma(b))
    # b - a = -2d / s < 0: log(1 - exp(b - a)) is finite.
    log_width = tf.math.log(-tf.math.expm1(-2.0 * half_width / scales))
    interior = log_below_top + log_above_bottom + log_width
    # Half a bin from the edges: robust to rounding of the centres.
    bottom = values < -1.0 + half_width
    top = values > 1.0 - half_width
    return tf.where(bottom, log_below_top,
                    tf.where(top, log_above_bottom, interior))


def num_parameters(num_components, num_channels):
    """Parameters per pixel: K logits, K*C means and log scales, and
    K * C(C-1)/2 coefficients."""
    return num_components * (1 + 2 * num_channels
                             + num_channels * (num_channels - 1) // 2)


def split_parameters(parameters, num_components, num_channels):
    """Splits (..., num_parameters) into the mixture's parameters.

    Returns:
        ``(logits (..., K), means (..., C, K), log_scales (..., C, K),
        coefficients (..., C(C-1)/2, K))``; the coefficients are tanh of
        the raw outputs, as in the paper's code.
    """
    k, c = num_components, num_channels
    logits, means, log_scales, coefficients = tf.split(
        parameters, [k, c * k, c * k, c * (c - 1) // 2 * k], axis=-1)
    batch_shape = tf.shape(parameters)[:-1]

    def per(tensor, rows):
        return tf.reshape(tensor, tf.concat([batch_shape, [rows, k]], 0))

    return (logits, per(means, c), per(log_scales, c),
            tf.tanh(per(coefficients, c * (c - 1) // 2)))


def channel_means(means, coefficients, values):
    """The paper's linear dependence of each channel's means on earlier ones.

    Args:
        means: float32 (..., C, K), mu'.
        coefficients: float32 (..., C(C-1)/2, K): for c = 1.., the pairs
            (c, 0), (c, 1), ..., (c, c-1) in order (alpha; beta, gamma).
        values: float32 (..., C) the pixel's values in [-1, 1].

    Returns:
        float32 (..., C, K): mu_c = mu'_c + sum_{j<c} coef_cj * x_j.
    """
    num_channels = means.shape[-2]
    adjusted = [means[..., 0, :]]
    pair = 0
    for channel in range(1, num_channels):
        mean = means[..., channel, :]
        for earlier in range(channel):
            mean += coefficients[..., pair, :] * values[..., earlier, None]
            pair += 1
        adjusted.append(mean)
    return tf.stack(adjusted, axis=-2)


def _component_log_probs(parameters, values, num_components, num_levels):
    """The pixel's mixture: (own log P_k(x_c) (..., C, K), channel c's
    normalized log weights (..., C, K), means (..., C, K), log scales)."""
    num_channels = values.shape[-1]
    logits, means, log_scales, coefficients = split_parameters(
        parameters, num_components, num_channels)
    means = channel_means(means, coefficients, values)  # (..., C, K)
    # log P_k(x_c) of the pixel's own values.
    own_log_probs = discretized_logistic_log_prob(
        values[..., None], means, log_scales, num_levels)  # (..., C, K)
    # Channel c's mixture weights: log pi_k + sum_{j<c} log P_k(x_j),
    # normalized over k (the posterior given the earlier channels).
    log_weights = tf.nn.log_softmax(logits, axis=-1)[..., None, :] + (
        tf.math.cumsum(own_log_probs, axis=-2, exclusive=True))
    log_weights -= tf.reduce_logsumexp(log_weights, axis=-1, keepdims=True)
    return own_log_probs, log_weights, means, log_scales


def observed_log_probs(parameters, values, num_components, num_levels):
    """log p(x_c | x_<c of the pixel) at the pixel's own values.

    The entries of ``channel_log_probs`` at the values' levels, computed
    for those levels alone (one discretized logistic per component, not
    L): the likelihood's cost does not grow with the levels.

    Args:
        parameters: float32 (..., num_parameters(K, C)) from the network.
        values: float32 (..., C) the pixel's values (bin centres) in
            [-1, 1].
        num_components: K.
        num_levels: L.

    Returns:
        float32 (..., C).
    """
    own_log_probs, log_weights, _, _ = _component_log_probs(
        parameters, values, num_components, num_levels)
    return tf.reduce_logsumexp(log_weights + own_log_probs, axis=-1)


def channel_log_probs(parameters, values, num_components, num_levels):
    """log p(x_c = l | x_<c of the pixel) of every channel and level.

    Args:
        parameters: float32 (..., num_parameters(K, C)) from the network.
        values: float32 (..., C) the pixel's values in [-1, 1] (channel c's
            conditional reads only the values of channels < c).
        num_components: K.
        num_levels: L.

    Returns:
        float32 (..., C, L); each (..., c, :) sums to 1 in probability.
    """
    _, log_weights, means, log_scales = _component_log_probs(
        parameters, values, num_components, num_levels)
    # log P_k(l) of every channel, component and level.
    level_log_probs = discretized_logistic_log_prob(
        level_values(num_levels), means[..., None], log_scales[..., None],
        num_levels)  # (..., C, K, L)
    return tf.reduce_logsumexp(
        log_weights[..., None] + level_log_probs, axis=-2)  # (..., C, L)
