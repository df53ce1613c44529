"""Tests of zoo/autoregressive/recurrent.py: PixelRNN's masks, skew, layers.

Dependencies are read off the exact Jacobian of a layer's output with
respect to its input, on random inputs and random weights: a masked path
contributes an exact zero, any open path a nonzero almost surely.
"""

import numpy as np
import pytest
import tensorflow as tf

from zoo.autoregressive import recurrent


def dependencies(layer, height, width, features, channels=1, seed=0):
    """Which input (pixel, group) each output (pixel, group) depends on.

    Returns:
        A bool array (H*W*channels, H*W*channels) indexed in raster order,
        channel groups within a pixel (feature j in group j % channels):
        entry [i, j] is True where output i has a nonzero gradient with
        respect to input j.
    """
    inputs = tf.random.stateless_normal([1, height, width, features],
                                        seed=[seed, 1])
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs)
    jacobian = np.abs(tape.jacobian(outputs, inputs).numpy())
    jacobian = jacobian[0, :, :, :, 0]  # (H, W, F_out, H, W, F_in)
    # (H, W, F_out, H, W, F_in) -> (H, W, groups, H, W, groups)
    out_features, in_features = jacobian.shape[2], jacobian.shape[5]
    grouped = np.zeros((height, width, channels, height, width, channels))
    for j in range(out_features):
        for i in range(in_features):
            grouped[:, :, j % channels, :, :, i % channels] += (
                jacobian[:, :, j, :, :, i])
    size = height * width * channels
    return grouped.reshape(size, size) > 0


def assert_causal(depends, mask_type):
    """Nothing at or after i (mask A) or after i (mask B); something before."""
    size = depends.shape[0]
    later = np.triu(np.ones((size, size), bool),
                    k=1 if mask_type == "B" else 0)
    assert not np.any(depends & later), np.argwhere(depends & later)[:5]
    assert np.any(depends & ~later)


