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

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size,
                      mask_type=self.mask_type, num_groups=self.num_groups,
                      activation=keras.activations.serialize(self.activation))
        return config
