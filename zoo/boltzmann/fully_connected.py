"""The maths of a fully connected Boltzmann machine, as pure functions.

Ackley, Hinton & Sejnowski (1985), "A learning algorithm for Boltzmann
machines". Over the joint state x of N binary units, every pair connected
by a symmetric weight,

    E(x) = -1/2 x'Wx - c'x,    p(x) = exp(-E(x)) / Z,

with W symmetric and zero on its diagonal, so the 1/2 counts each pair
once. The machine stores an unconstrained matrix C and uses
W = ``symmetric_zero_diagonal``(C).

- ``learning_rule_gradients``: the gradient of mean E(clamped) - mean
  E(free), the paper's rule, in closed form;
- ``gibbs_sweeps``: sequential (systematic-scan) Gibbs sampling, the only
  exact sampler when no two units are conditionally independent;
- ``hidden_log_weights``, ``free_energy``, ``exact_log_partition``: sums
  over enumerated states, the visible units first in x;
- ``ais_log_partition``: annealed importance sampling (Neal 2001) of log Z.
"""

import tensorflow as tf

from tfgen import chains
from zoo.boltzmann import energy as rbm_energy
from zoo.boltzmann import partition


def symmetric_zero_diagonal(matrix):
    """Projects a square matrix onto symmetric matrices with zero diagonal."""
    size = tf.shape(matrix)[0]
    off_diagonal = 1.0 - tf.eye(size, dtype=matrix.dtype)
    return 0.5 * (matrix + tf.transpose(matrix)) * off_diagonal


def energy(states, weights, bias):
    """Returns E(x) = -1/2 x'Wx - c'x, (B,), for states x (B, N)."""
    pairwise = tf.reduce_sum(tf.matmul(states, weights) * states, axis=-1)
    return -0.5 * pairwise - tf.linalg.matvec(states, bias)


def learning_objective(clamped, free, weights, bias):
    """Mean E(clamped) - mean E(free); its gradient is the learning rule.

    With the samples held constant, descending it is Ackley et al.'s
    update; ``learning_rule_gradients`` gives its gradient in closed form.

    Returns:
        A scalar.
    """
    clamped = tf.stop_gradient(clamped)
    free = tf.stop_gradient(free)
    return (tf.reduce_mean(energy(clamped, weights, bias))
            - tf.reduce_mean(energy(free, weights, bias)))


def learning_rule_gradients(clamped, free):
    """The gradient of ``learning_objective``, in closed form.

    With respect to the stored coupling matrix C, of which the energy uses
    W = (C + C')/2 with its diagonal zeroed (``symmetric_zero_diagonal``):

        dC = -1/2 (<xx'>_clamped - <xx'>_free), zero on the diagonal,
        dc = -(<x>_clamped - <x>_free).

    Args:
        clamped: (B, N) states of the positive phase.
        free: (M, N) states of the negative phase.

    Returns:
        The gradients with respect to the couplings (N, N) and the biases
        (N,).
    """
    clamped_count, free_count = (
        tf.cast(rbm_energy.num_rows(states), states.dtype)
        for states in (clamped, free))
    correlation = (tf.matmul(clamped, clamped / clamped_count, transpose_a=True)
                   - tf.matmul(free, free / free_count, transpose_a=True))
    off_diagonal = 1.0 - tf.eye(tf.shape(correlation)[0],
                                dtype=correlation.dtype)
    return (-0.5 * correlation * off_diagonal,
            -(tf.reduce_mean(clamped, axis=0) - tf.reduce_mean(free, axis=0)))


def gibbs_sweeps(states, weights, bias, units, num_sweeps, noise):
    """Sequential Gibbs sampling of some units, the others held fixed.

    Each sweep resamples ``units`` one at a time, in the given order, from
    p(x_i = 1 | rest) = sigmoid(sum_j W_ij x_j + c_i).

    Args:
        states: (B, N) binary starting states.
        weights: (N, N) symmetric, zero diagonal.
        bias: (N,).
        units: int32 (U,), the indices of the units resampled.
        num_sweeps: number of sweeps, an int or an int32 scalar tensor.
        noise: function ``noise(sweep) -> (B, U)`` of uniform [0, 1) draws,
            one per row and updated unit; ``sweep`` is an int64 tensor.
            The core's ``tfgen.chains.run_chain`` runs the sweeps.

    Returns:
        The states (B, N) after the sweeps.
    """
    num_units = tf.shape(states)[1]
    units = tf.convert_to_tensor(units, tf.int32)

    def sweep(step, x, uniforms):  # uniforms (B, U)

        def update(j, x):
            unit = units[j]
            field = (tf.linalg.matvec(x, tf.gather(weights, unit, axis=1))
                     + tf.gather(bias, unit))  # (B,); W_ii = 0: x_i unused
            new = tf.cast(uniforms[:, j] < tf.sigmoid(field), x.dtype)
            column = tf.one_hot(unit, num_units, dtype=x.dtype)  # (N,)
            return j + 1, x * (1.0 - column) + new[:, None] * column

        _, x = tf.while_loop(lambda j, _: j < tf.size(units), update, (0, x))
        return x

    return chains.run_chain(states, num_sweeps, sweep,
                            lambda sweep: noise(sweep)[:, None])


