"""Tests of the RBM partition function: enumeration and AIS.

Exact enumeration is checked against the closed form of a zero-weight RBM
and against brute force over both layers; AIS (Salakhutdinov & Murray 2008)
against exact enumeration on a small RBM with strong random weights.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from zoo.boltzmann import partition


def _rbm(num_visible, num_hidden, scale, seed=0):
    draw = np.random.RandomState(seed)
    return (draw.normal(scale=scale, size=(num_visible, num_hidden)),
            draw.normal(size=num_visible), draw.normal(size=num_hidden))


def _brute_force_log_partition(weights, visible_bias, hidden_bias):
    """log sum over every (v, h) of exp(-E(v, h)), in numpy."""
    num_visible, num_hidden = weights.shape
    visible = np.array(list(itertools.product([0, 1], repeat=num_visible)))
    hidden = np.array(list(itertools.product([0, 1], repeat=num_hidden)))
    minus_energy = (visible @ weights @ hidden.T
                    + (visible @ visible_bias)[:, None]
                    + (hidden @ hidden_bias)[None, :])
    return logsumexp(minus_energy)


def test_zero_weight_rbm_has_the_closed_form_partition_function():
    _, visible_bias, hidden_bias = _rbm(7, 3, 1.0)
    expected = (np.logaddexp(0, visible_bias).sum()
                + np.logaddexp(0, hidden_bias).sum())
    log_z = partition.exact_log_partition(np.zeros((7, 3)), visible_bias,
                                          hidden_bias)
    np.testing.assert_allclose(log_z, expected, rtol=1e-12)


@pytest.mark.parametrize("num_visible, num_hidden", [(6, 4), (4, 6)])
def test_exact_enumeration_of_either_layer_is_brute_force(num_visible,
                                                           num_hidden):
    parameters = _rbm(num_visible, num_hidden, 1.5)
    np.testing.assert_allclose(
        partition.exact_log_partition(*parameters),
        _brute_force_log_partition(*parameters), rtol=1e-12)


def test_exact_enumeration_refuses_large_layers():
    with pytest.raises(ValueError, match="exceeds 20"):
        partition.exact_log_partition(np.zeros((21, 22)), np.zeros(21),
                                      np.zeros(22))


def test_betas_run_from_zero_to_one_increasingly():
    for spacing in ("linear", "sigmoid"):
        betas = partition.annealing_schedule(50, spacing).numpy()
        assert betas[0] == 0.0 and betas[-1] == 1.0
        assert np.all(np.diff(betas) > 0)
    with pytest.raises(ValueError, match="spacing"):
        partition.annealing_schedule(5, "cosine")


@pytest.mark.parametrize("with_base", [False, True])
def test_ais_agrees_with_exact_enumeration(with_base):
    # Weights of scale 1 make a rugged, multimodal model: a fair test.
    weights, visible_bias, hidden_bias = _rbm(10, 6, 1.0, seed=3)
    exact = float(partition.exact_log_partition(weights, visible_bias,
                                                hidden_bias))
    base = visible_bias if with_base else None
    log_z, stderr = partition.ais_log_partition(
        tf.constant(weights, tf.float32), visible_bias, hidden_bias,
        num_chains=200, num_betas=1000, seed=7, base_visible_bias=base)
    assert log_z.dtype == tf.float32
    # The estimate errs by about its stderr; four of them fail by chance
    # about once in 16,000 seeds, and the seed is fixed.
    assert 0.0 < float(stderr) < 0.05
    assert abs(float(log_z) - exact) < 4 * float(stderr), (
        float(log_z), exact, float(stderr))


def test_ais_is_deterministic_given_its_seed_and_exact_at_zero_weights():
    weights, visible_bias, hidden_bias = _rbm(8, 5, 1.0)
    first = partition.ais_log_partition(weights, visible_bias, hidden_bias,
                                        num_chains=20, num_betas=30, seed=1)
    again = partition.ais_log_partition(weights, visible_bias, hidden_bias,
                                        num_chains=20, num_betas=30, seed=1)
    other = partition.ais_log_partition(weights, visible_bias, hidden_bias,
                                        num_chains=20, num_betas=30, seed=2)
    assert [float(x) for x in first] == [float(x) for x in again]
    assert float(first[0]) != float(other[0])
    # Zero weights and the target's biases as the base: every importance
    # weight is exactly 1, whatever the chains do.
    log_z, stderr = partition.ais_log_partition(
        np.zeros((8, 5)), visible_bias, np.zeros(5), num_chains=10,
        num_betas=3, seed=0, base_visible_bias=visible_bias)
    np.testing.assert_allclose(
        log_z, np.logaddexp(0, visible_bias).sum() + 5 * np.log(2),
        rtol=1e-12)
    assert float(stderr) < 1e-12


# --- Gaussian visibles. ---------------------------------------------------


def _gaussian_free_energy(visible, weights, visible_bias, hidden_bias):
    """F(v) = |v - c|^2 / 2 - sum_j softplus((v'W + b)_j), in numpy."""
    return (0.5 * ((visible - visible_bias)**2).sum(axis=-1)
            - np.logaddexp(0, visible @ weights + hidden_bias).sum(axis=-1))


def test_zero_weight_gaussian_rbm_has_the_closed_form_partition_function():
    _, visible_bias, hidden_bias = _rbm(5, 4, 1.0)
    expected = (2.5 * np.log(2 * np.pi)
                + np.logaddexp(0, hidden_bias).sum())
    log_z = partition.exact_log_partition(np.zeros((5, 4)), visible_bias,
                                          hidden_bias, gaussian=True)
    np.testing.assert_allclose(log_z, expected, rtol=1e-12)


def test_exact_gaussian_partition_function_is_the_integral_of_exp_minus_f():
    # Two visible units: a Riemann sum on a fine grid wide enough that the
    # tails are negligible.
    weights, visible_bias, hidden_bias = _rbm(2, 3, 1.0, seed=5)
    grid = np.linspace(-15.0, 15.0, 1201)
    step = grid[1] - grid[0]
    visible = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    numeric = (logsumexp(-_gaussian_free_energy(visible, weights,
                                                visible_bias, hidden_bias))
               + 2 * np.log(step))
    np.testing.assert_allclose(
        partition.exact_log_partition(weights, visible_bias, hidden_bias,
                                      gaussian=True), numeric, rtol=1e-9)


def test_exact_gaussian_enumeration_refuses_many_hidden_units():
    with pytest.raises(ValueError, match="exceeds 20"):
        partition.exact_log_partition(np.zeros((2, 21)), np.zeros(2),
                                      np.zeros(21), gaussian=True)


def test_gaussian_ais_agrees_with_exact_enumeration():
    weights, visible_bias, hidden_bias = _rbm(6, 8, 1.0, seed=0)
    exact = float(partition.exact_log_partition(
        weights, visible_bias, hidden_bias, gaussian=True))
    log_z, stderr = partition.ais_log_partition(
        tf.constant(weights, tf.float32), visible_bias, hidden_bias,
        num_chains=200, num_betas=1000, seed=1, gaussian=True)
    assert log_z.dtype == tf.float32
    assert 0.0 < float(stderr) < 0.1
    assert abs(float(log_z) - exact) < 4 * float(stderr), (
        float(log_z), exact, float(stderr))


def test_gaussian_ais_is_exact_at_zero_weights_and_takes_no_base():
    _, visible_bias, hidden_bias = _rbm(5, 4, 1.0)
    log_z, stderr = partition.ais_log_partition(
        np.zeros((5, 4)), visible_bias, hidden_bias, num_chains=10,
        num_betas=3, seed=0, gaussian=True)
    np.testing.assert_allclose(
        log_z, 2.5 * np.log(2 * np.pi) + np.logaddexp(0, hidden_bias).sum(),
        rtol=1e-12)
    assert float(stderr) < 1e-12
    with pytest.raises(ValueError, match="base_visible_bias"):
        partition.ais_log_partition(
            np.zeros((5, 4)), visible_bias, hidden_bias, num_chains=10,
            num_betas=3, seed=0, base_visible_bias=visible_bias,
            gaussian=True)
