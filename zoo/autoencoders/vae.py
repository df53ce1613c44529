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

The variants in this package subclass ``VAE`` through a few hooks:
``condition_size``/``condition_features`` (inputs both networks see besides
the image or code: ``cvae``'s labels), ``encoder_output_size`` and
``posterior`` (``iaf_vae``'s flow context), ``posterior_codes`` and
``kl_term`` (a posterior without a closed-form KL) and ``training_loss``
(``beta_vae``'s weighted KL). Every method that reads the networks takes an
optional ``labels`` argument, which the unconditional models ignore.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen.model import GenerativeModel

tfd = tfp.distributions

LIKELIHOODS = ("bernoulli", "categorical")

# The preprocessings whose pixels each likelihood is a distribution over.
_PREPROCESSINGS = {
    "bernoulli": ("binarize_dynamic", "binarize_static"),
    "categorical": ("levels",),
}

# Floor on the posterior stddev: softplus underflows to 0 for very negative
# inputs, which would make log q(z|x) infinite.
MIN_SCALE = 1e-4


def get_config(variant=None):
    """Returns the VAE's locked config.

    ``python -m tfgen.train --model=vae`` trains on ``digits`` (1,257
    training images, dynamically binarized), evaluates and exports it in
    about 65 s on 2 CPU cores, end to end. Expected on the 360 test images:
    negative ELBO 22.4-22.8 nats and, by the k=100 importance-weighted
    bound, -log p(x) <= 22.3-22.5 nats (independent pixels: 27.2 nats).

    ``--config.likelihood=categorical --config.preprocessing=levels
    --epochs=40`` models the 17 gray levels instead: test bound about 92.5
    nats (2.08 bits/dim); it overfits the small training set beyond about
    40 epochs.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("vae", variant)
    config = config_lib.base_config(
        latent_dim=8,  # 2 draws a latent manifold, at about 1 nat's cost
        hidden_units=(256, 128),  # encoder; the decoder mirrors them
        # 'bernoulli' models preprocessing 'binarize_dynamic' or
        # 'binarize_static'; 'categorical' models 'levels'.
        likelihood="bernoulli",
        log_prob_samples=100,  # k of the bound that log_prob reports
    )
    config.preprocessing = "binarize_dynamic"
    config.batch_size = 64
    config.epochs = 200
    if variant == "tiny":
        config.sample_quality = False
        config.parzen_samples = 0
        config.latent_dim = 2
        config.hidden_units = (16,)
        config.epochs = 1
        config.log_prob_samples = 10
        config.num_grid_samples = 16
    config.lock()
    return config


def _validate(config):
    """Raises ``UsageError`` naming the field of a bad VAE config."""
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
    for name in ("latent_dim", "log_prob_samples"):
        if config[name] < 1:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be positive")
    if any(units < 1 for units in config.hidden_units):
        raise errors.UsageError(
            f"config.hidden_units={config.hidden_units} must be positive")


@registry.register("vae", family="autoencoders",
                   get_config=get_config,
                   paper="Kingma & Welling 2014; bound of Burda et al. 2016")
class VAE(GenerativeModel):
    """Variational autoencoder with an MLP encoder and decoder.

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
    metric_names = ("loss", "elbo", "reconstruction", "kl")
    log_prob_kind = "lower_bound"

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        self.latent_dim = int(config.latent_dim)
        self.code_size = self.latent_dim
        self.num_levels = int(data_info.num_levels)
        self.categorical = config.likelihood == "categorical"
        image_shape = tuple(data_info.image_shape)
        # One logit per pixel (Bernoulli), or per pixel and level.
        logits_shape = image_shape + ((self.num_levels,)
                                      if self.categorical else ())
        hidden = [int(units) for units in config.hidden_units]
        dense = keras.layers.Dense
        conditions = self.condition_size()
        # Flat pixels, then the conditioning features (if any).
        self.encoder = keras.Sequential(
            [keras.Input((math.prod(image_shape) + conditions,))]
            + [dense(units, activation="relu") for units in hidden]
            + [dense(self.encoder_output_size())],  # mean and raw scale
            name="encoder")
        self.decoder = keras.Sequential(
            [keras.Input((self.latent_dim + conditions,))]
            + [dense(units, activation="relu") for units in reversed(hidden)]
            + [dense(math.prod(logits_shape)),
               keras.layers.Reshape(logits_shape)],
            name="decoder")
        # Both networks are built from their Inputs, so the model needs no
        # data to build (fit under tf.distribute insists on a built model).
        self.built = True

    # --- Hooks of the variants. -----------------------------------------

    def condition_size(self):
        """Width of the features both networks get besides x or z: none."""
        return 0

    def condition_features(self, labels):
        """Returns the (B, condition_size) conditioning features, or None.

        Args:
            labels: (B,) integer classes, or ``None``; the VAE ignores them.
        """
        del labels
        return None

    def encoder_output_size(self):
        """Width of the encoder's output: a mean and a raw scale per code."""
        return 2 * self.latent_dim

    def training_loss(self, terms):
        """Returns the (B,) quantity training minimizes: the negative ELBO.

        Args:
            terms: ``elbo_terms``'s dict.
        """
        return -terms["elbo"]

    # --- The three distributions. ---------------------------------------

    def encoder_inputs(self, images, labels=None):
        """Returns the encoder's (B, H*W*C + condition_size) input."""
        features = tf.cast(images, tf.float32)
        if self.categorical:
            features /= self.num_levels - 1  # levels to [0, 1]
        features = tf.reshape(features, [tf.shape(features)[0], -1])
        conditions = self.condition_features(labels)
        if conditions is None:
            return features
        return tf.concat([features, conditions], axis=-1)

    def posterior(self, images, labels=None):
        """Returns q(z|x), a diagonal Gaussian with batch shape (B,)."""
        params = self.encoder(self.encoder_inputs(images, labels))  # (B, 2D)
        loc, raw_scale = tf.split(params, 2, axis=-1)  # (B, latent_dim) each
        scale = tf.nn.softplus(raw_scale) + MIN_SCALE
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def posterior_codes(self, posterior, noise):
        """Reparametrized codes and their log-density under the posterior.

        Args:
            posterior: ``posterior``'s result, batch shape (B,).
            noise: (..., B, latent_dim) standard-normal draws.

        Returns:
            ``(codes, log_posterior)``: z = mu + s * noise, (..., B,
            latent_dim), differentiable in the encoder's weights, and
            log q(z|x), (..., B).
        """
        codes = posterior.mean() + posterior.stddev() * noise
        return codes, posterior.log_prob(codes)

    def kl_term(self, posterior, codes, log_posterior):
        """Returns KL(q(z|x) || p(z)), (B,), in closed form.

        Args:
            posterior: ``posterior``'s result.
            codes: (B, latent_dim), the ELBO's sample (unused here).
            log_posterior: (B,), its log q(z|x) (unused here).
        """
        del codes, log_posterior
        return tfd.kl_divergence(posterior, self.prior())

    def code_prior(self):
        """The prior p(z) over the codes: the plots draw its quantiles."""
        return self.prior()

    def prior(self):
        """Returns p(z) = N(0, I) over (latent_dim,)."""
        return tfd.MultivariateNormalDiag(
            loc=tf.zeros([self.latent_dim]),
            scale_diag=tf.ones([self.latent_dim]))

    def likelihood(self, codes, labels=None):
        """Returns p(x|z) for codes (..., latent_dim); events are (H, W, C).

        Args:
            codes: (..., B, latent_dim).
            labels: (B,) classes, for a conditional variant's p(x|z, y).
        """
        leading = tf.shape(codes)[:-1]
        inputs = codes
        conditions = self.condition_features(labels)  # (B, K) or None
        if conditions is not None:
            conditions = tf.broadcast_to(conditions, tf.concat(
                [leading, tf.shape(conditions)[-1:]], axis=0))
            inputs = tf.concat([codes, conditions], axis=-1)
        logits = self.decoder(tf.reshape(
            inputs, [-1, self.latent_dim + self.condition_size()]))
        # (N, H, W, C[, levels]) -> (..., H, W, C[, levels])
        logits = tf.reshape(
            logits, tf.concat([leading, tf.shape(logits)[1:]], axis=0))
        if self.categorical:
            pixels = tfd.Categorical(logits=logits)
        else:
            pixels = tfd.Bernoulli(logits=logits, dtype=tf.float32)
        return tfd.Independent(pixels, reinterpreted_batch_ndims=3)

    def _targets(self, images):
        """Images as the likelihood's events: 0/1 floats or integer levels."""
        return tf.cast(images, tf.int32 if self.categorical else tf.float32)

    def _mean_image(self, likelihood):
        """E[x|z] in [0, 1]; an expected level is divided by num_levels - 1."""
        if not self.categorical:
            return likelihood.mean()
        probs = likelihood.distribution.probs_parameter()  # (..., H, W, C, L)
        levels = tf.range(self.num_levels, dtype=probs.dtype)
        return tf.reduce_sum(probs * levels, axis=-1) / (self.num_levels - 1)

    # --- Training. ------------------------------------------------------

    def elbo_terms(self, images, noise, labels=None):
        """Per-image ELBO for given posterior noise (Kingma & Welling 2014).

        Args:
            images: (B, H, W, C), as the dataset gives them.
            noise: (B, latent_dim) standard-normal draws; the code is the
                reparametrized z = mu + s * noise, differentiable in the
                encoder's weights.
            labels: (B,) classes; read by conditional variants only.

        Returns:
            ``{"reconstruction": log p(x|z), "kl": KL(q(z|x) || p(z)),
            "elbo": reconstruction - kl}``, each (B,) in nats; the KL is
            ``kl_term``'s (closed form here).
        """
        posterior = self.posterior(images, labels)
        codes, log_posterior = self.posterior_codes(posterior, noise)
        reconstruction = self.likelihood(codes, labels).log_prob(
            self._targets(images))  # (B,)
        kl = self.kl_term(posterior, codes, log_posterior)  # (B,)
        return {"reconstruction": reconstruction, "kl": kl,
                "elbo": reconstruction - kl}

    def _metric_values(self, terms):
        return {"loss": self.training_loss(terms), **terms}

    def train_step(self, batch):
        images = batch["image"]  # (B, H, W, C)
        noise = self.training_noise((tf.shape(images)[0], self.latent_dim),
                                    distribution="normal")
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(images, noise, batch.get("label"))
            loss = tf.reduce_mean(self.training_loss(terms))
        self.minimize(tape, loss)
        return self.update_metrics(self._metric_values(terms))

    def test_step(self, batch):
        images = batch["image"]
        # Fixed noise: two evaluations of the same weights give the same
        # loss, so epochs and runs compare models rather than draws.
        noise = self.stream("evaluation").normal(
            [tf.shape(images)[0], self.latent_dim])
        return self.update_metrics(self._metric_values(
            self.elbo_terms(images, noise, batch.get("label"))))

    # --- Capabilities. --------------------------------------------------
    # A conditional variant declares them labelled; the unconditional VAE
    # is called without labels.

    def _encode(self, images, labels=None):
        """Returns q(z|x) as ``{"codes": mean, "scales": stddev}``, (B, D)."""
        posterior = self.posterior(images, labels)
        return {"codes": posterior.mean(), "scales": posterior.stddev()}

    def _decode(self, codes, labels=None):
        """Returns ``{"images": E[x|z]}``, float32 (B, H, W, C) in [0, 1]."""
        return {"images": self._mean_image(self.likelihood(codes, labels))}

    def _sample(self, seed, labels=None):
        """Decodes z ~ p(z) drawn from ``seed[i]`` alone; as ``decode``."""
        codes = self.stream("sample").normal_rows(
            seed, [self.latent_dim])  # (B, latent_dim)
        return self._decode(codes, labels)

    def _reconstruct(self, images, labels=None):
        """Decodes the posterior mean; as ``decode``."""
        return self._decode(self._encode(images, labels)["codes"], labels)

    def _log_prob(self, images, labels=None):
        """Returns ``{"log_prob": (B,)}``, a lower bound on log p(x) in nats.

        The bound is ``importance_weighted_bound`` with k =
        ``config.log_prob_samples``.
        """
        return {"log_prob": self.importance_weighted_bound(
            images, self.config.log_prob_samples, labels=labels)}

    def posterior_noise(self, seeds, num_samples):
        """Returns the bound's noise (B, num_samples, latent_dim) for seeds."""
        return self.stream("bound").normal_rows(
            seeds, [num_samples, self.latent_dim])

    def importance_weighted_bound(self, images, num_samples, seeds=None,
                                  labels=None):
        """The k-sample importance-weighted bound (Burda et al. 2016).

        log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) with z_i ~ q(z|x): a
        lower bound on log p(x) in expectation, non-decreasing in k; at k = 1
        a one-sample ELBO estimate. The noise is stateless, so the result is
        deterministic. Memory grows as B * k * H * W * C (times num_levels
        for the categorical likelihood): callers batch accordingly.

        Args:
            images: (B, H, W, C); 0/1 for the Bernoulli likelihood, integer
                levels for the categorical one.
            num_samples: k, a Python int >= 1.
            seeds: optional integer (B,), the noise seed of each row. ``None``
                gives every row the same seed, so that an image's bound does
                not depend on the rest of its batch; distinct seeds make the
                rows' Monte-Carlo errors independent.
            labels: (B,) classes; a conditional variant's bound is on
                log p(x|y).

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
            # A gray value's Bernoulli "log-likelihood" is not a probability.
            tf.debugging.assert_equal(
                targets * (1.0 - targets), tf.zeros_like(targets),
                message="images must be 0 or 1 for a Bernoulli likelihood")
        posterior = self.posterior(images, labels)
        if seeds is None:
            noise = tf.broadcast_to(
                self.posterior_noise(tf.zeros([1], tf.int64), num_samples),
                [tf.shape(targets)[0], num_samples, self.latent_dim])
        else:
            noise = self.posterior_noise(seeds, num_samples)
        noise = tf.transpose(noise, [1, 0, 2])  # (k, B, latent_dim)
        codes, log_posterior = self.posterior_codes(
            posterior, noise)  # (k, B, D), (k, B)
        log_weights = (self.likelihood(codes, labels).log_prob(targets)
                       + self.prior().log_prob(codes)
                       - log_posterior)  # (k, B)
        return (tf.reduce_logsumexp(log_weights, axis=0)
                - tf.math.log(float(num_samples)))  # (B,)
