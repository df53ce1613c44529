"""Layers of the autoregressive family: the masked 2-D convolution.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks", section 3.4: a convolution whose kernel is multiplied by a 0/1
mask, so that the features at a pixel see only the pixels above it and to
its left (raster order). For colour images the features are split into C
groups, one per channel (R, G, B in order), and the mask also restricts the
connections at the kernel's centre, the current pixel:

- mask A (the first layer, on the image itself): group c sees the channels
  before c of the current pixel and not itself; R sees nothing of it;
- mask B (every later layer): group c also sees group c of the current
  pixel, which has not seen channel c of the input.

Stacked, the output group c at a pixel depends on the pixels before it and
on channels < c of the pixel itself: the causality an autoregressive
factorization with channels inner needs. With C = 1 mask A hides the
centre and mask B shows it.

Fast generation (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models"): a sampler that draws one pixel per
step need not run the whole network again. It keeps, per convolution, a
cache of that convolution's input map, in which each pixel is written once,
when it is reached, and computes the convolution at the one new pixel from
the cached window around it. A causal kernel reads no row below its output
pixel, so the cache holds only the rows the kernel reaches: a ring of
``top + 1`` rows (the ``top`` rows above and the current one), row r in
slot r mod (top + 1). A step then costs O(kernel window) per layer and
moves O(width) numbers, whatever the image's height. The slots of rows not
yet written are zeros, as the padding above the image; what the current
row holds right of the current pixel (a row ``top + 1`` above, or zeros) is
masked out. ``ring_cache``, ``write_pixel`` (``write_row`` for a whole
row), ``cached_window`` and ``conv_window`` do it for any kernel that reads
no row below its output (a masked k x k kernel, or the gated PixelCNN's
(k//2 + 1) x k vertical and 1 x (k//2 + 1) horizontal kernels);
``image_window`` takes the same window from a whole map (the image
itself); ``MaskedConv2D.call_at_pixel`` applies the masked convolution to
a window.
"""

import keras
import numpy as np
import tensorflow as tf

MASK_TYPES = ("A", "B")


def channel_groups(num_features, num_groups):
    """The group (channel) of each of ``num_features`` features, (F,).

    Features are split in ``num_groups`` contiguous runs of (nearly) equal
    size: feature i belongs to group floor(i * num_groups / num_features).
    An output layer of C * L features thus gives channel c the L features
    c * L .. (c + 1) * L - 1.

    Raises:
        ValueError: fewer features than groups (a group would be empty).
    """
    if num_features < num_groups:
        raise ValueError(f"{num_features} features cannot be split into "
                         f"{num_groups} channel groups")
    return np.arange(num_features) * num_groups // num_features


def causal_mask(kernel_size, in_features, out_features, mask_type,
                num_groups=1):
    """The 0/1 mask of a masked convolution's kernel.

    Args:
        kernel_size: (kh, kw), both odd.
        in_features: input features, split in ``num_groups`` groups.
        out_features: output features, split alike.
        mask_type: ``"A"`` (the centre's group c sees groups < c) or
            ``"B"`` (groups <= c).
        num_groups: C, the image's channels.

    Returns:
        float32 (kh, kw, in_features, out_features).

    Raises:
        ValueError: an even kernel size, an unknown mask type, or fewer
            features than groups.
    """
    height, width = kernel_size
    if height % 2 == 0 or width % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} must be odd")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type={mask_type!r} must be one of "
                         f"{MASK_TYPES}")
    mask = np.zeros((height, width, in_features, out_features), np.float32)
    center_row, center_col = height // 2, width // 2
    mask[:center_row] = 1.0  # every row above
    mask[center_row, :center_col] = 1.0  # left of the centre
    groups_in = channel_groups(in_features, num_groups)[:, None]
    groups_out = channel_groups(out_features, num_groups)[None, :]
    if mask_type == "A":
        mask[center_row, center_col] = groups_in < groups_out
    else:
        mask[center_row, center_col] = groups_in <= groups_out
    return mask


