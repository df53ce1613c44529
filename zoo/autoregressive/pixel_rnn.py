"""PixelRNN's network around either recurrent layer, and its fast sampler.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural
Networks", table 1: a mask-A convolution, residual recurrent layers (Row
LSTM, section 3.1, ``row_lstm_layer``; Diagonal BiLSTM, section 3.2,
``diagonal_bilstm_layer``), then two 1 x 1 mask-B convolutions to a softmax
over each value's levels (section 2.2; masks of section 3.4, colour by
channel groups, ``masked_lstm``).

The fast sampler (``sampler_state``, ``sampler_logits``) computes the
network at one pixel per step, each recurrent layer from the rows of LSTM
states it carries, instead of a pass over the whole image.
``PixelRNNModel`` is the model both PixelRNNs share: the network, its
logits and its fast sampler; each subclass gives its layer.
"""

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from zoo.autoregressive import base
from zoo.autoregressive import masked_lstm


def pixel_rnn_network(image_shape, num_levels, recurrent_layer, num_layers,
                      hidden, first_kernel_size, output_features, name,
                      image_to_first_layer=False):
    """PixelRNN's network: the architecture of van den Oord et al. (2016),
    table 1, around either recurrent layer.

    A ``first_kernel_size`` square convolution with mask A (2 * hidden
    features), ``num_layers`` residual recurrent layers (mask B), then
    ReLU, a 1 x 1 mask-B convolution to ``output_features``, ReLU, and a
    1 x 1 mask-B convolution to the logits. Layer ``l`` is named
    ``lstm_{l}``, the others ``input_conv``, ``output_hidden`` and
    ``output_logits``.

    Args:
        image_shape: (H, W, C).
        num_levels: values per channel, L.
        recurrent_layer: ``recurrent_layer(hidden, name, **kwargs)``
            returns one residual, mask-B recurrent layer with ``channels``
            = C; ``kwargs`` are ``row_input_features=C`` for the first layer
            of ``image_to_first_layer``, else none.
        num_layers: number of recurrent layers.
        hidden: LSTM units per pixel.
        first_kernel_size: odd size of the mask-A convolution.
        output_features: features of the hidden 1 x 1 output layer.
        name: the network's name.
        image_to_first_layer: call the first recurrent layer as
            ``layer(features, image)`` (a ``DiagonalBiLSTM``'s row inputs).

    Returns:
        A ``keras.Model`` from float32 (B, H, W, C) inputs to logits
        (B, H, W, L * C): feature ``l * C + c`` is channel c's logit of
        level l (group c, as ``masked_lstm.causal_mask`` counts groups).
    """
    height, width, channels = image_shape

    def conv(filters, size, mask_type, layer_name):
        return masked_lstm.MaskedConv2D(filters, size, mask_type, channels,
                                        name=layer_name)

    inputs = keras.Input((height, width, channels))
    features = conv(2 * hidden, first_kernel_size, "A", "input_conv")(
        inputs)  # (B, H, W, 2 hidden)
    for layer in range(num_layers):
        if layer == 0 and image_to_first_layer:
            features = recurrent_layer(hidden, "lstm_0",
                                       row_input_features=channels)(
                                           features, inputs)
        else:
            features = recurrent_layer(hidden, f"lstm_{layer}")(features)
    features = conv(output_features, 1, "B", "output_hidden")(
        keras.layers.ReLU()(features))  # (B, H, W, output_features)
    logits = conv(num_levels * channels, 1, "B", "output_logits")(
        keras.layers.ReLU()(features))  # (B, H, W, L * C)
    return keras.Model(inputs, logits, name=name)


def logits_by_channel(logits, num_levels):
    """(B, H, W, L * C) network output -> (B, H, W, C, L) logits."""
    batch, height, width, features = masked_lstm.map_shape(logits)
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
    config_lib.require_positive(config, ("hidden_units",))
    if config.hidden_units % channels:
        raise errors.UsageError(
            f"config.hidden_units={config.hidden_units} must be a positive "
            f"multiple of the image's {channels} channels")
    config_lib.require_non_negative(config, ("num_layers",))
    # A 1 x 1 mask-A convolution reads no other pixel: the network would see
    # nothing left of a pixel.
    config_lib.require_odd(config, ("first_kernel_size",), minimum=3)
    config_lib.require_positive(config, ("output_features",))
    if config.output_features < channels:
        raise errors.UsageError(
            f"config.output_features={config.output_features} must be at "
            f"least the image's {channels} channels")


