"""The gated PixelCNN's layer: one layer of both stacks.

van den Oord, Kalchbrenner, Espeholt, Vinyals, Graves & Kavukcuoglu (2016),
"Conditional Image Generation with PixelCNN Decoders", section 2 and
figure 2 (the model: ``gated_pixelcnn``). At pixel (i, j) the vertical
stack's (k//2 + 1) x k kernel reads rows i - k//2 .. i, columns j - k//2 ..
j + k//2; the horizontal stack's 1 x (k//2 + 1) kernel reads columns
j - k//2 .. j of row i (not the pixel itself in the first layer: mask A),
and a 1x1 link from the vertical stack shifted down one row (rows < i
only). Both stacks use the gated activation unit (equation (2))

    y = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h),

the horizontal stack a 1x1 convolution and a residual connection after it
(none in the first layer). ``call`` computes a whole map; the fast
sampler's ``vertical_row`` (a row of the vertical stack) and
``horizontal_at_pixel`` (one pixel of the horizontal stack) compute the
same from windows of the ring caches (``layers.cached_window``).
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.autoregressive import layers


def _gate(features):
    """tanh(first half) * sigmoid(second half): (..., 2p) -> (..., p)."""
    filtered, gates = tf.split(features, 2, axis=-1)
    return tf.tanh(filtered) * tf.sigmoid(gates)


def _shift_down(features):
    """Row i gets row i - 1 (row 0 zeros): what lies strictly above."""
    return tf.pad(features, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


class GatedLayer(keras.layers.Layer):
    """One layer of both stacks (van den Oord et al. 2016, figure 2).

    Args:
        in_features: features of the stacks it reads (1: the image).
        features: p, the gated features of each stack it writes.
        kernel_size: k, odd.
        first: the first layer: the horizontal kernel cuts the current
            pixel and the horizontal stack has no residual connection.
        num_classes: width of the one-hot label; 0 for no conditioning.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, in_features, features, kernel_size, first,
                 num_classes=0, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.first = bool(first)
        half = self.kernel_size // 2
        gated = 2 * features

        def weight(shape, name, initializer="glorot_uniform"):
            return self.add_weight(shape=shape, initializer=initializer,
                                   name=name)

        # Rows i - k//2 .. i, columns j - k//2 .. j + k//2.
        self.vertical_kernel = weight(
            (half + 1, self.kernel_size, in_features, gated),
            "vertical_kernel")
        self.vertical_bias = weight((gated,), "vertical_bias", "zeros")
        # Columns j - k//2 .. j of row i; the last is the pixel itself.
        self.horizontal_kernel = weight((1, half + 1, in_features, gated),
                                        "horizontal_kernel")
        self.horizontal_bias = weight((gated,), "horizontal_bias", "zeros")
        mask = np.ones((1, half + 1, 1, 1), np.float32)
        if self.first:
            mask[0, -1] = 0.0  # mask A: not the pixel itself
        self.horizontal_mask = tf.constant(mask)
        self.link = weight((gated, gated), "vertical_to_horizontal")
        self.output_kernel = weight((features, features), "horizontal_output")
        self.output_bias = weight((features,), "horizontal_output_bias",
                                  "zeros")
        self.num_classes = int(num_classes)
        if self.num_classes:
            # V_f and V_g of each stack, one row per class.
            self.vertical_embedding = weight((self.num_classes, gated),
                                             "vertical_embedding")
            self.horizontal_embedding = weight((self.num_classes, gated),
                                               "horizontal_embedding")
        self.built = True

    @property
    def paddings(self):
        """((top, bottom), (left, right)) the vertical kernel reaches, and
        the horizontal one: k//2 rows up, k//2 columns either side or left."""
        half = self.kernel_size // 2
        return ((half, 0), (half, half)), ((0, 0), (half, 0))

    def call(self, vertical, horizontal, condition=None):
        """One layer: (B, H, W, F) stacks -> (B, H, W, p) stacks.

        Args:
            vertical: the vertical stack (the image in the first layer).
            horizontal: the horizontal stack (the image in the first layer).
            condition: one-hot labels (B, K), or None.
        """
        half = self.kernel_size // 2
        padded = tf.pad(vertical, [[0, 0], [half, 0], [half, half], [0, 0]])
        vertical_features = tf.nn.conv2d(
            padded, self.vertical_kernel, 1, "VALID") + self.vertical_bias
        padded = tf.pad(horizontal, [[0, 0], [0, 0], [half, 0], [0, 0]])
        horizontal_features = tf.nn.conv2d(
            padded, self.horizontal_kernel * self.horizontal_mask, 1,
            "VALID") + self.horizontal_bias  # (B, H, W, 2p)
        if condition is not None:
            vertical_features += (condition @ self.vertical_embedding)[
                :, None, None, :]
            horizontal_features += (condition @ self.horizontal_embedding)[
                :, None, None, :]
        # The vertical stack reaches row i only through row i - 1.
        horizontal_features += tf.einsum(
            "bhwc,cd->bhwd", _shift_down(vertical_features), self.link)
        vertical = _gate(vertical_features)  # (B, H, W, p)
        gated = tf.einsum("bhwc,cd->bhwd", _gate(horizontal_features),
                          self.output_kernel) + self.output_bias
        return vertical, gated if self.first else horizontal + gated

    def vertical_row(self, window, condition=None):
        """The vertical stack of one row from ``window``, float32
        (k//2 + 1, W + 2 (k//2), B, F): its input rows k//2 above the row
        down to it (``layers.cached_window``); ``condition`` as in ``call``.

        Returns:
            ``(vertical, linked)``: the gated row (B, W, p) the next layer
            reads, and the link's (B, W, 2p) the row below adds.
        """
        rows = tf.transpose(window, [2, 0, 1, 3])  # (B, k//2 + 1, W + 2h, F)
        features = tf.nn.conv2d(rows, self.vertical_kernel, 1, "VALID")[
            :, 0] + self.vertical_bias  # (B, W, 2p)
        if condition is not None:
            features += (condition @ self.vertical_embedding)[:, None, :]
        return _gate(features), tf.einsum("bwc,cd->bwd", features, self.link)

    def horizontal_at_pixel(self, window, horizontal, linked,
                            condition=None):
        """The horizontal stack at one pixel, (B, p), as ``call`` gives it.

        Args:
            window: float32 (1, k//2 + 1, B, F), the input row from k//2
                left of the pixel to it (the mask hides it in layer 0).
            horizontal: the input stack at the pixel (B, F) (not layer 0's).
            linked: (B, 2p), the link of the vertical stack a row above.
            condition: one-hot labels (B, K), or None.
        """
        features = layers.conv_window(
            window, self.horizontal_kernel * self.horizontal_mask,
            self.horizontal_bias)  # (B, 2p)
        if condition is not None:
            features += condition @ self.horizontal_embedding
        features += linked
        gated = _gate(features) @ self.output_kernel + self.output_bias
        return gated if self.first else horizontal + gated
