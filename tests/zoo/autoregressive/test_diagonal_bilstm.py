"""Tests of what is the Diagonal BiLSTM PixelRNN's own (diagonal_bilstm.py):
its full receptive field, which the shifted right-to-left direction gives.
What both PixelRNNs share is tested in ``test_pixel_rnns``; the skew, the
unskew and the layer itself in ``test_diagonal_bilstm_layer``.

Dependencies are read off the exact Jacobian of the logits with respect to
the float inputs, with random weights: masked paths give exact zeros.
"""

import numpy as np
import pytest

from pixel_rnn_helpers import build
from pixel_rnn_helpers import logit_dependencies
from pixel_rnn_helpers import randomize
from zoo.autoregressive import diagonal_bilstm_layer

NAME = "diagonal_bilstm"


@pytest.mark.parametrize("shape,num_layers", [
    ((5, 5, 1), 1), ((6, 7, 1), 2), ((3, 4, 3), 1)])
def test_receptive_field_holds_every_earlier_value(shape, num_layers):
    """No blind spot: every value's logits read every value before it.

    The last pixel of the row above is the hard one: the mask-A
    convolution's feature at a pixel excludes the pixel, and the features
    after it in the row lie beyond the left-to-right recurrence; only the
    right-to-left direction's reading of the image itself carries it to a
    pixel more than ``first_kernel_size // 2`` columns left of the row's
    end. In colour, channel c also reads channels < c of its own pixel.
    """
    model = build(NAME, *shape, num_levels=2, preprocessing="binarize_static",
                  first_kernel_size=3, num_layers=num_layers,
                  hidden_units=2 * shape[2], output_features=4 * shape[2])
    randomize(model, biases=False)
    depends = logit_dependencies(model)
    np.testing.assert_array_equal(depends,
                                  np.tril(np.ones_like(depends), k=-1))


def test_unshifted_right_to_left_direction_breaks_causality(monkeypatch):
    """Without the one-row shift of the right-to-left direction, a value's
    logits read the value to its right."""
    layer_class = diagonal_bilstm_layer.DiagonalBiLSTM

    def unshifted(*args, **kwargs):
        return layer_class(*args, shift_right_to_left=False, **kwargs)

    monkeypatch.setattr(diagonal_bilstm_layer, "DiagonalBiLSTM", unshifted)
    model = build(NAME, 4, 4, num_levels=2, preprocessing="binarize_static",
                  first_kernel_size=3)
    randomize(model, biases=False)
    depends = logit_dependencies(model)
    assert np.any(np.triu(depends, k=0))
