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


def mean_log_odds(batches, to_units, floor):
    """Log-odds of each unit's mean activity over a dataset, (N,).

    The usual initial bias of binary units (Hinton 2010, section 8): with
    small weights the model then starts at the independent-unit fit.

    Args:
        batches: an iterable of dataset batches.
        to_units: maps a batch to its (B, N) unit activities in [0, 1].
        floor: means are clipped to [floor, 1 - floor] so that a unit that
            is always off (or on) gets a finite bias.

    Returns:
        A float32 tensor (N,).
    """
    total, count = 0.0, 0
    for batch in batches:
        units = tf.cast(to_units(batch), tf.float32)  # (B, N)
        total += tf.reduce_sum(units, axis=0)
        count += int(units.shape[0])
    rate = tf.clip_by_value(total / count, floor, 1 - floor)
    return tf.math.log(rate) - tf.math.log1p(-rate)
