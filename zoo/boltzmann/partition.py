"""The partition function of an RBM: exact and by AIS.

The likelihood of an RBM, p(v) = exp(-F(v)) / Z, needs the log-partition
function log Z = log sum_v exp(-F(v)), a sum over 2^V visible vectors.

``exact_log_partition`` enumerates the smaller layer: summing out the other
layer in closed form leaves 2^min(V, H) terms, feasible up to about 20
units. It is the reference the estimate is tested against.

``ais_log_partition`` is annealed importance sampling (Neal 2001) as
Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief
networks", apply it to RBMs: chains start from a base RBM A with zero
weights, whose partition function is known in closed form, and move through
the distributions

    p_k(v)  proportional to  p*_A(v)^(1 - beta_k) p*_B(v)^beta_k,
    0 = beta_0 < beta_1 < ... < beta_K = 1,

by Gibbs transitions that leave each p_k invariant. The product of the ratios
p*_k(v_k-1) / p*_k-1(v_k-1) along a chain is an importance weight whose
mean is Z_B / Z_A; the mean over chains estimates it without bias, and its
logarithm is a slight underestimate of log Z_B in expectation.

Both functions also take ``gaussian=True`` for the unit-variance
Gaussian-Bernoulli RBM, E(v, h) = |v - c|^2 / 2 - v'Wh - b'h. Integrating
the visibles out in closed form,

    log Z = (V / 2) log(2 pi) + logsumexp_h [b'h + c'Wh + |Wh|^2 / 2],

which enumerates the hidden layer. Its AIS anneals the interaction alone,
p_beta(v, h) proportional to exp(-|v - c|^2 / 2 + beta v'Wh + b'h), from
the base at beta = 0, where v ~ N(c, I) and h are independent, so that
log Z_0 = (V / 2) log(2 pi) + sum_j softplus(b_j).
"""

import math

import tensorflow as tf

from tfgen import chains
from zoo.boltzmann import energy

# Enumeration beyond this many units is too slow and too large to be useful.
MAX_ENUMERATED_UNITS = 20

# Rows of the enumeration handled at once, bounding its memory.
_ENUMERATION_CHUNK = 2**14


def _stateless_seed(seed):
    """An integer, or a stateless seed int64 (2,), as a stateless seed."""
    seed = tf.cast(seed, tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.zeros_like(seed)])
    return seed


def _step_seeds(seed, step):
    """Independent stateless seeds of a step's hidden and visible draws.

    ``step`` 0 seeds the chains' start; the seeds are hashed from the run's
    seed (``stateless_fold_in``, then ``stateless_split``), never offset.
    """
    seeds = tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(seed, step), 2)  # (2, 2)
    return seeds[0], seeds[1]


def _gaussian_exact_log_partition(weights, visible_bias, hidden_bias):
    """log Z of a unit-variance Gaussian-Bernoulli RBM; float64 arguments."""
    num_visible, num_hidden = weights.shape
    if num_hidden > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact_log_partition with gaussian=True enumerates 2^H hidden "
            f"states; H={num_hidden} exceeds {MAX_ENUMERATED_UNITS} units "
            "(use ais_log_partition)")
    chunks = []
    for start in range(0, 2**num_hidden, _ENUMERATION_CHUNK):
        hidden = energy.binary_states(
            num_hidden, start, min(start + _ENUMERATION_CHUNK, 2**num_hidden),
            dtype=tf.float64)
        projected = tf.matmul(hidden, weights, transpose_b=True)  # (N, V), Wh
        chunks.append(tf.linalg.matvec(hidden, hidden_bias)
                      + tf.linalg.matvec(projected, visible_bias)
                      + 0.5 * tf.reduce_sum(tf.square(projected), axis=-1))
    return (0.5 * num_visible * math.log(2.0 * math.pi)
            + tf.reduce_logsumexp(tf.concat(chunks, axis=0)))


