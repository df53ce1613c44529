"""An RBM whose visible layer includes a softmax group of label units.

Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief
nets", section 6: the top RBM of their DBN joins the penultimate layer
p = h_{L-1} (D binary units) and the label y (K units, exactly one on) to
the top hidden layer h = h_L (H binary units):

    E(p, y, h) = -p'Wh - y'Uh - c'p - d'y - b'h.

Given h the label units form one softmax, p(y|h) = softmax(Uh + d), and the
pen units are independent Bernoullis; given (p, y) the hidden units are
independent Bernoullis. With y one-hot, the free energy of each label is

    F(p, y) = -c'p - d_y - sum_j softplus((p'W + b + U_y)_j),

so p(y|p) = softmax_y(-F(p, y)), the paper's generative classifier.

Parameters are the tuple ``(W (D, H), U (K, H), c (D,), d (K,), b (H,))``;
``stacked`` joins them into the RBM over the visible vector (p, y), which
greedy pretraining and contrastive divergence treat as one layer.
"""

import tensorflow as tf

from tfgen import chains
from zoo.boltzmann import energy
from zoo.boltzmann import partition
from zoo.boltzmann import sampling


def stacked(parameters):
    """The RBM over (p, y): weights (D + K, H), visible bias (D + K,), b."""
    weights, label_weights, visible_bias, label_bias, hidden_bias = parameters
    return (tf.concat([weights, label_weights], axis=0),
            tf.concat([visible_bias, label_bias], axis=0), hidden_bias)


def split_stacked(weights, visible_bias, hidden_bias, pen_size):
    """The inverse of ``stacked``, for its gradients: a parameters tuple."""
    num_labels = weights.shape[0] - pen_size
    return (tuple(tf.split(weights, [pen_size, num_labels]))
            + tuple(tf.split(visible_bias, [pen_size, num_labels]))
            + (hidden_bias,))


def hidden_probabilities(pen, labels, parameters):
    """p(h = 1 | p, y), (B, H); ``labels`` (B, K) one-hot or probabilities."""
    weights, visible_bias, hidden_bias = stacked(parameters)
    del visible_bias
    return tf.sigmoid(energy.hidden_logits(
        tf.concat([pen, labels], axis=-1), weights, hidden_bias))


def visible_means(hidden, parameters):
    """E[p | h] (B, D) and p(y | h) (B, K)."""
    weights, label_weights, visible_bias, label_bias, _ = parameters
    pen = energy.visible_distribution(hidden, weights, visible_bias).mean()
    labels = tf.nn.softmax(
        tf.matmul(hidden, label_weights, transpose_b=True) + label_bias)
    return pen, labels


def label_logits(pen, parameters):
    """-F(p, y) for every label y, (B, K): the logits of p(y | p).

    The label only shifts the hidden units' input by its row of U, so the
    pen units' input is computed once.
    """
    weights, label_weights, visible_bias, label_bias, hidden_bias = parameters
    hidden = (energy.hidden_logits(pen, weights, hidden_bias)[:, None, :]
              + label_weights)  # (B, K, H)
    return (tf.linalg.matvec(pen, visible_bias)[:, None] + label_bias
            + tf.reduce_sum(tf.nn.softplus(hidden), axis=-1))  # (B, K)


def clamped_chain(pen, labels, parameters, num_steps, block_noise,
                  block_size):
    """Gibbs sampling h ~ p(h | p, y), p ~ p(p | h) with the label clamped.

    Args:
        pen: (B, D) binary pen states to start from.
        labels: (B, K) one-hot, clamped.
        parameters: the tuple of the module docstring.
        num_steps: Gibbs steps, a Python int.
        block_noise: ``block_noise(block)`` returns the uniform draws
            (B, block_size, H + D) of the Gibbs steps from
            ``block * block_size`` on (``block`` an int64 tensor): a draw
            per block rather than per step, which costs a pass over the
            rows each. The core's ``tfgen.chains.run_chain`` runs the chain.
        block_size: steps per block of noise.

    Returns:
        The last step's probabilities of the pen units, (B, D).
    """
    pen_size, top_size = parameters[0].shape

    def step(t, state, noise):
        pen, _ = state
        top_noise, pen_noise = tf.split(noise, [top_size, pen_size], axis=-1)
        top = sampling.sample_binary(
            hidden_probabilities(pen, labels, parameters), top_noise)
        pen_means, _ = visible_means(top, parameters)  # (B, D)
        return sampling.sample_binary(pen_means, pen_noise), pen_means

    _, pen_means = chains.run_chain((pen, pen), num_steps, step, block_noise,
                                    block_size)
    return pen_means


def log_partition(parameters, *, num_chains, num_betas, seed,
                  base_visible_bias):
    """log Z, summing out the label, and its standard error.

    Z = sum_y exp(d_y) Z_y, where Z_y is the partition function of the
    binary RBM over (p, h) whose hidden biases are b + U_y. Each Z_y is
    enumerated when that RBM is small (``partition.MAX_ENUMERATED_UNITS``),
    else estimated by AIS (Salakhutdinov & Murray 2008) from a base RBM
    with visible biases ``base_visible_bias``.

    Args:
        parameters: the tuple of the module docstring.
        num_chains: AIS chains per label.
        num_betas: AIS distributions per label.
        seed: a stateless seed int64 (2,); label y's chains fold y into it.
        base_visible_bias: (D,), the base RBM's visible biases.

    Returns:
        ``(log_z, stderr)``, float32 scalars; the relative errors of the
        Z_y combine with weights Z_y / Z.
    """
    weights, label_weights, visible_bias, label_bias, hidden_bias = parameters
    enumerable = min(weights.shape) <= partition.MAX_ENUMERATED_UNITS
    log_terms, errors = [], []
    for label in range(label_weights.shape[0]):
        label_hidden_bias = hidden_bias + label_weights[label]
        if enumerable:
            log_z = tf.cast(partition.exact_log_partition(
                weights, visible_bias, label_hidden_bias), tf.float32)
            stderr = tf.constant(0.0)
        else:
            log_z, stderr = partition.ais_log_partition(
                weights, visible_bias, label_hidden_bias,
                num_chains=num_chains, num_betas=num_betas,
                seed=tf.random.experimental.stateless_fold_in(seed, label),
                base_visible_bias=base_visible_bias)
        log_terms.append(label_bias[label] + log_z)
        errors.append(stderr)
    log_terms = tf.stack(log_terms)  # (K,)
    shares = tf.nn.softmax(log_terms)
    return (tf.reduce_logsumexp(log_terms),
            tf.sqrt(tf.reduce_sum(tf.square(shares * tf.stack(errors)))))
