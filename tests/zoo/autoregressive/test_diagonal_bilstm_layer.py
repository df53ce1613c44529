"""Tests of zoo/autoregressive/diagonal_bilstm_layer.py: skew, unskew and the
Diagonal BiLSTM layer's causality and full context.

Dependencies by the exact Jacobian (``pixel_rnn_helpers``): a masked path
contributes an exact zero, any open path a nonzero almost surely.
"""

import numpy as np
import pytest
import tensorflow as tf

from pixel_rnn_helpers import assert_causal
from pixel_rnn_helpers import dependencies
from zoo.autoregressive import diagonal_bilstm_layer


def test_skew_places_row_r_pixel_c_at_column_c_plus_r_and_unskew_inverts():
    height, width = 4, 5
    inputs = tf.random.stateless_normal([2, height, width, 3], seed=[0, 0])
    skewed = diagonal_bilstm_layer.skew(inputs).numpy()
    assert skewed.shape == (2, height, width + height - 1, 3)
    expected = np.zeros_like(skewed)
    for row in range(height):
        expected[:, row, row:row + width] = inputs[:, row]
    np.testing.assert_array_equal(skewed, expected)
    np.testing.assert_array_equal(
        diagonal_bilstm_layer.unskew(tf.constant(skewed), width).numpy(),
        inputs.numpy())


@pytest.mark.parametrize("mask_type,channels", [("B", 1), ("A", 3), ("B", 3)])
def test_diagonal_bilstm_is_causal(mask_type, channels):
    layer = diagonal_bilstm_layer.DiagonalBiLSTM(6, mask_type=mask_type,
                                                 channels=channels,
                                                 residual=mask_type == "B")
    features = channels if mask_type == "A" else 6
    assert_causal(dependencies(layer, 4, 5, features, channels), mask_type)


def test_diagonal_bilstm_reads_every_earlier_pixel():
    """No blind spot: every output reads every input at or before it."""
    height = width = 5
    layer = diagonal_bilstm_layer.DiagonalBiLSTM(4, residual=False)
    depends = dependencies(layer, height, width, 1)
    np.testing.assert_array_equal(
        depends, np.tril(np.ones((height * width,) * 2, bool)))


def test_diagonal_bilstm_row_inputs_reach_the_rows_above_only():
    """The row inputs enter the shifted right-to-left direction alone:
    pixel (r, c) reads them at rows < r, columns >= c."""
    height, width = 4, 5
    layer = diagonal_bilstm_layer.DiagonalBiLSTM(4, residual=False,
                                                 row_input_features=2)
    inputs = tf.random.stateless_normal([1, height, width, 3], seed=[0, 2])
    row_inputs = tf.random.stateless_normal([1, height, width, 2],
                                            seed=[0, 3])
    with tf.GradientTape() as tape:
        tape.watch(row_inputs)
        outputs = layer(inputs, row_inputs)
    jacobian = np.abs(tape.jacobian(outputs, row_inputs).numpy())
    depends = jacobian[0, :, :, :, 0].sum(axis=(2, 5)) > 0  # (H, W, H, W)
    rows, columns = np.indices((height, width))
    for row in range(height):
        for column in range(width):
            np.testing.assert_array_equal(
                depends[row, column], (rows < row) & (columns >= column))
    with pytest.raises(ValueError, match="row_inputs"):
        layer(inputs)


def test_diagonal_bilstm_without_the_shift_reads_later_pixels():
    """The right-to-left direction must be shifted down one row."""
    layer = diagonal_bilstm_layer.DiagonalBiLSTM(4, residual=False,
                                                 shift_right_to_left=False)
    depends = dependencies(layer, 4, 4, 1)
    assert np.any(np.triu(depends, k=1))
    # Pixel (1, 0) then reads (1, 1), its right neighbour.
    assert depends[1 * 4 + 0, 1 * 4 + 1]
