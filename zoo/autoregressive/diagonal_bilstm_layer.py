"""The Diagonal BiLSTM layer of PixelRNN, and the skew it scans.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks", section 3.2. The map is skewed (row r shifted right by r
pixels), which turns its diagonals into columns; an LSTM scans these columns
left to right, with a 1 x 1 input-to-state convolution and a 2 x 1
state-to-state convolution of the previous column, so that pixel (r, c)
reads the states at (r, c - 1) and (r - 1, c). A second LSTM scans the
mirrored map (right to left); its output is shifted down by one row before
the two are added, since unshifted it would read (r, c + 1), a later pixel.
Together they see every earlier pixel: no blind spot. Shifted, the second
direction at row r reads rows r - 1 and above only, every value of which
precedes row r: its input-to-state convolution needs no mask, and it may
also read the image itself (``row_input_features``). The network's first
layer does: the mask-A convolution's feature at a pixel excludes the pixel,
so without the image no feature at or before (r, c) would carry pixel
(r - 1, W - 1) once c < W - 1 - first_kernel_size // 2.

The masks, the LSTM cell and the residual connection (section 3.3) are
``masked_lstm``'s.
"""

import keras
import tensorflow as tf

from zoo.autoregressive import masked_lstm

_DIRECTIONS = ("left_to_right", "right_to_left")


def skew(inputs):
    """Shifts row r of a map right by r pixels: diagonals become columns.

    Args:
        inputs: (B, H, W, F).

    Returns:
        (B, H, W + H - 1, F), with ``inputs[:, r, c]`` at column ``c + r`` of
        row r and zeros elsewhere.
    """
    batch, height, width, features = masked_lstm.map_shape(inputs)
    # Rows padded to width W + H, laid end to end, and cut into rows one
    # pixel shorter: each row starts one pixel further left of its data
    # than the row above, i.e. row r's data start at column r.
    padded = tf.pad(inputs, [[0, 0], [0, 0], [0, height], [0, 0]])
    flat = tf.reshape(padded, [batch, height * (width + height), features])
    flat = flat[:, :height * (width + height - 1)]
    return tf.reshape(flat, [batch, height, width + height - 1, features])


def unskew(inputs, width):
    """Inverts ``skew``: row r's columns r .. r + width - 1 back to 0 ..

    Args:
        inputs: (B, H, W + H - 1, F), a skewed map.
        width: W, the width of the map before skewing.

    Returns:
        (B, H, W, F).
    """
    batch, height, skewed_width, features = masked_lstm.map_shape(inputs)
    if skewed_width != width + height - 1:
        raise ValueError(f"a skewed map of height {height} and width "
                         f"{width} is {width + height - 1} wide, not "
                         f"{skewed_width}")
    # The reverse of skew's cut: rows one pixel longer, then their tails
    # (the other rows' padding) dropped.
    flat = tf.reshape(inputs, [batch, height * skewed_width, features])
    flat = tf.pad(flat, [[0, 0], [0, height], [0, 0]])
    rows = tf.reshape(flat, [batch, height, width + height, features])
    return rows[:, :, :width]



