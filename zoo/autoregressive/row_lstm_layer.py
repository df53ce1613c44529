"""The Row LSTM layer of PixelRNN.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks", section 3.1. The map is processed one row at a time, top to
bottom. Input-to-state is a 1 x k convolution along the row, masked;
state-to-state a 1 x k (k = 3) convolution of the previous row's hidden
state. Each step widens the context by one pixel to either side, so a
pixel's context is a triangle above it: it misses pixels of earlier rows
far to its upper right (and far to its upper left).

The masks, the LSTM cell and the residual connection (section 3.3) are
``masked_lstm``'s.
"""

import tensorflow as tf

from zoo.autoregressive import masked_lstm


class RowLSTM(masked_lstm.RecurrentLayer):
    """The Row LSTM layer (van den Oord et al. 2016, section 3.1).

    Rows are processed from top to bottom. The gates of row r are a masked
    1 x ``kernel_size`` convolution of the input (computed for every row at
    once) plus a 1 x ``kernel_size`` convolution of row r - 1's hidden
    state. The context of a pixel is a triangle: row r - j is read up to j
    pixels either side (plus the input convolution's reach), so pixels far
    to the upper right are missed.

    Args:
        hidden: LSTM units per pixel.
        kernel_size: odd width k of both convolutions along the row (3 in
            the paper).
        mask_type: "A" or "B" (see ``masked_lstm.RecurrentLayer``).
        channels: colour channels.
        residual: see ``masked_lstm.RecurrentLayer``.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, hidden, kernel_size=3, mask_type="B", channels=1,
                 residual=True, **kwargs):
        super().__init__(hidden, mask_type, channels, residual, **kwargs)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} must be odd")
        self.kernel_size = int(kernel_size)
        self.input_to_state = self._input_to_state(self.kernel_size,
                                                   "input_to_state")

    def build(self, input_shape):
        self.input_to_state.build(input_shape)
        # (k, hidden, 4 hidden): a 1-D convolution along the previous row.
        self.state_to_state = self.add_weight(
            name="state_to_state",
            shape=(self.kernel_size, self.hidden,
                   masked_lstm.NUM_GATES * self.hidden),
            initializer="glorot_uniform")
        self._build_output(input_shape)

    def call(self, inputs):
        batch, height, width, _ = masked_lstm.map_shape(inputs)
        input_gates = self.input_to_state(inputs)  # (B, H, W, 4 hidden)
        state = tf.zeros([batch, width, self.hidden], inputs.dtype)
        cell = tf.zeros_like(state)
        rows = []
        for row in range(height):  # H is static: the loop unrolls
            gates = input_gates[:, row] + tf.nn.conv1d(
                state, self.state_to_state, stride=1, padding="SAME")
            # (B, W, hidden)
            state, cell = masked_lstm.lstm_cell(gates, cell)
            rows.append(state)
        return self._output(inputs, tf.stack(rows, axis=1))  # (B, H, W, .)

    # The fast sampler: row r's gates at column c read the layer's inputs
    # at columns c - k // 2 .. c of row r (carried as they are computed) and
    # row r - 1's hidden states and cell at columns near c (complete).

    def _more_sampler_state(self, zeros):
        return {"cell_above": zeros(self.hidden)}

    def start_sampler_row(self, state, image_row):
        """At a row's first pixel, the row drawn last becomes the row above.

        Args:
            state: this layer's fast-sampler state.
            image_row: (B, W, C), the image's row above (unused).
        """
        del image_row
        return dict(state, hidden_above=state["hidden"],
                    cell_above=state["cell"])

    def sampler_step(self, inputs, state, column):
        """The layer's output at one pixel of the row being drawn.

        Args:
            inputs: (B, F), the layer's input at the pixel.
            state: this layer's fast-sampler state.
            column: int64 scalar, the pixel's column.

        Returns:
            ``(outputs (B, F), state)``.
        """
        reach = self.kernel_size // 2
        row_inputs = masked_lstm.write_column(state["inputs"], column,
                                              inputs)
        conv = self.input_to_state
        gates = tf.einsum(
            "bkf,kfg->bg",
            masked_lstm.read_columns(row_inputs, column - reach, reach + 1),
            (conv.kernel * conv.mask)[0, :reach + 1]) + conv.bias
        gates += tf.einsum(
            "bkh,khg->bg",
            masked_lstm.read_columns(state["hidden_above"], column - reach,
                                     self.kernel_size),
            self.state_to_state)  # (B, 4 hidden)
        hidden, cell = masked_lstm.lstm_cell(
            gates, tf.gather(state["cell_above"], column, axis=1))
        state = dict(
            state, inputs=row_inputs,
            hidden=masked_lstm.write_column(state["hidden"], column, hidden),
            cell=masked_lstm.write_column(state["cell"], column, cell))
        return self._output_at(inputs, hidden), state
