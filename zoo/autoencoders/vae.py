"""Variational autoencoder, scored with the importance-weighted bound.

Kingma & Welling (2014), "Auto-Encoding Variational Bayes": an MLP encoder
gives the Gaussian posterior q(z|x) = N(mu(x), diag(s(x)^2)), the prior is
p(z) = N(0, I) and an MLP decoder gives the likelihood p(x|z). Training
maximizes the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)),

estimating the first term with one reparametrized sample z = mu + s * eps,
eps ~ N(0, I), so that its gradient reaches the encoder, and computing the
KL term in closed form.

Burda, Grosse & Salakhutdinov (2016), "Importance Weighted Autoencoders":
the ``log_prob`` capability reports their k-sample bound

    L_k(x) = E[log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)],  z_i ~ q(z|x),

which is the ELBO at k = 1, does not decrease with k and tends to log p(x).

Two likelihoods: ``bernoulli`` over binarized pixels (the papers' MNIST
setting) and ``categorical`` over the dataset's ``num_levels`` gray levels.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen import rng
from tfgen.model import CapabilityInput
from tfgen.model import GenerativeModel

tfd = tfp.distributions

LIKELIHOODS = ("bernoulli", "categorical")

# The preprocessings whose pixels each likelihood is a distribution over.
_PREPROCESSINGS = {
    "bernoulli": ("binarize_dynamic", "binarize_static"),
    "categorical": ("levels",),
}

# Salts of the stateless draws (tfgen.rng), so that a prior sample and the
# bound's posterior noise drawn from the same seed are independent.
_SAMPLE_SALT = 1
_BOUND_SALT = 2
# Salt of the fixed noise of test_step (not a served draw).
_EVAL_SALT = 3

# Floor on the posterior stddev: softplus underflows to 0 for very negative
# inputs, which would make log q(z|x) infinite.
_MIN_SCALE = 1e-4


def get_config(variant=None):
    """Returns the VAE's locked config.

    ``python -m tfgen.train --model=vae`` trains on ``digits`` (1,257
    training images, dynamically binarized) in about 40 s on 2 CPU cores;
    the test negative ELBO is about 24.5 nats and the k=100
    importance-weighted bound about 22.5 nats.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    if variant not in (None, "tiny"):
        raise ValueError(f"unknown vae config variant {variant!r}; "
                         "expected None or 'tiny'")
    config = config_lib.base_config(
        latent_dim=8,
        hidden_units=(256, 128),
        # 'bernoulli' needs preprocessing 'binarize_dynamic' or
        # 'binarize_static'; 'categorical' needs 'levels'.
        likelihood="bernoulli",
        # k of the importance-weighted bound that log_prob reports.
        log_prob_samples=100,
    )
    config.preprocessing = "binarize_dynamic"
    config.batch_size = 64
    config.epochs = 200
    config.learning_rate = 1e-3
    if variant == "tiny":
        config.latent_dim = 2
        config.hidden_units = (16,)
        config.epochs = 1
        config.log_prob_samples = 10
        config.num_grid_samples = 16
    config.lock()
    return config


def _validate(config):
    """Checks the VAE's fields and their compatibility with preprocessing.

    Raises:
        UsageError: naming the offending field.
    """
    config_lib.validate(config)
    if config.likelihood not in LIKELIHOODS:
        raise errors.UsageError(
            f"config.likelihood={config.likelihood!r} is not one of "
            f"{', '.join(LIKELIHOODS)}")
    allowed = _PREPROCESSINGS[config.likelihood]
    if config.preprocessing not in allowed:
        raise errors.UsageError(
            f"config.likelihood={config.likelihood!r} models "
            f"{' or '.join(allowed)} data, but config.preprocessing="
            f"{config.preprocessing!r}")
    if config.latent_dim < 1:
        raise errors.UsageError(
            f"config.latent_dim={config.latent_dim} must be positive")
    if any(units < 1 for units in config.hidden_units):
        raise errors.UsageError(
            f"config.hidden_units={config.hidden_units} must be positive")
    if config.log_prob_samples < 1:
        raise errors.UsageError(
            f"config.log_prob_samples={config.log_prob_samples} must be "
            "positive")


