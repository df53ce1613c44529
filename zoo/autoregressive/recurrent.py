"""The recurrent layers of PixelRNN: the Row LSTM and the Diagonal BiLSTM.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks". Both layers map a feature map (B, H, W, F) to one of the same
shape, in which the features at a pixel depend only on the features at that
pixel (mask B) or strictly before it (mask A), in raster order. Each is a
two-dimensional LSTM whose gates are the sum of two convolutions:

- input-to-state: a masked convolution of the layer's input, computed for
  the whole map at once (section 3.4);
- state-to-state: a convolution of the hidden state of the previous step,
  which is where the recurrence lies.

Row LSTM (section 3.1): the map is processed one row at a time, top to
bottom. Input-to-state is a 1 x k convolution along the row, masked;
state-to-state a 1 x k (k = 3) convolution of the previous row's hidden
state. Each step widens the context by one pixel to either side, so a
pixel's context is a triangle above it: it misses pixels of earlier rows
far to its upper right (and far to its upper left).

Diagonal BiLSTM (section 3.2): the map is skewed (row r shifted right by r
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

Residual connections (section 3.3): an LSTM layer's hidden state is
projected back to the width of its input by a masked 1 x 1 convolution and
added to it.

Colour: features are split into ``channels`` groups, feature ``j`` in group
``j % channels`` (R, G, B for three channels). A mask lets group g at a
pixel read the groups before g at that pixel (mask A) or up to and including
g (mask B), and every group at earlier pixels. The LSTM's state-to-state
convolutions (and the shifted right-to-left direction's input-to-state one)
read earlier pixels only and need no mask; its gates keep the
groups of their hidden units, since gate ``k * hidden + j`` of the
input-to-state convolution belongs to unit ``j`` (``hidden`` a multiple of
``channels``).
"""

import keras
import numpy as np
import tensorflow as tf

from tfgen import errors

MASK_TYPES = ("A", "B")

# Order of the four gates along the last axis of a gate tensor.
_NUM_GATES = 4  # input, forget, output, candidate

_DIRECTIONS = ("left_to_right", "right_to_left")


def causal_mask(kernel_height, kernel_width, in_features, out_features,
                mask_type, channels=1):
    """The mask of a convolution kernel that reads no later pixel.

    Rows above the kernel's centre are kept; in the centre row, the columns
    left of the centre; at the centre itself, the connections from input
    group i to output group g with i < g (mask A) or i <= g (mask B), where
    feature j belongs to group ``j % channels``.

    Args:
        kernel_height: odd kernel height.
        kernel_width: odd kernel width.
        in_features: number of input features.
        out_features: number of output features.
        mask_type: "A" (the first layer: the centre pixel is not read) or
            "B" (later layers: the centre's own group is read).
        channels: colour channels of the image, the number of groups.

    Returns:
        A float32 numpy array (kernel_height, kernel_width, in_features,
        out_features) of zeros and ones.

    Raises:
        ValueError: an even kernel size or an unknown mask type.
    """
    if kernel_height % 2 == 0 or kernel_width % 2 == 0:
        raise ValueError(f"kernel size {kernel_height}x{kernel_width} must "
                         "be odd, so that it has a centre pixel")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type={mask_type!r} is not one of {MASK_TYPES}")
    centre_row, centre_col = kernel_height // 2, kernel_width // 2
    mask = np.ones((kernel_height, kernel_width, in_features, out_features),
                   np.float32)
    mask[centre_row + 1:] = 0.0  # later rows
    mask[centre_row, centre_col + 1:] = 0.0  # later pixels of the centre row
    in_groups = np.arange(in_features)[:, None] % channels
    out_groups = np.arange(out_features)[None, :] % channels
    if mask_type == "A":
        mask[centre_row, centre_col] = in_groups < out_groups
    else:
        mask[centre_row, centre_col] = in_groups <= out_groups
    return mask


def skew(inputs):
    """Shifts row r of a map right by r pixels: diagonals become columns.

    Args:
        inputs: (B, H, W, F).

    Returns:
        (B, H, W + H - 1, F), with ``inputs[:, r, c]`` at column ``c + r`` of
        row r and zeros elsewhere.
    """
    batch, height, width, features = _shape(inputs)
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
    batch, height, skewed_width, features = _shape(inputs)
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


