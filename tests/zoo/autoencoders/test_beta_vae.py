"""Tests of the beta-VAE (Higgins et al. 2017).

The training loss is checked against -(reconstruction - beta * KL) computed
by hand in numpy; beta = 1 must be the VAE exactly; the reported bound must
not depend on beta; and a larger beta must buy a smaller KL after training.
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
from zoo.autoencoders import beta_vae
from zoo.autoencoders import vae

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = beta_vae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    return beta_vae.BetaVAE(_config(**fields), info)


def _binary(batch_size, seed=0):
    draw = np.random.RandomState(seed).uniform(size=(batch_size, 8, 8, 1))
    return (draw < 0.4).astype(np.float32)


def _batch(images):
    return {"image": tf.constant(images),
            "label": tf.zeros([len(images)], tf.int64)}


def _numpy_forward(network, inputs):
    """The MLP in numpy: relu on every Dense layer but the last."""
    dense = [layer for layer in network.layers
             if isinstance(layer, keras.layers.Dense)]
    hidden = inputs.reshape(len(inputs), -1).astype(np.float64)
    for index, layer in enumerate(dense):
        kernel, bias = (np.asarray(v, np.float64) for v in layer.weights)
        hidden = hidden @ kernel + bias
        if index < len(dense) - 1:
            hidden = np.maximum(hidden, 0.0)
    return hidden


def _numpy_terms(model, images, noise):
    """Hand-computed log p(x|z) and the Gaussian KL, each (B,)."""
    loc, raw = np.split(_numpy_forward(model.encoder, images), 2, axis=-1)
    scale = np.logaddexp(0.0, raw) + 1e-4  # softplus plus the floor
    logits = _numpy_forward(model.decoder, loc + scale * noise)
    targets = images.reshape(len(images), -1)
    reconstruction = -(targets * np.logaddexp(0.0, -logits)
                       + (1 - targets) * np.logaddexp(0.0, logits)).sum(1)
    kl = 0.5 * np.sum(loc**2 + scale**2 - 1.0 - 2.0 * np.log(scale), axis=1)
    return reconstruction, kl


def test_config_adds_beta_to_the_vae_config():
    config, tiny = beta_vae.get_config(), beta_vae.get_config("tiny")
    assert config.beta == 2.0 and tiny.beta == 2.0
    assert tiny.epochs == 1
    for name, value in vae.get_config().items():
        assert config[name] == value, name
    with pytest.raises(AttributeError):
        config.betta = 2.0  # locked
    with pytest.raises(ValueError, match="beta_vae config variant"):
        beta_vae.get_config("huge")


def test_registered_under_beta_vae():
    spec = registry.get("beta_vae")
    assert spec.model_class is beta_vae.BetaVAE
    assert spec.family == "autoencoders"
    assert spec.capabilities == vae.VAE.capabilities


@pytest.mark.parametrize("fields, field", [
    ({"beta": -0.5}, "config.beta"),
    ({"beta": float("nan")}, "config.beta"),
    ({"latent_dim": 0}, "config.latent_dim"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        beta_vae.BetaVAE(_config(**fields), MOCK)


def test_training_loss_is_the_beta_weighted_elbo_by_hand():
    beta = 2.5
    model = _model(beta=beta, latent_dim=3, hidden_units=(12,))
    images = _binary(6)
    # train_step draws its noise from a SeedGenerator seeded by config.seed
    # and reports the metrics of the weights before its update.
    noise = keras.ops.convert_to_numpy(keras.random.normal(
        (6, 3), seed=keras.random.SeedGenerator(model.config.seed)))
    reconstruction, kl = _numpy_terms(model, images, noise)

    model.compile_for_training()
    logs = model.train_step(_batch(images))
    np.testing.assert_allclose(logs["loss"],
                               -(reconstruction - beta * kl).mean(),
                               rtol=1e-4)
    # The reported ELBO and its terms do not depend on beta.
    np.testing.assert_allclose(logs["elbo"], (reconstruction - kl).mean(),
                               rtol=1e-4)
    np.testing.assert_allclose(logs["kl"], kl.mean(), rtol=1e-4)
    np.testing.assert_allclose(logs["reconstruction"], reconstruction.mean(),
                               rtol=1e-4)
    # beta > 1 and KL > 0: the objective is worse than the ELBO.
    assert float(logs["loss"]) > -float(logs["elbo"])


def test_beta_one_is_the_vae_exactly():
    fields = {"latent_dim": 3, "hidden_units": (12,)}
    beta_model = _model(beta=1.0, **fields,
                        **{"optimizers.model.learning_rate": 1e-2})
    config = vae.get_config("tiny")
    for name, value in fields.items():
        setattr(config, name, value)
    config.optimizers.model.learning_rate = 1e-2
    keras.utils.set_random_seed(0)
    vae_model = vae.VAE(config, MOCK)
    batch = _batch(_binary(8))
    for model in (beta_model, vae_model):
        model.compile_for_training()
    for step in range(3):  # the same losses give the same updates
        beta_logs = beta_model.train_step(batch)
        vae_logs = vae_model.train_step(batch)
        for name in ("loss", "elbo", "reconstruction", "kl"):
            np.testing.assert_array_equal(beta_logs[name], vae_logs[name],
                                          err_msg=f"{name} at step {step}")
    for ours, theirs in zip(beta_model.trainable_variables,
                            vae_model.trainable_variables):
        np.testing.assert_array_equal(ours, theirs)


def test_log_prob_is_the_vae_bound_whatever_beta():
    images = tf.constant(_binary(5, seed=3))
    bounds = [_model(beta=beta).log_prob(images)["log_prob"].numpy()
              for beta in (0.0, 1.0, 8.0)]  # same seed, same weights
    keras.utils.set_random_seed(0)
    plain = vae.VAE(vae.get_config("tiny"), MOCK)
    expected = plain.log_prob(images)["log_prob"].numpy()
    for bound in bounds:
        np.testing.assert_array_equal(bound, expected)


def test_larger_beta_gives_a_smaller_kl_after_training():
    """Higgins et al.'s trade: beta = 8 ends with less information in z."""
    images = load_digits().images[..., None] / 16.0
    binary = (np.random.RandomState(0).uniform(size=images.shape)
              < images).astype(np.float32)
    train, test = binary[:1000], binary[1437:]
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": train, "label": np.zeros(len(train), np.int64)})
    info = DataInfo(name="digits", event_shape=(8, 8, 1), num_levels=17,
                    num_classes=10)
    results = {}
    for beta in (1.0, 8.0):
        model = _model(info, beta=beta, latent_dim=4, hidden_units=(64,),
                       **{"optimizers.model.learning_rate": 3e-3})
        model.compile_for_training()
        model.fit(dataset.batch(50), epochs=6, shuffle=False, verbose=0)
        results[beta] = model.evaluate(
            tf.data.Dataset.from_tensor_slices(
                {"image": test, "label": np.zeros(len(test), np.int64)}
            ).batch(360), verbose=0, return_dict=True)
    assert results[8.0]["kl"] < 0.7 * results[1.0]["kl"], results
    assert results[8.0]["reconstruction"] < results[1.0]["reconstruction"]
    assert results[8.0]["elbo"] < results[1.0]["elbo"], results