def hidden_log_weights(visible, weights, bias):
    """Returns -E(v, h) for every hidden state h, (B, 2^H).

    Args:
        visible: (B, V).
        weights: (N, N), the visible units first.
        bias: (N,).
    """
    num_visible = visible.shape[-1]
    num_hidden = weights.shape[0] - num_visible
    hidden = rbm_energy.binary_states(num_hidden)  # (S, H), S = 2^H
    w_vv = weights[:num_visible, :num_visible]
    w_vh = weights[:num_visible, num_visible:]
    w_hh = weights[num_visible:, num_visible:]
    visible_term = (0.5 * tf.reduce_sum(tf.matmul(visible, w_vv) * visible, -1)
                    + tf.linalg.matvec(visible, bias[:num_visible]))  # (B,)
    hidden_term = (0.5 * tf.reduce_sum(tf.matmul(hidden, w_hh) * hidden, -1)
                   + tf.linalg.matvec(hidden, bias[num_visible:]))  # (S,)
    cross = tf.matmul(tf.matmul(visible, w_vh), hidden, transpose_b=True)
    return visible_term[:, None] + cross + hidden_term[None, :]  # (B, S)


def free_energy(visible, weights, bias):
    """Returns F(v) = -log sum_h exp(-E(v, h)), (B,), by enumerating h."""
    return -tf.reduce_logsumexp(hidden_log_weights(visible, weights, bias),
                                axis=-1)


def exact_log_partition(num_visible, weights, bias):
    """Returns log Z by enumerating all 2^V visible and 2^H hidden states."""
    return tf.reduce_logsumexp(
        -free_energy(rbm_energy.binary_states(num_visible), weights, bias))


def ais_log_partition(weights, bias, num_betas, num_runs, seed):
    """Annealed importance sampling estimate of log Z (Neal 2001).

    Anneals the couplings from 0 to W with the biases held: p_b(x) ~
    exp(b/2 x'Wx + c'x), whose b = 0 end is independent Bernoulli(sigmoid(c))
    units with log Z_0 = sum_i softplus(c_i). Each step adds
    (b_k - b_{k-1}) x'Wx / 2 to a run's log weight, then takes one Gibbs
    sweep at b_k. exp of the estimate is unbiased for Z, so the estimate of
    log Z is low in expectation.

    Args:
        weights: (N, N) symmetric, zero diagonal.
        bias: (N,).
        num_betas: number of annealing steps (a Python int).
        num_runs: number of independent runs (a Python int).
        seed: a stateless seed, int64 (2,); step k's draws are seeded by
            folding k into it.

    Returns:
        ``(log_z, log_z_stderr)``: the estimate and its standard error
        (``partition.log_mean_weight_and_stderr``).
    """
    num_units = weights.shape[0]
    units = tf.range(num_units)
    betas = tf.linspace(0.0, 1.0, num_betas + 1)

    def uniforms(step):
        return tf.random.stateless_uniform(
            [num_runs, num_units],
            tf.random.experimental.stateless_fold_in(seed, step))

    # (R, N), exact draws from p_0.
    states = tf.cast(uniforms(0) < tf.sigmoid(bias), tf.float32)

    def step(t, state, noise):
        del noise  # each step seeds its own draws
        x, log_weights = state
        k = tf.cast(t, tf.int32) + 1  # from betas[k - 1] to betas[k]
        pairwise = 0.5 * tf.reduce_sum(tf.matmul(x, weights) * x, axis=-1)
        log_weights += (betas[k] - betas[k - 1]) * pairwise
        x = gibbs_sweeps(x, betas[k] * weights, bias, units, 1,
                         lambda _: uniforms(k))
        return x, log_weights

    _, log_weights = chains.run_chain((states, tf.zeros([num_runs])),
                                      num_betas, step)
    log_mean_weight, stderr = partition.log_mean_weight_and_stderr(
        log_weights)
    return tf.reduce_sum(tf.nn.softplus(bias)) + log_mean_weight, stderr
