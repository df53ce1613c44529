"""PixelCNN++: a discretized logistic mixture on a gated, two-stream U-net.

Salimans, Karpathy, Chen & Kingma (2017), "PixelCNN++: Improving the
PixelCNN with discretized logistic mixture likelihood and other
modifications". What this model takes from the paper:

- the likelihood (section 2.1-2.2, ``logistic_mixture``): each pixel's
  channels share a mixture of K discretized logistics on the L levels
  (bins of width 2 / (L - 1) on [-1, 1], the edge bins taking the tails),
  the G and B means moving linearly with the pixel's earlier channels;
- two streams without a blind spot (van den Oord et al. 2016, "Conditional
  Image Generation with PixelCNN Decoders", as the paper's code builds
  them): ``u`` sees the rows above through down-shifted 2x3 convolutions,
  ``ul`` the rows above and the pixels to the left through down-right-shifted
  2x2 convolutions, and takes ``u`` in at every block;
- gated ResNet blocks (section 2.5): concat_elu, a shifted convolution,
  the shortcut's 1x1 input, concat_elu, dropout (section 2.6, in training
  only), a shifted convolution to 2F features gated as a * sigmoid(b),
  added to the block's input;
- down-sampling by stride-2 shifted convolutions and up-sampling by
  stride-2 transposed ones (section 2.3), with shortcut connections from
  every block of the down pass to its mirror in the up pass (section 2.4,
  figure 2); the up pass has one more block per coarser resolution, fed by
  the down-sampling's output.

The network reads the image as values in [-1, 1] plus a channel of ones
(the zero padding then differs from a value). Its per-pixel mixture
parameters give every channel's categorical conditional over the L levels
(``logistic_mixture.channel_log_probs``), the interface of the family's
base, which supplies the exact likelihood and the sampler (one network pass
per value). Images smaller than a resolution's stride work: sizes round up
when down-sampling (a 1-pixel side stays 1) and the up-sampled maps are
cropped to their mirror's size. Not here: weight normalization with its
data-dependent initialization, and Polyak averaging of the parameters.
"""

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoregressive import base
from zoo.autoregressive import logistic_mixture

# Kernels of the two streams (the paper's code): u above, ul above-left.
DOWN_KERNEL = (2, 3)
DOWN_RIGHT_KERNEL = (2, 2)


def get_config(variant=None):
    """Returns PixelCNN++'s locked config.

    ``python -m tfgen.train --model=pixelcnn_pp`` trains on ``digits``
    (1,257 training images, 17 gray levels) for 30 epochs, evaluates and
    exports in about 5 minutes on 2 CPU cores (5m46s wall, 4m44s CPU, at
    seed 0 on a shared machine). Expected on the 360 test images:
    -log p(x) 77.56 nats, 1.748 bits/dim at seed 0 (``pixelcnn``: about
    80.5 nats, 1.81 bits/dim; independent pixels: 108.0 nats).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("pixelcnn_pp", variant)
    config = base.autoregressive_config(
        num_filters=32,  # F: every stream's features
        num_residual_blocks=2,  # gated blocks per resolution and stream
        num_resolutions=2,  # 8x8 and 4x4 on digits
        num_components=5,  # K logistics in each pixel's mixture
        dropout_rate=0.5,  # in the blocks, during training only
    )
    config.batch_size = 32
    config.epochs = 30
    config.sample_every_epochs = 0
    if variant == "tiny":
        config.num_filters = 4
        config.num_residual_blocks = 1
        config.num_components = 2
        config.epochs = 1
        config.num_grid_samples = 16
    config.lock()
    return config


def _validate(config):
    """Raises ``UsageError`` naming the field of a bad PixelCNN++ config."""
    base.validate_config(config)
    for name in ("num_filters", "num_resolutions", "num_components"):
        if config[name] < 1:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be positive")
    if config.num_residual_blocks < 0:
        raise errors.UsageError(
            f"config.num_residual_blocks={config.num_residual_blocks} must "
            "be non-negative")
    if not 0.0 <= config.dropout_rate < 1.0:
        raise errors.UsageError(
            f"config.dropout_rate={config.dropout_rate} must be in [0, 1)")


def down_shift(features):
    """Moves (B, H, W, F) features one row down; the top row is zeros."""
    return tf.pad(features[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def right_shift(features):
    """Moves (B, H, W, F) features one column right; the left is zeros."""
    return tf.pad(features[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


def concat_elu(features):
    """ELU of the features and of their negatives, (B, H, W, 2F)."""
    return tf.nn.elu(tf.concat([features, -features], axis=-1))


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
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, down_right=False, strides=1,
                 **kwargs):
        super().__init__(**kwargs)
        height, width = kernel_size
        self.padding = [[0, 0], [height - 1, 0],
                        [width - 1, 0] if down_right
                        else [(width - 1) // 2, (width - 1) // 2], [0, 0]]
        self.conv = keras.layers.Conv2D(filters, kernel_size, strides=strides,
                                        padding="valid")

    def call(self, inputs):
        return self.conv(tf.pad(inputs, self.padding))


class ShiftedConv2DTranspose(keras.layers.Layer):
    """A stride-2 transposed convolution cropped to keep causality.

    Output (r, c) receives input (r // 2, .) only: a coarse map whose
    (i, j) saw what was before (2i, 2j) reaches (2i .. 2i + 1, ...) alone.
    The map is cropped to the ``size`` of its mirror in the down pass.

    Args:
        filters: output features.
        kernel_size: (2, kw) with kw odd, or (2, 2) with ``down_right``.
        down_right: the crop of the ``ul`` stream (left-aligned).
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, down_right=False, **kwargs):
        super().__init__(**kwargs)
        self.left = 0 if down_right else (kernel_size[1] - 1) // 2
        self.conv = keras.layers.Conv2DTranspose(
            filters, kernel_size, strides=2, padding="valid")

    def call(self, inputs, size):
        height, width = size
        return self.conv(inputs)[:, :height, self.left:self.left + width]