class PixelRNNModel(base.AutoregressiveModel):
    """A PixelRNN: ``pixel_rnn_network`` around a subclass's recurrent
    layer, with its fast sampler; colour by channel masks.

    A subclass (a paper's layer: ``row_lstm``, ``diagonal_bilstm``) sets
    ``network_name`` and ``image_to_first_layer`` (both passed to
    ``pixel_rnn_network``) and implements ``recurrent_layer``; it extends
    ``check_config`` for fields of its own.

    Args:
        config: locked config from the subclass's ``get_config``.
        data_info: ``tfgen.data.DataInfo`` of an image dataset.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    network_name = None
    image_to_first_layer = False

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.check_config(config)
        self.network = pixel_rnn_network(
            self.image_shape, self.num_levels, self.recurrent_layer,
            num_layers=int(config.num_layers),
            hidden=int(config.hidden_units),
            first_kernel_size=int(config.first_kernel_size),
            output_features=int(config.output_features),
            name=self.network_name,
            image_to_first_layer=self.image_to_first_layer)
        self.built = True

    def check_config(self, config):
        """Raises ``UsageError`` naming the field of a bad config (the
        network's fields, for the image's channels)."""
        validate_network_config(config, self.image_shape[-1])

    def recurrent_layer(self, hidden, name, **kwargs):
        """One residual, mask-B recurrent layer of ``hidden`` units named
        ``name``, with ``channels`` = C: ``pixel_rnn_network``'s
        ``recurrent_layer``."""
        raise NotImplementedError

    def logits(self, inputs):
        """Returns (B, H, W, C, num_levels) logits of every conditional."""
        return logits_by_channel(self.network(inputs), self.num_levels)

    # --- The fast sampler: the base's hook (``sampler_logits``).

    def fast_sampler_state(self, inputs):
        """Every layer's carried rows, zeros; none for the full passes."""
        return sampler_state(self.network, inputs)

    def fast_sampler_logits(self, inputs, state, position):
        """Value ``position``'s logits, computed at its pixel only."""
        return sampler_logits(self.network, inputs, state, position,
                              self.num_levels)


# --- The fast sampler of a PixelRNN network. ------------------------------


def _recurrent_layers(network):
    return [layer for layer in network.layers
            if isinstance(layer, masked_lstm.RecurrentLayer)]


def sampler_state(network, inputs):
    """The initial state of ``sampler_logits`` for a ``pixel_rnn_network``.

    Args:
        network: from ``pixel_rnn_network``.
        inputs: (B, H, W, C), the sampler's start.

    Returns:
        A tuple of every recurrent layer's state: dicts of (B, W, .) zeros.
    """
    batch, width = tf.shape(inputs)[0], int(inputs.shape[2])
    features = network.get_layer("input_conv").filters
    return tuple(layer.initial_sampler_state(batch, width, features)
                 for layer in _recurrent_layers(network))


def sampler_logits(network, inputs, state, position, num_levels):
    """One value's logits from the layers' carried rows: the fast sampler.

    The network's value at pixel (r, c) is computed at that pixel only: the
    mask-A convolution from the image's patch above and left of it, each
    recurrent layer by one ``sampler_step`` (with ``start_sampler_row`` at a
    row's first value), the 1 x 1 output layers. In colour, the pixel is
    recomputed for each channel, and what channel c's step writes for the
    groups >= c is overwritten by the pixel's later channels: the last
    channel's step leaves the pixel's final values.

    Args:
        network: from ``pixel_rnn_network``.
        inputs: (B, H, W, C): every value before ``position`` drawn or known.
        state: what ``sampler_state`` or the previous step returned.
        position: int64 scalar, the flat index of the value to draw.
        num_levels: L.

    Returns:
        ``(logits (B, L), state)``.
    """
    _, width, channels = (int(size) for size in inputs.shape[1:])
    position = tf.cast(position, tf.int64)
    row = position // (width * channels)
    column = (position // channels) % width
    new_row = (position > 0) & (position % (width * channels) == 0)

    conv = network.get_layer("input_conv")
    height, kernel_width = conv.kernel_size
    above, side = height // 2, kernel_width // 2  # rows below are masked
    padded = tf.pad(inputs, [[0, 0], [above, 0], [side, side], [0, 0]])
    rows = tf.gather(padded, row + tf.range(above + 1, dtype=tf.int64), axis=1)
    patch = tf.gather(rows, column + tf.range(kernel_width, dtype=tf.int64),
                      axis=2)  # (B, above + 1, kernel_width, C)
    features = conv.activation(tf.einsum(
        "bijc,ijcf->bf", patch,
        (conv.kernel * conv.mask)[:above + 1]) + conv.bias)  # (B, 2 hidden)

    image_row = tf.gather(inputs, tf.maximum(row - 1, 0), axis=1)  # (B, W, C)
    new_state = []
    for layer, layer_state in zip(_recurrent_layers(network), state):
        layer_state = tf.cond(
            new_row,
            lambda layer=layer, layer_state=layer_state:
                layer.start_sampler_row(layer_state, image_row),
            lambda layer_state=layer_state: layer_state)
        features, layer_state = layer.sampler_step(features, layer_state,
                                                   column)
        new_state.append(layer_state)
    features = masked_lstm.pointwise(network.get_layer("output_hidden"),
                                     tf.nn.relu(features))
    logits = masked_lstm.pointwise(network.get_layer("output_logits"),
                                   tf.nn.relu(features))  # (B, L * C)
    logits = tf.reshape(logits, [-1, num_levels, channels])
    return tf.gather(logits, position % channels, axis=2), tuple(new_state)