def exact_log_partition(weights, visible_bias, hidden_bias, *,
                        gaussian=False):
    """log Z of an RBM by enumerating one of its layers.

    Bernoulli visibles: summing out the larger layer in closed form,
    log Z = logsumexp_v [c'v + sum_j softplus((v'W + b)_j)], or symmetrically
    over h when there are fewer hidden units. Gaussian visibles: the
    visibles are integrated out and the hidden layer enumerated (see the
    module docstring). Computed in float64.

    Args:
        weights: (V, H).
        visible_bias: (V,), c.
        hidden_bias: (H,), b.
        gaussian: unit-variance Gaussian visibles instead of Bernoullis.

    Returns:
        A float64 scalar tensor.

    Raises:
        ValueError: the layer to enumerate (the smaller one, or the hidden
            layer when ``gaussian``) has more than ``MAX_ENUMERATED_UNITS``
            units.
    """
    weights = tf.cast(weights, tf.float64)
    visible_bias = tf.cast(visible_bias, tf.float64)
    hidden_bias = tf.cast(hidden_bias, tf.float64)
    if gaussian:
        return _gaussian_exact_log_partition(weights, visible_bias,
                                             hidden_bias)
    num_visible, num_hidden = weights.shape
    if min(num_visible, num_hidden) > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact_log_partition enumerates 2^min(V, H) states; V="
            f"{num_visible}, H={num_hidden} exceeds {MAX_ENUMERATED_UNITS} "
            "units (use ais_log_partition)")
    if num_hidden < num_visible:
        # The roles of the layers are symmetric: swap them.
        weights, visible_bias, hidden_bias = (
            tf.transpose(weights), hidden_bias, visible_bias)
    num_units = min(num_visible, num_hidden)
    chunks = []
    for start in range(0, 2**num_units, _ENUMERATION_CHUNK):
        states = energy.binary_states(
            num_units, start, min(start + _ENUMERATION_CHUNK, 2**num_units),
            dtype=tf.float64)
        # -F(v) of every enumerated state, (N,)
        chunks.append(-energy.free_energy(states, weights, visible_bias,
                                          hidden_bias))
    return tf.reduce_logsumexp(tf.concat(chunks, axis=0))


def annealing_schedule(num_betas, spacing="sigmoid"):
    """Returns the inverse temperatures beta_0 = 0 < ... < beta_K = 1.

    Args:
        num_betas: K + 1, the number of distributions including both ends
            (at least 2).
        spacing: ``"linear"``, or ``"sigmoid"``: equal steps of a sigmoid
            from -4 to 4, rescaled to [0, 1], which puts more distributions
            near both ends, where the weights change fastest.

    Returns:
        A float64 tensor (num_betas,).

    Raises:
        ValueError: fewer than 2 betas or an unknown spacing.
    """
    if num_betas < 2:
        raise ValueError(f"num_betas={num_betas} must be at least 2")
    grid = tf.linspace(tf.constant(0.0, tf.float64), 1.0, num_betas)
    if spacing == "linear":
        return grid
    if spacing == "sigmoid":
        curve = tf.sigmoid(8.0 * grid - 4.0)
        return (curve - curve[0]) / (curve[-1] - curve[0])
    raise ValueError(f"spacing={spacing!r} is not 'linear' or 'sigmoid'")


