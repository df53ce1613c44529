"""Tests of the VAE (Kingma & Welling 2014) and IWAE bound (Burda et al. 2016).

The maths is checked against closed forms computed by hand in numpy: the
ELBO with its Gaussian KL, the normalization of the categorical likelihood,
the k=1 bound against the one-sample ELBO and, in expectation, against the
ELBO integrated by Gauss-Hermite quadrature.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

import zoo  # noqa: F401  (fills the registry)
from tfgen import errors
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.autoencoders import vae

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = vae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    return vae.VAE(_config(**fields), info)


def _binary(batch_size, shape=(8, 8, 1), seed=0):
    draw = np.random.RandomState(seed).uniform(size=(batch_size,) + shape)
    return (draw < 0.4).astype(np.float32)


def _levels(batch_size, num_levels=17, seed=0):
    return np.random.RandomState(seed).randint(
        0, num_levels, size=(batch_size, 8, 8, 1)).astype(np.int32)


def _batch(images):
    return {"image": tf.constant(images),
            "label": tf.zeros([len(images)], tf.int32)}


def _test_loss(model, batch):
    for metric in model.metrics:
        metric.reset_state()
    return float(model.test_step(batch)["loss"])


def _numpy_forward(layers, inputs):
    """MLP forward pass in numpy: relu on every Dense layer but the last."""
    dense = [layer for layer in layers
             if isinstance(layer, keras.layers.Dense)]
    hidden = inputs.reshape(len(inputs), -1)
    for index, layer in enumerate(dense):
        kernel, bias = (np.asarray(v) for v in layer.weights)
        hidden = hidden @ kernel + bias
        if index < len(dense) - 1:
            hidden = np.maximum(hidden, 0.0)
    return hidden


def _numpy_posterior(model, images):
    params = _numpy_forward(model.encoder.layers, images.astype(np.float64))
    loc, raw = np.split(params, 2, axis=-1)
    return loc, np.logaddexp(0.0, raw) + 1e-4  # softplus plus the floor


def _numpy_bernoulli_log_likelihood(model, images, codes):
    logits = _numpy_forward(model.decoder.layers, codes)  # (B, num_pixels)
    targets = images.reshape(len(images), -1)
    # log sigmoid(l) = -softplus(-l), log sigmoid(-l) = -softplus(l)
    return -(targets * np.logaddexp(0.0, -logits)
             + (1 - targets) * np.logaddexp(0.0, logits)).sum(axis=1)


def _numpy_gaussian_kl(loc, scale):
    return 0.5 * np.sum(loc**2 + scale**2 - 1.0 - 2.0 * np.log(scale), axis=1)


# --- Config and registry. -----------------------------------------------


def test_configs_are_locked_and_tiny_is_small():
    config, tiny = vae.get_config(), vae.get_config("tiny")
    assert (config.likelihood, config.preprocessing) == (
        "bernoulli", "binarize_dynamic")
    assert config.log_prob_samples == 100
    assert tiny.epochs == 1 and sum(tiny.hidden_units) < sum(
        config.hidden_units)
    with pytest.raises(AttributeError):
        config.latent_dimension = 3  # misspelt field
    with pytest.raises(ValueError, match="variant"):
        vae.get_config("huge")


def test_registered_under_vae():
    spec = registry.get("vae")
    assert spec.model_class is vae.VAE and spec.family == "autoencoders"
    assert vae.VAE.log_prob_kind == "lower_bound"  # the IWAE bound
    assert spec.get_config is vae.get_config
    assert spec.capabilities == ("sample", "log_prob", "encode", "decode",
                                 "reconstruct")


@pytest.mark.parametrize("fields, field", [
    ({"likelihood": "categorical"}, "config.likelihood"),
    ({"likelihood": "gaussian"}, "config.likelihood"),
    ({"preprocessing": "levels"}, "config.preprocessing"),
    ({"latent_dim": 0}, "config.latent_dim"),
    ({"hidden_units": (16, 0)}, "config.hidden_units"),
    ({"log_prob_samples": 0}, "config.log_prob_samples"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        vae.VAE(_config(**fields), MOCK)


# --- The maths. -----------------------------------------------------------


def test_loss_is_minus_elbo_computed_by_hand():
    model = _model(latent_dim=3, hidden_units=(12, 7))
    images = _binary(6)
    noise = np.random.RandomState(1).normal(size=(6, 3))
    loc, scale = _numpy_posterior(model, images)
    codes = loc + scale * noise
    reconstruction = _numpy_bernoulli_log_likelihood(model, images, codes)
    kl = _numpy_gaussian_kl(loc, scale)

    terms = model.elbo_terms(tf.constant(images),
                             tf.constant(noise, tf.float32))
    np.testing.assert_allclose(terms["reconstruction"], reconstruction,
                               rtol=1e-4)
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(terms["elbo"], reconstruction - kl, rtol=1e-4)

    # train_step draws its noise from a SeedGenerator seeded by config.seed
    # and reports the metrics of the weights before its update.
    noise = keras.ops.convert_to_numpy(keras.random.normal(
        (6, 3), seed=keras.random.SeedGenerator(model.config.seed)))
    expected = -(_numpy_bernoulli_log_likelihood(
        model, images, loc + scale * noise) - kl).mean()
    model.compile_for_training()
    logs = model.train_step(_batch(images))
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(logs["elbo"], -logs["loss"], rtol=1e-6)
    np.testing.assert_allclose(
        logs["elbo"], logs["reconstruction"] - logs["kl"], rtol=1e-5)


def test_categorical_likelihood_is_normalized():
    model = _model(likelihood="categorical", preprocessing="levels")
    codes = tf.constant([[0.3, -1.2]])
    likelihood = model.likelihood(codes)
    # Every pixel's distribution over the 17 levels sums to one.
    per_level = tf.stack([
        likelihood.distribution.log_prob(tf.fill([1, 8, 8, 1], level))
        for level in range(17)])  # (17, 1, 8, 8, 1)
    np.testing.assert_allclose(tf.reduce_logsumexp(per_level, axis=0), 0.0,
                               atol=1e-5)
    # The decoded image is the expected level over num_levels - 1.
    probs = likelihood.distribution.probs_parameter().numpy()
    np.testing.assert_allclose(model.decode(codes)["images"],
                               (probs * np.arange(17)).sum(-1) / 16,
                               rtol=1e-5)

    # Whole images of a 2x1-pixel, 3-level toy: all 9 probabilities sum to 1.
    toy = DataInfo(name="toy", event_shape=(2, 1, 1), num_levels=3,
                   num_classes=1)
    model = _model(toy, likelihood="categorical", preprocessing="levels")
    images = np.array([[a, b] for a in range(3) for b in range(3)],
                      np.int32).reshape(9, 2, 1, 1)
    log_probs = model.likelihood(tf.constant([[0.7, 0.1]])).log_prob(images)
    assert log_probs.shape == (9,)
    np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, rtol=1e-5)


def test_one_sample_bound_is_the_elbo_estimate_with_the_same_z():
    model = _model(latent_dim=3)
    images = _binary(4, seed=2)
    seeds = tf.constant([11, 12, 13, 14], tf.int64)
    bound = model.importance_weighted_bound(tf.constant(images), 1, seeds)

    loc, scale = _numpy_posterior(model, images)
    noise = model.posterior_noise(seeds, 1).numpy()[:, 0]  # (4, 3)
    codes = loc + scale * noise
    log_prior = -0.5 * np.sum(codes**2 + np.log(2 * np.pi), axis=1)
    log_posterior = -0.5 * np.sum(noise**2 + np.log(2 * np.pi)
                                  + 2 * np.log(scale), axis=1)
    expected = (_numpy_bernoulli_log_likelihood(model, images, codes)
                + log_prior - log_posterior)
    np.testing.assert_allclose(bound, expected, rtol=1e-4)


def test_one_sample_bound_averages_to_the_analytic_elbo():
    # A 1-D latent, so that E_q[log p(x|z)] is an exact Gauss-Hermite sum.
    model = _model(latent_dim=1)
    image = _binary(1, seed=3)
    num_seeds = 4000
    bounds = tf.function(model.importance_weighted_bound)(
        tf.constant(np.repeat(image, num_seeds, axis=0)), 1,
        tf.range(num_seeds, dtype=tf.int64)).numpy()

    loc, scale = _numpy_posterior(model, image)
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    codes = loc + scale * nodes[:, None]  # (60, 1)
    log_likelihoods = _numpy_bernoulli_log_likelihood(
        model, np.repeat(image, len(nodes), axis=0), codes)
    expected = (weights @ log_likelihoods / np.sqrt(2 * np.pi)
                - _numpy_gaussian_kl(loc, scale)[0])
    # Four standard errors: fails by chance about once in 16,000 runs, and
    # the seeds are fixed anyway.
    tolerance = 4 * bounds.std() / np.sqrt(num_seeds)
    assert abs(bounds.mean() - expected) < tolerance, (bounds.mean(), expected)


def test_many_sample_bound_approaches_the_exact_log_likelihood():
    # A 1-D latent, so that log p(x) = log of the integral of p(x|z) p(z)
    # over z is a quadrature.
    model = _model(latent_dim=1)
    image = _binary(1, seed=4)
    grid = np.linspace(-12.0, 12.0, 24001)[:, None]  # (24001, 1)
    log_joint = (_numpy_bernoulli_log_likelihood(
        model, np.repeat(image, len(grid), axis=0), grid)
        - 0.5 * (grid[:, 0]**2 + np.log(2 * np.pi)))
    log_marginal = (np.logaddexp.reduce(log_joint)
                    + np.log(grid[1, 0] - grid[0, 0]))  # Riemann sum

    num_samples = 2000
    bound = float(model.importance_weighted_bound(
        tf.constant(image), num_samples, tf.constant([7], tf.int64))[0])
    # The estimate is a bound in expectation only; one draw is off by about
    # std(w) / (mean(w) sqrt(k)) for the weights w = p(x, z) / q(z|x), whose
    # spread the one-sample bounds give. Without the -log k term the
    # estimate would exceed log p(x) by log 2000 = 7.6 nats.
    log_weights = tf.function(model.importance_weighted_bound)(
        tf.constant(np.repeat(image, num_samples, axis=0)), 1,
        tf.range(num_samples, dtype=tf.int64)).numpy()
    weights = np.exp(log_weights - log_weights.max())
    tolerance = 4 * weights.std() / weights.mean() / np.sqrt(num_samples)
    assert log_weights.mean() < bound
    assert abs(bound - log_marginal) < tolerance + 1e-3, (
        bound, log_marginal, tolerance)


@pytest.fixture(scope="module")
def digits_model():
    """A VAE trained for a few seconds on binarized sklearn digits."""
    images = load_digits().images[..., None] / 16.0  # (1797, 8, 8, 1)
    binary = (np.random.RandomState(0).uniform(size=images.shape)
              < images).astype(np.float32)
    train, test = binary[:1437], binary[1437:]
    info = DataInfo(name="digits", event_shape=(8, 8, 1), num_levels=17,
                    num_classes=10)
    model = _model(info, latent_dim=4, hidden_units=(64,),
                   **{"optimizers.model.learning_rate": 3e-3})
    model.compile_for_training()
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": train, "label": np.zeros(len(train), np.int32)})
    history = model.fit(dataset.shuffle(len(train), seed=0).batch(64),
                        epochs=15, shuffle=False, verbose=0)
    return model, test, history.history


def test_bound_does_not_decrease_with_k_on_trained_digits(digits_model):
    model, test, history = digits_model
    assert history["loss"][-1] < history["loss"][0] - 5.0
    seeds = tf.range(len(test), dtype=tf.int64)
    bounds = [float(tf.reduce_mean(model.importance_weighted_bound(
        tf.constant(test), k, seeds))) for k in (1, 10, 100)]
    assert bounds[0] <= bounds[1] <= bounds[2] <= 0.0, bounds


# --- Training. --------------------------------------------------------------


def test_gradients_reach_the_encoder_through_the_reconstruction():
    model = _model()
    images = tf.constant(_binary(8))
    noise = tf.random.stateless_normal([8, 2], seed=[1, 2])
    with tf.GradientTape() as tape:
        # The reconstruction term alone: only the reparametrized sample
        # connects it to the encoder (the KL term would do so regardless).
        terms = model.elbo_terms(images, noise)
        loss = -tf.reduce_mean(terms["reconstruction"])
    gradients = tape.gradient(loss, model.encoder.trainable_variables)
    for variable, gradient in zip(model.encoder.trainable_variables,
                                  gradients):
        assert gradient is not None, variable.path
        assert float(tf.norm(gradient)) > 0.0, variable.path


def test_training_on_a_fixed_batch_lowers_the_loss():
    model = _model(hidden_units=(32,),
                   **{"optimizers.model.learning_rate": 1e-2})
    model.compile_for_training()
    batch = _batch(_binary(16))
    before = _test_loss(model, batch)
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(150), shuffle=False,
              verbose=0)
    after = _test_loss(model, batch)
    assert after < before - 10.0, (before, after)


def test_test_step_is_deterministic():
    model = _model()
    batch = _batch(_binary(8))
    assert _test_loss(model, batch) == _test_loss(model, batch)


# --- Capabilities. ----------------------------------------------------------


def test_sample_is_deterministic_per_row():
    model = _model()
    first = model.sample(tf.constant([5, 6, 7], tf.int64))["images"].numpy()
    again = model.sample(tf.constant([5, 6, 7], tf.int64))["images"].numpy()
    np.testing.assert_array_equal(first, again)
    assert first.shape == (3, 8, 8, 1) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    assert np.abs(first[0] - first[1]).max() > 1e-3  # other seed, other image
    alone = model.sample(tf.constant([6], tf.int64))["images"].numpy()
    shifted = model.sample(tf.constant([9, 6], tf.int64))["images"].numpy()
    np.testing.assert_allclose(alone[0], first[1], atol=1e-6)
    np.testing.assert_allclose(shifted[1], first[1], atol=1e-6)


@pytest.mark.parametrize("likelihood, preprocessing, images", [
    ("bernoulli", "binarize_dynamic", _binary(5)),
    ("categorical", "levels", _levels(5)),
])
def test_capabilities_shapes_ranges_and_traced_signatures(
        likelihood, preprocessing, images):
    model = _model(likelihood=likelihood, preprocessing=preprocessing)
    images = tf.constant(images)
    encoded = model.encode(images)
    assert encoded["codes"].shape == (5, 2) == encoded["scales"].shape
    assert float(tf.reduce_min(encoded["scales"])) > 0.0
    for outputs in (model.decode(tf.random.normal([5, 2]) * 3),
                    model.reconstruct(images)):
        assert outputs["images"].shape == (5, 8, 8, 1)
        assert outputs["images"].dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(outputs["images"]))
        assert float(tf.reduce_max(outputs["images"])) <= 1.0
    log_prob = model.log_prob(images)["log_prob"]
    assert log_prob.shape == (5,)
    assert np.all(np.isfinite(log_prob)) and np.all(log_prob.numpy() < 0)

    # Each capability traces from its declared inputs alone, as the export
    # layer traces it, and gives the eager answer.
    arguments = {"images": images, "codes": encoded["codes"],
                 "seed": tf.constant([1, 2, 3], tf.int64)}
    for capability in model.capabilities:
        inputs = model.capability_inputs(capability)
        traced = tf.function(getattr(model, capability)).get_concrete_function(
            **{name: spec.spec for name, spec in inputs.items()})
        given = {name: arguments[name] for name in inputs}
        eager = getattr(model, capability)(**given)
        for name, value in traced(**given).items():
            np.testing.assert_allclose(value, eager[name], rtol=1e-5,
                                       atol=1e-5)
    assert model.capability_inputs("decode")["codes"].spec == tf.TensorSpec(
        [None, 2], tf.float32)


def test_log_prob_rejects_gray_images_for_the_bernoulli_likelihood():
    model = _model()
    with pytest.raises(tf.errors.InvalidArgumentError, match="0 or 1"):
        model.log_prob(tf.fill([2, 8, 8, 1], 0.5))


@pytest.mark.parametrize("likelihood, preprocessing", [
    ("bernoulli", "binarize_static"), ("categorical", "levels")])
def test_builds_unchanged_on_28x28(likelihood, preprocessing):
    info = DataInfo(name="mnist", event_shape=(28, 28, 1), num_levels=256,
                    num_classes=10)
    model = _model(info, likelihood=likelihood, preprocessing=preprocessing)
    if likelihood == "bernoulli":
        images = _binary(4, shape=(28, 28, 1))
    else:
        images = np.random.RandomState(0).randint(
            0, 256, size=(4, 28, 28, 1)).astype(np.int32)
    model.compile_for_training()
    logs = model.train_step(_batch(images))
    assert np.isfinite(float(logs["loss"]))
    assert model.sample(tf.constant([1, 2], tf.int64))["images"].shape == (
        2, 28, 28, 1)
    assert model.importance_weighted_bound(images, 3).shape == (4,)