def test_causal_mask_by_hand():
    mask_a = recurrent.causal_mask(3, 3, 1, 1, "A")[..., 0, 0]
    np.testing.assert_array_equal(mask_a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    mask_b = recurrent.causal_mask(3, 3, 1, 1, "B")[..., 0, 0]
    np.testing.assert_array_equal(mask_b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    # Colour at the centre: features 0, 3 are R; 1, 4 G; 2 B (j % 3).
    centre_a = recurrent.causal_mask(1, 1, 3, 5, "A", channels=3)[0, 0]
    np.testing.assert_array_equal(centre_a, [[0, 1, 1, 0, 1],
                                             [0, 0, 1, 0, 0],
                                             [0, 0, 0, 0, 0]])
    centre_b = recurrent.causal_mask(1, 1, 3, 5, "B", channels=3)[0, 0]
    np.testing.assert_array_equal(centre_b, [[1, 1, 1, 1, 1],
                                             [0, 1, 1, 0, 1],
                                             [0, 0, 1, 0, 0]])
    with pytest.raises(ValueError, match="odd"):
        recurrent.causal_mask(2, 3, 1, 1, "A")
    with pytest.raises(ValueError, match="mask_type"):
        recurrent.causal_mask(3, 3, 1, 1, "C")


def test_skew_places_row_r_pixel_c_at_column_c_plus_r_and_unskew_inverts():
    height, width = 4, 5
    inputs = tf.random.stateless_normal([2, height, width, 3], seed=[0, 0])
    skewed = recurrent.skew(inputs).numpy()
    assert skewed.shape == (2, height, width + height - 1, 3)
    expected = np.zeros_like(skewed)
    for row in range(height):
        expected[:, row, row:row + width] = inputs[:, row]
    np.testing.assert_array_equal(skewed, expected)
    np.testing.assert_array_equal(
        recurrent.unskew(tf.constant(skewed), width).numpy(), inputs.numpy())


def test_masked_conv_is_causal():
    layer = recurrent.MaskedConv2D(6, 5, "A", channels=3)
    assert_causal(dependencies(layer, 5, 5, 3, channels=3), "A")
    layer = recurrent.MaskedConv2D(6, 5, "B", channels=3)
    assert_causal(dependencies(layer, 5, 5, 6, channels=3), "B")


@pytest.mark.parametrize("mask_type,channels",
                         [("A", 1), ("B", 1), ("A", 3), ("B", 3)])
def test_row_lstm_is_causal(mask_type, channels):
    layer = recurrent.RowLSTM(6, mask_type=mask_type, channels=channels,
                              residual=mask_type == "B")
    features = channels if mask_type == "A" else 6
    assert_causal(dependencies(layer, 4, 5, features, channels), mask_type)


def row_lstm_context(row, column, height, width, mask_type):
    """The inputs a Row LSTM (k = 3) output reads: a triangle above it.

    Row ``row - j`` (j >= 1) is read through the states of columns
    ``column - j .. column + j``, each reading its input at columns
    ``c - 1 .. c`` (mask B) or ``c - 1`` (mask A); the pixel's own row
    through its own input convolution.
    """
    reach = 0 if mask_type == "B" else -1
    context = np.zeros((height, width), bool)
    context[row, max(column - 1, 0):column + reach + 1] = True
    for j in range(1, row + 1):
        last_state = min(column + j, width - 1)
        context[row - j, max(column - j - 1, 0):last_state + reach + 1] = True
    return context


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_row_lstm_receptive_field_is_the_triangle(mask_type):
    """The 1 x 3 state-to-state convolution widens the context by one pixel
    to each side per row: pixels far to the upper right are never read."""
    height, width = 4, 9
    layer = recurrent.RowLSTM(4, mask_type=mask_type, residual=False)
    depends = dependencies(layer, height, width, 1).reshape(
        height, width, height, width)
    for row, column in [(3, 0), (3, 4), (2, 6), (1, 8)]:
        np.testing.assert_array_equal(
            depends[row, column],
            row_lstm_context(row, column, height, width, mask_type))
    # The last row's first pixel misses the upper right corner.
    assert not depends[height - 1, 0, 0, width - 1]


@pytest.mark.parametrize("mask_type,channels", [("B", 1), ("A", 3), ("B", 3)])
def test_diagonal_bilstm_is_causal(mask_type, channels):
    layer = recurrent.DiagonalBiLSTM(6, mask_type=mask_type,
                                     channels=channels,
                                     residual=mask_type == "B")
    features = channels if mask_type == "A" else 6
    assert_causal(dependencies(layer, 4, 5, features, channels), mask_type)


def test_diagonal_bilstm_reads_every_earlier_pixel():
    """No blind spot: every output reads every input at or before it."""
    height = width = 5
    layer = recurrent.DiagonalBiLSTM(4, residual=False)
    depends = dependencies(layer, height, width, 1)
    np.testing.assert_array_equal(
        depends, np.tril(np.ones((height * width,) * 2, bool)))


def test_diagonal_bilstm_row_inputs_reach_the_rows_above_only():
    """The row inputs enter the shifted right-to-left direction alone:
    pixel (r, c) reads them at rows < r, columns >= c."""
    height, width = 4, 5
    layer = recurrent.DiagonalBiLSTM(4, residual=False, row_input_features=2)
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
    layer = recurrent.DiagonalBiLSTM(4, residual=False,
                                     shift_right_to_left=False)
    depends = dependencies(layer, 4, 4, 1)
    assert np.any(np.triu(depends, k=1))
    # Pixel (1, 0) then reads (1, 1), its right neighbour.
    assert depends[1 * 4 + 0, 1 * 4 + 1]


def test_layers_keep_the_width_with_a_residual_and_check_arguments():
    inputs = tf.zeros([2, 3, 4, 8])
    for layer in (recurrent.RowLSTM(4), recurrent.DiagonalBiLSTM(4)):
        assert layer(inputs).shape == (2, 3, 4, 8)
    assert recurrent.RowLSTM(4, residual=False)(inputs).shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match="residual"):
        recurrent.RowLSTM(4, mask_type="A")
    with pytest.raises(ValueError, match="hidden"):
        recurrent.DiagonalBiLSTM(4, channels=3)
    with pytest.raises(ValueError, match="kernel_size"):
        recurrent.RowLSTM(4, kernel_size=2)
