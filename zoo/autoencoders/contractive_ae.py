"""Contractive autoencoder: penalize the encoder's sensitivity to its input.

Rifai, Vincent, Muller, Glorot & Bengio (2011), "Contractive Auto-Encoders:
Explicit Invariance During Feature Extraction": the code h = f(x) is made
locally insensitive to the input by adding to the reconstruction loss the
squared Frobenius norm of the encoder's Jacobian,

    L(x) = reconstruction(x, g(f(x))) + lambda * ||J_f(x)||_F^2,
    ||J_f(x)||_F^2 = sum_ij (d h_j / d x_i)^2,

with lambda = ``config.contraction``. The reconstruction term keeps the code
sensitive along the directions the data vary in; the penalty flattens it
everywhere else.

For the paper's encoder, one sigmoid layer h = s(W x + b), the Jacobian is
diag(h (1 - h)) W^T and its norm has the closed form

    ||J_f(x)||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2,

which costs no more than the forward pass. ``config.hidden_units`` adds
sigmoid layers before the code; then the Jacobian is the chain of those
factors, accumulated from the code back to the input as code_dim rows
(about code_dim times the cost of the forward pass), still without
automatic differentiation.

As in the paper the decoder uses the transposed encoder weights
(g(h) = W h + c for one layer, the mirrored chain for more) with its own
biases. With free decoder weights the penalty could be dodged: scaling W
down and the decoder's weights up keeps the reconstruction and shrinks J.

The model reports the penalty ||J_f(x)||_F^2 (without lambda) as the metric
``jacobian_penalty`` and the reconstruction term alone as ``reconstruction``,
beside the minimized ``loss`` and the ``squared_error`` per image that every
autoencoder reports.
"""

import math

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoencoders import autoencoder


