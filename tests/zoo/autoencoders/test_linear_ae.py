"""Tests of the linear autoencoder and Baldi & Hornik's (1989) theorem.

The forward maps and the loss are checked against numpy by hand; the
theorem, that the trained network spans the principal subspace, is checked
against ``pca.principal_components`` (itself checked against scikit-learn in
``test_pca.py``) with scipy's principal angles.
"""

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from sklearn.datasets import load_digits

import zoo  # noqa: F401  (fills the registry)
from tfgen import errors
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.autoencoders import linear_ae
from zoo.autoencoders import pca

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)
DIGITS = load_digits().images[..., None].astype(np.float32) / 16.0  # (N,8,8,1)
LEARNING_RATE = "optimizers.model.learning_rate"


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = linear_ae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = linear_ae.LinearAutoencoder(_config(**fields), info)
    model.compile_for_training()
    return model


def _encoder_weights(model):
    kernel, bias = (np.asarray(v) for v in model.encoder.layers[-1].weights)
    return kernel.T, bias  # A (code_dim, D), a (code_dim,)


def _subspace_angles(model, directions):
    decoder, _ = model.decoder_weights()
    return scipy.linalg.subspace_angles(np.asarray(decoder, np.float64),
                                        directions)


# --- Config and registry. -----------------------------------------------


def test_configs_are_locked_and_registered():
    config, tiny = linear_ae.get_config(), linear_ae.get_config("tiny")
    assert (config.loss, config.preprocessing) == ("squared_error", "unit")
    assert config.optimizers.model.learning_rate == 5e-3
    assert config.code_dim == pca.get_config().code_dim  # comparable runs
    assert tiny.epochs == 1 and tiny.code_dim < config.code_dim
    with pytest.raises(AttributeError):
        config.hidden_units = (3,)  # not a field of a linear model
    with pytest.raises(ValueError, match="variant"):
        linear_ae.get_config("huge")
    spec = registry.get("linear_ae")
    assert spec.model_class is linear_ae.LinearAutoencoder
    assert spec.family == "autoencoders"
    assert spec.capabilities == ("encode", "decode", "reconstruct")


@pytest.mark.parametrize("fields, field", [
    ({"code_dim": 65}, "config.code_dim"),  # more than the 64 pixels
    ({"code_dim": 0}, "config.code_dim"),
    ({"loss": "cross_entropy"}, "config.loss"),
    ({"preprocessing": "levels"}, "config.preprocessing"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        linear_ae.LinearAutoencoder(_config(**fields), MOCK)


# --- The maps and the loss, by hand. -----------------------------------------


def test_codec_and_loss_are_affine_maps_and_squared_error_by_hand():
    model = _model(code_dim=3, **{LEARNING_RATE: 1e-2})
    assert model.code_size == 3
    images = DIGITS[:7]
    flat = images.reshape(7, -1).astype(np.float64)  # (7, 64)
    encoder, encoder_bias = _encoder_weights(model)
    decoder, decoder_bias = (np.asarray(v) for v in model.decoder_weights())
    codes = flat @ encoder.T + encoder_bias  # (7, 3)
    reconstructions = codes @ decoder.T + decoder_bias  # (7, 64)

    np.testing.assert_allclose(model.encode(images)["codes"], codes,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.reshape(model.decoded_images(model.encode(images)["codes"]),
                   (7, -1)), reconstructions, rtol=1e-5, atol=1e-5)
    terms = model.loss_terms(tf.constant(images), training=True)
    expected = np.sum((flat - reconstructions)**2, axis=1)
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(terms["squared_error"], expected, rtol=1e-5)

    # train_step reports the loss before its update, then moves every weight.
    before = [variable.numpy() for variable in model.trainable_variables]
    logs = model.train_step({"image": tf.constant(images)})
    np.testing.assert_allclose(logs["loss"], expected.mean(), rtol=1e-5)
    for variable, value in zip(model.trainable_variables, before):
        assert not np.allclose(variable.numpy(), value), variable.path


# --- Baldi & Hornik (1989): it learns PCA's subspace. ----------------------


def test_trained_linear_autoencoder_spans_the_principal_subspace():
    code_dim = 4
    flat = DIGITS.reshape(len(DIGITS), -1)
    num_images = len(flat)
    mean, directions, variances = (
        t.numpy() for t in pca.principal_components(flat))
    top = directions[:, :code_dim]  # (64, 4)
    # PCA's training error, the linear autoencoder's global minimum.
    optimum = (num_images - 1) / num_images * variances[code_dim:].sum()

    model = _model(code_dim=code_dim, **{LEARNING_RATE: 0.03})
    untrained = _subspace_angles(model, top)
    # Full-batch Adam through the one training loop's fit: 1,000 steps.
    batch = {"image": tf.constant(DIGITS)}
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(1000),
              shuffle=False, verbose=0)

    # The principal angles between the decoder's columns and the top 4
    # principal directions. Gradient descent closes them geometrically, at
    # a rate set by the gap between the 4th and 5th eigenvalues (0.39 and
    # 0.27 here); 1,000 steps leave about 1e-4 rad. The 0.01 rad tolerance
    # allows for rounding and Adam's jitter elsewhere, yet is far below
    # the untrained model's angles and the pi/2 of a subspace that swaps
    # one principal direction for the next one.
    angles = _subspace_angles(model, top)
    assert untrained.max() > 1.0, untrained
    assert angles.max() < 0.01, angles
    wrong = np.concatenate([top[:, :-1], directions[:, code_dim:][:, :1]],
                           axis=1)
    assert _subspace_angles(model, wrong).max() > 1.5

    # At the minimum the codec is PCA's, x_hat = W W^T (x - m) + m, on the
    # data. (Baldi & Hornik assume an invertible covariance; digits has
    # pixels that are blank in every image, and the encoder's weights on
    # them get no gradient, so B A equals W W^T only on the data's span.)
    # The tolerance is 0.2% of a pixel's range; 1,000 steps leave 3e-4.
    projected = (flat - mean) @ top @ top.T + mean  # (N, 64)
    np.testing.assert_allclose(
        np.reshape(model.decoded_images(model.encode(DIGITS)["codes"]),
                   flat.shape), projected, atol=2e-3)
    error = float(tf.reduce_mean(model.loss_terms(
        tf.constant(DIGITS), training=False)["squared_error"]))
    assert optimum <= error * (1 + 1e-5), (error, optimum)  # nothing beats PCA
    assert error < optimum * 1.001, (error, optimum)
