"""What the PixelRNN's two LSTM layers are built of: masks, the masked
convolution, the LSTM cell and the residual layer they share.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks". Both recurrent layers (``row_lstm_layer``, section 3.1;
``diagonal_bilstm_layer``, section 3.2) map a feature map (B, H, W, F) to
one of the same shape, in which the features at a pixel depend only on the
features at that pixel (mask B) or strictly before it (mask A), in raster
order. Each is a two-dimensional LSTM whose gates are the sum of two
convolutions:

- input-to-state: a masked convolution of the layer's input, computed for
  the whole map at once (section 3.4: ``causal_mask``, ``MaskedConv2D``);
- state-to-state: a convolution of the hidden state of the previous step,
  which is where the recurrence lies.

Residual connections (section 3.3): an LSTM layer's hidden state is
projected back to the width of its input by a masked 1 x 1 convolution and
added to it (``RecurrentLayer``).

Colour: features are split into ``channels`` groups, feature ``j`` in group
``j % channels`` (R, G, B for three channels). A mask lets group g at a
pixel read the groups before g at that pixel (mask A) or up to and including
g (mask B), and every group at earlier pixels. The LSTM's state-to-state
convolutions (and the Diagonal BiLSTM's shifted right-to-left direction's
input-to-state one) read earlier pixels only and need no mask; its gates
keep the groups of their hidden units, since gate ``k * hidden + j`` of the
input-to-state convolution belongs to unit ``j`` (``hidden`` a multiple of
``channels``).

The fast samplers compute a layer at one pixel (``pointwise``) from rows of
(B, W, .) values carried from pixel to pixel (``read_columns``,
``write_column``); ``pixel_rnn.sampler_logits`` drives them.
"""

import keras
import numpy as np
import tensorflow as tf

MASK_TYPES = ("A", "B")

# Order of the four gates along the last axis of a gate tensor.
NUM_GATES = 4  # input, forget, output, candidate


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


def map_shape(inputs):
    """(B, H, W, F) with the batch dynamic and the rest static."""
    static = inputs.shape
    return (tf.shape(inputs)[0], int(static[1]), int(static[2]),
            int(static[3]))


def lstm_cell(gates, cell):
    """One LSTM update from pre-activation gates (..., 4 * hidden)."""
    input_gate, forget_gate, output_gate, candidate = tf.split(
        gates, NUM_GATES, axis=-1)
    cell = (tf.sigmoid(forget_gate) * cell
            + tf.sigmoid(input_gate) * tf.tanh(candidate))
    return tf.sigmoid(output_gate) * tf.tanh(cell), cell


def gate_bias_initializer(hidden):
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


class RecurrentLayer(keras.layers.Layer):
    """What both LSTM layers share: their arguments and the residual output
    (section 3.3); ``RowLSTM`` and ``DiagonalBiLSTM`` subclass it.

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
        return MaskedConv2D(NUM_GATES * self.hidden, (1, kernel_width),
                            self.mask_type, self.channels,
                            bias_initializer=gate_bias_initializer(
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

    # --- The fast sampler: one pixel at a time (``pixel_rnn.sampler_logits``).

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


# --- Per-pixel pieces of the fast samplers. --------------------------------


def pointwise(conv, vectors):
    """A 1 x 1 ``MaskedConv2D`` applied to (B, F) vectors of one pixel."""
    return conv.activation(
        vectors @ (conv.kernel * conv.mask)[0, 0] + conv.bias)


def read_columns(rows, first, count):
    """Columns ``first .. first + count - 1`` of (B, W, F) rows, zeros
    outside them: (B, count, F)."""
    padded = tf.pad(rows, [[0, 0], [count, count], [0, 0]])
    return tf.gather(padded, first + count + tf.range(count, dtype=tf.int64),
                     axis=1)


def write_column(rows, column, values):
    """(B, W, F) rows with column ``column`` replaced by (B, F) values."""
    at = tf.one_hot(column, int(rows.shape[1]), on_value=True,
                    off_value=False)  # (W,)
    return tf.where(at[None, :, None], values[:, None], rows)

