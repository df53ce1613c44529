"""Tests of zoo/autoregressive/masked_lstm.py: PixelRNN's masks, masked
convolution and the arguments its LSTM layers share.

Dependencies by the exact Jacobian (``pixel_rnn_helpers``): a masked path
contributes an exact zero, any open path a nonzero almost surely.
"""

import numpy as np
import pytest
import tensorflow as tf

from pixel_rnn_helpers import assert_causal
from pixel_rnn_helpers import dependencies
from zoo.autoregressive import diagonal_bilstm_layer
from zoo.autoregressive import masked_lstm
from zoo.autoregressive import row_lstm_layer


def test_causal_mask_by_hand():
    mask_a = masked_lstm.causal_mask(3, 3, 1, 1, "A")[..., 0, 0]
    np.testing.assert_array_equal(mask_a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    mask_b = masked_lstm.causal_mask(3, 3, 1, 1, "B")[..., 0, 0]
    np.testing.assert_array_equal(mask_b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    # Colour at the centre: features 0, 3 are R; 1, 4 G; 2 B (j % 3).
    centre_a = masked_lstm.causal_mask(1, 1, 3, 5, "A", channels=3)[0, 0]
    np.testing.assert_array_equal(centre_a, [[0, 1, 1, 0, 1],
                                             [0, 0, 1, 0, 0],
                                             [0, 0, 0, 0, 0]])
    centre_b = masked_lstm.causal_mask(1, 1, 3, 5, "B", channels=3)[0, 0]
    np.testing.assert_array_equal(centre_b, [[1, 1, 1, 1, 1],
                                             [0, 1, 1, 0, 1],
                                             [0, 0, 1, 0, 0]])
    with pytest.raises(ValueError, match="odd"):
        masked_lstm.causal_mask(2, 3, 1, 1, "A")
    with pytest.raises(ValueError, match="mask_type"):
        masked_lstm.causal_mask(3, 3, 1, 1, "C")


def test_masked_conv_is_causal():
    layer = masked_lstm.MaskedConv2D(6, 5, "A", channels=3)
    assert_causal(dependencies(layer, 5, 5, 3, channels=3), "A")
    layer = masked_lstm.MaskedConv2D(6, 5, "B", channels=3)
    assert_causal(dependencies(layer, 5, 5, 6, channels=3), "B")


def test_layers_keep_the_width_with_a_residual_and_check_arguments():
    inputs = tf.zeros([2, 3, 4, 8])
    for layer in (row_lstm_layer.RowLSTM(4),
                  diagonal_bilstm_layer.DiagonalBiLSTM(4)):
        assert layer(inputs).shape == (2, 3, 4, 8)
    without_residual = row_lstm_layer.RowLSTM(4, residual=False)
    assert without_residual(inputs).shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match="residual"):
        row_lstm_layer.RowLSTM(4, mask_type="A")
    with pytest.raises(ValueError, match="hidden"):
        diagonal_bilstm_layer.DiagonalBiLSTM(4, channels=3)
    with pytest.raises(ValueError, match="kernel_size"):
        row_lstm_layer.RowLSTM(4, kernel_size=2)
