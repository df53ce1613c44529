"""The directed layers of a deep belief net: a sigmoid belief net.

Below its top RBM, a DBN (Hinton, Osindero & Teh 2006) is a directed
sigmoid belief net (Neal 1992): each layer h_l is generated from the one
above by independent Bernoullis, p(h_l | h_{l+1}) with logits
h_{l+1} G_l' + g_l. Recognition weights approximate the posterior bottom-up
with a factorial q(h_{l+1} | h_l) of logits h_l R_l + r_l. Both G_l and R_l
are stored (size_l, size_{l+1}).

For a layer of sigmoid units with logits a = x W + b and targets t,
-log p(t | x) = sum_j softplus(a_j) - t_j a_j, whose gradient with respect
to a is sigmoid(a) - t: the learning rules of the wake and sleep phases
(``generative_terms``, ``recognition_terms``) in closed form.

``variational_bound`` is the lower bound on log p(v) of Salakhutdinov &
Murray (2008), "On the quantitative analysis of deep belief networks".
"""

import tensorflow as tf

from zoo.boltzmann import energy
from zoo.boltzmann import sampling


def _sigmoid_layer(inputs, targets, logits):
    """-log p(targets) of sigmoid units (B,), and d/dlogits of its mean."""
    nll = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=targets, logits=logits), axis=-1)  # (B,)
    rows = tf.cast(energy.num_rows(inputs), logits.dtype)
    return nll, (tf.sigmoid(logits) - targets) / rows  # (B, units)


def generative_terms(below, above, weights, bias):
    """The wake phase's loss and gradients for one generative layer.

    Args:
        below: (B, size_l) states (or pixel intensities) to predict.
        above: (B, size_{l+1}) binary states of the layer above.
        weights: (size_l, size_{l+1}) generative weights.
        bias: (size_l,) generative biases.

    Returns:
        ``(nll, weights_gradient, bias_gradient)``: -log p(below | above),
        (B,), and the gradients of its batch mean.
    """
    logits = tf.matmul(above, weights, transpose_b=True) + bias  # (B, l)
    nll, error = _sigmoid_layer(above, below, logits)
    return (nll, tf.matmul(error, above, transpose_a=True),
            tf.reduce_sum(error, axis=0))


def recognition_terms(below, above, weights, bias):
    """The sleep phase's loss and gradients for one recognition layer.

    Args:
        below: (B, size_l) states generated below.
        above: (B, size_{l+1}) binary states generated above, to infer.
        weights: (size_l, size_{l+1}) recognition weights.
        bias: (size_{l+1},) recognition biases.

    Returns:
        ``(nll, weights_gradient, bias_gradient)``: -log q(above | below),
        (B,), and the gradients of its batch mean.
    """
    logits = tf.matmul(below, weights) + bias  # (B, l + 1)
    nll, error = _sigmoid_layer(below, above, logits)
    return (nll, tf.matmul(below, error, transpose_a=True),
            tf.reduce_sum(error, axis=0))


def variational_bound(data, recognition, generative, log_top_marginal,
                      noise):
    """Salakhutdinov & Murray (2008)'s bound on log p(v), by sampling q.

    The mean over S recognition paths h_1..h_{L-1} ~ q(.|v) of
    log p(v|h_1) + sum_l log p(h_l|h_{l+1}) + log p(h_{L-1})
    - log q(path|v). Its expectation is below log p(v) by
    KL(q || p(path|v)); with no directed layers it is exact.

    Args:
        data: (B, V) pixels.
        recognition: ``[(R_l, r_l)]``, the recognition layers bottom-up.
        generative: ``[(G_l, g_l)]``, the generative layers bottom-up.
        log_top_marginal: maps states of h_{L-1} (N, D) to their log
            probability under the top RBM, (N,).
        noise: ``[(S, 1, size_{l+1})]`` uniform draws per directed layer,
            the same for every row of ``data`` (a row's bound then does not
            depend on its batch); S is the number of paths.

    Returns:
        (B,) bounds in nats.
    """
    batch_size = tf.shape(data)[0]
    num_samples = noise[0].shape[0] if noise else 1
    lower = tf.tile(data, [num_samples, 1])  # (S*B, V), row s*B + b
    log_weights = tf.zeros([num_samples * batch_size])
    for (weights, bias), (down_weights, down_bias), uniform in zip(
            recognition, generative, noise):
        size = weights.shape[1]
        uniform = tf.reshape(tf.broadcast_to(
            uniform, [num_samples, batch_size, size]), [-1, size])
        posterior = energy.hidden_distribution(lower, weights, bias)
        upper = sampling.sample_binary(posterior.mean(), uniform)
        log_weights += (energy.visible_distribution(
            upper, down_weights, down_bias).log_prob(lower)
                        - posterior.log_prob(upper))
        lower = upper
    log_weights += log_top_marginal(lower)
    return tf.reduce_mean(
        tf.reshape(log_weights, [num_samples, batch_size]), axis=0)
