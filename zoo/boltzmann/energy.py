"""Energies, free energies and conditionals of restricted Boltzmann machines.

Pure functions of the parameters, shared by every model of the family (the
RBMs, the deep belief net's layers). Shapes: ``visible`` (B, V), ``hidden``
(B, H), ``weights`` (V, H), ``visible_bias`` (V,), ``hidden_bias`` (H,).

Bernoulli-Bernoulli RBM (Smolensky 1986; Hinton 2002):

    E(v, h) = -v'Wh - c'v - b'h
    F(v)    = -log sum_h exp(-E(v, h)) = -c'v - sum_j softplus((v'W + b)_j)

Gaussian-Bernoulli RBM with unit variances (inputs standardized; Hinton &
Salakhutdinov 2006):

    E(v, h) = |v - c|^2 / 2 - v'Wh - b'h
    F(v)    = |v - c|^2 / 2 - sum_j softplus((v'W + b)_j)

The conditionals are TFP distributions: p(h|v) and, for binary visibles,
p(v|h) are products of Bernoullis; for Gaussian visibles p(v|h) is
N(c + Wh, I). ``exp(-F(v))`` is the unnormalized probability of ``v``, so
``-F`` is the unnormalized log probability.

Also here: the gradient of contrastive divergence (Hinton 2002) in closed
form, the one every model of the family trains with; the table of binary
states that exact enumerations sum over; and the pseudo-likelihood of
Besag (1975), which the RBMs track in training and the benchmark scores.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def hidden_logits(visible, weights, hidden_bias):
    """Returns the logits of p(h_j = 1 | v), (B, H)."""
    return tf.matmul(visible, weights) + hidden_bias


def hidden_distribution(visible, weights, hidden_bias):
    """Returns p(h|v): independent Bernoullis, batch (B,), event (H,)."""
    return tfd.Independent(
        tfd.Bernoulli(logits=hidden_logits(visible, weights, hidden_bias),
                      dtype=tf.float32),
        reinterpreted_batch_ndims=1)


def visible_distribution(hidden, weights, visible_bias, *, gaussian=False):
    """Returns p(v|h), batch (B,), event (V,).

    Args:
        hidden: (B, H) hidden states.
        weights: (V, H).
        visible_bias: (V,).
        gaussian: unit-variance Gaussian visibles instead of Bernoullis.
    """
    activation = tf.matmul(hidden, weights, transpose_b=True) + visible_bias
    if gaussian:
        return tfd.Independent(tfd.Normal(loc=activation, scale=1.0),
                               reinterpreted_batch_ndims=1)
    return tfd.Independent(tfd.Bernoulli(logits=activation, dtype=tf.float32),
                           reinterpreted_batch_ndims=1)


def energy(visible, hidden, weights, visible_bias, hidden_bias, *,
           gaussian=False):
    """Returns E(v, h), (B,)."""
    interaction = tf.reduce_sum(tf.matmul(visible, weights) * hidden, axis=-1)
    hidden_term = tf.linalg.matvec(hidden, hidden_bias)
    if gaussian:
        visible_term = -0.5 * tf.reduce_sum(
            tf.square(visible - visible_bias), axis=-1)
    else:
        visible_term = tf.linalg.matvec(visible, visible_bias)
    return -interaction - visible_term - hidden_term


def free_energy(visible, weights, visible_bias, hidden_bias, *,
                gaussian=False):
    """Returns F(v) = -log sum_h exp(-E(v, h)), (B,), hidden units summed out."""
    softplus_sum = tf.reduce_sum(
        tf.nn.softplus(hidden_logits(visible, weights, hidden_bias)), axis=-1)
    if gaussian:
        visible_term = 0.5 * tf.reduce_sum(
            tf.square(visible - visible_bias), axis=-1)
    else:
        visible_term = -tf.linalg.matvec(visible, visible_bias)
    return visible_term - softplus_sum


def contrastive_divergence_objective(data_visible, negative_visible, weights,
                                     visible_bias, hidden_bias, *,
                                     gaussian=False):
    """Mean F(data) - mean F(negative): its gradient is the CD/PCD update.

    With ``negative_visible`` held constant (``tf.stop_gradient``), the
    gradient with respect to W is -<v p(h|v)'>_data + <v p(h|v)'>_negative,
    the (negated) learning rule of Hinton (2002); descending it raises the
    data's probability and lowers the negative samples'.

    Returns:
        A scalar.
    """
    negative_visible = tf.stop_gradient(negative_visible)
    return (tf.reduce_mean(free_energy(data_visible, weights, visible_bias,
                                       hidden_bias, gaussian=gaussian))
            - tf.reduce_mean(free_energy(negative_visible, weights,
                                         visible_bias, hidden_bias,
                                         gaussian=gaussian)))


def num_rows(tensor):
    """The first dimension: a Python int when static (fewer graph ops)."""
    return tensor.shape[0] if tensor.shape[0] is not None else tf.shape(
        tensor)[0]


def contrastive_divergence_gradients(data_visible, data_hidden,
                                     negative_visible, negative_hidden):
    """The gradient of ``contrastive_divergence_objective``, in closed form.

    With p(h|v) of both phases given, it costs two matrix products, where
    automatic differentiation of the free energies recomputes both phases'
    hidden activations:

        dW = <v p(h|v)'>_negative - <v p(h|v)'>_data
        dc = <v>_negative - <v>_data
        db = <p(h|v)>_negative - <p(h|v)>_data

    The same for Gaussian visibles: the c of (v - c) cancels between the
    two means.

    Args:
        data_visible: (N, V) data.
        data_hidden: (N, H) p(h = 1 | data) under the current parameters
            (under others this is not the objective's gradient).
        negative_visible: (M, V) negative samples.
        negative_hidden: (M, H) p(h = 1 | negatives), likewise.

    Returns:
        The gradients with respect to the weights (V, H), the visible biases
        (V,) and the hidden biases (H,).
    """
    data_count, negative_count = (
        tf.cast(num_rows(visible), visible.dtype)
        for visible in (data_visible, negative_visible))
    weights = (tf.matmul(negative_visible, negative_hidden / negative_count,
                         transpose_a=True)
               - tf.matmul(data_visible, data_hidden / data_count,
                           transpose_a=True))
    visible_bias = (tf.reduce_mean(negative_visible, axis=0)
                    - tf.reduce_mean(data_visible, axis=0))
    hidden_bias = (tf.reduce_mean(negative_hidden, axis=0)
                   - tf.reduce_mean(data_hidden, axis=0))
    return weights, visible_bias, hidden_bias


def binary_states(num_units, start=0, stop=None, dtype=tf.float32):
    """Rows ``start`` .. ``stop - 1`` of the table of all 2^n binary vectors.

    Row k holds the bits of k, least significant first. Built by ops rather
    than as a constant, so that a traced signature stays small; a caller
    that enumerates many units takes the table in chunks (``start``,
    ``stop``) to bound its memory.

    Args:
        num_units: n, the length of each vector.
        start: first row.
        stop: one past the last row; ``2**num_units`` if None.
        dtype: of the result.

    Returns:
        A tensor (stop - start, num_units) of 0s and 1s.
    """
    if stop is None:
        stop = 2**num_units
    codes = tf.range(start, stop, dtype=tf.int64)[:, None]  # (S, 1)
    bits = tf.bitwise.right_shift(codes, tf.range(num_units, dtype=tf.int64))
    return tf.cast(tf.bitwise.bitwise_and(bits, 1), dtype)  # (S, n)


def pseudo_log_likelihood(visible, flip_indices, weights, visible_bias,
                          hidden_bias):
    """Stochastic pseudo-log-likelihood of binary vectors (Besag 1975).

    sum_i log p(v_i | v_-i) estimated from one coordinate i per vector:
    V * log sigmoid(F(v with v_i flipped) - F(v)), unbiased over a uniform i.

    Args:
        visible: (B, V) binary.
        flip_indices: (B,) integer, the coordinate of each row.
        weights, visible_bias, hidden_bias: a Bernoulli RBM's parameters.

    Returns:
        (B,) in nats.
    """
    num_visible = tf.shape(visible)[1]
    flip = tf.one_hot(flip_indices, num_visible, dtype=visible.dtype)  # (B, V)
    flipped = visible + flip - 2.0 * visible * flip
    gap = (free_energy(flipped, weights, visible_bias, hidden_bias)
           - free_energy(visible, weights, visible_bias, hidden_bias))
    return tf.cast(num_visible, visible.dtype) * tf.math.log_sigmoid(gap)


def exact_pseudo_log_likelihood(visible, weights, visible_bias, hidden_bias):
    """Pseudo-log-likelihood of binary vectors, every coordinate flipped.

    sum_i log p(v_i | v_-i) = sum_i log sigmoid(F(v with v_i flipped) - F(v))
    (Besag 1975), exactly: one free energy per coordinate, so for scoring
    models, not for training (``pseudo_log_likelihood`` estimates it from
    one coordinate).

    Args:
        visible: (B, V) binary.
        weights, visible_bias, hidden_bias: a Bernoulli RBM's parameters.

    Returns:
        (B,) in nats.
    """
    visible = tf.convert_to_tensor(visible, tf.float32)
    weights, visible_bias, hidden_bias = (
        tf.cast(parameter, tf.float32)
        for parameter in (weights, visible_bias, hidden_bias))
    base = free_energy(visible, weights, visible_bias, hidden_bias)
    total = tf.zeros_like(base)
    for pixel in range(visible.shape[1]):
        flipped = tf.concat([visible[:, :pixel],
                             1.0 - visible[:, pixel:pixel + 1],
                             visible[:, pixel + 1:]], axis=1)
        gap = free_energy(flipped, weights, visible_bias, hidden_bias)
        total += tf.math.log_sigmoid(gap - base)
    return total