@tf.function(reduce_retracing=True)
def _ais_log_weights(weights, visible_bias, hidden_bias, base_visible_bias,
                     betas, num_chains, seed):
    """One AIS run; returns the (num_chains,) log importance weights.

    With the hiddens summed out, the annealed RBM's unnormalized log
    probability is
    log p*_beta(v) = ((1 - beta) c_A + beta c)'v
                     + sum_j softplus(beta (v'W + b)_j)
    (plus a constant H log 2 (1 - beta) that the base's log Z_A accounts for).
    """
    shape = tf.shape(weights, out_type=tf.int64)
    num_visible, num_hidden = shape[0], shape[1]

    # Exact samples of the base RBM, whose visibles are independent.
    visible = tf.cast(
        tf.random.stateless_uniform([num_chains, num_visible],
                                    seed=_step_seeds(seed, 0)[1],
                                    dtype=tf.float64)
        < tf.sigmoid(base_visible_bias), tf.float64)  # (N, V)
    log_weights = tf.zeros([num_chains], tf.float64)
    num_betas = tf.shape(betas, out_type=tf.int64)[0]

    def body(t, state, noise):
        del noise  # each step seeds its own draws
        visible, log_weights = state
        step = t + 1  # the chain moves from betas[step - 1] to betas[step]
        beta_prev, beta = betas[step - 1], betas[step]
        logits = energy.hidden_logits(visible, weights, hidden_bias)  # (N, H)
        # log p*_beta(v) - log p*_beta_prev(v) at the chain's current state.
        log_weights += (
            (beta - beta_prev) * tf.linalg.matvec(
                visible, visible_bias - base_visible_bias)
            + tf.reduce_sum(tf.nn.softplus(beta * logits)
                            - tf.nn.softplus(beta_prev * logits), axis=-1))
        # A Gibbs sweep that leaves p_beta invariant.
        hidden_seed, visible_seed = _step_seeds(seed, step)
        hidden = tf.cast(
            tf.random.stateless_uniform([num_chains, num_hidden],
                                        seed=hidden_seed, dtype=tf.float64)
            < tf.sigmoid(beta * logits), tf.float64)  # (N, H)
        visible_logits = ((1.0 - beta) * base_visible_bias + beta * (
            visible_bias + tf.matmul(hidden, weights, transpose_b=True)))
        visible = tf.cast(
            tf.random.stateless_uniform([num_chains, num_visible],
                                        seed=visible_seed, dtype=tf.float64)
            < tf.sigmoid(visible_logits), tf.float64)  # (N, V)
        return visible, log_weights

    # (The sweep after the last update, at beta = 1, is not needed but
    # costs one step of thousands.)
    _, log_weights = chains.run_chain((visible, log_weights), num_betas - 1,
                                      body)
    return log_weights


@tf.function(reduce_retracing=True)
def _gaussian_ais_log_weights(weights, visible_bias, hidden_bias, betas,
                              num_chains, seed):
    """One AIS run of a Gaussian-Bernoulli RBM; (num_chains,) log weights.

    With the hiddens summed out, the annealed model's unnormalized log
    density is log p*_beta(v) = -|v - c|^2 / 2
    + sum_j softplus(beta (W'v)_j + b_j); its Gibbs sweep draws
    h ~ Bernoulli(sigmoid(beta W'v + b)), then v ~ N(c + beta W h, I).
    """
    shape = tf.shape(weights, out_type=tf.int64)
    num_visible, num_hidden = shape[0], shape[1]

    # Exact samples of the base, v ~ N(c, I).
    visible = visible_bias + tf.random.stateless_normal(
        [num_chains, num_visible], seed=_step_seeds(seed, 0)[1],
        dtype=tf.float64)
    log_weights = tf.zeros([num_chains], tf.float64)
    num_betas = tf.shape(betas, out_type=tf.int64)[0]

    def body(t, state, noise):
        del noise  # each step seeds its own draws
        visible, log_weights = state
        step = t + 1  # the chain moves from betas[step - 1] to betas[step]
        beta_prev, beta = betas[step - 1], betas[step]
        interaction = tf.matmul(visible, weights)  # (N, H), W'v per row
        logits = beta * interaction + hidden_bias
        # log p*_beta(v) - log p*_beta_prev(v) at the chain's current state;
        # the Gaussian term cancels.
        log_weights += tf.reduce_sum(
            tf.nn.softplus(logits)
            - tf.nn.softplus(beta_prev * interaction + hidden_bias), axis=-1)
        # A Gibbs sweep that leaves p_beta invariant.
        hidden_seed, visible_seed = _step_seeds(seed, step)
        hidden = tf.cast(
            tf.random.stateless_uniform([num_chains, num_hidden],
                                        seed=hidden_seed, dtype=tf.float64)
            < tf.sigmoid(logits), tf.float64)  # (N, H)
        visible = (visible_bias
                   + beta * tf.matmul(hidden, weights, transpose_b=True)
                   + tf.random.stateless_normal([num_chains, num_visible],
                                               seed=visible_seed,
                                               dtype=tf.float64))
        # The width of W is dynamic here (reduce_retracing); the state
        # keeps the static shape it started with (a one-pixel model's
        # (N, 1)).
        return tf.reshape(visible, tf.shape(state[0])), log_weights

    _, log_weights = chains.run_chain((visible, log_weights), num_betas - 1,
                                      body)
    return log_weights