class MaskedConv2D(keras.layers.Layer):
    """A 'same'-padded, stride-1 convolution with a causal mask.

    Args:
        filters: output features (a multiple of ``num_groups`` keeps the
            groups equal).
        kernel_size: an odd int or (kh, kw).
        mask_type: ``"A"`` or ``"B"`` (see the module docstring).
        num_groups: C, the image's channels; 1 for gray images.
        activation: applied to the output (a Keras activation name or None).
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, mask_type, num_groups=1,
                 activation=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        self.filters = int(filters)
        self.kernel_size = tuple(int(size) for size in kernel_size)
        self.mask_type = mask_type
        self.num_groups = int(num_groups)
        self.activation = keras.activations.get(activation)
        # Checks the arguments before any weight exists.
        causal_mask(self.kernel_size, self.num_groups, self.filters,
                    mask_type, self.num_groups)

    def build(self, input_shape):
        in_features = int(input_shape[-1])
        self.mask = tf.constant(causal_mask(
            self.kernel_size, in_features, self.filters, self.mask_type,
            self.num_groups))
        self.kernel = self.add_weight(
            shape=self.kernel_size + (in_features, self.filters),
            initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.filters,),
                                    initializer="zeros", name="bias")

    def call(self, inputs):
        outputs = tf.nn.conv2d(inputs, self.kernel * self.mask, strides=1,
                               padding="SAME") + self.bias
        return self.activation(outputs)  # (B, H, W, filters)

    @property
    def padding(self):
        """((top, bottom), (left, right)) of a window this layer reads:
        half the kernel on each side, as 'same' padding."""
        rows, columns = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        return ((rows, rows), (columns, columns))

    def call_at_pixel(self, window):
        """The layer's output at one pixel, from its input window there.

        Args:
            window: float32 (kh // 2 + 1, kw, B, in_features), the input
                rows from kh // 2 above the pixel to its own, columns
                around it (``cached_window`` or ``image_window``). Only the
                pixels before it in raster order and the pixel itself
                count: the mask zeroes the others, the rows below it too.

        Returns:
            float32 (B, filters), what ``call`` gives at that pixel.
        """
        return self.activation(conv_window(
            window, self.kernel * self.mask, self.bias))

    def call_on_vector(self, inputs):
        """A 1x1 layer's output at one pixel, from its (B, in_features)
        input there."""
        if self.kernel_size != (1, 1):
            raise ValueError(f"kernel_size={self.kernel_size}: a vector is "
                             "the input of a 1x1 layer only")
        kernel = (self.kernel * self.mask)[0, 0]  # (in, filters)
        return self.activation(tf.matmul(inputs, kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size,
                      mask_type=self.mask_type, num_groups=self.num_groups,
                      activation=keras.activations.serialize(self.activation))
        return config


# --- Fast generation: a convolution evaluated at one pixel from a cache. ---
# A window is (rows, columns, B, features): the rows from ``top`` above the
# output pixel to its own, in order, and the kernel's columns around it.
# Image rows and columns come first, so that a pixel is one index pair to
# write and a window one slice.


def ring_cache(batch, width, features, padding):
    """An empty (all-zero) ring cache of a convolution's input rows.

    Args:
        batch: B, an int or int scalar tensor.
        width: the image's W (a Python int).
        features: the input features F.
        padding: ((top, bottom), (left, right)): the rows above and the
            columns left and right of a pixel that the kernel reaches
            (``bottom`` is not read: the kernel must not reach below).

    Returns:
        float32 (top + 1, left + W + right, B, F) zeros.
    """
    (top, _), (left, right) = padding
    return tf.zeros([top + 1, left + width + right, batch, features])


def write_pixel(cache, row, column, values, padding):
    """The ring cache with pixel (row, column) set to ``values``, (B, F).

    Args:
        cache: float32 (top + 1, columns, B, F) from ``ring_cache``.
        row, column: int scalars, image coordinates.
        values: float32 (B, F).
        padding: the cache's padding, as given to ``ring_cache``.
    """
    (_, _), (left, _) = padding
    slot = tf.math.floormod(tf.cast(row, tf.int64), cache.shape[0])
    index = tf.stack([slot, tf.cast(column, tf.int64) + left])
    return tf.tensor_scatter_nd_update(cache, index[None], values[None])


def write_row(cache, row, values, padding):
    """The ring cache with the whole image row ``row`` set to ``values``.

    For a kernel that reads right of its output pixel in the rows above
    (the gated PixelCNN's vertical stack), whose rows are computed whole
    once they are complete.

    Args:
        cache: float32 (top + 1, left + W + right, B, F) from ``ring_cache``.
        row: int scalar, the image row.
        values: float32 (B, W, F).
        padding: the cache's padding, as given to ``ring_cache``.
    """
    (_, _), (left, right) = padding
    values = tf.pad(tf.transpose(values, [1, 0, 2]),
                    [[left, right], [0, 0], [0, 0]])  # (columns, B, F)
    slot = tf.math.floormod(tf.cast(row, tf.int64), cache.shape[0])
    return tf.tensor_scatter_nd_update(cache, slot[None, None],
                                       values[None])


def cached_window(cache, row, column, kernel_width):
    """The window of output pixel (row, column) from a ring cache.

    Returns:
        float32 (top + 1, kernel_width, B, F): rows row - top .. row (the
        slots of rows above the image are zeros), columns column - left ..
        column - left + kernel_width - 1 of the padded cache.
    """
    rows = cache.shape[0]
    slots = tf.math.floormod(
        tf.cast(row, tf.int64) - (rows - 1) + tf.range(rows, dtype=tf.int64),
        rows)
    start = tf.stack([tf.constant(0, tf.int64), tf.cast(column, tf.int64)])
    return tf.slice(tf.gather(cache, slots), tf.concat([start, [0, 0]], 0),
                    tf.constant([rows, kernel_width, -1, -1], tf.int64))


def image_window(images, row, column, kernel_width, padding):
    """The window of output pixel (row, column) from a whole (B, H, W, F)
    map, padded with zeros: (top + 1, kernel_width, B, F)."""
    (top, _), (left, right) = padding
    padded = tf.pad(images, [[0, 0], [top, 0], [left, right], [0, 0]])
    start = tf.stack([tf.constant(0, tf.int64), tf.cast(row, tf.int64),
                      tf.cast(column, tf.int64), tf.constant(0, tf.int64)])
    window = tf.slice(padded, start, tf.constant(
        [-1, top + 1, kernel_width, -1], tf.int64))  # (B, top + 1, kw, F)
    return tf.transpose(window, [1, 2, 0, 3])


def conv_window(window, kernel, bias=None):
    """A convolution's output at one pixel, from its window.

    Args:
        window: float32 (rows, kw, B, in_features), the rows from the
            kernel's top down to the output pixel's.
        kernel: float32 (kh, kw, in_features, out_features), masked
            already; only its first ``rows`` rows are used (the rest lie
            below the output pixel, which a causal kernel never reads).
        bias: float32 (out_features,) or None.

    Returns:
        float32 (B, out_features).
    """
    outputs = tf.einsum("hwbi,hwio->bo", window, kernel[:window.shape[0]])
    return outputs if bias is None else outputs + bias
