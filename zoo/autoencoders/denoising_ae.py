"""Denoising autoencoder: reconstruct the clean image from a corrupted one.

Vincent, Larochelle, Bengio & Manzagol (2008), "Extracting and Composing
Robust Features with Denoising Autoencoders": each training image x is
corrupted into x~ by a stochastic process q(x~|x), encoded as
y = f(x~) = s(W x~ + b) with sigmoid units s, decoded as z = g(y), and the
loss compares z with the clean x, not with x~. An autoencoder can no longer
copy its input to lower the loss; it must learn which pixels go together to
undo the corruption, which is what makes its features useful even when the
code is as wide as the image.

Two corruptions, chosen by ``config.noise``:

- ``masking``: each pixel is set to 0 independently with probability
  ``config.corruption`` (the paper's noise; for binary data it turns ones
  into zeros and leaves the image binary). The paper used it on gray MNIST
  too, so it is accepted for any [0, 1] preprocessing.
- ``gaussian``: x~ = x + N(0, ``config.noise_stddev``^2) per pixel, the
  natural corruption of continuous data (Vincent et al. 2010, JMLR). It would
  take binarized pixels off {0, 1}, so a binarized preprocessing with it is
  refused with a ``UsageError``: set ``config.noise=masking`` there.

The corruption is drawn in ``train_step`` only, from the model's training
noise stream (``noise_seed``, seeded by ``config.seed``); its state is a
model variable, so a resumed run continues the same noise stream.
``test_step`` and every capability (``encode``, ``decode``, ``reconstruct``)
see the clean input: test metrics measure the reconstruction of clean images,
and the same request always gets the same answer.

The encoder is an MLP of sigmoid layers (``config.hidden_units``, then the
code of ``config.code_dim`` sigmoid units); the decoder mirrors it with its
own weights (the paper allows W' = W^T but does not require it) and ends in
one output per pixel: logits for ``loss=cross_entropy`` (the paper's loss for
[0, 1] intensities), the reconstruction itself for ``loss=squared_error``.
"""

import math

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.autoencoders import autoencoder

NOISES = ("masking", "gaussian")


def get_config(variant=None):
    """Returns the denoising autoencoder's locked config.

    ``python -m tfgen.train --model=denoising_ae`` trains a one-layer
    denoising autoencoder (64 pixels -> 64 sigmoid units -> 64 pixels,
    Gaussian noise of stddev 0.3) for 150 epochs on ``digits`` in [0, 1],
    then evaluates and exports it, in about 80 s on 2 busy CPU cores end to
    end (56 s of training). Expected on the 360 clean test images: squared
    error 0.48 per image (a sum over 64 pixels) and cross-entropy loss 15.8
    nats per image (gray pixels put its minimum above 0).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("denoising_ae", variant)
    config = config_lib.base_config(
        code_dim=64,  # as wide as digits' images: the noise, not a bottleneck,
                      # keeps the code from copying its input
        hidden_units=(),  # sigmoid layers before the code; () is the paper's
        loss="cross_entropy",
        # 'gaussian' adds N(0, noise_stddev^2) to every pixel ([0, 1] data
        # only); 'masking' zeroes each pixel with probability corruption.
        noise="gaussian",
        corruption=0.25,
        noise_stddev=0.3,
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
    autoencoder.validate(config, "denoising_ae")
    if config.noise not in NOISES:
        raise errors.UsageError(
            f"config.noise={config.noise!r} is not one of {', '.join(NOISES)}")
    if config.noise == "gaussian" and config.preprocessing.startswith(
            "binarize"):
        raise errors.UsageError(
            f"config.noise='gaussian' is for continuous data, but "
            f"config.preprocessing={config.preprocessing!r} is binary: use "
            "config.noise=masking")
    if not 0.0 <= config.corruption <= 1.0:
        raise errors.UsageError(
            f"config.corruption={config.corruption} must lie in [0, 1]")
    if not config.noise_stddev >= 0.0:
        raise errors.UsageError(
            f"config.noise_stddev={config.noise_stddev} must be non-negative")


@registry.register("denoising_ae", family="autoencoders",
                   get_config=get_config,
                   paper="Vincent et al. 2008")
class DenoisingAutoencoder(autoencoder.Autoencoder):
    """Sigmoid MLP autoencoder trained to undo masking or Gaussian noise.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the image shape is read from it.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range, or Gaussian noise is
            asked for binarized data.
    """

    def __init__(self, config, data_info, **kwargs):
        validate(config)
        super().__init__(config, data_info, **kwargs)
        self.noise = config.noise
        self.corruption = float(config.corruption)
        self.noise_stddev = float(config.noise_stddev)
        hidden = [int(units) for units in config.hidden_units]
        dense = keras.layers.Dense
        self.encoder = keras.Sequential(
            [keras.Input(self.image_shape), keras.layers.Flatten()]
            + [dense(units, activation="sigmoid")
               for units in hidden + [self.code_size]],
            name="encoder")
        self.decoder = keras.Sequential(
            [keras.Input((self.code_size,))]
            + [dense(units, activation="sigmoid")
               for units in reversed(hidden)]
            + [dense(math.prod(self.image_shape)),
               keras.layers.Reshape(self.image_shape)],
            name="decoder")
        self.built = True  # both networks are built from their Inputs

    def corrupt(self, images):
        """Draws x~ ~ q(x~|x) from the model's noise stream.

        Args:
            images: (B, H, W, C) clean images in [0, 1].

        Returns:
            (B, H, W, C) float32: masked images (each pixel zeroed with
            probability ``corruption``) or images plus Gaussian noise of
            stddev ``noise_stddev``, unclipped.
        """
        images = tf.cast(images, tf.float32)
        shape = tf.shape(images)
        if self.noise == "masking":
            # uniform < corruption has probability corruption, for 0 and 1
            # included (the draws lie in [0, 1)).
            kept = self.training_noise(shape) >= self.corruption
            return images * tf.cast(kept, tf.float32)
        return images + self.noise_stddev * self.training_noise(
            shape, distribution="normal")

    def loss_terms(self, images, training):
        """The denoising objective: decode f(x~), compare with clean x.

        Args:
            images: (B, H, W, C) clean images in [0, 1].
            training: True corrupts the input; False (``test_step``) encodes
                the clean images, so evaluation is deterministic.

        Returns:
            ``{"loss": L(x, g(f(x~))), "squared_error": |x - x_hat|^2}``,
            each (B,).
        """
        inputs = self.corrupt(images) if training else images
        outputs = self.decoder(self.encoder(inputs))  # (B, H, W, C)
        return {
            "loss": autoencoder.reconstruction_loss(
                self.loss_name, images, outputs),
            "squared_error": autoencoder.squared_error(
                images, self.outputs_to_images(outputs)),
        }
