"""Tests of the shared layers: MADE (Germain et al. 2015).

The autoregressive property is checked on the network itself, not only on
its masks: the Jacobian of every output with respect to the inputs, by
automatic differentiation, is zero on and above the diagonal (output i does
not depend on inputs i, i+1, ...) and nonzero below it, with random
positive weights everywhere (every unit active, so every path counts); a
perturbation of input j leaves outputs 1 .. j unchanged and changes the
later ones. The context reaches every output.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import layers


def _network(event_size=5, hidden_units=(7, 6), num_params=2,
             context_size=0, seed=0):
    """A MADE whose every weight is random (the output kernel included)."""
    keras.utils.set_random_seed(seed)
    network = layers.AutoregressiveNetwork(
        event_size, hidden_units, num_params=num_params,
        context_size=context_size, output_initializer="zeros")
    rng = np.random.RandomState(seed)
    for variable in network.weights:
        # Positive weights and biases: on positive inputs every ReLU unit
        # is then active and every path through the masks adds a positive
        # term to a derivative, so a connection exists exactly where its
        # derivative is nonzero (a dead unit would hide connections).
        variable.assign(rng.uniform(0.5, 1.5, variable.shape))
    return network


def _positive(shape, seed):
    return tf.constant(np.random.RandomState(seed).uniform(0.0, 1.0, shape),
                       tf.float32)


def test_masks_connect_input_j_to_output_i_only_for_j_before_i():
    masks = layers.autoregressive_masks(5, (7, 6))
    assert [mask.shape for mask in masks] == [(5, 7), (7, 6), (6, 5)]
    paths = masks[0]
    for mask in masks[1:]:
        paths = paths @ mask  # (5 inputs, 5 outputs): number of paths
    np.testing.assert_array_equal(paths > 0, np.triu(np.ones((5, 5)), k=1))


@pytest.mark.parametrize("event_size, hidden_units", [
    (5, (7, 6)), (3, (5, 4)), (4, (3,)), (6, (2, 9, 4)), (1, (3,))])
@pytest.mark.parametrize("compiled", [False, True])
def test_output_i_depends_exactly_on_the_inputs_before_i(
        event_size, hidden_units, compiled):
    network = _network(event_size, hidden_units)
    inputs = _positive((16, event_size), seed=1)

    def jacobian(values):
        with tf.GradientTape() as tape:
            tape.watch(values)
            outputs = network(values)  # (B, D, P)
        return tape.batch_jacobian(outputs, values)  # (B, D, P, D)

    if compiled:
        jacobian = tf.function(jacobian)
    result = jacobian(inputs).numpy()
    assert result.shape == (16, event_size, 2, event_size)
    # d output_i / d input_j over the batch and both parameters.
    magnitude = np.abs(result).max(axis=(0, 2))  # (D outputs, D inputs)
    allowed = np.tril(np.ones((event_size, event_size)), k=-1) > 0
    np.testing.assert_array_equal(magnitude[~allowed], 0.0)
    # Every allowed connection exists for some input. Input j reaches
    # output i through hidden units of a degree in [j, i - 1]; layers of
    # fewer than D units leave out degrees, so only the networks that keep
    # them all (at least D units per layer) must connect every pair.
    if min(hidden_units) >= event_size:
        assert np.all(magnitude[allowed] > 0.0), magnitude


def test_perturbing_an_input_changes_only_the_later_outputs():
    network = _network(event_size=6, hidden_units=(12, 12))
    inputs = _positive((8, 6), seed=2).numpy()
    outputs = network(tf.constant(inputs)).numpy()
    for index in range(6):
        moved = inputs.copy()
        moved[:, index] += 3.0
        changed = np.abs(network(tf.constant(moved)).numpy() - outputs).max(
            axis=(0, 2))  # (D,)
        np.testing.assert_array_equal(changed[:index + 1], 0.0)
        if index < 5:
            assert changed[index + 1:].max() > 1e-3, (index, changed)


def test_context_reaches_every_output_and_broadcasts():
    network = _network(event_size=4, hidden_units=(8,), context_size=3)
    codes = _positive((5, 2, 4), seed=3)  # (k, B, D)
    context = _positive((2, 3), seed=4)  # (B, context_size)
    with tf.GradientTape() as tape:
        tape.watch(context)
        outputs = network(codes, context=context)
    assert outputs.shape == (5, 2, 4, 2)
    gradient = tape.jacobian(outputs, context).numpy()  # (5,2,4,2, 2,3)
    # The first output, which sees no input, still sees the context.
    assert np.abs(gradient[:, :, 0]).max() > 0.0
    assert np.abs(gradient).max(axis=(0, 1, 3, 4, 5)).min() > 0.0
    with pytest.raises(ValueError, match="context"):
        network(codes)


def test_zero_output_kernel_starts_every_output_at_its_bias():
    network = layers.AutoregressiveNetwork(3, (4,), num_params=2,
                                           output_initializer="zeros")
    assert network.built and len(network.weights) == 4
    outputs = network(tf.random.normal([6, 3])).numpy()
    np.testing.assert_array_equal(outputs, 0.0)


@pytest.mark.parametrize("arguments", [
    {"event_size": 3, "hidden_units": ()},
    {"event_size": 3, "hidden_units": (4, 0)},
    {"event_size": 0, "hidden_units": (4,)},
])
def test_bad_sizes_raise(arguments):
    with pytest.raises(ValueError):
        layers.AutoregressiveNetwork(**arguments)
