"""Tests of the IAF posterior (Kingma et al. 2016).

What would fail if the flow's maths were wrong: each step's Jacobian is
triangular under its ordering, with its log-scales on the diagonal; the
log-determinant the model uses equals log |det| of the explicit Jacobian;
log q(z|x) of the model's own samples equals TFP's density at the same
point (reached by the sequential inverse); the flowed density integrates
to one on a 2-D grid; with no flow step the posterior is the VAE's Gaussian
and the KL estimate averages to the closed form.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import zoo  # noqa: F401  (fills the registry)
from tfgen import errors
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.autoencoders import iaf_vae

tfb = tfp.bijectors

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = iaf_vae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(scramble=True, **fields):
    """A tiny model; ``scramble`` gives its flow non-identity weights."""
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = iaf_vae.IAFVAE(_config(**fields), MOCK)
    if scramble:
        # The output layers start at zero (each step the identity); random
        # values make every step a genuinely nonlinear map.
        rng = np.random.RandomState(1)
        for network in model.autoregressive_networks:
            for variable in (network.output_kernel, network.output_bias):
                # 0.3: the log-scales stay moderate, so that the density
                # of a 2-D flow lies well inside a grid of [-8, 8]^2.
                variable.assign(0.3 * rng.standard_normal(variable.shape))
    return model


def _binary(batch_size, seed=0):
    draw = np.random.RandomState(seed).uniform(size=(batch_size, 8, 8, 1))
    return (draw < 0.4).astype(np.float32)


def _steps_and_inputs(flow, base_codes):
    """Each IAF step of a flow, with the codes it receives, in order."""
    steps, inputs, codes = [], [], base_codes
    for bijector in reversed(flow.bijectors):  # a Chain applies last first
        if not isinstance(bijector, tfb.Permute):
            steps.append(bijector)
            inputs.append(codes)
        codes = bijector.forward(codes)
    return steps, inputs


# --- Config and registry. -----------------------------------------------


def test_config_and_registry():
    config = iaf_vae.get_config()
    assert (config.num_flows, config.context_dim) == (4, 32)
    assert config.latent_dim == 8 and config.epochs == 200
    assert iaf_vae.get_config("tiny").epochs == 1
    spec = registry.get("iaf_vae")
    assert spec.model_class is iaf_vae.IAFVAE
    assert spec.family == "autoencoders"
    with pytest.raises(ValueError, match="iaf_vae config variant"):
        iaf_vae.get_config("huge")


@pytest.mark.parametrize("fields, field", [
    ({"num_flows": -1}, "config.num_flows"),
    ({"context_dim": 0}, "config.context_dim"),
    ({"flow_hidden_units": ()}, "config.flow_hidden_units"),
    ({"flow_hidden_units": (8, 0)}, "config.flow_hidden_units"),
    ({"latent_dim": 0}, "config.latent_dim"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        iaf_vae.IAFVAE(_config(**fields), MOCK)


# --- The flow. --------------------------------------------------------------


def test_each_step_has_a_triangular_jacobian_with_its_log_scales():
    model = _model(latent_dim=4, num_flows=3)
    images = tf.constant(_binary(3))
    posterior = model.posterior(images)
    noise = tf.random.stateless_normal([3, 4], seed=[3, 4])
    base = posterior.distribution
    steps, inputs = _steps_and_inputs(posterior.bijector,
                                      base.mean() + base.stddev() * noise)
    assert len(steps) == 3
    for step, codes in zip(steps, inputs):
        # A new tensor: TFP's bijectors cache the forward pass of a tensor
        # they have seen, and a cached output is not on the tape.
        codes = tf.identity(codes)
        with tf.GradientTape() as tape:
            tape.watch(codes)
            outputs = step.forward(codes)
        jacobian = tape.batch_jacobian(outputs, codes).numpy()  # (B, D, D)
        # dz_i / dz_j = 0 for j > i: z_i reads only earlier dimensions.
        assert np.all(np.triu(jacobian, k=1) == 0.0)
        assert np.abs(np.tril(jacobian, k=-1)).max() > 1e-3
        log_diagonal = np.log(np.abs(np.diagonal(jacobian, axis1=1,
                                                 axis2=2)))
        np.testing.assert_allclose(
            step.forward_log_det_jacobian(codes, event_ndims=1),
            log_diagonal.sum(axis=1), rtol=1e-5, atol=1e-5)

    # For a one-step flow the same holds from the posterior noise eps on.
    model = _model(latent_dim=4, num_flows=1)
    posterior = model.posterior(images)
    with tf.GradientTape() as tape:
        tape.watch(noise)
        codes, _ = model.posterior_codes(posterior, noise)
    jacobian = tape.batch_jacobian(codes, noise).numpy()
    assert np.all(np.triu(jacobian, k=1) == 0.0)


def test_log_posterior_uses_the_log_det_of_the_whole_flow():
    model = _model(latent_dim=4, num_flows=3)
    images = tf.constant(_binary(3, seed=1))
    posterior = model.posterior(images)
    noise = tf.random.stateless_normal([3, 4], seed=[5, 6])
    base = posterior.distribution
    base_codes = base.mean() + base.stddev() * noise
    with tf.GradientTape() as tape:
        tape.watch(base_codes)
        codes = posterior.bijector.forward(base_codes)
    jacobian = tape.batch_jacobian(codes, base_codes)
    # The reversals between steps: the whole map is not triangular.
    assert np.abs(np.triu(jacobian.numpy(), k=1)).max() > 1e-3
    _, log_det = tf.linalg.slogdet(tf.cast(jacobian, tf.float64))
    _, log_posterior = model.posterior_codes(posterior, noise)
    np.testing.assert_allclose(
        log_posterior, base.log_prob(base_codes).numpy() - log_det.numpy(),
        rtol=1e-5, atol=1e-4)


def test_own_samples_have_the_density_of_the_inverted_flow():
    model = _model(latent_dim=3, num_flows=2)
    images = tf.constant(_binary(4, seed=2))
    posterior = model.posterior(images)
    noise = tf.random.stateless_normal([5, 4, 3], seed=[7, 8])  # (k, B, D)
    codes, log_posterior = model.posterior_codes(posterior, noise)
    assert codes.shape == (5, 4, 3) and log_posterior.shape == (5, 4)
    # TFP's log_prob inverts the flow one dimension at a time (the MAF
    # direction), a different computation from the one-pass sample.
    np.testing.assert_allclose(posterior.log_prob(codes), log_posterior,
                               rtol=1e-4, atol=1e-4)
    base = posterior.distribution
    np.testing.assert_allclose(posterior.bijector.inverse(codes),
                               base.mean() + base.stddev() * noise,
                               rtol=1e-4, atol=1e-4)


def test_flowed_density_integrates_to_one_in_two_dimensions():
    model = _model(latent_dim=2, num_flows=2)
    posterior = model.posterior(tf.constant(_binary(1, seed=3)))
    axis = np.linspace(-8.0, 8.0, 321)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1)
    points = tf.constant(grid.reshape(-1, 1, 2), tf.float32)  # (N, 1, 2)
    density = np.exp(posterior.log_prob(points).numpy()[:, 0])
    cell = (axis[1] - axis[0])**2
    # The density is smooth and decays like a Gaussian well inside the grid,
    # so the Riemann sum is accurate to far better than 1e-3.
    np.testing.assert_allclose(density.sum() * cell, 1.0, atol=1e-3)
    # And it is not the base Gaussian: the flow changed the density.
    base_density = np.exp(posterior.distribution.log_prob(points).numpy()[
        :, 0])
    assert np.abs(density - base_density).max() > 1e-2


def test_without_flow_steps_the_posterior_is_the_vae_gaussian():
    model = _model(latent_dim=2, num_flows=0)
    assert not model.autoregressive_networks
    image = tf.constant(_binary(1, seed=4))
    posterior = model.posterior(image)
    base = posterior.distribution
    num_draws = 20000
    noise = tf.random.stateless_normal([num_draws, 1, 2], seed=[9, 10])
    codes, log_posterior = model.posterior_codes(posterior, noise)
    loc, scale = base.mean().numpy(), base.stddev().numpy()  # (1, 2)
    np.testing.assert_allclose(codes, loc + scale * noise.numpy(), rtol=1e-6)
    expected = -0.5 * np.sum(noise.numpy()**2 + np.log(2 * np.pi)
                             + 2 * np.log(scale), axis=-1)
    np.testing.assert_allclose(log_posterior, expected, rtol=1e-5)
    # The sample KL estimate averages to the closed form, within four
    # standard errors.
    estimates = model.kl_term(posterior, codes, log_posterior).numpy()[:, 0]
    closed_form = 0.5 * np.sum(loc**2 + scale**2 - 1 - 2 * np.log(scale))
    tolerance = 4 * estimates.std() / np.sqrt(num_draws)
    assert abs(estimates.mean() - closed_form) < tolerance, (
        estimates.mean(), closed_form)


def test_fresh_flow_steps_are_the_identity():
    model = _model(scramble=False, latent_dim=3, num_flows=2)
    posterior = model.posterior(tf.constant(_binary(2)))
    noise = tf.random.stateless_normal([2, 3], seed=[1, 1])
    codes, log_posterior = model.posterior_codes(posterior, noise)
    base = posterior.distribution
    base_codes = base.mean() + base.stddev() * noise
    # Two identity steps with the reversal between them.
    np.testing.assert_allclose(codes, base_codes.numpy()[:, ::-1], atol=1e-6)
    np.testing.assert_allclose(log_posterior, base.log_prob(base_codes),
                               atol=1e-5)


# --- Training and capabilities. ---------------------------------------------


def test_gradients_reach_every_flow_weight_and_the_context():
    model = _model(latent_dim=3, num_flows=2)
    images = tf.constant(_binary(8))
    noise = tf.random.stateless_normal([8, 3], seed=[2, 3])
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.elbo_terms(images, noise)["elbo"])
    variables = model.trainable_variables
    flow_variables = [variable for network in model.autoregressive_networks
                      for variable in network.trainable_variables]
    # Per step: a masked kernel and bias, the context's kernel, and the
    # output kernel and bias of the shift and the log-scale.
    assert len(flow_variables) == 2 * 5
    assert all(any(variable is other for other in variables)
               for variable in flow_variables)
    gradients = tape.gradient(loss, variables)
    for variable, gradient in zip(variables, gradients):
        assert gradient is not None, variable.path
        assert float(tf.norm(gradient)) > 0.0, variable.path


def test_training_on_a_fixed_batch_lowers_the_loss():
    model = _model(scramble=False, hidden_units=(32,),
                   **{"optimizers.model.learning_rate": 1e-2})
    model.compile_for_training()
    batch = {"image": tf.constant(_binary(16)),
             "label": tf.zeros([16], tf.int64)}
    before = float(model.test_step(batch)["loss"])
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(150), shuffle=False,
              verbose=0)
    for metric in model.metrics:
        metric.reset_state()
    after = float(model.test_step(batch)["loss"])
    assert after < before - 10.0, (before, after)


def test_capabilities_trace_and_encode_is_the_flowed_mean():
    model = _model(latent_dim=2, num_flows=2)
    images = tf.constant(_binary(5))
    posterior = model.posterior(images)
    codes = model.encode(images)["codes"]
    np.testing.assert_allclose(
        codes, posterior.bijector.forward(posterior.distribution.mean()),
        atol=1e-6)
    np.testing.assert_allclose(model.reconstruct(images)["images"],
                               model.decode(codes)["images"], atol=1e-6)
    arguments = {"images": images, "codes": codes,
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
    log_prob = model.log_prob(images)["log_prob"].numpy()
    assert np.all(np.isfinite(log_prob)) and np.all(log_prob < 0)
