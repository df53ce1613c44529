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
  added to the block's input; that second convolution starts at a tenth
  of a standard layer's scale (``init_scale=0.1`` of the paper's code), so
  every block starts near the identity (TFP's ``tfd.PixelCNN`` has no such
  scale: at its budget in ``benchmarks/pixelcnn_pp_vs_tfp`` this makes ours
  1.832 and 1.820 bits/dim against TFP's 1.842 and 1.850 at seeds 0
  and 1; 1.860 and 1.850 at scale 1);
- down-sampling by stride-2 shifted convolutions and up-sampling by
  stride-2 transposed ones (section 2.3), with shortcut connections from
  every block of the down pass to its mirror in the up pass (section 2.4,
  figure 2); the up pass has one more block per coarser resolution, fed by
  the down-sampling's output.

The network reads the image as values in [-1, 1] plus a channel of ones
(the zero padding then differs from a value). Its per-pixel mixture
parameters give every channel's categorical conditional over the L levels
(``logistic_mixture.channel_log_probs``), the interface of the family's
base, which supplies the exact likelihood and the sampling loop. Images
smaller than a resolution's stride work: sizes round up when down-sampling
(a 1-pixel side stays 1) and the up-sampled maps are cropped to their
mirror's size.

``config.weight_norm`` (default off, worse on digits): every convolution's kernel is
w = g v / ||v|| (Salimans & Kingma 2016, "Weight Normalization"; the
paper's section 3), g and the biases set by the data-dependent
initialization in ``adapt`` (each layer's outputs standardized on the first
training images). ``config.fast_sampling`` (default on): the sampler of
``pixelcnn_pp_sampler`` (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models") computes at each step the ``ul``
stream's maps at the new pixel alone (a coarse map's pixel at the steps
that complete it) and the ``u`` stream's rows once per image row, from
caches of the rows their kernels read; ``False`` runs the whole network
per value (the same images). Not here: Polyak averaging of the
parameters.
"""

import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoregressive import base
from zoo.autoregressive import logistic_mixture
from zoo.autoregressive import pixelcnn_pp_sampler
from zoo.autoregressive.pixelcnn_pp_layers import Conv
from zoo.autoregressive.pixelcnn_pp_layers import GatedResidualBlock
from zoo.autoregressive.pixelcnn_pp_layers import ShiftedConv2D
from zoo.autoregressive.pixelcnn_pp_layers import ShiftedConv2DTranspose
from zoo.autoregressive.pixelcnn_pp_layers import down_shift
from zoo.autoregressive.pixelcnn_pp_layers import right_shift

# Kernels of the two streams (the paper's code): u above, ul above-left.
DOWN_KERNEL = (2, 3)
DOWN_RIGHT_KERNEL = (2, 2)
# Images of weight normalization's data-dependent initialization.
INIT_IMAGES = 256


def get_config(variant=None):
    """Returns PixelCNN++'s locked config.

    ``python -m tfgen.train --model=pixelcnn_pp`` trains on ``digits``
    (1,257 training images, 17 gray levels) for 30 epochs, evaluates and
    exports in 6-12 minutes on 2 CPU cores shared with other jobs (5m46s
    to 11m30s wall at seed 0). Expected on the 360 test images: -log p(x)
    77.11 nats, 1.738 bits/dim at seed 0 with the gated blocks' 0.1 init
    scale (77.72 and 1.752 without; ``pixelcnn``: about 80.5 nats, 1.81
    bits/dim; independent pixels: 108.0 nats).

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
        # w = g v / ||v||, g and biases fitted to data; off: worse on
        # digits at the TFP benchmark's budget (1.868 against 1.832
        # bits/dim at seed 0).
        weight_norm=False,
    )
    config.batch_size = 32
    config.epochs = 30
    config.sample_every_epochs = 0
    if variant == "tiny":
        config.sample_quality = False
        config.parzen_samples = 0
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