class GatedResidualBlock(keras.layers.Layer):
    """The paper's gated ResNet block on one stream (figure 2, section 2.5).

    x + a * sigmoid(b), (a, b) = conv(dropout(concat_elu(conv(concat_elu(x))
    + dense(concat_elu(shortcut))))).

    Args:
        filters: F, the stream's features.
        kernel_size: of both shifted convolutions.
        down_right: the ``ul`` stream's padding.
        has_shortcut: whether a shortcut input is added (1x1).
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, filters, kernel_size, down_right, has_shortcut,
                 **kwargs):
        super().__init__(**kwargs)
        self.conv_in = ShiftedConv2D(filters, kernel_size, down_right)
        self.shortcut = (keras.layers.Dense(filters) if has_shortcut
                         else None)
        self.conv_out = ShiftedConv2D(2 * filters, kernel_size, down_right)

    def call(self, inputs, shortcut=None, dropout=None):
        hidden = self.conv_in(concat_elu(inputs))  # (B, H, W, F)
        if self.shortcut is not None:
            hidden += self.shortcut(concat_elu(shortcut))
        hidden = concat_elu(hidden)  # (B, H, W, 2F)
        if dropout is not None:
            hidden = dropout(hidden)
        values, gates = tf.split(self.conv_out(hidden), 2, axis=-1)
        return inputs + values * tf.sigmoid(gates)


@registry.register("pixelcnn_pp", family="autoregressive",
                   get_config=get_config)
class PixelCNNPlusPlus(base.AutoregressiveModel):
    """PixelCNN++ with a discretized logistic mixture over the levels.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo`` of an image dataset.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        filters = int(config.num_filters)
        blocks = int(config.num_residual_blocks)
        resolutions = int(config.num_resolutions)
        self.num_components = int(config.num_components)
        self.dropout_rate = float(config.dropout_rate)
        object.__setattr__(self, "_dropout_active", False)

        def pair(prefix, count, shortcut):
            return [(GatedResidualBlock(filters, DOWN_KERNEL, False,
                                        shortcut, name=f"{prefix}{i}_u"),
                     GatedResidualBlock(filters, DOWN_RIGHT_KERNEL, True,
                                        True, name=f"{prefix}{i}_ul"))
                    for i in range(count)]

        # First layers: u from the rows above, ul also from the left.
        self.u_input = ShiftedConv2D(filters, DOWN_KERNEL, name="u_input")
        self.ul_input_above = ShiftedConv2D(filters, (1, 3),
                                            name="ul_input_above")
        self.ul_input_left = ShiftedConv2D(filters, (2, 1), down_right=True,
                                           name="ul_input_left")
        self.down_blocks = [pair(f"down{r}_", blocks, False)
                            for r in range(resolutions)]
        self.down_samples = [
            (ShiftedConv2D(filters, DOWN_KERNEL, strides=2, name=f"down{r}_u"),
             ShiftedConv2D(filters, DOWN_RIGHT_KERNEL, True, strides=2,
                           name=f"down{r}_ul"))
            for r in range(resolutions - 1)]
        # The coarsest resolution's up blocks mirror its down blocks; each
        # finer one has one more, for the down-sampling's output.
        self.up_blocks = [pair(f"up{r}_", blocks + (r > 0), True)
                          for r in range(resolutions)]
        self.up_samples = [
            (ShiftedConv2DTranspose(filters, DOWN_KERNEL, name=f"up{r}_u"),
             ShiftedConv2DTranspose(filters, DOWN_RIGHT_KERNEL, True,
                                    name=f"up{r}_ul"))
            for r in range(resolutions - 1)]
        self.output_layer = keras.layers.Dense(
            logistic_mixture.num_parameters(self.num_components,
                                            self.image_shape[-1]),
            name="mixture_parameters")
        self.network_parameters(tf.zeros((1,) + self.image_shape))  # Builds.
        self.built = True

    def _dropout(self, features):
        return keras.random.dropout(features, self.dropout_rate,
                                    seed=self.noise_seed)

    def network_parameters(self, values):
        """The mixture parameters of every pixel, (B, H, W, P).

        Args:
            values: float32 (B, H, W, C) in [-1, 1].
        """
        dropout = (self._dropout if self._dropout_active
                   and self.dropout_rate > 0 else None)
        ones = tf.ones_like(values[..., :1])
        padded = tf.concat([values, ones], axis=-1)  # (B, H, W, C + 1)
        u_list = [down_shift(self.u_input(padded))]  # (B, H, W, F)
        ul_list = [down_shift(self.ul_input_above(padded))
                   + right_shift(self.ul_input_left(padded))]
        for resolution, blocks in enumerate(self.down_blocks):
            for u_block, ul_block in blocks:
                u_list.append(u_block(u_list[-1], dropout=dropout))
                ul_list.append(ul_block(ul_list[-1], u_list[-1],
                                        dropout=dropout))
            if resolution < len(self.down_samples):
                u_down, ul_down = self.down_samples[resolution]
                u_list.append(u_down(u_list[-1]))  # (B, H/2, W/2, F)
                ul_list.append(ul_down(ul_list[-1]))
        u, ul = u_list.pop(), ul_list.pop()
        for resolution, blocks in enumerate(self.up_blocks):
            for u_block, ul_block in blocks:
                u = u_block(u, u_list.pop(), dropout=dropout)
                ul = ul_block(ul, tf.concat([u, ul_list.pop()], axis=-1),
                              dropout=dropout)
            if resolution < len(self.up_samples):
                u_up, ul_up = self.up_samples[resolution]
                size = tuple(u_list[-1].shape[1:3])  # The mirror's: 2H, 2W.
                u, ul = u_up(u, size=size), ul_up(ul, size=size)
        return self.output_layer(tf.nn.elu(ul))

    def logits(self, inputs):
        """Returns (B, H, W, C, L) log-probabilities of every conditional.

        They are normalized over the L levels (valid logits): channel c's
        mixture given the pixel's channels before c.
        """
        values = 2.0 * inputs - 1.0  # (B, H, W, C) in [-1, 1]
        return logistic_mixture.channel_log_probs(
            self.network_parameters(values), values, self.num_components,
            self.num_levels)

    def train_step(self, batch):
        # Dropout is on while the training step is traced, off elsewhere.
        object.__setattr__(self, "_dropout_active", True)
        try:
            return super().train_step(batch)
        finally:
            object.__setattr__(self, "_dropout_active", False)
