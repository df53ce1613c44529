"""Tests of the shared RBM energies, free energies and conditionals.

The free energy is checked against its definition, -log sum_h exp(-E(v, h)),
by enumerating every hidden vector of a small RBM, and the TFP conditionals
against the closed forms of Hinton (2002) and, for Gaussian visibles,
Hinton & Salakhutdinov (2006), computed in numpy.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit
from scipy.special import logsumexp

from zoo.boltzmann import energy

NUM_VISIBLE, NUM_HIDDEN = 5, 4


def _parameters(seed=0):
    draw = np.random.RandomState(seed)
    return (draw.normal(size=(NUM_VISIBLE, NUM_HIDDEN)),
            draw.normal(size=NUM_VISIBLE), draw.normal(size=NUM_HIDDEN))


def _all_hidden():
    return np.array(list(itertools.product([0.0, 1.0], repeat=NUM_HIDDEN)))


def _numpy_energy(visible, hidden, weights, visible_bias, hidden_bias,
                  gaussian):
    visible_term = (-0.5 * np.sum((visible - visible_bias)**2) if gaussian
                    else visible @ visible_bias)
    return -(visible @ weights @ hidden) - visible_term - hidden @ hidden_bias


@pytest.mark.parametrize("gaussian", [False, True])
def test_energy_matches_its_definition(gaussian):
    weights, visible_bias, hidden_bias = _parameters()
    draw = np.random.RandomState(1)
    visible = (draw.normal(size=(3, NUM_VISIBLE)) if gaussian
               else (draw.uniform(size=(3, NUM_VISIBLE)) < 0.5) * 1.0)
    hidden = (draw.uniform(size=(3, NUM_HIDDEN)) < 0.5) * 1.0
    expected = [_numpy_energy(v, h, weights, visible_bias, hidden_bias,
                              gaussian) for v, h in zip(visible, hidden)]
    np.testing.assert_allclose(
        energy.energy(visible, hidden, weights, visible_bias, hidden_bias,
                      gaussian=gaussian), expected, rtol=1e-10)


@pytest.mark.parametrize("gaussian", [False, True])
def test_free_energy_sums_the_hidden_units_out(gaussian):
    weights, visible_bias, hidden_bias = _parameters()
    draw = np.random.RandomState(2)
    visible = (draw.normal(size=(6, NUM_VISIBLE)) if gaussian
               else (draw.uniform(size=(6, NUM_VISIBLE)) < 0.5) * 1.0)
    expected = [-logsumexp([-_numpy_energy(v, h, weights, visible_bias,
                                           hidden_bias, gaussian)
                            for h in _all_hidden()]) for v in visible]
    got = energy.free_energy(visible, weights, visible_bias, hidden_bias,
                             gaussian=gaussian)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # The same in float32, as the models run, and under tf.function.
    got32 = tf.function(energy.free_energy)(
        tf.constant(visible, tf.float32), tf.constant(weights, tf.float32),
        tf.constant(visible_bias, tf.float32),
        tf.constant(hidden_bias, tf.float32), gaussian=gaussian)
    np.testing.assert_allclose(got32, expected, rtol=1e-5)


def test_hidden_conditional_is_a_product_of_sigmoids():
    weights, visible_bias, hidden_bias = _parameters()
    visible = np.array([[1.0, 0.0, 1.0, 1.0, 0.0]])
    distribution = energy.hidden_distribution(visible, weights, hidden_bias)
    probs = expit(visible @ weights + hidden_bias)  # (1, H)
    np.testing.assert_allclose(distribution.mean(), probs, rtol=1e-10)
    # The joint of the independent units: log p(h|v) of every h sums to 1,
    # and equals -E(v, h) normalized over h.
    hidden = _all_hidden()
    log_probs = distribution.log_prob(hidden)  # (16,), batch broadcast
    np.testing.assert_allclose(logsumexp(log_probs), 0.0, atol=1e-10)
    minus_energy = np.array([-_numpy_energy(visible[0], h, weights,
                                            visible_bias, hidden_bias, False)
                             for h in hidden])
    np.testing.assert_allclose(log_probs, minus_energy
                               - logsumexp(minus_energy), rtol=1e-8)


def test_visible_conditionals_match_closed_forms():
    weights, visible_bias, _ = _parameters()
    hidden = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0]])
    activation = hidden @ weights.T + visible_bias  # (2, V)
    bernoulli = energy.visible_distribution(hidden, weights, visible_bias)
    np.testing.assert_allclose(bernoulli.mean(), expit(activation),
                               rtol=1e-10)
    gaussian = energy.visible_distribution(hidden, weights, visible_bias,
                                           gaussian=True)
    np.testing.assert_allclose(gaussian.mean(), activation, rtol=1e-10)
    np.testing.assert_allclose(gaussian.stddev(), np.ones_like(activation))
    point = np.random.RandomState(3).normal(size=(2, NUM_VISIBLE))
    np.testing.assert_allclose(
        gaussian.log_prob(point),
        -0.5 * np.sum((point - activation)**2 + np.log(2 * np.pi), axis=1),
        rtol=1e-10)


def test_objective_is_the_free_energy_gap_with_constant_negatives():
    weights, visible_bias, hidden_bias = (tf.Variable(p) for p in
                                          _parameters())
    data = tf.constant([[1.0, 0.0, 1.0, 1.0, 0.0]], tf.float64)
    negatives = tf.Variable([[0.0, 1.0, 1.0, 0.0, 0.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        objective = energy.contrastive_divergence_objective(
            data, negatives, weights, visible_bias, hidden_bias)
    gap = (energy.free_energy(data, weights, visible_bias, hidden_bias)
           - energy.free_energy(negatives, weights, visible_bias,
                                hidden_bias))
    np.testing.assert_allclose(objective, gap[0], rtol=1e-12)
    # No gradient flows into the negative samples.
    assert tape.gradient(objective, negatives) is None


@pytest.mark.parametrize("gaussian", [False, True])
def test_closed_form_gradients_are_the_objectives_gradients(gaussian):
    # 4 data rows, 7 negative rows: the two means weigh rows differently.
    random_state = np.random.RandomState(5)
    parameters = [tf.Variable(random_state.normal(size=shape))
                  for shape in ((NUM_VISIBLE, 3), (NUM_VISIBLE,), (3,))]
    if gaussian:
        data, negatives = (random_state.normal(size=(rows, NUM_VISIBLE))
                           for rows in (4, 7))
    else:
        data, negatives = ((random_state.uniform(size=(rows, NUM_VISIBLE))
                            < 0.5).astype(np.float64) for rows in (4, 7))
    with tf.GradientTape() as tape:
        objective = energy.contrastive_divergence_objective(
            data, negatives, *parameters, gaussian=gaussian)
    expected = tape.gradient(objective, parameters)
    weights, _, hidden_bias = parameters
    got = energy.contrastive_divergence_gradients(
        tf.constant(data), expit(data @ weights.numpy() + hidden_bias.numpy()),
        tf.constant(negatives),
        expit(negatives @ weights.numpy() + hidden_bias.numpy()))
    for name, value, reference in zip(("W", "c", "b"), got, expected):
        np.testing.assert_allclose(value, reference, rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_binary_states_enumerate_every_vector_once_in_chunks():
    table = energy.binary_states(4).numpy()  # (16, 4)
    expected = np.array([[(row >> bit) & 1 for bit in range(4)]
                         for row in range(16)], np.float32)
    np.testing.assert_array_equal(table, expected)
    chunk = energy.binary_states(4, 5, 11, dtype=tf.float64)
    assert chunk.dtype == tf.float64
    np.testing.assert_array_equal(chunk, expected[5:11])


# --- The pseudo-likelihood (Besag 1975), with three visible units. -------

W = np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 0.125]], np.float32)
C = np.array([0.1, -0.2, 0.3], np.float32)  # visible biases
B = np.array([-0.4, 0.6], np.float32)  # hidden biases
ROWS = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], np.float32)


def _log_conditional(row, index):
    """log p(v_i | v_-i) from the two unnormalized probabilities exp(-F)."""
    both = np.repeat(row[None], 2, axis=0)
    both[:, index] = [0.0, 1.0]
    minus_free = both @ C + np.logaddexp(0, both @ W + B).sum(axis=-1)
    return (minus_free - logsumexp(minus_free))[int(row[index])]


def test_pseudo_log_likelihood_is_its_definition():
    indices = np.array([2, 0])
    got = energy.pseudo_log_likelihood(tf.constant(ROWS), indices, W, C, B)
    expected = [3 * _log_conditional(row, index)
                for row, index in zip(ROWS, indices)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_exact_pseudo_log_likelihood_sums_every_conditional():
    got = energy.exact_pseudo_log_likelihood(ROWS, W, C, B)
    expected = [sum(_log_conditional(row, index) for index in range(3))
                for row in ROWS]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # The one-coordinate estimate averages to it over the coordinates.
    estimates = [energy.pseudo_log_likelihood(tf.constant(ROWS),
                                              np.full(2, index), W, C, B)
                 for index in range(3)]
    np.testing.assert_allclose(np.mean(estimates, axis=0), expected,
                               rtol=1e-5)
