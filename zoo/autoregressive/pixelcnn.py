"""PixelCNN: a stack of masked convolutions.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks", sections 3.4-3.5 and figure 5: a 7x7 convolution with mask A on
the image, then residual blocks, each

    ReLU, 1x1 conv (2h -> h), ReLU, 3x3 conv (h -> h), ReLU, 1x1 conv (h -> 2h),

added to its input, all with mask B, then ReLU and two 1x1 mask-B layers
(ReLU between) to a softmax over each value's ``num_levels`` (the paper's
256-way softmax; 2 for binarized data, 17 on ``digits``). The masks split
the features in C groups for colour (R, G, B), so channel c of a pixel
depends on the pixels before it and on channels < c of the pixel itself.

Every conditional comes from one pass, so training and ``log_prob`` are
parallel. The receptive field grows by the kernel's rows above and its
half-row to the left, so a plain PixelCNN has a blind spot: pixels above
and to the right of the current one that no stack of these masks reaches
(van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders", figure 1), which the gated PixelCNN's two stacks remove.

Sampling is sequential (the base's chain, one step per value). A full pass
per step would compute every pixel's activations for one value; the
sampler instead carries the activations of the pixels already drawn
(Ramachandran et al. 2017, "Fast Generation for Convolutional
Autoregressive Models"): the first layer reads the image's window around
the new pixel, each residual block's 3x3 convolution a cache of its input
(``layers.ring_cache``: the two rows its kernel reaches), the 1x1 layers
only the pixel itself, so a step costs O(layers x kernel window) whatever
the image size (about 13x faster than full passes at 28x28:
``python -m benchmarks.fast_sampling``). Colour images take one step per
channel: each recomputes the pixel, whose group c sees the channels < c
drawn so far, and rewrites it in the caches; the last channel's step
leaves the values every later pixel reads. ``config.fast_sampling=False``
samples by full passes: the same images, up to float rounding of sums
taken in another order (the tests compare the two).
"""

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoregressive import base
from zoo.autoregressive import layers
from zoo.autoregressive.layers import MaskedConv2D