def get_config(variant=None):
    """Returns the contractive autoencoder's locked config.

    ``python -m tfgen.train --model=contractive_ae`` trains a one-layer
    contractive autoencoder (64 pixels -> 32 sigmoid units, tied weights,
    lambda 0.1) for 150 epochs on ``digits`` in [0, 1], then evaluates and
    exports it, in about 85 s on 2 busy CPU cores end to end (59 s of
    training). Expected on the 360 test images: squared error 0.54 per image
    (a sum over 64 pixels), reconstruction cross-entropy 16.0 nats and
    Jacobian penalty ||J_f(x)||_F^2 14.1 per image (loss 17.4).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("contractive_ae", variant)
    config = config_lib.base_config(
        code_dim=32,
        hidden_units=(),  # sigmoid layers before the code; () is the paper's
        loss="cross_entropy",
        contraction=0.1,  # lambda, the weight of ||J_f(x)||_F^2
    )
    config.preprocessing = "unit"
    config.batch_size = 32
    config.epochs = 150
    config.optimizers.model.learning_rate = 3e-3
    if variant == "tiny":
        config.code_dim = 4
        config.hidden_units = (8,)
        config.epochs = 1
        config.num_grid_samples = 16
    config.lock()
    return config


def validate(config):
    """Raises ``UsageError`` naming the field of a bad config."""
    autoencoder.validate(config, "contractive_ae")
    if not config.contraction >= 0.0:
        raise errors.UsageError(
            f"config.contraction={config.contraction} must be non-negative")


def jacobian_penalty(activations, kernels):
    """||J_f(x)||_F^2 of a sigmoid MLP f, per input, (B,).

    Layer l computes h_l = s(h_{l-1} K_l + b_l) with h_0 = x, so
    d h_l / d h_{l-1} = diag(h_l (1 - h_l)) K_l^T and J_f is the product of
    these factors from the last layer down to the first.

    Args:
        activations: [h_1, ..., h_L], each (B, n_l): the outputs of the
            sigmoid layers, the code last.
        kernels: [K_1, ..., K_L], K_l of shape (n_{l-1}, n_l).

    Returns:
        (B,) float32, sum over code units j and inputs i of (dh_j/dx_i)^2.
    """
    slopes = [h * (1.0 - h) for h in activations]  # s'(a) = s(a)(1 - s(a))
    if len(kernels) == 1:
        # The closed form: sum_j slope_j^2 * |column j of K|^2.
        column_norms = tf.reduce_sum(tf.square(kernels[0]), axis=0)  # (n_1,)
        return tf.reduce_sum(tf.square(slopes[0]) * column_norms, axis=-1)
    # Rows of J, one per code unit, over layer L-1's units: (B, n_L, n_{L-1}).
    jacobian = slopes[-1][:, :, None] * tf.transpose(kernels[-1])[None]
    for slope, kernel in zip(reversed(slopes[:-1]), reversed(kernels[:-1])):
        # Through layer l: (B, n_L, n_l) -> (B, n_L, n_{l-1}).
        jacobian = tf.matmul(jacobian * slope[:, None, :], kernel,
                             transpose_b=True)
    return tf.reduce_sum(tf.square(jacobian), axis=[1, 2])


class _TiedDecoder(keras.layers.Layer):
    """The encoder's layers run backwards with transposed kernels.

    Shares the kernels of the encoder's Dense layers (so they are one
    variable each, trained by both halves) and owns one bias per layer.
    Sigmoid on every layer but the last, which gives the pre-activation
    outputs (B, *image_shape).
    """

    def __init__(self, encoder_layers, image_shape, **kwargs):
        super().__init__(**kwargs)
        self.encoder_layers = list(encoder_layers)
        self.image_shape = tuple(image_shape)
        self.biases = [
            self.add_weight(shape=(int(layer.kernel.shape[0]),),
                            initializer="zeros", name=f"bias_{index}")
            for index, layer in enumerate(reversed(self.encoder_layers))]
        self.built = True

    def call(self, codes):
        hidden = codes  # (B, code_dim)
        last = len(self.encoder_layers) - 1
        for index, (layer, bias) in enumerate(
                zip(reversed(self.encoder_layers), self.biases)):
            # (B, n_l) -> (B, n_{l-1})
            hidden = tf.matmul(hidden, layer.kernel, transpose_b=True) + bias
            if index < last:
                hidden = tf.sigmoid(hidden)
        return tf.reshape(hidden, (-1,) + self.image_shape)  # (B, H, W, C)


@registry.register("contractive_ae", family="autoencoders",
                   get_config=get_config,
                   paper="Rifai et al. 2011")
class ContractiveAutoencoder(autoencoder.Autoencoder):
    """Sigmoid autoencoder with tied weights and a Jacobian penalty.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the image shape is read from it.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    metric_names = autoencoder.Autoencoder.metric_names + (
        "reconstruction", "jacobian_penalty")

    def __init__(self, config, data_info, **kwargs):
        validate(config)
        super().__init__(config, data_info, **kwargs)
        self.contraction = float(config.contraction)
        widths = [int(units) for units in config.hidden_units] + [
            self.code_size]
        self.encoder_layers = [
            keras.layers.Dense(units, activation="sigmoid",
                               name=f"sigmoid_{index}")
            for index, units in enumerate(widths)]
        self.encoder = keras.Sequential(
            [keras.Input(self.image_shape), keras.layers.Flatten()]
            + self.encoder_layers, name="encoder")
        self.decoder = _TiedDecoder(self.encoder_layers, self.image_shape,
                                    name="decoder")
        self.built = True  # every variable exists: no data needed to build
        self.pixels = math.prod(self.image_shape)

    def encoder_activations(self, images):
        """Returns [h_1, ..., h_L], the outputs of the encoder's layers.

        The last one is the code f(x), (B, code_dim), as ``encode`` gives.
        """
        hidden = tf.reshape(tf.cast(images, tf.float32), [-1, self.pixels])
        activations = []
        for layer in self.encoder_layers:
            hidden = layer(hidden)  # (B, n_l)
            activations.append(hidden)
        return activations

    def penalty(self, images):
        """||J_f(x)||_F^2 per image, (B,); see ``jacobian_penalty``."""
        return jacobian_penalty(self.encoder_activations(images),
                                [layer.kernel for layer in self.encoder_layers])

    def loss_terms(self, images, training):
        """Reconstruction plus lambda times the Jacobian penalty, each (B,).

        Args:
            images: (B, H, W, C) images in [0, 1].
            training: unused: the objective is deterministic.

        Returns:
            ``{"loss", "squared_error", "reconstruction",
            "jacobian_penalty"}``: ``loss`` is ``reconstruction`` plus
            ``contraction`` times ``jacobian_penalty``.
        """
        del training
        activations = self.encoder_activations(images)
        outputs = self.decoder(activations[-1])  # (B, H, W, C)
        reconstruction = autoencoder.reconstruction_loss(
            self.loss_name, images, outputs)
        penalty = jacobian_penalty(
            activations, [layer.kernel for layer in self.encoder_layers])
        return {
            "loss": reconstruction + self.contraction * penalty,
            "squared_error": autoencoder.squared_error(
                images, self.outputs_to_images(outputs)),
            "reconstruction": reconstruction,
            "jacobian_penalty": penalty,
        }
