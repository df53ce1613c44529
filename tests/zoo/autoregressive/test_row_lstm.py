"""Tests of what is the Row LSTM PixelRNN's own (row_lstm.py): its
triangular receptive field and its row kernel. What both PixelRNNs share
is tested in ``test_pixel_rnns``.

Dependencies are read off the exact Jacobian of the logits with respect to
the float inputs, with random weights: masked paths give exact zeros.
"""

import pytest

from pixel_rnn_helpers import build
from pixel_rnn_helpers import logit_dependencies
from pixel_rnn_helpers import randomize
from tfgen import errors

NAME = "row_lstm"


def test_receptive_field_misses_the_upper_right():
    """The Row LSTM's context is a triangle: the first pixel of the last row
    reads neither the upper right corner nor the pixels beside it."""
    height, width = 4, 10
    model = build(NAME, height, width, num_levels=2,
                  preprocessing="binarize_static", first_kernel_size=3,
                  num_layers=2)
    randomize(model, biases=False)
    depends = logit_dependencies(model).reshape(height, width, height, width)
    last_row_start = depends[height - 1, 0]
    # Reads the row above, near it ...
    assert last_row_start[height - 2, 0] and last_row_start[height - 2, 1]
    # ... but not the top row's far end: the first layer reaches 1 pixel to
    # the right, each Row LSTM one more per row.
    assert not last_row_start[0, width - 3:].any()
    assert not last_row_start[0:2, width - 1].any()


@pytest.mark.parametrize("value", [2, 0])
def test_an_even_or_empty_row_kernel_raises_usage_error(value):
    with pytest.raises(errors.UsageError, match="config.kernel_size="):
        build(NAME, 4, 4, kernel_size=value)