class DiagonalBiLSTM(masked_lstm.RecurrentLayer):
    """The Diagonal BiLSTM layer (van den Oord et al. 2016, section 3.2).

    Two diagonal LSTMs, one scanning the skewed map left to right and one
    scanning the skewed mirror image (right to left); the second's hidden
    state is shifted down one row before the two are added, so that a pixel
    reads only earlier pixels. The context of a pixel is every pixel before
    it.

    Shifted, the right-to-left direction at row r reads rows r - 1 and above
    only, all before every value of row r, so its 1 x 1 input-to-state
    convolution is not masked (under mask A or B) and may read
    ``row_inputs`` too: any map whose row r depends on rows <= r only,
    such as the image.

    Args:
        hidden: LSTM units per pixel.
        mask_type: "A" or "B" (see ``masked_lstm.RecurrentLayer``), the
            mask of the left-to-right direction's 1 x 1 input-to-state
            convolution; under mask A a single-channel layer reads no input
            at its own pixel.
        channels: colour channels.
        residual: see ``masked_lstm.RecurrentLayer``.
        shift_right_to_left: shift the right-to-left direction down one row
            (True, the paper's); False exists only to show, in the tests,
            that the unshifted layer reads later pixels.
        row_input_features: features of the ``row_inputs`` the layer is
            called with (0: none).
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, hidden, mask_type="B", channels=1, residual=True,
                 shift_right_to_left=True, row_input_features=0, **kwargs):
        super().__init__(hidden, mask_type, channels, residual, **kwargs)
        self.shift_right_to_left = bool(shift_right_to_left)
        self.row_input_features = int(row_input_features)
        self.left_to_right_input_to_state = self._input_to_state(
            1, "left_to_right_input_to_state")
        self.right_to_left_input_to_state = keras.layers.Dense(
            masked_lstm.NUM_GATES * self.hidden,
            bias_initializer=masked_lstm.gate_bias_initializer(self.hidden),
            name="right_to_left_input_to_state")

    def build(self, input_shape):
        self.left_to_right_input_to_state.build(input_shape)
        self.right_to_left_input_to_state.build(
            tuple(input_shape[:-1])
            + (int(input_shape[-1]) + self.row_input_features,))
        for direction in _DIRECTIONS:
            # (2, hidden, 4 hidden): rows r - 1 and r of the previous column.
            setattr(self, f"{direction}_state_to_state", self.add_weight(
                name=f"{direction}_state_to_state",
                shape=(2, self.hidden, masked_lstm.NUM_GATES * self.hidden),
                initializer="glorot_uniform"))
        self._build_output(input_shape)

    def _diagonal_lstm(self, input_gates, direction):
        """One direction, scanning the skewed map's columns left to right.

        Args:
            input_gates: (B, H, W, 4 hidden), the input-to-state part.
            direction: which direction's weights.

        Returns:
            The hidden states (B, H, W, hidden); pixel (r, c) read the
            states at (r, c - 1) and (r - 1, c).
        """
        batch, height, width, _ = masked_lstm.map_shape(input_gates)
        # A 1 x 1 convolution commutes with the skew; the skew's zero gates
        # left of a row give zero states, the ones right of it are dropped.
        input_gates = skew(input_gates)  # (B, H, W + H - 1, 4 hidden)
        kernel = getattr(self, f"{direction}_state_to_state")
        state = tf.zeros([batch, height, self.hidden], input_gates.dtype)
        cell = tf.zeros_like(state)
        columns = []
        for column in range(width + height - 1):  # static: unrolls
            # The 2 x 1 convolution: row r reads rows r - 1 and r of the
            # previous column, i.e. pixels (r - 1, c) and (r, c - 1).
            previous = tf.pad(state, [[0, 0], [1, 0], [0, 0]])
            gates = input_gates[:, :, column] + tf.nn.conv1d(
                previous, kernel, stride=1, padding="VALID")
            state, cell = masked_lstm.lstm_cell(gates, cell)  # (B, H, hidden)
            columns.append(state)
        return unskew(tf.stack(columns, axis=2), width)  # (B, H, W, hidden)

    def call(self, inputs, row_inputs=None):
        """Returns the layer's output, (B, H, W, F) (hidden if not residual).

        Args:
            inputs: (B, H, W, F) features.
            row_inputs: (B, H, W, row_input_features), read by the
                right-to-left direction only; required when
                ``row_input_features`` > 0.
        """
        if (row_inputs is None) != (self.row_input_features == 0):
            raise ValueError(f"{self.name} has row_input_features="
                             f"{self.row_input_features}; row_inputs must "
                             "be given exactly when it is positive")
        left_to_right = self._diagonal_lstm(
            self.left_to_right_input_to_state(inputs), "left_to_right")
        if row_inputs is not None:
            inputs_read = tf.concat([inputs, row_inputs], axis=-1)
        else:
            inputs_read = inputs
        right_to_left = tf.reverse(self._diagonal_lstm(
            self.right_to_left_input_to_state(
                tf.reverse(inputs_read, axis=[2])), "right_to_left"),
            axis=[2])
        if self.shift_right_to_left:
            # Unshifted, pixel (r, c) would read (r, c + 1) onwards; one row
            # down it reads row r - 1 from column c on, all earlier.
            right_to_left = tf.pad(right_to_left,
                                   [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]
        return self._output(inputs, left_to_right + right_to_left)

    # The fast sampler. Unskewed, the left-to-right direction is a
    # recurrence over pixels in raster order: (r, c) reads the states at
    # (r - 1, c) and (r, c - 1) and the cell at (r, c - 1), so it takes one
    # step per pixel. The right-to-left direction at row r - 1, which row r
    # reads, depends on rows < r only: it is computed once, right to left,
    # when row r starts.

    def _more_sampler_state(self, zeros):
        # The right-to-left hidden states of the row above: shifted down one
        # row, what the row being drawn adds.
        return {"right_to_left": zeros(self.hidden)}

    def start_sampler_row(self, state, image_row):
        """At a row's first pixel, runs the right-to-left direction along
        the row above (complete) and makes it the row above.

        Args:
            state: this layer's fast-sampler state; ``inputs`` hold the row
                above's, ``right_to_left`` the states of the row before it.
            image_row: (B, W, C), the image's row above: the row inputs of
                a layer with ``row_input_features`` (``pixel_rnn_network``
                passes the image).
        """
        inputs = state["inputs"]  # (B, W, F)
        if self.row_input_features:
            inputs = tf.concat([inputs, image_row], axis=-1)
        input_gates = self.right_to_left_input_to_state(inputs)
        kernel = self.right_to_left_state_to_state
        above = state["right_to_left"]
        hidden = tf.zeros_like(above[:, 0])  # (B, hidden)
        cell = tf.zeros_like(hidden)
        row = [None] * int(above.shape[1])
        for column in reversed(range(len(row))):  # static: unrolls
            gates = (input_gates[:, column] + above[:, column] @ kernel[0]
                     + hidden @ kernel[1])
            hidden, cell = masked_lstm.lstm_cell(gates, cell)
            row[column] = hidden
        return dict(state, hidden_above=state["hidden"],
                    right_to_left=tf.stack(row, axis=1))

    def sampler_step(self, inputs, state, column):
        """The layer's output at one pixel of the row being drawn.

        Args:
            inputs: (B, F), the layer's input at the pixel.
            state: this layer's fast-sampler state.
            column: int64 scalar, the pixel's column.

        Returns:
            ``(outputs (B, F), state)``.
        """
        kernel = self.left_to_right_state_to_state
        left = masked_lstm.read_columns(
            state["hidden"], column - 1, 1)[:, 0]  # (B, hidden)
        gates = (masked_lstm.pointwise(self.left_to_right_input_to_state,
                                       inputs)
                 + tf.gather(state["hidden_above"], column, axis=1)
                 @ kernel[0] + left @ kernel[1])
        left_cell = masked_lstm.read_columns(
            state["cell"], column - 1, 1)[:, 0]  # (B, hidden)
        hidden, cell = masked_lstm.lstm_cell(gates, left_cell)
        state = dict(
            state,
            inputs=masked_lstm.write_column(state["inputs"], column, inputs),
            hidden=masked_lstm.write_column(state["hidden"], column, hidden),
            cell=masked_lstm.write_column(state["cell"], column, cell))
        right_to_left = tf.gather(state["right_to_left"], column, axis=1)
        return self._output_at(inputs, hidden + right_to_left), state
