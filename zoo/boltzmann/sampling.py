"""Block Gibbs sampling of restricted Boltzmann machines.

Given the visibles the hidden units of an RBM are independent, and so are
the visibles given the hiddens, so a Gibbs sweep draws a whole layer at once
(Hinton 2002): h ~ p(h|v), then v ~ p(v|h). The chains here take their
noise as arguments, uniform draws for binary units and standard normal ones
for Gaussian visibles, so that a caller chooses where it comes from: the
training noise of contrastive divergence, or a request's per-row seeds.

- ``negative_phase``: the k sweeps of CD-k (Hinton 2002) or PCD (Tieleman
  2008) from given hidden probabilities;
- ``sample_chain``: the long chain of a served ``sample``, whose rows are
  computed alone, so that a seeded row does not depend on its request.

Shapes: ``weights`` (V, H), ``visible_bias`` (V,), ``hidden_bias`` (H,).
"""

import tensorflow as tf

from tfgen import chains
from zoo.boltzmann import energy


def sample_binary(probabilities, noise):
    """Binary units drawn from their probabilities and uniform noise."""
    return tf.cast(noise < probabilities, tf.float32)


def sample_visible(mean, noise, gaussian):
    """v ~ p(v|h) from its mean: binary (uniform noise) or Gaussian with
    unit variance (standard normal noise)."""
    return mean + noise if gaussian else sample_binary(mean, noise)


def negative_phase(hidden_probs, weights, visible_bias, hidden_bias,
                   num_sweeps, draw, *, gaussian=False):
    """k Gibbs sweeps h -> v -> h from hiddens drawn from ``hidden_probs``.

    Args:
        hidden_probs: (N, H), p(h|data) under CD, p(h|chains) under PCD.
        weights, visible_bias, hidden_bias: the RBM's parameters.
        num_sweeps: k, a Python int >= 1.
        draw: ``draw(shape, index, visible)`` returns the noise of
            half-step ``index``: 2s draws sweep s's hiddens (uniform),
            2s + 1 its visibles (uniform, or standard normal when
            ``visible`` and ``gaussian``).
        gaussian: unit-variance Gaussian visibles.

    Returns:
        The last sweep's sampled visibles (N, V) and their hidden
        probabilities p(h|v) (N, H), which the CD update uses as they are.
    """
    rows = energy.num_rows(hidden_probs)
    num_hidden, num_visible = hidden_bias.shape[0], visible_bias.shape[0]
    probs = hidden_probs
    for step in range(int(num_sweeps)):
        hidden = sample_binary(probs, draw([rows, num_hidden], 2 * step,
                                           False))
        mean = energy.visible_distribution(hidden, weights, visible_bias,
                                           gaussian=gaussian).mean()
        visible = sample_visible(
            mean, draw([rows, num_visible], 2 * step + 1, True), gaussian)
        probs = energy.hidden_distribution(visible, weights,
                                           hidden_bias).mean()
    return visible, probs


def rowwise_matmul(rows, matrix):
    """rows @ matrix, (B, K) x (K, N) -> (B, N), each row a product alone.

    A matmul's blocking depends on the number of rows, which changes the
    rounding of each row's sums: a seeded sample would then depend on the
    other rows of its request, by a few ulps that a long chain amplifies.
    A batch of B one-row products rounds every row the same way.
    """
    return tf.matmul(rows[:, None, :], matrix)[:, 0]  # (B, 1, N) -> (B, N)


def sample_chain(visible, weights, visible_bias, hidden_bias, num_steps,
                 block_noise, block_size, *, gaussian=False):
    """A Gibbs chain of ``num_steps`` sweeps, every row computed alone.

    The core's ``tfgen.chains.run_chain`` runs it, in blocks of noise.

    Args:
        visible: (B, V) starting visibles.
        weights, visible_bias, hidden_bias: the RBM's parameters.
        num_steps: sweeps, a Python int.
        block_noise: ``block_noise(block)`` returns the noise of sweeps
            ``block * block_size`` onwards, ``(hidden (B, block_size, H),
            visible (B, block_size, V))``; ``block`` is an int64 tensor.
            Drawing a block at once: per-row draws are slow one sweep at a
            time.
        block_size: sweeps per block of noise.
        gaussian: unit-variance Gaussian visibles.

    Returns:
        The last sweep's E[v | h], (B, V), rather than its noisy draw.
    """
    transposed = tf.transpose(weights)  # (H, V)

    def sweep(step, state, noise):
        visible, _ = state
        hidden_noise, visible_noise = noise
        hidden_probs = tf.sigmoid(rowwise_matmul(visible, weights)
                                  + hidden_bias)
        hidden = sample_binary(hidden_probs, hidden_noise)  # (B, H)
        activation = rowwise_matmul(hidden, transposed) + visible_bias
        mean = activation if gaussian else tf.sigmoid(activation)  # (B, V)
        return sample_visible(mean, visible_noise, gaussian), mean

    _, mean = chains.run_chain((visible, tf.zeros_like(visible)), num_steps,
                               sweep, block_noise, block_size)
    return mean
