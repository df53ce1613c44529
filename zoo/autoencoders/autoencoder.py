"""What the deterministic autoencoders share: codes, losses, capabilities.

An autoencoder maps an image x to a code z = f(x) of ``code_dim`` numbers
and back to a reconstruction g(z); it is trained to make g(f(x)) close to x.
Rumelhart, Hinton & Williams (1986) trained such networks by
backpropagation; Hinton & Salakhutdinov (2006) made deep ones work.

This module holds what the family's deterministic members (``pca``,
``linear_ae``, ``deep_ae``, ``stacked_ae``, ``denoising_ae``,
``contractive_ae``) have in common, so that each model file says only what
is its own:

- the reconstruction losses as pure functions of pixels and decoder
  outputs: ``cross_entropy`` (Bernoulli log-loss of [0, 1] intensities
  against logistic outputs, the papers' choice for images) and
  ``squared_error`` (linear outputs, the loss whose optimal linear
  autoencoder is PCA);
- ``Autoencoder``, a ``GenerativeModel`` whose subclasses build an
  ``encoder`` (images -> codes) and a ``decoder`` (codes -> pre-activation
  outputs), and may override ``loss_terms`` (a denoising or contractive
  objective). It trains by gradient descent on the mean loss, reports the
  squared error per image (the Science paper's measure), and exports
  ``encode``, ``decode`` and ``reconstruct``.
"""

import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import optimizers
from tfgen.model import GenerativeModel

LOSSES = ("cross_entropy", "squared_error")

# Intensities: both losses compare the reconstruction with [0, 1] pixels.
PREPROCESSINGS = ("unit", "binarize_dynamic", "binarize_static")


def squared_error(images, reconstructions):
    """Returns sum over pixels of (x - x_hat)^2, (B,).

    Args:
        images: (B, ...) targets.
        reconstructions: (B, ...) of the same shape.
    """
    difference = tf.cast(images, tf.float32) - reconstructions
    return tf.reduce_sum(tf.reshape(tf.square(difference),
                                    [tf.shape(difference)[0], -1]), axis=-1)


def cross_entropy(images, logits):
    """Returns -sum over pixels of [x log s(a) + (1 - x) log(1 - s(a))], (B,).

    The Bernoulli log-loss of intensities x in [0, 1] against logistic
    outputs s(a); for gray x it is the cross-entropy of two Bernoullis, whose
    minimum over a is the entropy of x, not 0.

    Args:
        images: (B, ...) targets in [0, 1].
        logits: (B, ...) pre-sigmoid decoder outputs a.
    """
    losses = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(images, tf.float32), logits=logits)
    return tf.reduce_sum(tf.reshape(losses, [tf.shape(losses)[0], -1]),
                         axis=-1)


def reconstruction_loss(loss, images, outputs):
    """Dispatches to ``cross_entropy`` or ``squared_error`` by name, (B,).

    Args:
        loss: one of ``LOSSES``.
        images: (B, ...) targets in [0, 1].
        outputs: (B, ...) decoder pre-activations: logits for
            ``cross_entropy``, the reconstruction itself for
            ``squared_error``.
    """
    if loss == "cross_entropy":
        return cross_entropy(images, outputs)
    if loss == "squared_error":
        return squared_error(images, outputs)
    raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")


def validate(config, model_name):
    """Checks the fields every autoencoder config shares.

    Args:
        config: the model's config, holding ``code_dim`` and ``loss`` (and
            ``hidden_units``, widths of hidden layers, if it has them).
        model_name: named in the errors.

    Raises:
        UsageError: naming the field that is out of range.
    """
    config_lib.validate(config)
    if config.preprocessing not in PREPROCESSINGS:
        raise errors.UsageError(
            f"{model_name} reconstructs [0, 1] intensities: "
            f"config.preprocessing={config.preprocessing!r} is not one of "
            f"{', '.join(PREPROCESSINGS)}")
    if config.loss not in LOSSES:
        raise errors.UsageError(
            f"config.loss={config.loss!r} is not one of {', '.join(LOSSES)}")
    if config.code_dim < 1:
        raise errors.UsageError(
            f"config.code_dim={config.code_dim} must be positive")
    if "hidden_units" in config and any(
            units < 1 for units in config.hidden_units):
        raise errors.UsageError(
            f"config.hidden_units={config.hidden_units} must be positive")