@registry.register("vae", family="autoencoders", get_config=get_config)
class VAE(GenerativeModel):
    """Variational autoencoder with MLP encoder and decoder.

    Kingma & Welling (2014); ``log_prob`` is the importance-weighted bound of
    Burda, Grosse & Salakhutdinov (2016) with ``config.log_prob_samples``
    samples.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; image shape and gray levels are
            read from it.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range, or the likelihood does
            not fit the preprocessing.
    """

    capabilities = ("sample", "log_prob", "encode", "decode", "reconstruct")

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        self.latent_dim = int(config.latent_dim)
        self.num_levels = int(data_info.num_levels)
        self.categorical = config.likelihood == "categorical"
        image_shape = tuple(data_info.image_shape)
        # The decoder emits one logit per pixel (Bernoulli) or one per pixel
        # and gray level (categorical).
        logits_shape = image_shape + ((self.num_levels,)
                                      if self.categorical else ())
        hidden = [int(units) for units in config.hidden_units]

        self.encoder = keras.Sequential(
            [keras.Input(image_shape), keras.layers.Flatten()]
            + [keras.layers.Dense(units, activation="relu") for units in hidden]
            + [keras.layers.Dense(2 * self.latent_dim)],  # mean, raw scale
            name="encoder")
        self.decoder = keras.Sequential(
            [keras.Input((self.latent_dim,))]
            + [keras.layers.Dense(units, activation="relu")
               for units in reversed(hidden)]
            + [keras.layers.Dense(math.prod(logits_shape)),
               keras.layers.Reshape(logits_shape)],
            name="decoder")
        # Both networks are built from their Input layers above, so the model
        # needs no data to build (fit under tf.distribute asks for this).
        self.built = True

        # Training noise: a Keras seed generator, whose state is a variable
        # and so is checkpointed and resumed with the weights.
        self.noise_seed = keras.random.SeedGenerator(int(config.seed))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    @property
    def metrics(self):
        return [self.loss_tracker, self.elbo_tracker,
                self.reconstruction_tracker, self.kl_tracker]

    # --- The three distributions. ---------------------------------------

    def posterior(self, images):
        """Returns q(z|x): a diagonal Gaussian with batch shape (B,)."""
        features = tf.cast(images, tf.float32)
        if self.categorical:
            features = features / (self.num_levels - 1)  # levels to [0, 1]
        params = self.encoder(features)  # (B, 2 * latent_dim)
        loc, raw_scale = tf.split(params, 2, axis=-1)  # (B, latent_dim) each
        scale = tf.nn.softplus(raw_scale) + _MIN_SCALE
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def prior(self):
        """Returns p(z) = N(0, I) over (latent_dim,)."""
        return tfd.MultivariateNormalDiag(
            loc=tf.zeros([self.latent_dim]),
            scale_diag=tf.ones([self.latent_dim]))

    def likelihood(self, codes):
        """Returns p(x|z) for codes (..., latent_dim); event shape (H, W, C)."""
        leading = tf.shape(codes)[:-1]
        logits = self.decoder(tf.reshape(codes, [-1, self.latent_dim]))
        # (N, H, W, C[, levels]) back to (..., H, W, C[, levels])
        logits = tf.reshape(logits, tf.concat(
            [leading, tf.shape(logits)[1:]], axis=0))
        if self.categorical:
            return tfd.Independent(tfd.Categorical(logits=logits),
                                   reinterpreted_batch_ndims=3)
        return tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32),
                               reinterpreted_batch_ndims=3)

    def _targets(self, images):
        """Images as the likelihood's events: 0/1 floats or int levels."""
        return tf.cast(images, tf.int32 if self.categorical else tf.float32)

    def _mean_image(self, likelihood):
        """E[x|z] as float32 in [0, 1]; levels are divided by num_levels - 1."""
        if not self.categorical:
            return likelihood.mean()
        probs = likelihood.distribution.probs_parameter()  # (..., H, W, C, L)
        levels = tf.range(self.num_levels, dtype=probs.dtype)
        return tf.reduce_sum(probs * levels, axis=-1) / (self.num_levels - 1)

    # --- Training. ------------------------------------------------------

    def elbo_terms(self, images, noise):
        """Per-image ELBO with given posterior noise (Kingma & Welling 2014).

        Args:
            images: (B, H, W, C) as the dataset gives them.
            noise: (B, latent_dim) standard-normal draws; the code is the
                reparametrized z = mu + s * noise, differentiable in the
                encoder's weights.

        Returns:
            ``{"reconstruction": log p(x|z), "kl": KL(q(z|x) || p(z)),
            "elbo": reconstruction - kl}``, each (B,) in nats.
        """
        posterior = self.posterior(images)
        codes = posterior.mean() + posterior.stddev() * noise  # (B, latent_dim)
        reconstruction = self.likelihood(codes).log_prob(
            self._targets(images))  # (B,)
        kl = tfd.kl_divergence(posterior, self.prior())  # (B,), closed form
        return {"reconstruction": reconstruction, "kl": kl,
                "elbo": reconstruction - kl}

    def _update_metrics(self, terms):
        self.loss_tracker.update_state(-terms["elbo"])
        self.elbo_tracker.update_state(terms["elbo"])
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, batch):
        images = batch["image"]  # (B, H, W, C)
        noise = keras.random.normal(
            (tf.shape(images)[0], self.latent_dim), seed=self.noise_seed)
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(images, noise)
            loss = -tf.reduce_mean(terms["elbo"])
            # Keras sums gradients over replicas, so each replica contributes
            # its share of the global mean.
            loss /= tf.distribute.get_strategy().num_replicas_in_sync
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(terms)

    def test_step(self, batch):
        images = batch["image"]
        # Fixed noise: two evaluations of the same weights give the same
        # loss, so epochs and runs compare the model rather than the draw.
        noise = tf.random.stateless_normal(
            [tf.shape(images)[0], self.latent_dim],
            seed=[self.instance_seed, _EVAL_SALT])
        return self._update_metrics(self.elbo_terms(images, noise))

    def call(self, images, training=False):
        """Reconstruction mean at the posterior mean (builds every layer)."""
        return self.reconstruct(images)["images"]

    # --- Capabilities. --------------------------------------------------

    def capability_inputs(self, capability):
        if capability == "decode":
            return {"codes": CapabilityInput(
                tf.TensorSpec([None, self.latent_dim], tf.float32))}
        return super().capability_inputs(capability)

    def encode(self, images):
        """Returns the posterior of each image.

        Args:
            images: (B, H, W, C), as the dataset's preprocessing gives them.

        Returns:
            ``{"codes": mean (B, latent_dim), "scales": stddev (B, latent_dim)}``.
        """
        posterior = self.posterior(images)
        return {"codes": posterior.mean(), "scales": posterior.stddev()}

    def decode(self, codes):
        """Returns ``{"images": E[x|z]}``, float32 (B, H, W, C) in [0, 1]."""
        return {"images": self._mean_image(self.likelihood(codes))}

    def sample(self, seed):
        """Decodes z ~ p(z); row i depends only on ``seed[i]``.

        Args:
            seed: int64 (B,), one seed per sample.

        Returns:
            ``{"images": E[x|z]}``, float32 (B, H, W, C) in [0, 1].
        """
        codes = rng.normal(seed, [self.latent_dim],
                           instance_seed=self.instance_seed,
                           salt=_SAMPLE_SALT)  # (B, latent_dim)
        return self.decode(codes)

    def reconstruct(self, images):
        """Returns ``{"images": E[x|z]}`` at z = the posterior mean."""
        return self.decode(self.encode(images)["codes"])

    def log_prob(self, images):
        """Returns ``{"log_prob": (B,)}``, a lower bound on log p(x) in nats.

        The importance-weighted bound with ``config.log_prob_samples``
        samples (Burda et al. 2016); see ``importance_weighted_bound``.
        """
        return {"log_prob": self.importance_weighted_bound(
            images, self.config.log_prob_samples)}

    def posterior_noise(self, seeds, num_samples):
        """Standard-normal noise (B, num_samples, latent_dim) of the bound."""
        return rng.normal(seeds, [num_samples, self.latent_dim],
                          instance_seed=self.instance_seed, salt=_BOUND_SALT)

    def importance_weighted_bound(self, images, num_samples, seeds=None):
        """The k-sample importance-weighted bound (Burda et al. 2016).

        log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) with z_i ~ q(z|x), a
        stochastic lower bound on log p(x) whose expectation does not
        decrease with k; at k = 1 it is a one-sample ELBO estimate. The noise
        is stateless, so the result is deterministic. Memory grows as
        B * k * H * W * C (times num_levels when categorical).

        Args:
            images: (B, H, W, C); 0/1 for the Bernoulli likelihood, integer
                levels for the categorical one.
            num_samples: k, a Python int >= 1.
            seeds: optional int (B,), the noise seed of each row. ``None``
                uses the same seed for every row, so that an image's bound
                does not depend on the rest of its batch; evaluation passes
                distinct seeds to make the rows' errors independent.

        Returns:
            (B,) float32 bounds in nats.

        Raises:
            ValueError: ``num_samples`` < 1.
            InvalidArgumentError: Bernoulli images that are not 0 or 1.
        """
        num_samples = int(num_samples)
        if num_samples < 1:
            raise ValueError(f"num_samples={num_samples} must be positive")
        targets = self._targets(images)
        if not self.categorical:
            # The Bernoulli log-likelihood of a gray value is not a density.
            tf.debugging.assert_equal(
                targets * (1.0 - targets), tf.zeros_like(targets),
                message="images must be 0 or 1 for a Bernoulli likelihood")
        posterior = self.posterior(images)
        batch_size = tf.shape(targets)[0]
        if seeds is None:
            noise = tf.broadcast_to(
                self.posterior_noise(tf.zeros([1], tf.int64), num_samples),
                [batch_size, num_samples, self.latent_dim])
        else:
            noise = self.posterior_noise(seeds, num_samples)
        noise = tf.transpose(noise, [1, 0, 2])  # (k, B, latent_dim)
        codes = posterior.mean() + posterior.stddev() * noise  # (k, B, latent_dim)
        log_weights = (self.likelihood(codes).log_prob(targets)
                       + self.prior().log_prob(codes)
                       - posterior.log_prob(codes))  # (k, B)
        return (tf.reduce_logsumexp(log_weights, axis=0)
                - tf.math.log(float(num_samples)))  # (B,)
