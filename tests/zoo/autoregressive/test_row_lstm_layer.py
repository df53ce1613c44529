"""Tests of zoo/autoregressive/row_lstm_layer.py: the Row LSTM layer's
causality and triangular receptive field.

Dependencies by the exact Jacobian (``pixel_rnn_helpers``): a masked path
contributes an exact zero, any open path a nonzero almost surely.
"""

import numpy as np
import pytest

from pixel_rnn_helpers import assert_causal
from pixel_rnn_helpers import dependencies
from zoo.autoregressive import row_lstm_layer


@pytest.mark.parametrize("mask_type,channels",
                         [("A", 1), ("B", 1), ("A", 3), ("B", 3)])
def test_row_lstm_is_causal(mask_type, channels):
    layer = row_lstm_layer.RowLSTM(6, mask_type=mask_type,
                                   channels=channels,
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
    layer = row_lstm_layer.RowLSTM(4, mask_type=mask_type, residual=False)
    depends = dependencies(layer, height, width, 1).reshape(
        height, width, height, width)
    for row, column in [(3, 0), (3, 4), (2, 6), (1, 8)]:
        np.testing.assert_array_equal(
            depends[row, column],
            row_lstm_context(row, column, height, width, mask_type))
    # The last row's first pixel misses the upper right corner.
    assert not depends[height - 1, 0, 0, width - 1]