class Autoencoder(GenerativeModel):
    """Base of the deterministic autoencoders.

    Subclasses set ``self.encoder`` (images (B, H, W, C) -> codes
    (B, code_size)) and ``self.decoder`` (codes -> pre-activation outputs
    (B, H, W, C)) in ``__init__`` after calling this one, and may override
    ``loss_terms``, adding the names of extra terms to ``metric_names``.

    Args:
        config: a locked config with ``code_dim`` and ``loss``.
        data_info: ``tfgen.data.DataInfo`` of the dataset.
        **kwargs: passed to ``keras.Model``.
    """

    capabilities = ("encode", "decode", "reconstruct")
    # One per term of loss_terms; "loss" is what is minimized.
    metric_names = ("loss", "squared_error")

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.code_size = int(config.code_dim)
        self.loss_name = config.loss
        self.image_shape = tuple(data_info.image_shape)

    def outputs_to_images(self, outputs):
        """Decoder pre-activations to reconstructions in pixel units."""
        if self.loss_name == "cross_entropy":
            return tf.sigmoid(outputs)
        return outputs

    # --- Training. ------------------------------------------------------

    def loss_terms(self, images, training):
        """Per-image terms of the objective, each (B,).

        Args:
            images: (B, H, W, C) clean images in [0, 1].
            training: True in ``train_step`` (noise, if any, is drawn).

        Returns:
            A dict holding every name of ``metric_names``: ``"loss"`` is
            minimized; ``"squared_error"`` is sum (x - x_hat)^2 per image.
        """
        del training
        outputs = self.decoder(self.encoder(images))
        return {
            "loss": reconstruction_loss(self.loss_name, images, outputs),
            "squared_error": squared_error(
                images, self.outputs_to_images(outputs)),
        }

    def gradient_step(self, batch, optimizer=optimizers.DEFAULT):
        """One step of the named optimizer down the mean of ``loss``.

        Returns:
            The running means of the metrics, measured before the update.
        """
        images = tf.cast(batch["image"], tf.float32)  # (B, H, W, C)
        with tf.GradientTape() as tape:
            terms = self.loss_terms(images, training=True)
            loss = tf.reduce_mean(terms["loss"])
        self.minimize(tape, loss, optimizer=optimizer)
        return self.update_metrics(terms)

    def train_step(self, batch):
        return self.gradient_step(batch)

    def test_step(self, batch):
        images = tf.cast(batch["image"], tf.float32)
        return self.update_metrics(self.loss_terms(images, training=False))

    # --- Capabilities. --------------------------------------------------

    def _encode(self, images):
        """Returns ``{"codes": f(x)}``, (B, code_size)."""
        return {"codes": self.encoder(tf.cast(images, tf.float32))}

    def decoded_images(self, codes):
        """g(z), the decoder's output in pixel units, unclipped (B, H, W, C).

        Linear outputs (the ``squared_error`` loss: PCA, the linear
        autoencoder) overshoot [0, 1] a little; their maths (the
        orthogonal projection, the squared error the papers report) is that
        of this unclipped map.
        """
        return self.outputs_to_images(self.decoder(codes))

    def _decode(self, codes):
        """Returns ``{"images": g(z)}`` clipped to [0, 1], (B, H, W, C).

        A served image lies in the data's range; only linear outputs are
        ever clipped (see ``decoded_images``).
        """
        return {"images": tf.clip_by_value(self.decoded_images(codes), 0.0,
                                           1.0)}

    def _reconstruct(self, images):
        """Returns ``{"images": g(f(x))}``, as ``decode``."""
        return self._decode(self._encode(images)["codes"])