def _shape(inputs):
    """(B, H, W, F) with the batch dynamic and the rest static."""
    static = inputs.shape
    return (tf.shape(inputs)[0], int(static[1]), int(static[2]),
            int(static[3]))


def _lstm_cell(gates, cell):
    """One LSTM update from pre-activation gates (..., 4 * hidden)."""
    input_gate, forget_gate, output_gate, candidate = tf.split(
        gates, _NUM_GATES, axis=-1)
    cell = (tf.sigmoid(forget_gate) * cell
            + tf.sigmoid(input_gate) * tf.tanh(candidate))
    return tf.sigmoid(output_gate) * tf.tanh(cell), cell


def _gate_bias_initializer(hidden):
    """Zero biases but the forget gate's, 1: the state is kept at first."""
    def initializer(shape, dtype=None):
        del shape
        return tf.concat([tf.zeros([hidden], dtype), tf.ones([hidden], dtype),
                          tf.zeros([2 * hidden], dtype)], axis=0)
    return initializer


class MaskedConv2D(keras.layers.Layer):
    """A 2-D convolution, stride 1, "same" padding, whose kernel is masked
    by ``causal_mask`` (van den Oord et al. 2016, section 3.4).

    Args:
        filters: output features.
        kernel_size: ``(height, width)`` or one odd int for both.
        mask_type: "A" or "B" (``causal_mask``).
        channels: colour channels (feature groups).
        activation: applied to the output, a Keras activation name or None.
        bias_initializer: of the bias.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, mask_type, channels=1,
                 activation=None, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        self.filters = int(filters)
        self.kernel_size = tuple(int(size) for size in kernel_size)
        self.mask_type = mask_type
        self.channels = int(channels)
        self.activation = keras.activations.get(activation)
        self.bias_initializer = bias_initializer
        # Checks the kernel size and mask type before any variable exists.
        causal_mask(*self.kernel_size, 1, 1, mask_type)

    def build(self, input_shape):
        in_features = int(input_shape[-1])
        self.mask = tf.constant(causal_mask(
            *self.kernel_size, in_features, self.filters, self.mask_type,
            self.channels))
        self.kernel = self.add_weight(
            name="kernel",
            shape=self.kernel_size + (in_features, self.filters),
            initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                    initializer=self.bias_initializer)

    def call(self, inputs):
        outputs = tf.nn.conv2d(inputs, self.kernel * self.mask, strides=1,
                               padding="SAME") + self.bias
        return self.activation(outputs)


class _RecurrentLayer(keras.layers.Layer):
    """What both LSTM layers share: their arguments and the residual output.

    Args:
        hidden: LSTM units per pixel; a multiple of ``channels``.
        mask_type: mask of the input-to-state convolution: "A" in a first
            layer, which reads no feature of the pixel's own group, "B"
            after it.
        channels: colour channels (feature groups).
        residual: add a masked 1 x 1 projection of the hidden state to the
            input (section 3.3), giving an output as wide as the input;
            otherwise the output is the hidden state (B, H, W, hidden).
            Only with mask B: the input at a pixel is not the pixel's own
            context under mask A.
        **kwargs: passed to ``keras.layers.Layer``.

    Raises:
        ValueError: a bad mask type, ``hidden`` not a positive multiple of
            ``channels``, or a residual layer with mask A.
    """

    def __init__(self, hidden, mask_type="B", channels=1, residual=True,
                 **kwargs):
        super().__init__(**kwargs)
        if mask_type not in MASK_TYPES:
            raise ValueError(f"mask_type={mask_type!r} is not one of "
                             f"{MASK_TYPES}")
        if hidden < 1 or hidden % channels:
            raise ValueError(f"hidden={hidden} must be a positive multiple "
                             f"of channels={channels}")
        if residual and mask_type == "A":
            raise ValueError("a residual layer adds its input, which mask A "
                             "does not allow; use residual=False")
        self.hidden = int(hidden)
        self.mask_type = mask_type
        self.channels = int(channels)
        self.residual = bool(residual)

    def _input_to_state(self, kernel_width, name):
        """The masked 1 x k input-to-state convolution to the 4 gates."""
        return MaskedConv2D(_NUM_GATES * self.hidden, (1, kernel_width),
                            self.mask_type, self.channels,
                            bias_initializer=_gate_bias_initializer(
                                self.hidden), name=name)

    def _build_output(self, input_shape):
        if self.residual:
            self.projection = MaskedConv2D(
                int(input_shape[-1]), 1, "B", self.channels,
                name="residual_projection")
            self.projection.build(tuple(input_shape[:-1]) + (self.hidden,))

    def _output(self, inputs, hidden_states):
        if not self.residual:
            return hidden_states
        return inputs + self.projection(hidden_states)

    def _output_at(self, inputs, hidden_states):
        """``_output`` at one pixel: (B, F) inputs, (B, hidden) states."""
        if not self.residual:
            return hidden_states
        return inputs + pointwise(self.projection, hidden_states)

    # --- The fast sampler: one pixel at a time (see ``sampler_logits``). --

    def initial_sampler_state(self, batch, width, features):
        """Zeros: every row's state the fast sampler carries, before the
        first pixel; (B, W, .) maps of the row being drawn and the rows it
        reads."""
        def zeros(depth):
            return tf.zeros([batch, width, depth])
        state = {"inputs": zeros(features), "hidden": zeros(self.hidden),
                 "cell": zeros(self.hidden),
                 "hidden_above": zeros(self.hidden)}
        state.update(self._more_sampler_state(zeros))
        return state

    def _more_sampler_state(self, zeros):
        del zeros
        return {}


class RowLSTM(_RecurrentLayer):
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
        mask_type: "A" or "B" (see ``_RecurrentLayer``).
        channels: colour channels.
        residual: see ``_RecurrentLayer``.
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
            shape=(self.kernel_size, self.hidden, _NUM_GATES * self.hidden),
            initializer="glorot_uniform")
        self._build_output(input_shape)

    def call(self, inputs):
        batch, height, width, _ = _shape(inputs)
        input_gates = self.input_to_state(inputs)  # (B, H, W, 4 hidden)
        state = tf.zeros([batch, width, self.hidden], inputs.dtype)
        cell = tf.zeros_like(state)
        rows = []
        for row in range(height):  # H is static: the loop unrolls
            gates = input_gates[:, row] + tf.nn.conv1d(
                state, self.state_to_state, stride=1, padding="SAME")
            state, cell = _lstm_cell(gates, cell)  # (B, W, hidden)
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
        row_inputs = _write_column(state["inputs"], column, inputs)
        conv = self.input_to_state
        gates = tf.einsum(
            "bkf,kfg->bg",
            _columns(row_inputs, column - reach, reach + 1),
            (conv.kernel * conv.mask)[0, :reach + 1]) + conv.bias
        gates += tf.einsum(
            "bkh,khg->bg",
            _columns(state["hidden_above"], column - reach,
                     self.kernel_size),
            self.state_to_state)  # (B, 4 hidden)
        hidden, cell = _lstm_cell(
            gates, tf.gather(state["cell_above"], column, axis=1))
        state = dict(state, inputs=row_inputs,
                     hidden=_write_column(state["hidden"], column, hidden),
                     cell=_write_column(state["cell"], column, cell))
        return self._output_at(inputs, hidden), state


class DiagonalBiLSTM(_RecurrentLayer):
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
        mask_type: "A" or "B" (see ``_RecurrentLayer``), the mask of the
            left-to-right direction's 1 x 1 input-to-state convolution; under
            mask A a single-channel layer reads no input at its own pixel.
        channels: colour channels.
        residual: see ``_RecurrentLayer``.
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
            _NUM_GATES * self.hidden,
            bias_initializer=_gate_bias_initializer(self.hidden),
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
                shape=(2, self.hidden, _NUM_GATES * self.hidden),
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
        batch, height, width, _ = _shape(input_gates)
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
            state, cell = _lstm_cell(gates, cell)  # (B, H, hidden)
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
            hidden, cell = _lstm_cell(gates, cell)
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
        left = _columns(state["hidden"], column - 1, 1)[:, 0]  # (B, hidden)
        gates = (pointwise(self.left_to_right_input_to_state, inputs)
                 + tf.gather(state["hidden_above"], column, axis=1)
                 @ kernel[0] + left @ kernel[1])
        hidden, cell = _lstm_cell(
            gates, _columns(state["cell"], column - 1, 1)[:, 0])
        state = dict(state,
                     inputs=_write_column(state["inputs"], column, inputs),
                     hidden=_write_column(state["hidden"], column, hidden),
                     cell=_write_column(state["cell"], column, cell))
        right_to_left = tf.gather(state["right_to_left"], column, axis=1)
        return self._output_at(inputs, hidden + right_to_left), state


def pixel_rnn_network(image_shape, num_levels, recurrent_layer, num_layers,
                      hidden, first_kernel_size, output_features, name,
                      image_to_first_layer=False):
    """PixelRNN's network: the architecture of van den Oord et al. (2016),
    table 1, around either recurrent layer.

    A ``first_kernel_size`` square convolution with mask A (2 * hidden
    features), ``num_layers`` residual recurrent layers (mask B), then
    ReLU, a 1 x 1 mask-B convolution to ``output_features``, ReLU, and a
    1 x 1 mask-B convolution to the logits. Layer ``l`` is named
    ``lstm_{l}``, the others ``input_conv``, ``output_hidden`` and
    ``output_logits``.

    Args:
        image_shape: (H, W, C).
        num_levels: values per channel, L.
        recurrent_layer: ``recurrent_layer(hidden, name, **kwargs)``
            returns one residual, mask-B recurrent layer with ``channels``
            = C; ``kwargs`` are ``row_input_features=C`` for the first layer
            of ``image_to_first_layer``, else none.
        num_layers: number of recurrent layers.
        hidden: LSTM units per pixel.
        first_kernel_size: odd size of the mask-A convolution.
        output_features: features of the hidden 1 x 1 output layer.
        name: the network's name.
        image_to_first_layer: call the first recurrent layer as
            ``layer(features, image)`` (a ``DiagonalBiLSTM``'s row inputs).

    Returns:
        A ``keras.Model`` from float32 (B, H, W, C) inputs to logits
        (B, H, W, L * C): feature ``l * C + c`` is channel c's logit of
        level l (group c, as ``causal_mask`` counts groups).
    """
    height, width, channels = image_shape

    def conv(filters, size, mask_type, layer_name):
        return MaskedConv2D(filters, size, mask_type, channels,
                            name=layer_name)

    inputs = keras.Input((height, width, channels))
    features = conv(2 * hidden, first_kernel_size, "A", "input_conv")(
        inputs)  # (B, H, W, 2 hidden)
    for layer in range(num_layers):
        if layer == 0 and image_to_first_layer:
            features = recurrent_layer(hidden, "lstm_0",
                                       row_input_features=channels)(
                                           features, inputs)
        else:
            features = recurrent_layer(hidden, f"lstm_{layer}")(features)
    features = conv(output_features, 1, "B", "output_hidden")(
        keras.layers.ReLU()(features))  # (B, H, W, output_features)
    logits = conv(num_levels * channels, 1, "B", "output_logits")(
        keras.layers.ReLU()(features))  # (B, H, W, L * C)
    return keras.Model(inputs, logits, name=name)


def logits_by_channel(logits, num_levels):
    """(B, H, W, L * C) network output -> (B, H, W, C, L) logits."""
    batch, height, width, features = _shape(logits)
    logits = tf.reshape(logits, [batch, height, width, num_levels,
                                 features // num_levels])
    return tf.transpose(logits, [0, 1, 2, 4, 3])


def validate_network_config(config, channels):
    """Checks the fields ``pixel_rnn_network`` reads from a model's config.

    Args:
        config: a config with ``hidden_units``, ``num_layers``,
            ``first_kernel_size`` and ``output_features``.
        channels: the image's colour channels.

    Raises:
        UsageError: naming the field that is out of range.
    """
    if config.hidden_units < 1 or config.hidden_units % channels:
        raise errors.UsageError(
            f"config.hidden_units={config.hidden_units} must be a positive "
            f"multiple of the image's {channels} channels")
    if config.num_layers < 0:
        raise errors.UsageError(
            f"config.num_layers={config.num_layers} must be non-negative")
    if config.first_kernel_size < 3 or config.first_kernel_size % 2 == 0:
        # A 1 x 1 mask-A convolution reads no other pixel: the network would
        # see nothing left of a pixel.
        raise errors.UsageError(
            f"config.first_kernel_size={config.first_kernel_size} must be an "
            "odd number of at least 3")
    if config.output_features < channels:
        raise errors.UsageError(
            f"config.output_features={config.output_features} must be at "
            f"least the image's {channels} channels")


# --- The fast sampler of a PixelRNN network. ------------------------------


def pointwise(conv, vectors):
    """A 1 x 1 ``MaskedConv2D`` applied to (B, F) vectors of one pixel."""
    return conv.activation(
        vectors @ (conv.kernel * conv.mask)[0, 0] + conv.bias)


def _columns(rows, first, count):
    """Columns ``first .. first + count - 1`` of (B, W, F) rows, zeros
    outside them: (B, count, F)."""
    padded = tf.pad(rows, [[0, 0], [count, count], [0, 0]])
    return tf.gather(padded, first + count + tf.range(count, dtype=tf.int64),
                     axis=1)


def _write_column(rows, column, values):
    """(B, W, F) rows with column ``column`` replaced by (B, F) values."""
    at = tf.one_hot(column, int(rows.shape[1]), on_value=True,
                    off_value=False)  # (W,)
    return tf.where(at[None, :, None], values[:, None], rows)


def _recurrent_layers(network):
    return [layer for layer in network.layers
            if isinstance(layer, _RecurrentLayer)]


def sampler_state(network, inputs):
    """The initial state of ``sampler_logits`` for a ``pixel_rnn_network``.

    Args:
        network: from ``pixel_rnn_network``.
        inputs: (B, H, W, C), the sampler's start.

    Returns:
        A tuple of every recurrent layer's state: dicts of (B, W, .) zeros.
    """
    batch, width = tf.shape(inputs)[0], int(inputs.shape[2])
    features = network.get_layer("input_conv").filters
    return tuple(layer.initial_sampler_state(batch, width, features)
                 for layer in _recurrent_layers(network))


def sampler_logits(network, inputs, state, position, num_levels):
    """One value's logits from the layers' carried rows: the fast sampler.

    The network's value at pixel (r, c) is computed at that pixel only: the
    mask-A convolution from the image's patch above and left of it, each
    recurrent layer by one ``sampler_step`` (with ``start_sampler_row`` at a
    row's first value), the 1 x 1 output layers. In colour, the pixel is
    recomputed for each channel, and what channel c's step writes for the
    groups >= c is overwritten by the pixel's later channels: the last
    channel's step leaves the pixel's final values.

    Args:
        network: from ``pixel_rnn_network``.
        inputs: (B, H, W, C): every value before ``position`` drawn or known.
        state: what ``sampler_state`` or the previous step returned.
        position: int64 scalar, the flat index of the value to draw.
        num_levels: L.

    Returns:
        ``(logits (B, L), state)``.
    """
    _, width, channels = (int(size) for size in inputs.shape[1:])
    position = tf.cast(position, tf.int64)
    row = position // (width * channels)
    column = (position // channels) % width
    new_row = (position > 0) & (position % (width * channels) == 0)

    conv = network.get_layer("input_conv")
    height, kernel_width = conv.kernel_size
    above, side = height // 2, kernel_width // 2  # rows below are masked
    padded = tf.pad(inputs, [[0, 0], [above, 0], [side, side], [0, 0]])
    rows = tf.gather(padded, row + tf.range(above + 1, dtype=tf.int64), axis=1)
    patch = tf.gather(rows, column + tf.range(kernel_width, dtype=tf.int64),
                      axis=2)  # (B, above + 1, kernel_width, C)
    features = conv.activation(tf.einsum(
        "bijc,ijcf->bf", patch,
        (conv.kernel * conv.mask)[:above + 1]) + conv.bias)  # (B, 2 hidden)

    image_row = tf.gather(inputs, tf.maximum(row - 1, 0), axis=1)  # (B, W, C)
    new_state = []
    for layer, layer_state in zip(_recurrent_layers(network), state):
        layer_state = tf.cond(
            new_row,
            lambda layer=layer, layer_state=layer_state:
                layer.start_sampler_row(layer_state, image_row),
            lambda layer_state=layer_state: layer_state)
        features, layer_state = layer.sampler_step(features, layer_state,
                                                   column)
        new_state.append(layer_state)
    features = pointwise(network.get_layer("output_hidden"),
                         tf.nn.relu(features))
    logits = pointwise(network.get_layer("output_logits"),
                       tf.nn.relu(features))  # (B, L * C)
    logits = tf.reshape(logits, [-1, num_levels, channels])
    return tf.gather(logits, position % channels, axis=2), tuple(new_state)
