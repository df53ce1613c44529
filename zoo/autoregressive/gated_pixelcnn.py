"""Gated PixelCNN: vertical and horizontal stacks, gated activations.

van den Oord, Kalchbrenner, Espeholt, Vinyals, Graves & Kavukcuoglu (2016),
"Conditional Image Generation with PixelCNN Decoders", section 2 and
figure 2. A plain PixelCNN's masked convolutions leave a blind spot above
and to the right of each pixel (its figure 1, and ``pixelcnn``); the gated
PixelCNN removes it with two stacks of unmasked convolutions:

- the vertical stack at pixel (i, j) sees the rows above and the current
  row: a (k//2 + 1) x k convolution over rows i - k//2 .. i and columns
  j - k//2 .. j + k//2, so that the pixels above it to the right are seen;
- the horizontal stack at (i, j) sees the pixels to the left in row i: a
  1 x (k//2 + 1) convolution over columns j - k//2 .. j, the current column
  cut in the first layer (mask A: not the pixel itself);
- the vertical stack feeds the horizontal one through a 1x1 convolution of
  its output shifted down one row (rows < i only), never the reverse, which
  would let row i's later pixels reach the vertical stack.

Each layer (``gated_pixelcnn_layers.GatedLayer``) has both stacks, which
use the gated activation unit (equation (2))

    y = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h),

with a 1x1 convolution and a residual connection in the horizontal stack
(none in the first layer, whose input is the image itself). The first
layer's kernel is ``first_kernel_size``, the others' ``kernel_size``. A 1x1
head (ReLU, 1x1, ReLU, 1x1) on the last horizontal stack gives a softmax
over each pixel's ``num_levels``. The horizontal stack reaches
``first_kernel_size // 2 + (num_layers - 1) * (kernel_size // 2)`` pixels
to the left, the vertical stack as many rows up and columns either side:
when that reaches the image's width and height, every value depends on
every earlier one.

Conditioning on the class (``config.conditional``, section 2.3): h is the
one-hot label, V_f h and V_g h a learned embedding per layer and stack
added inside every gate. ``log_prob`` is then log p(x | y), every
capability takes ``labels``, and ``sample`` without labels draws them
uniformly. Only gray images (one channel) are modelled.

Sampling (one step per pixel) carries the stacks of the pixels drawn
(Ramachandran et al. 2017, "Fast Generation for Convolutional
Autoregressive Models"; ``layers.ring_cache``). The horizontal stack at
(i, j) reads row i up to j from a one-row cache per layer, and through the
link the vertical stack at (i - 1, j), which reads row i - 1 right of j:
at a row's first step the sampler computes row i - 1 of the vertical stack
whole, layer by layer from rings of the rows above. A step costs
O(layers x kernel window) (a vertical row: W pixels every W steps),
whatever the image's height: 13-29x faster than full passes at 28x28 on 2
busy CPU cores (``python -m benchmarks.fast_sampling``).
``config.fast_sampling=False`` samples by full passes: the same images, up
to float rounding (the tests compare).
"""

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoregressive import base
from zoo.autoregressive import gated_pixelcnn_layers
from zoo.autoregressive import layers


