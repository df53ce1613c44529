"""Tests of the deep autoencoder of Hinton & Salakhutdinov (2006).

The RBM maths is checked against closed forms: the Gaussian-hidden free
energy against numerical integration over the hidden unit, the code RBM's
CD-1 update against the rule written out in numpy on hand-made numbers, and
the unrolled network against the mean-field up-down pass through the RBM
stack computed in numpy from the RBMs' weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate
from sklearn.datasets import load_digits

import zoo  # noqa: F401  (fills the registry)
from tfgen import errors
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.autoencoders import deep_ae

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    config = deep_ae.get_config("tiny")
    for name, value in fields.items():
        setattr(config, name, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = deep_ae.DeepAutoencoder(_config(**fields), info)
    model.compile_for_training()
    return model


def _digits(count):
    """The first ``count`` scikit-learn digits as [0, 1] images (B, 8, 8, 1)."""
    images = load_digits().images[:count] / 16.0
    return images[..., None].astype(np.float32)


def _batch(images):
    return {"image": tf.constant(images),
            "label": tf.zeros([len(images)], tf.int64)}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _values(variables):
    return [np.array(variable) for variable in variables]


def _pretrain(model, batch, steps):
    for stage, _ in model.training_stages()[:-1]:
        model.begin_stage(stage)
        for _ in range(steps):
            model.train_step(batch)
    model.begin_stage("finetune")


def test_registered_with_its_config():
    spec = registry.get("deep_ae")
    assert spec.model_class is deep_ae.DeepAutoencoder
    assert spec.family == "autoencoders"
    assert spec.get_config().pretraining == "rbm"
    assert set(spec.capabilities) == {"encode", "decode", "reconstruct"}


def test_gaussian_hidden_free_energy_integrates_the_energy():
    weights = np.array([[0.7, -0.4], [-1.1, 0.3], [0.2, 0.9]])  # (V, H)
    visible_bias = np.array([0.5, -0.2, 0.1])
    hidden_bias = np.array([-0.3, 0.6])
    visible = np.array([[1.0, 0.0, 1.0], [0.2, 0.7, 0.4]])  # (B, V)
    for gaussian_visible in (False, True):
        if gaussian_visible:
            visible_term = 0.5 * np.sum((visible - visible_bias) ** 2, -1)
        else:
            visible_term = -visible @ visible_bias
        expected = []
        for row, v in enumerate(visible):
            # The energy separates over hidden units: one 1-D integral each.
            log_integral = 0.0
            for j in range(2):
                def integrand(h, v=v, j=j):
                    return np.exp(v @ weights[:, j] * h
                                  - 0.5 * (h - hidden_bias[j]) ** 2)

                value, _ = integrate.quad(integrand, -np.inf, np.inf)
                log_integral += np.log(value)
            expected.append(visible_term[row] - log_integral)
        actual = deep_ae.gaussian_hidden_free_energy(
            tf.constant(visible, tf.float32), tf.constant(weights, tf.float32),
            tf.constant(visible_bias, tf.float32),
            tf.constant(hidden_bias, tf.float32),
            gaussian_visible=gaussian_visible)
        # float32 against quad's double precision.
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_code_rbm_cd1_update_is_the_closed_form_rule():
    # One RBM, pixels -> a 2-unit Gaussian code: layer 0 is the code layer.
    info = DataInfo(name="mock", event_shape=(1, 3, 1), num_levels=2,
                    num_classes=2)
    model = _model(info, hidden_units=(), code_dim=2, momentum=0.5,
                   weight_decay=0.01, code_learning_rate=0.05)
    weights = np.array([[0.7, -0.4], [-1.1, 0.3], [0.2, 0.9]], np.float32)
    visible_bias = np.array([0.5, -0.2, 0.1], np.float32)
    hidden_bias = np.array([-0.3, 0.6], np.float32)
    model_weights, model_visible_bias, model_hidden_bias = model.rbm(0)
    model_weights.assign(weights)
    model_visible_bias.assign(visible_bias)
    model_hidden_bias.assign(hidden_bias)
    data = np.array([[1.0, 0.0, 1.0], [0.2, 0.7, 0.4]], np.float32)  # (B, V)
    # The positive phase's sample h ~ N(b + W'v, I), fixed by hand.
    hidden = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)  # (B, H)
    model.hidden_sample = lambda visible, layer: tf.constant(hidden)

    model.begin_stage("pretrain_layer_0")
    logs = model.train_step(_batch(data.reshape(2, 1, 3, 1)))

    negative = _sigmoid(visible_bias + hidden @ weights.T)  # mean of p(v|h)
    data_means = hidden_bias + data @ weights  # E[h|v], (B, H)
    negative_means = hidden_bias + negative @ weights
    delta_weights = (data.T @ data_means - negative.T @ negative_means) / 2
    rate = 0.05  # code_learning_rate; first step: the velocity starts at 0
    np.testing.assert_allclose(
        model_weights, weights + rate * (delta_weights - 0.01 * weights),
        rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model_hidden_bias,
        hidden_bias + rate * (data_means - negative_means).mean(0),
        rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model_visible_bias,
        visible_bias + rate * (data - negative).mean(0), rtol=1e-5, atol=1e-6)
    # Unrolled: the decoder's kernel is the RBM's, transposed.
    np.testing.assert_array_equal(model.decoder_layers[0].kernel,
                                  np.array(model_weights).T)
    np.testing.assert_allclose(
        logs["layer_loss"], np.mean(np.sum((data - negative) ** 2, -1)),
        rtol=1e-5)


def test_code_units_are_gaussian_around_their_conditional_mean():
    model = _model()
    visible = tf.constant(np.random.default_rng(0).random((1, 8)),
                          tf.float32)
    weights, _, hidden_bias = model.rbm(2)  # (8, 2): the code RBM
    draws = np.array(model.hidden_sample(tf.tile(visible, [20000, 1]), 2))
    mean = np.array(visible @ weights + hidden_bias)[0]
    # 20,000 unit-variance draws: the standard error of the mean is 0.007.
    np.testing.assert_allclose(draws.mean(0), mean, atol=0.03)
    np.testing.assert_allclose(draws.var(0), [1.0, 1.0], atol=0.05)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_unrolled_stack_reconstructs_by_the_up_down_pass(loss):
    model = _model(loss=loss)
    images = _digits(32)
    _pretrain(model, _batch(images), steps=5)

    # The mean-field pass up the RBMs and back down, from their parameters.
    rbms = [[np.array(v, np.float64) for v in model.rbm(layer)]
            for layer in range(model.num_layers)]
    hidden = images.reshape(32, -1).astype(np.float64)
    for layer, (weights, _, hidden_bias) in enumerate(rbms):
        hidden = hidden @ weights + hidden_bias
        if layer < model.num_layers - 1:  # the code units are linear
            hidden = _sigmoid(hidden)
    for layer, (weights, visible_bias, _) in reversed(list(enumerate(rbms))):
        hidden = hidden @ weights.T + visible_bias
        if layer > 0 or loss == "cross_entropy":  # Gaussian pixels: linear
            hidden = _sigmoid(hidden)
    reconstruction = np.array(model.reconstruct(tf.constant(images))["images"])
    np.testing.assert_allclose(reconstruction.reshape(32, -1), hidden,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("pretraining", ["rbm", "autoencoders"])
def test_a_pretraining_stage_changes_only_its_own_layer(pretraining):
    model = _model(pretraining=pretraining)
    batch = _batch(_digits(16))
    before = {variable.path: np.array(variable)
              for variable in model.trainable_variables}
    model.begin_stage("pretrain_layer_1")
    model.train_step(batch)
    changed = {variable.path for variable in model.trainable_variables
               if not np.array_equal(variable, before[variable.path])}
    assert changed == {variable.path
                       for variable in model.layer_variables(1)}


def test_finetuning_lowers_the_reconstruction_error_of_a_fixed_batch():
    model = _model(hidden_units=(32, 16), code_dim=4, learning_rate=0.01)
    batch = _batch(_digits(64))
    _pretrain(model, batch, steps=20)
    for metric in model.metrics:
        metric.reset_state()
    start = float(model.test_step(batch)["squared_error"])
    train_step = tf.function(model.train_step)
    for _ in range(100):
        train_step(batch)
    for metric in model.metrics:
        metric.reset_state()
    end = float(model.test_step(batch)["squared_error"])
    assert end < 0.5 * start, (start, end)


def test_training_stages_follow_the_pretraining():
    assert [name for name, _ in _model().training_stages()] == [
        "pretrain_layer_0", "pretrain_layer_1", "pretrain_layer_2",
        "finetune"]
    assert _model(pretraining="none").training_stages() == [("finetune", 1)]
    with pytest.raises(ValueError, match="pretrain_layer_0"):
        _model(pretraining="none").begin_stage("pretrain_layer_0")


@pytest.mark.parametrize("field, value", [
    ("pretraining", "pca"),
    ("hidden_units", (16, 0)),
    ("code_dim", 0),
    ("pretrain_epochs", -1),
    ("pretrain_learning_rate", 0.0),
    ("code_learning_rate", 0.0),
    ("momentum", 1.0),
    ("weight_decay", -1e-4),
    ("loss", "hinge"),
    ("preprocessing", "levels"),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(errors.UsageError, match=f"config.{field}"):
        deep_ae.DeepAutoencoder(_config(**{field: value}), MOCK)