def get_config(variant=None):
    """Returns the PixelCNN's locked config.

    ``python -m tfgen.train --model=pixelcnn`` trains on ``digits`` (1,257
    training images, 17 gray levels) for 60 epochs, evaluates and exports
    in 2-3 minutes on 2 CPU cores, end to end. Expected on the 360 test
    images: -log p(x) about 80.5 nats, 1.81-1.82 bits/dim (80.26 at seed 0,
    80.84 at seed 1; 82.3 after 30 epochs; ``fvbn``: 90.2; independent
    pixels: 108.0 nats).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("pixelcnn", variant)
    config = base.autoregressive_config(
        hidden_channels=32,  # h: the residual blocks carry 2h features
        num_residual_blocks=4,
        first_kernel_size=7,  # the mask-A layer's
        output_channels=64,  # of the 1x1 layer before the softmax
    )
    config.batch_size = 32
    config.epochs = 60
    config.sample_every_epochs = 0
    if variant == "tiny":
        config_lib.make_tiny(config, hidden_channels=4, num_residual_blocks=1,
                             output_channels=8)
    config.lock()
    return config


def _validate(config):
    """Raises ``UsageError`` naming the field of a bad PixelCNN config."""
    base.validate_config(config)
    config_lib.require_positive(config, ("hidden_channels", "output_channels"))
    config_lib.require_non_negative(config, ("num_residual_blocks",))
    config_lib.require_odd(config, ("first_kernel_size",))


@registry.register("pixelcnn", family="autoregressive",
                   get_config=get_config,
                   paper=("van den Oord, Kalchbrenner & Kavukcuoglu 2016 "
                          "(masked convolutions)"))
class PixelCNN(base.AutoregressiveModel):
    """PixelCNN with residual blocks and channel masks.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo`` of an image dataset.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range, or a layer has fewer
            features than the image has channels.
    """

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        height, width, channels = self.image_shape
        hidden = int(config.hidden_channels)
        if min(hidden, int(config.output_channels)) < channels:
            raise errors.UsageError(
                f"config.hidden_channels={hidden} and config.output_channels="
                f"{config.output_channels} must be at least the {channels} "
                "channels, one feature group each")

        def conv(filters, size, mask_type="B", name=None):
            return MaskedConv2D(filters, size, mask_type, num_groups=channels,
                                name=name)

        inputs = keras.Input((height, width, channels))
        features = conv(2 * hidden, int(config.first_kernel_size), "A",
                        "input_conv")(inputs)  # (B, H, W, 2h)
        for block in range(int(config.num_residual_blocks)):
            residual = conv(hidden, 1, name=f"block_{block}_down")(
                keras.layers.ReLU()(features))  # (B, H, W, h)
            residual = conv(hidden, 3, name=f"block_{block}_conv")(
                keras.layers.ReLU()(residual))
            residual = conv(2 * hidden, 1, name=f"block_{block}_up")(
                keras.layers.ReLU()(residual))  # (B, H, W, 2h)
            features = keras.layers.Add()([features, residual])
        features = conv(int(config.output_channels), 1, name="output_hidden")(
            keras.layers.ReLU()(features))
        # Group c of the C * L outputs: channel c's L logits.
        logits = conv(channels * self.num_levels, 1, name="output_logits")(
            keras.layers.ReLU()(features))  # (B, H, W, C * L)
        self.network = keras.Model(inputs, logits, name="pixelcnn")
        self.num_residual_blocks = int(config.num_residual_blocks)
        self.built = True

    def logits(self, inputs):
        """Returns (B, H, W, C, num_levels) logits of every conditional."""
        logits = self.network(inputs)  # (B, H, W, C * L)
        return tf.reshape(logits, tf.concat(
            [tf.shape(inputs), [self.num_levels]], axis=0))

    # --- The fast sampler: the base's hook. -------------------------------
    # The state is one cache per residual block: the input rows of its 3x3
    # convolution, the row above and the current one, (2, W + 2, B, h),
    # each pixel written when reached. The mask-A layer reads the image
    # itself (the chain's inputs); the 1x1 layers need no neighbours.

    def fast_sampler_state(self, inputs):
        """Empty caches of the residual blocks' 3x3 convolutions."""
        caches = []
        for block in range(self.num_residual_blocks):
            conv = self.network.get_layer(f"block_{block}_conv")
            caches.append(layers.ring_cache(
                tf.shape(inputs)[0], self.image_shape[1],
                conv.kernel.shape[2], conv.padding))
        return tuple(caches)

    def fast_sampler_logits(self, inputs, state, position):
        """Computes the network at ``position``'s pixel only, layer by
        layer from the caches, and writes the pixel into them."""
        row, column, channel = self.position_coordinates(position)
        relu = tf.nn.relu
        layer = self.network.get_layer
        first = layer("input_conv")
        features = first.call_at_pixel(layers.image_window(
            inputs, row, column, first.kernel_size[1],
            first.padding))  # (B, 2h)
        caches = []
        for block, cache in enumerate(state):
            conv = layer(f"block_{block}_conv")
            residual = relu(layer(f"block_{block}_down").call_on_vector(
                relu(features)))  # (B, h)
            cache = layers.write_pixel(cache, row, column, residual,
                                       conv.padding)
            residual = conv.call_at_pixel(layers.cached_window(
                cache, row, column, conv.kernel_size[1]))  # (B, h)
            features += layer(f"block_{block}_up").call_on_vector(
                relu(residual))  # (B, 2h)
            caches.append(cache)
        features = layer("output_hidden").call_on_vector(relu(features))
        logits = layer("output_logits").call_on_vector(
            relu(features))  # (B, C * L)
        logits = tf.reshape(logits,
                            [-1, self.image_shape[2], self.num_levels])
        return tf.gather(logits, channel, axis=1), tuple(caches)  # (B, L)