def get_config(variant=None):
    """Returns the gated PixelCNN's locked config.

    ``python -m tfgen.train --model=gated_pixelcnn`` trains on ``digits``
    (1,257 training images, 17 gray levels) for 40 epochs, evaluates and
    exports it: 4.2 minutes end to end on 2 CPU cores shared with other
    jobs (195 s of training, 1.7 minutes of CPU time). Expected on the 360
    test images: -log p(x) about 80.1 nats, 1.80 bits/dim (80.07 at seed
    0; ``pixelcnn``: 80.3 nats, 1.81 bits/dim in 60 epochs). The training
    NLL (77.0) is below the validation NLL (80.5) by then; a learning rate
    of 2e-3 overfits sooner (80.63 nats at seed 0).

    ``conditional`` is False by default: the default run then reports
    log p(x), comparable with every other model of the family, whereas a
    conditional model's log p(x | y) lies below it by up to log 10 nats.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("gated_pixelcnn", variant)
    config = base.autoregressive_config(
        hidden_channels=32,  # p: features of each stack
        num_layers=5,  # gated layers, the first included
        first_kernel_size=7,
        kernel_size=3,  # of the later layers
        output_channels=64,  # of the 1x1 layer before the softmax
        conditional=False,  # a class embedding inside every gate
    )
    config.batch_size = 32
    config.epochs = 40
    config.sample_every_epochs = 0
    if variant == "tiny":
        config_lib.make_tiny(config, hidden_channels=4, num_layers=2,
                             output_channels=8)
    config.lock()
    return config


def _validate(config, data_info):
    """Raises ``UsageError`` naming the field of a bad config."""
    base.validate_config(config)
    config_lib.require_positive(
        config, ("hidden_channels", "output_channels", "num_layers"))
    config_lib.require_odd(config, ("first_kernel_size", "kernel_size"))
    if data_info.is_image and data_info.image_shape[-1] != 1:
        raise errors.UsageError(
            f"config.dataset={config.dataset!r} has "
            f"{data_info.image_shape[-1]} channels; the gated PixelCNN "
            "models gray images (1 channel)")
    if config.conditional and not data_info.num_classes:
        raise errors.UsageError(
            f"config.conditional=True, but config.dataset={config.dataset!r} "
            "has no classes")


@registry.register("gated_pixelcnn", family="autoregressive",
                   get_config=get_config,
                   paper=("van den Oord et al. 2016 (Conditional Image "
                          "Generation with PixelCNN Decoders)"))
class GatedPixelCNN(base.AutoregressiveModel):
    """Gated PixelCNN, optionally conditioned on the class.

    With ``config.conditional`` the instance lists every capability in
    ``labelled_capabilities``, so the core gives each a ``labels`` input.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo`` of a gray image dataset (with
            classes if conditional).
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is bad, the images have colour, or a
            conditional model's dataset has no classes.
    """

    def __init__(self, config, data_info, **kwargs):
        _validate(config, data_info)
        super().__init__(config, data_info, **kwargs)
        self.conditional = bool(config.conditional)
        if self.conditional:
            self.labelled_capabilities = tuple(self.capabilities)
        self.num_classes = (int(data_info.num_classes) if self.conditional
                            else 0)
        hidden = int(config.hidden_channels)
        self.gated_layers = [
            gated_pixelcnn_layers.GatedLayer(1 if layer == 0 else hidden, hidden,
                       config.first_kernel_size if layer == 0
                       else config.kernel_size, first=layer == 0,
                       num_classes=self.num_classes, name=f"gated_{layer}")
            for layer in range(int(config.num_layers))]
        self.output_hidden = keras.layers.Dense(
            int(config.output_channels), activation="relu",
            name="output_hidden")
        self.output_hidden.build((None, hidden))
        self.output_logits = keras.layers.Dense(self.num_levels,
                                                name="output_logits")
        self.output_logits.build((None, int(config.output_channels)))
        self.built = True

    def logits(self, inputs, labels=None):
        """Returns (B, H, W, 1, num_levels) logits of every conditional.

        Args:
            inputs: float32 (B, H, W, 1) intensities in [0, 1].
            labels: int64 (B,) classes; required by a conditional model,
                ignored by an unconditional one.

        Raises:
            ValueError: a conditional model is called without labels.
        """
        condition = self._condition(labels)
        vertical = horizontal = inputs
        for layer in self.gated_layers:
            vertical, horizontal = layer(vertical, horizontal, condition)
        hidden = self.output_hidden(tf.nn.relu(horizontal))
        logits = self.output_logits(hidden)  # (B, H, W, L)
        return logits[:, :, :, None, :]

    def _condition(self, labels):
        """One-hot labels (B, K) of a conditional model, else None."""
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError("the conditional gated PixelCNN needs labels")
        return tf.one_hot(tf.cast(labels, tf.int64), self.num_classes)

    # --- The fast sampler: the base's hook. -------------------------------
    # State: for each layer but the first (which reads the image itself), a
    # ring of its vertical input's rows (k//2 + 1, W + 2 (k//2), B, p) and
    # a one-row ring of its horizontal input (1, k//2 + W, B, p); for each
    # layer, the link of the vertical row above the current one (B, W, 2p),
    # zeros above row 0 (the shift down's padding).

    def fast_sampler_state(self, inputs, labels=None):
        """Empty caches; the linked row above row 0 is zeros."""
        batch, width = tf.shape(inputs)[0], self.image_shape[1]
        vertical, horizontal, linked = [], [], []
        for index, layer in enumerate(self.gated_layers):
            features = layer.vertical_kernel.shape[2]
            if index > 0:
                for caches, padding in zip((vertical, horizontal),
                                           layer.paddings):
                    caches.append(layers.ring_cache(batch, width, features,
                                                    padding))
            linked.append(tf.zeros([batch, width, layer.link.shape[1]]))
        return tuple(vertical), tuple(horizontal), tuple(linked)

    def fast_sampler_logits(self, inputs, state, position, labels=None):
        """Computes the horizontal stack at ``position``'s pixel from the
        caches (and, at a row's first pixel, the vertical stack of the row
        above, whole), and writes the pixel into them."""
        row, column, _ = self.position_coordinates(position)
        condition = self._condition(labels)
        vertical, horizontal, linked = state
        vertical, linked = tf.cond(
            tf.logical_and(tf.equal(column, 0), row > 0),
            lambda: self._vertical_rows(inputs, row - 1, vertical, condition),
            lambda: (vertical, linked))
        caches, pixel = [], None
        for index, layer in enumerate(self.gated_layers):
            half, padding = layer.kernel_size // 2, layer.paddings[1]
            if index == 0:
                window = layers.image_window(inputs, row, column, half + 1,
                                             padding)
            else:
                cache = layers.write_pixel(horizontal[index - 1], row, column,
                                           pixel, padding)
                caches.append(cache)
                window = layers.cached_window(cache, row, column, half + 1)
            pixel = layer.horizontal_at_pixel(
                window, pixel, tf.gather(linked[index], column, axis=1),
                condition)  # (B, p)
        logits = self.output_logits(self.output_hidden(tf.nn.relu(pixel)))
        return logits, (vertical, tuple(caches), linked)  # (B, L)

    def _vertical_rows(self, inputs, row, caches, condition):
        """Row ``row`` of every layer's vertical stack, once it is drawn:
        the rings with the row written and each layer's linked row."""
        width = self.image_shape[1]
        written, linked, vertical = [], [], None
        for index, layer in enumerate(self.gated_layers):
            columns, padding = width + 2 * (layer.kernel_size // 2), (
                layer.paddings[0])
            if index == 0:
                window = layers.image_window(inputs, row, 0, columns, padding)
            else:
                cache = layers.write_row(caches[index - 1], row, vertical,
                                         padding)
                written.append(cache)
                window = layers.cached_window(cache, row, 0, columns)
            vertical, link = layer.vertical_row(window, condition)
            linked.append(link)  # (B, W, 2p)
        return tuple(written), tuple(linked)
