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
Together they see every earlier pixel: no blind spot.

Residual connections (section 3.3): an LSTM layer's hidden state is
projected back to the width of its input by a masked 1 x 1 convolution and
added to it.

Colour: features are split into ``channels`` groups, feature ``j`` in group
``j % channels`` (R, G, B for three channels). A mask lets group g at a
pixel read the groups before g at that pixel (mask A) or up to and including
g (mask B), and every group at earlier pixels. The LSTM's state-to-state
convolutions read earlier pixels only and need no mask; its gates keep the
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


class DiagonalBiLSTM(_RecurrentLayer):
    """The Diagonal BiLSTM layer (van den Oord et al. 2016, section 3.2).

    Two diagonal LSTMs, one scanning the skewed map left to right and one
    scanning the skewed mirror image (right to left); the second's hidden
    state is shifted down one row before the two are added, so that a pixel
    reads only earlier pixels. The context of a pixel is every pixel before
    it.

    Args:
        hidden: LSTM units per pixel.
        mask_type: "A" or "B" (see ``_RecurrentLayer``); the input-to-state
            convolution is 1 x 1, so under mask A a single-channel layer
            reads no input at its own pixel.
        channels: colour channels.
        residual: see ``_RecurrentLayer``.
        shift_right_to_left: shift the right-to-left direction down one row
            (True, the paper's); False exists only to show, in the tests,
            that the unshifted layer reads later pixels.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, hidden, mask_type="B", channels=1, residual=True,
                 shift_right_to_left=True, **kwargs):
        super().__init__(hidden, mask_type, channels, residual, **kwargs)
        self.shift_right_to_left = bool(shift_right_to_left)
        self.left_to_right_input_to_state = self._input_to_state(
            1, "left_to_right_input_to_state")
        self.right_to_left_input_to_state = self._input_to_state(
            1, "right_to_left_input_to_state")

    def build(self, input_shape):
        for direction in _DIRECTIONS:
            getattr(self, f"{direction}_input_to_state").build(input_shape)
            # (2, hidden, 4 hidden): rows r - 1 and r of the previous column.
            setattr(self, f"{direction}_state_to_state", self.add_weight(
                name=f"{direction}_state_to_state",
                shape=(2, self.hidden, _NUM_GATES * self.hidden),
                initializer="glorot_uniform"))
        self._build_output(input_shape)

    def _diagonal_lstm(self, inputs, direction):
        """One direction, scanning the skewed map's columns left to right.

        Args:
            inputs: (B, H, W, F).
            direction: which direction's weights.

        Returns:
            The hidden states (B, H, W, hidden); pixel (r, c) read the
            states at (r, c - 1) and (r - 1, c).
        """
        batch, height, width, _ = _shape(inputs)
        # A 1 x 1 convolution commutes with the skew.
        input_gates = skew(getattr(self, f"{direction}_input_to_state")(
            inputs))  # (B, H, W + H - 1, 4 hidden)
        kernel = getattr(self, f"{direction}_state_to_state")
        state = tf.zeros([batch, height, self.hidden], inputs.dtype)
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

    def call(self, inputs):
        left_to_right = self._diagonal_lstm(inputs, "left_to_right")
        right_to_left = tf.reverse(self._diagonal_lstm(
            tf.reverse(inputs, axis=[2]), "right_to_left"), axis=[2])
        if self.shift_right_to_left:
            # Unshifted, pixel (r, c) would read (r, c + 1) onwards; one row
            # down it reads row r - 1 from column c on, all earlier.
            right_to_left = tf.pad(right_to_left,
                                   [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]
        return self._output(inputs, left_to_right + right_to_left)


def pixel_rnn_network(image_shape, num_levels, recurrent_layer, num_layers,
                      hidden, first_kernel_size, output_features, name):
    """PixelRNN's network: the architecture of van den Oord et al. (2016),
    table 1, around either recurrent layer.

    A ``first_kernel_size`` square convolution with mask A (2 * hidden
    features), ``num_layers`` residual recurrent layers (mask B), then
    ReLU, a 1 x 1 mask-B convolution to ``output_features``, ReLU, and a
    1 x 1 mask-B convolution to the logits.

    Args:
        image_shape: (H, W, C).
        num_levels: values per channel, L.
        recurrent_layer: ``recurrent_layer(hidden, name)`` returns one
            residual, mask-B recurrent layer with ``channels`` = C.
        num_layers: number of recurrent layers.
        hidden: LSTM units per pixel.
        first_kernel_size: odd size of the mask-A convolution.
        output_features: features of the hidden 1 x 1 output layer.
        name: the network's name.

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
    if config.first_kernel_size < 1 or config.first_kernel_size % 2 == 0:
        raise errors.UsageError(
            f"config.first_kernel_size={config.first_kernel_size} must be a "
            "positive odd number")
    if config.output_features < channels:
        raise errors.UsageError(
            f"config.output_features={config.output_features} must be at "
            f"least the image's {channels} channels")