def ais_log_partition(weights, visible_bias, hidden_bias, *, num_chains,
                      num_betas, seed, base_visible_bias=None,
                      spacing="sigmoid", gaussian=False):
    """log Z of an RBM by annealed importance sampling.

    Salakhutdinov & Murray (2008): the base RBM has zero weights and visible
    biases ``base_visible_bias`` (the data's log-odds make it close to the
    target and the estimate precise) and zero hidden biases, so that
    log Z_A = sum_i softplus(c_A,i) + H log 2. The whole run is one
    ``tf.while_loop`` over the betas, in float64.

    With ``gaussian=True`` (unit-variance Gaussian visibles) the base is
    instead the model without its weights, N(c, I) times independent
    hiddens of biases b, and ``base_visible_bias`` must be None; see the
    module docstring.

    Args:
        weights: (V, H).
        visible_bias: (V,), c.
        hidden_bias: (H,), b.
        num_chains: number of independent AIS runs.
        num_betas: number of distributions, both ends included.
        seed: of the (stateless) chains: an integer, or a stateless seed
            int64 (2,) such as a model's ``stream("partition").seed()``.
        base_visible_bias: (V,) visible biases of the base RBM; zeros (the
            uniform distribution) if None.
        spacing: of the betas, see ``annealing_schedule``.
        gaussian: unit-variance Gaussian visibles instead of Bernoullis.

    Returns:
        ``(log_z, log_z_stderr)``, scalars in the dtype of ``weights``: the
        log of the mean importance weight plus log Z_A, and its standard
        error by the delta method, std(w) / (mean(w) sqrt(num_chains)).

    Raises:
        ValueError: num_chains < 2 or num_betas < 2, or a
            ``base_visible_bias`` with ``gaussian=True``.
    """
    if num_chains < 2:
        raise ValueError(f"num_chains={num_chains} must be at least 2 to "
                         "give an error bar")
    dtype = tf.as_dtype(weights.dtype)
    weights = tf.cast(weights, tf.float64)
    visible_bias = tf.cast(visible_bias, tf.float64)
    hidden_bias = tf.cast(hidden_bias, tf.float64)
    betas = annealing_schedule(int(num_betas), spacing)
    chains = tf.constant(int(num_chains), tf.int64)
    seed = _stateless_seed(seed)
    if gaussian:
        if base_visible_bias is not None:
            raise ValueError("base_visible_bias applies to Bernoulli "
                             "visibles only; the Gaussian base is N(c, I)")
        log_weights = _gaussian_ais_log_weights(
            weights, visible_bias, hidden_bias, betas, chains, seed)
        log_base_partition = (
            0.5 * weights.shape[0] * math.log(2.0 * math.pi)
            + tf.reduce_sum(tf.nn.softplus(hidden_bias)))
    else:
        if base_visible_bias is None:
            base_visible_bias = tf.zeros_like(visible_bias)
        base_visible_bias = tf.cast(base_visible_bias, tf.float64)
        log_weights = _ais_log_weights(
            weights, visible_bias, hidden_bias, base_visible_bias, betas,
            chains, seed)
        # Each of the base's H free hidden units contributes a factor of 2.
        log_base_partition = (
            tf.reduce_sum(tf.nn.softplus(base_visible_bias))
            + weights.shape[1] * math.log(2.0))
    log_mean_weight, stderr = log_mean_weight_and_stderr(log_weights)
    return (tf.cast(log_base_partition + log_mean_weight, dtype),
            tf.cast(stderr, dtype))


def log_mean_weight_and_stderr(log_weights):
    """log of the mean importance weight of AIS runs, and its stderr.

    The mean weight estimates Z_B / Z_A without bias; the standard error of
    its log is, by the delta method, std(w) / (mean(w) sqrt(N)).

    Args:
        log_weights: (N,) log importance weights of N independent runs.

    Returns:
        ``(log_mean_weight, stderr)``, scalars.
    """
    count = tf.cast(tf.size(log_weights), log_weights.dtype)
    log_mean_weight = tf.reduce_logsumexp(log_weights) - tf.math.log(count)
    # Weights scaled by their mean: their spread is the relative error.
    relative = tf.exp(log_weights - log_mean_weight)  # (N,)
    return log_mean_weight, tf.math.reduce_std(relative) / tf.sqrt(count)