@registry.register("pixelcnn_pp", family="autoregressive",
                   get_config=get_config,
                   paper="Salimans et al. 2017 (discretized logistic mixture)")
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
        self.weight_norm = bool(config.weight_norm)
        norm = {"weight_norm": self.weight_norm}
        object.__setattr__(self, "_dropout_active", False)

        def pair(prefix, count, shortcut):
            return [(GatedResidualBlock(filters, DOWN_KERNEL, False,
                                        shortcut, name=f"{prefix}{i}_u",
                                        **norm),
                     GatedResidualBlock(filters, DOWN_RIGHT_KERNEL, True,
                                        True, name=f"{prefix}{i}_ul", **norm))
                    for i in range(count)]

        # First layers: u from the rows above, ul also from the left.
        self.u_input = ShiftedConv2D(filters, DOWN_KERNEL, name="u_input",
                                     **norm)
        self.ul_input_above = ShiftedConv2D(filters, (1, 3),
                                            name="ul_input_above", **norm)
        self.ul_input_left = ShiftedConv2D(filters, (2, 1), down_right=True,
                                           name="ul_input_left", **norm)
        self.down_blocks = [pair(f"down{r}_", blocks, False)
                            for r in range(resolutions)]
        self.down_samples = [
            (ShiftedConv2D(filters, DOWN_KERNEL, strides=2,
                           name=f"down{r}_u", **norm),
             ShiftedConv2D(filters, DOWN_RIGHT_KERNEL, True, strides=2,
                           name=f"down{r}_ul", **norm))
            for r in range(resolutions - 1)]
        # The coarsest resolution's up blocks mirror its down blocks; each
        # finer one has one more, for the down-sampling's output.
        self.up_blocks = [pair(f"up{r}_", blocks + (r > 0), True)
                          for r in range(resolutions)]
        self.up_samples = [
            (ShiftedConv2DTranspose(filters, DOWN_KERNEL, name=f"up{r}_u",
                                    **norm),
             ShiftedConv2DTranspose(filters, DOWN_RIGHT_KERNEL, True,
                                    name=f"up{r}_ul", **norm))
            for r in range(resolutions - 1)]
        self.output_layer = Conv(
            logistic_mixture.num_parameters(self.num_components,
                                            self.image_shape[-1]), (1, 1),
            name="mixture_parameters", **norm)
        self.heights = [self.image_shape[0]]  # H_l of every resolution
        for _ in range(resolutions - 1):
            self.heights.append((self.heights[-1] + 1) // 2)
        self.network_parameters(tf.zeros((1,) + self.image_shape))  # Builds.
        self.built = True

    def _dropout(self, features):
        kept = self.training_noise(tf.shape(features)) >= self.dropout_rate
        return features * tf.cast(kept, features.dtype) / (
            1.0 - self.dropout_rate)

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

    def conditional_log_probs(self, levels, labels=None):
        """log p(x_d | x_<d) of every value, float32 (B, H, W, C).

        The base's numbers (``logits`` at the observed levels), computed
        at the observed levels alone (``logistic_mixture
        .observed_log_probs``): training and scoring cost the same at 256
        levels as at 2. ``labels``: unused (an unconditional model).
        """
        del labels
        values = 2.0 * self.to_inputs(levels) - 1.0  # bin centres
        return logistic_mixture.observed_log_probs(
            self.network_parameters(values), values, self.num_components,
            self.num_levels)

    def train_step(self, batch):
        # Dropout is on while the training step is traced, off elsewhere.
        object.__setattr__(self, "_dropout_active", True)
        try:
            return super().train_step(batch)
        finally:
            object.__setattr__(self, "_dropout_active", False)

    def conv_layers(self):
        """Every ``Conv`` of the network, in no particular order."""
        return [layer for layer in self._flatten_layers()
                if isinstance(layer, Conv)]

    def adapt(self, train_batches):
        """Weight normalization's data-dependent initialization.

        One pass over the first ``INIT_IMAGES`` training images (dropout
        off) in which each layer, in the network's order, sets its g and
        bias so that its outputs on these images have mean 0 and standard
        deviation 1 per feature (Salimans & Kingma 2016, section 3). The
        training loop calls it before restoring a checkpoint, so a resumed
        run keeps its trained weights. Nothing without weight norm.
        """
        if not self.weight_norm:
            return
        images, count = [], 0
        for batch in train_batches:
            images.append(self.to_levels(batch["image"]))
            count += int(images[-1].shape[0])
            if count >= INIT_IMAGES:
                break
        values = 2.0 * self.to_inputs(tf.concat(images, 0)[:INIT_IMAGES]) - 1
        layers = self.conv_layers()
        for layer in layers:
            layer.initialize_from_data = True
        try:
            self.network_parameters(values)
        finally:
            for layer in layers:
                layer.initialize_from_data = False

    # --- The fast sampler: the base's hooks (``pixelcnn_pp_sampler``). ---

    def fast_sampler_state(self, inputs):
        """The caches of every map, as position 0 leaves them."""
        return pixelcnn_pp_sampler.initial_state(self, inputs)

    def fast_sampler_logits(self, inputs, state, position):
        """Computes the maps at the position's pixel from the caches."""
        return pixelcnn_pp_sampler.step_logits(self, inputs, state, position)
