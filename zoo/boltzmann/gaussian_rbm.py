"""Gaussian-Bernoulli RBM: real-valued visibles, binary hiddens.

Hinton & Salakhutdinov (2006), "Reducing the dimensionality of data with
neural networks", model real-valued pixels with unit-variance Gaussian
visible units after standardizing each pixel:

    E(v, h) = |v - c|^2 / 2 - v'Wh - b'h,
    p(v|h) = N(c + Wh, I),  p(h_j = 1 | v) = sigmoid((v'W + b)_j).

Training is the RBM's contrastive divergence (``rbm``), whose closed-form
gradient holds unchanged for Gaussian visibles, with a smaller step
(Hinton 2010, "A practical guide to training restricted Boltzmann
machines", section 13.2). log Z is estimated after training by AIS over
Gaussian visibles (``partition``), annealing the interaction from the model
without its weights.

This model subclasses the Boltzmann family's ``rbm.RBM``.
"""

import numpy as np
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import registry
from tfgen.optimizers import optimizer_config
from zoo.boltzmann import partition
from zoo.boltzmann import rbm
from zoo.boltzmann import rbm_config

# Standardized pixels constant on the training set (a digit's border) would
# otherwise divide by zero.
_MIN_STD = 1e-2


def get_config(variant=None):
    """Returns the Gaussian-Bernoulli RBM's locked config.

    ``python -m tfgen.train --model=gaussian_rbm`` trains on ``digits`` gray
    levels in [0, 1], standardized per pixel, with CD-1 for 60 epochs and
    exports in about 50 s on 2 CPU cores, end to end, of which about 5 s
    estimate log Z by AIS with Gaussian visibles (200 chains, 5,000 betas).
    Expected: test reconstruction error (mean squared, standardized units)
    about 0.48 (0.47-0.49 over seeds 0-2), from 0.84 after the first epoch;
    log Z about 149.3 with a stderr of about 0.006 nats; test NLL about
    80.3-80.5 nats, a negative log density of the standardized pixels (see
    ``GaussianRBM``), not comparable with the discrete models' numbers.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("gaussian_rbm", variant)
    config = rbm_config.common_config()
    config.preprocessing = "unit"
    config.batch_size = 20
    config.epochs = 60
    # Gaussian visibles are unbounded: a smaller step keeps them stable
    # (Hinton 2010, section 13.2).
    config.optimizers.model = optimizer_config("sgd", 0.005, momentum=0.5)
    if variant == "tiny":
        rbm_config.shrink_to_tiny(config)
    config.lock()
    return config


@registry.register("gaussian_rbm", family="boltzmann",
                   get_config=get_config,
                   paper="Gaussian-Bernoulli RBM, Hinton & Salakhutdinov 2006")
class GaussianRBM(rbm.RBM):
    """Gaussian-Bernoulli RBM with unit-variance visibles.

    Pixels are standardized with the training set's per-pixel mean and
    standard deviation (fitted by ``adapt``, kept as non-trainable
    variables); ``sample`` and ``reconstruct`` map the visible means back to
    [0, 1]. ``free_energy`` is the unnormalized negative log density.

    ``log_prob`` is -F(v) - log Z of the standardized visible vector v, with
    log Z estimated by AIS over Gaussian visibles in ``after_training``
    (``log_partition`` and ``log_partition_stderr``, as for ``RBM``). It is
    a log density in standardized units, not a log probability: it omits
    the Jacobian of the standardization, -sum_i log std_i, so it is
    comparable only between Gaussian models standardized on the same data,
    never with the discrete models' numbers.

    Metrics: the RBM's, without the pseudo-likelihood (binary units only).
    """

    metric_names = ("loss", "reconstruction_error")
    gaussian = True
    # Gray images in [0, 1], or real-valued data such as points in the
    # plane (``--dataset=ring8 --config.preprocessing=identity``).
    preprocessings = ("unit", "identity")

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.pixel_mean = self.add_weight(
            shape=(self.num_visible,), name="pixel_mean", trainable=False,
            initializer="zeros")
        self.pixel_std = self.add_weight(
            shape=(self.num_visible,), name="pixel_std", trainable=False,
            initializer="ones")

    def to_visible(self, images):
        """(B, H, W, C) in [0, 1] -> (B, V) standardized."""
        return (super().to_visible(images) - self.pixel_mean) / self.pixel_std

    def to_images(self, visible):
        """(B, V) standardized means -> examples in the data's units.

        Images (B, H, W, C) are clipped to [0, 1]; other data (points) keep
        their values.
        """
        values = visible * self.pixel_std + self.pixel_mean
        if self.data_info.is_image:
            values = tf.clip_by_value(values, 0.0, 1.0)
        return super().to_images(values)

    def adapt(self, train_batches):
        """Fits the per-pixel mean and (floored) standard deviation."""
        total, total_sq, count = 0.0, 0.0, 0
        for batch in train_batches:
            pixels = np.reshape(np.asarray(batch["image"], np.float64),
                                [-1, self.num_visible])  # (B, V)
            total += pixels.sum(axis=0)
            total_sq += np.square(pixels).sum(axis=0)
            count += len(pixels)
        mean = total / count
        variance = np.maximum(total_sq / count - np.square(mean), 0.0)
        self.pixel_mean.assign(mean)
        self.pixel_std.assign(np.maximum(np.sqrt(variance), _MIN_STD))

    def after_training(self, train_batches):
        """Estimates log Z by AIS from the model without its weights."""
        del train_batches  # The Gaussian base is N(c, I) by construction.
        self.store_log_partition(*partition.ais_log_partition(
            *self.parameters, num_chains=self.config.ais_chains,
            num_betas=self.config.ais_betas,
            seed=self.stream("partition").seed(), gaussian=True))

    def _log_prob(self, images):
        """Returns ``{"log_prob": -F(v) - log Z}``, (B,) in nats.

        A log density of the standardized pixels (see the class docstring),
        estimated as the RBM's is.
        """
        return {"log_prob": -self.visible_free_energy(self.to_visible(images))
                - self.log_partition}
