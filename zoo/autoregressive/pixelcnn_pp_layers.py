"""The layers of PixelCNN++: shifted convolutions and gated blocks.

Salimans, Karpathy, Chen & Kingma (2017), "PixelCNN++" (the paper's code
builds the shifted convolutions this way), with weight normalization
(Salimans & Kingma 2016). ``pixelcnn_pp_sampler`` computes them at one
pixel or row from their weights and padding (its fast sampler).
"""

import keras
import tensorflow as tf

# The initial scale of a gated block's second convolution (the paper's
# code: ``init_scale=0.1`` in ``gated_resnet``): each block starts close to
# the identity, its residual a tenth of a standard layer's.
OUTPUT_INIT_SCALE = 0.1


def down_shift(features):
    """Moves (B, H, W, F) features one row down; the top row is zeros."""
    return tf.pad(features[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def right_shift(features):
    """Moves (B, H, W, F) features one column right; the left is zeros."""
    return tf.pad(features[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


def concat_elu(features):
    """ELU of the features and of their negatives, (B, H, W, 2F)."""
    return tf.nn.elu(tf.concat([features, -features], axis=-1))


class Conv(keras.layers.Layer):
    """A convolution (or a stride-2 transposed one), weight-normalized.

    Salimans & Kingma (2016), "Weight Normalization": the kernel is
    w = g v / ||v||, the norm per output feature, so g is each feature's
    scale whatever the direction v. ``initialize_from_data`` sets g and the
    bias on a batch so that the outputs have mean 0 and standard deviation
    1 per feature (section 3 of that paper); without weight normalization
    the kernel is a plain variable. Inputs are already padded: VALID.

    Args:
        filters: output features.
        kernel_size: (kh, kw).
        weight_norm: whether w = g v / ||v||.
        strides: 1, or 2 (down-sampling, or up-sampling if ``transpose``).
        transpose: a transposed convolution (kernel (kh, kw, out, in)).
        init_scale: the initial outputs' scale relative to a standard
            layer's: the Glorot-uniform kernel times it, or with weight
            normalization the data-dependent standard deviation.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, weight_norm, strides=1,
                 transpose=False, init_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, tuple(kernel_size)
        self.weight_norm, self.strides = weight_norm, strides
        self.transpose = transpose
        self.init_scale = float(init_scale)
        self.initialize_from_data = False  # Set by the model's ``adapt``.

    def build(self, input_shape):
        pair = (self.filters, input_shape[-1])
        self.v = self.add_weight(
            name="kernel", initializer=keras.initializers.VarianceScaling(
                self.init_scale ** 2, "fan_avg", "uniform"),
            shape=self.kernel_size + (pair[::-1] if not self.transpose
                                      else pair))
        if self.weight_norm:  # g = ||v||: w = v until the data set it.
            self.g = self.add_weight(
                name="g", shape=(self.filters,),
                initializer=lambda shape, dtype=None: self.v_norm())
        self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                    initializer="zeros")

    def v_norm(self):
        """||v|| per output feature."""
        axes = (0, 1, 3) if self.transpose else (0, 1, 2)
        return tf.sqrt(tf.reduce_sum(tf.square(self.v), axis=axes))

    @property
    def kernel(self):
        """The effective kernel w."""
        if not self.weight_norm:
            return self.v
        scale = self.g / self.v_norm()
        return self.v * (scale[:, None] if self.transpose else scale)

    def _apply(self, inputs, kernel):
        if not self.transpose:
            return tf.nn.conv2d(inputs, kernel, self.strides, "VALID")
        batch, height, width = tf.unstack(tf.shape(inputs)[:3])
        (kh, kw), s = self.kernel_size, self.strides
        return tf.nn.conv2d_transpose(
            inputs, kernel, tf.stack([batch, (height - 1) * s + kh,
                                      (width - 1) * s + kw, self.filters]),
            s, "VALID")

    def call(self, inputs):
        if self.initialize_from_data:
            # Features of unit kernels: g and b make them standard.
            unit = self.v / (self.v_norm()[:, None] if self.transpose
                             else self.v_norm())
            mean, variance = tf.nn.moments(self._apply(inputs, unit),
                                           [0, 1, 2])
            # A feature constant on the batch (a tiny image's padding)
            # keeps its scale: 1 / 0 would blow it up.
            scale = self.init_scale * tf.where(
                variance > 1e-8, tf.math.rsqrt(tf.maximum(variance, 1e-8)),
                1.0)
            self.g.assign(scale)
            self.bias.assign(-mean * scale)
        return self._apply(inputs, self.kernel) + self.bias


class ShiftedConv2D(keras.layers.Layer):
    """A convolution padded so that each output sees only what is causal.

    ``down_right=False``: output (i, j) sees rows i - kh + 1 .. i, columns
    j - (kw - 1) / 2 .. j + (kw - 1) / 2 of its input (rows at and above,
    centred); ``down_right=True``: rows i - kh + 1 .. i, columns
    j - kw + 1 .. j (at, above and to the left). With ``strides=2`` the
    output is ceil(H / 2) x ceil(W / 2) and (i, j) is centred on (2i, 2j).

    Args:
        filters: output features.
        kernel_size: (kh, kw); kw odd unless ``down_right``.
        down_right: the padding of the ``ul`` stream.
        strides: 1, or 2 to down-sample.
        weight_norm: whether the kernel is weight-normalized.
        init_scale: ``Conv``'s.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, down_right=False, strides=1,
                 weight_norm=False, init_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        height, width = kernel_size
        self.rows = height
        self.columns = ([width - 1, 0] if down_right
                        else [(width - 1) // 2, (width - 1) // 2])
        self.conv = Conv(filters, kernel_size, weight_norm, strides,
                         init_scale=init_scale)

    def call(self, inputs):
        return self.conv(tf.pad(inputs, [[0, 0], [self.rows - 1, 0],
                                         self.columns, [0, 0]]))



class ShiftedConv2DTranspose(keras.layers.Layer):
    """A stride-2 transposed convolution cropped to keep causality.

    Output (r, c) receives input (r // 2, .) only: a coarse map whose
    (i, j) saw what was before (2i, 2j) reaches (2i .. 2i + 1, ...) alone.
    The map is cropped to the ``size`` of its mirror in the down pass.

    Args:
        filters: output features.
        kernel_size: (2, kw) with kw odd, or (2, 2) with ``down_right``.
        down_right: the crop of the ``ul`` stream (left-aligned).
        weight_norm: whether the kernel is weight-normalized.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, down_right=False,
                 weight_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.left = 0 if down_right else (kernel_size[1] - 1) // 2
        self.conv = Conv(filters, kernel_size, weight_norm, strides=2,
                         transpose=True)

    def call(self, inputs, size):
        height, width = size
        return self.conv(inputs)[:, :height, self.left:self.left + width]



class GatedResidualBlock(keras.layers.Layer):
    """The paper's gated ResNet block on one stream (figure 2, section 2.5).

    x + a * sigmoid(b), (a, b) = conv(dropout(concat_elu(conv(concat_elu(x))
    + nin(concat_elu(shortcut))))), nin a 1x1 convolution. The second
    convolution starts at ``OUTPUT_INIT_SCALE`` (0.1) of a standard layer's
    scale, as in the paper's code: the residual stream starts near the
    identity (0.013-0.03 bits/dim better on digits than scale 1).

    Args:
        filters: F, the stream's features.
        kernel_size: of both shifted convolutions.
        down_right: the ``ul`` stream's padding.
        has_shortcut: whether a shortcut input is added (1x1).
        weight_norm: whether the kernels are weight-normalized.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, down_right, has_shortcut,
                 weight_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.conv_in = ShiftedConv2D(filters, kernel_size, down_right,
                                     weight_norm=weight_norm)
        self.shortcut = (Conv(filters, (1, 1), weight_norm) if has_shortcut
                         else None)
        self.conv_out = ShiftedConv2D(2 * filters, kernel_size, down_right,
                                      weight_norm=weight_norm,
                                      init_scale=OUTPUT_INIT_SCALE)

    def _hidden(self, hidden, shortcut):
        if self.shortcut is not None:
            hidden += self.shortcut(concat_elu(shortcut))
        return hidden

    def _gate(self, inputs, outputs):
        values, gates = tf.split(outputs, 2, axis=-1)
        return inputs + values * tf.sigmoid(gates)

    def call(self, inputs, shortcut=None, dropout=None):
        hidden = concat_elu(self._hidden(
            self.conv_in(concat_elu(inputs)), shortcut))  # (B, H, W, 2F)
        if dropout is not None:
            hidden = dropout(hidden)
        return self._gate(inputs, self.conv_out(hidden))
