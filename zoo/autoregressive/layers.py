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
the cached window around it: O(kernel window) per layer and step, whatever
the image size. A causal kernel reads only pixels already written (and the
zeros of the padding), so the result is the full pass's at that pixel. The
functions ``pixel_cache``, ``image_cache``, ``write_pixel`` and
``conv_at_pixel`` do it for any kernel whose window is anchored by the
cache's padding (a masked k x k kernel, or the gated PixelCNN's
(k//2 + 1) x k vertical and 1 x (k//2 + 1) horizontal kernels);
``MaskedConv2D.call_at_pixel`` is the masked convolution's.
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
        """((top, bottom), (left, right)) of a cache this layer reads:
        half the kernel on each side, as 'same' padding."""
        rows, columns = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        return ((rows, rows), (columns, columns))

    def call_at_pixel(self, cache, row, column):
        """The layer's output at one pixel, from a cache of its input.

        Args:
            cache: float32 (H + kh - 1, W + kw - 1, B, in_features), this
                layer's input map padded by ``self.padding`` (from
                ``image_cache`` or ``pixel_cache`` + ``write_pixel``).
                Only the pixels before (row, column) in raster order and
                the pixel itself are read: the mask zeroes the others.
            row, column: int scalars, the output pixel.

        Returns:
            float32 (B, filters), what ``call`` gives at that pixel.
        """
        outputs = conv_at_pixel(cache, row, column, self.kernel * self.mask,
                                self.bias)
        return self.activation(outputs)

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
# A cache holds a convolution's input map as (rows, columns, B, features),
# the image's rows and columns first, so that one pixel is one index pair to
# write and a window is one slice, and padded as the convolution pads, so
# that the window of output pixel (row, column) starts at cache index
# (row, column).


def pixel_cache(batch, height, width, features, padding):
    """An empty (all-zero) cache of a convolution's input map.

    Args:
        batch: B, an int or int scalar tensor.
        height, width: the image's H and W (Python ints).
        features: the input features F.
        padding: ((top, bottom), (left, right)): the rows above and below
            and the columns left and right of the image the kernel reaches.

    Returns:
        float32 (top + H + bottom, left + W + right, B, F) zeros.
    """
    (top, bottom), (left, right) = padding
    return tf.zeros([top + height + bottom, left + width + right, batch,
                     features])


def image_cache(images, padding):
    """A whole (B, H, W, F) map as a cache padded by ``padding``."""
    (top, bottom), (left, right) = padding
    return tf.pad(tf.transpose(images, [1, 2, 0, 3]),
                  [[top, bottom], [left, right], [0, 0], [0, 0]])


def write_pixel(cache, row, column, values, padding):
    """The cache with pixel (row, column)'s features set to ``values``.

    Args:
        cache: float32 (rows, columns, B, F) from ``pixel_cache``.
        row, column: int scalars, image coordinates.
        values: float32 (B, F).
        padding: the cache's padding, as given to ``pixel_cache``.
    """
    (top, _), (left, _) = padding
    index = tf.stack([tf.cast(row, tf.int64) + top,
                      tf.cast(column, tf.int64) + left])
    return tf.tensor_scatter_nd_update(cache, index[None], values[None])


def conv_at_pixel(cache, row, column, kernel, bias=None):
    """A convolution's output at one pixel, from the cached window.

    Output pixel (row, column) reads cache rows row .. row + kh - 1 and
    columns column .. column + kw - 1: the cache's padding places the
    kernel's window (for a 'same' k x k kernel, k//2 above and left).

    Args:
        cache: float32 (rows, columns, B, in_features).
        row, column: int scalars, the output pixel.
        kernel: float32 (kh, kw, in_features, out_features), masked already.
        bias: float32 (out_features,) or None.

    Returns:
        float32 (B, out_features).
    """
    height, width = kernel.shape[0], kernel.shape[1]
    start = tf.stack([tf.cast(row, tf.int64), tf.cast(column, tf.int64),
                      0, 0])
    size = tf.constant([height, width, -1, -1], tf.int64)
    window = tf.slice(cache, start, size)  # (kh, kw, B, F)
    outputs = tf.einsum("hwbi,hwio->bo", window, kernel)
    return outputs if bias is None else outputs + bias
