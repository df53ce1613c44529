"""Tests of the deep autoencoder of Hinton & Salakhutdinov (2006).

The RBM maths is checked against closed forms: the Gaussian-hidden free
energy against numerical integration over the hidden unit; the closed-form
CD gradient, with the hidden means in place of the probabilities at the
Gaussian code, against automatic differentiation of the free energies; the
code RBM's CD-1 updates against the rule and SGD with momentum written out
in numpy on hand-made numbers over two steps; and the unrolled network
against the mean-field up-down pass through the RBM stack computed in numpy
from the RBMs' weights.
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
from zoo.boltzmann import energy

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = deep_ae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = deep_ae.DeepAutoencoder(_config(**fields), info)
    model.build_for_training()
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


@pytest.mark.parametrize("gaussian_visible", [False, True])
def test_closed_form_cd_gradient_with_hidden_means_is_the_free_energy_gradient(
        gaussian_visible):
    rng = np.random.default_rng(1)
    weights = tf.Variable(rng.normal(size=(4, 3)), dtype=tf.float32)
    visible_bias = tf.Variable(rng.normal(size=4), dtype=tf.float32)
    hidden_bias = tf.Variable(rng.normal(size=3), dtype=tf.float32)
    data = tf.constant(rng.random((5, 4)), tf.float32)
    negative = tf.constant(rng.random((7, 4)), tf.float32)  # another count
    parameters = [weights, visible_bias, hidden_bias]
    with tf.GradientTape() as tape:
        # The CD objective: mean F(data) - mean F(negatives).
        objective = (tf.reduce_mean(deep_ae.gaussian_hidden_free_energy(
            data, *parameters, gaussian_visible=gaussian_visible))
            - tf.reduce_mean(deep_ae.gaussian_hidden_free_energy(
                negative, *parameters, gaussian_visible=gaussian_visible)))
    expected = tape.gradient(objective, parameters)

    def means(visible):  # E[h|v] = b + W'v: Gaussian hidden units
        return visible @ weights + hidden_bias

    closed_form = energy.contrastive_divergence_gradients(
        data, means(data), negative, means(negative))
    for name, ours, theirs in zip(("weights", "visible", "hidden"),
                                  closed_form, expected):
        assert float(tf.reduce_max(tf.abs(theirs))) > 1e-2, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_every_rbm_step_descends_its_free_energy_gap(loss):
    # Every RBM of the stack (Gaussian pixels under squared_error, binary
    # hidden units, the Gaussian code on top): with plain SGD and no decay,
    # a step moves the RBM by -lr times the autodiff gradient of
    # mean F(v_data) - mean F(v_negative), the negatives held fixed.
    model = _model(loss=loss, weight_decay=0.0,
                   **{"optimizers.pretrain.momentum": 0.0,
                      "optimizers.pretrain_code.momentum": 0.0})
    images = _digits(8)
    rng = np.random.default_rng(2)
    for layer in range(model.num_layers):
        visible = model.layer_input(tf.constant(images), layer)  # (B, V)
        parameters = list(model.rbm(layer))
        width = int(parameters[0].shape[1])
        if model.is_code_layer(layer):
            hidden = rng.normal(size=(8, width))
        else:
            hidden = (rng.random((8, width)) < 0.5).astype(np.float64)
        hidden = tf.constant(hidden, tf.float32)
        # The positive phase's draw, fixed so that the step is replayable.
        model.hidden_sample = lambda visible, index, hidden=hidden: hidden
        negative = model.visible_means(hidden, layer)
        with tf.GradientTape() as tape:
            gap = (tf.reduce_mean(model.rbm_free_energy(visible, layer))
                   - tf.reduce_mean(model.rbm_free_energy(negative, layer)))
        gradients = tape.gradient(gap, parameters)
        before = [np.array(parameter) for parameter in parameters]
        model.begin_stage(f"pretrain_layer_{layer}")
        model.train_step(_batch(images))
        rate = model.config.optimizers[
            model.pretraining_optimizer(layer)].learning_rate
        assert rate == (0.01 if model.is_code_layer(layer) else 0.1)
        for parameter, gradient, value in zip(parameters, gradients, before):
            np.testing.assert_allclose(
                parameter, value - rate * np.array(gradient), rtol=1e-5,
                atol=1e-6, err_msg=f"{parameter.path} of layer {layer}")
        np.testing.assert_array_equal(model.decoder_layers[layer].kernel,
                                      np.array(parameters[0]).T)


def test_code_rbm_cd1_steps_are_the_closed_form_rule_with_momentum():
    # One RBM, pixels -> a 2-unit Gaussian code: layer 0 is the code layer.
    info = DataInfo(name="mock", event_shape=(1, 3, 1), num_levels=2,
                    num_classes=2)
    rate, momentum, decay = 0.05, 0.5, 0.01
    model = _model(info, hidden_units=(), code_dim=2, weight_decay=decay,
                   **{"optimizers.pretrain_code.learning_rate": rate,
                      "optimizers.pretrain_code.momentum": momentum})
    weights = np.array([[0.7, -0.4], [-1.1, 0.3], [0.2, 0.9]])
    visible_bias = np.array([0.5, -0.2, 0.1])
    hidden_bias = np.array([-0.3, 0.6])
    model_weights, model_visible_bias, model_hidden_bias = model.rbm(0)
    model_weights.assign(weights)
    model_visible_bias.assign(visible_bias)
    model_hidden_bias.assign(hidden_bias)
    data = np.array([[1.0, 0.0, 1.0], [0.2, 0.7, 0.4]])  # (B, V)
    # The positive phase's samples h ~ N(b + W'v, I), fixed by hand.
    draws = [np.array([[0.5, -1.0], [2.0, 0.25]]),
             np.array([[-0.75, 1.5], [0.1, -2.0]])]  # (B, H) per step
    velocities = [np.zeros_like(weights), np.zeros_like(visible_bias),
                  np.zeros_like(hidden_bias)]
    model.begin_stage("pretrain_layer_0")
    for step, hidden in enumerate(draws):
        model.hidden_sample = (
            lambda visible, layer, hidden=hidden: tf.constant(hidden,
                                                              tf.float32))
        for metric in model.metrics:
            metric.reset_state()
        logs = model.train_step(_batch(
            data.astype(np.float32).reshape(2, 1, 3, 1)))

        # The CD-1 rule in numpy, from the weights before this step.
        negative = _sigmoid(visible_bias + hidden @ weights.T)  # E[v|h]
        data_means = hidden_bias + data @ weights  # E[h|v], (B, H)
        negative_means = hidden_bias + negative @ weights
        gradients = [  # of F(data) - F(negative), to descend
            (negative.T @ negative_means - data.T @ data_means) / 2
            + decay * weights,  # the decay on the weight matrix only
            (negative - data).mean(0),
            (negative_means - data_means).mean(0)]
        # SGD with momentum: v <- mu v - lr g, W <- W + v.
        velocities = [momentum * velocity - rate * gradient
                      for velocity, gradient in zip(velocities, gradients)]
        weights, visible_bias, hidden_bias = (
            value + velocity for value, velocity in zip(
                (weights, visible_bias, hidden_bias), velocities))
        for name, variable, expected in (
                ("weights", model_weights, weights),
                ("visible bias", model_visible_bias, visible_bias),
                ("hidden bias", model_hidden_bias, hidden_bias)):
            np.testing.assert_allclose(variable, expected, rtol=1e-5,
                                       atol=1e-6,
                                       err_msg=f"{name} at step {step}")
        # Unrolled: the decoder's kernel is the RBM's, transposed.
        np.testing.assert_array_equal(model.decoder_layers[0].kernel,
                                      np.array(model_weights).T)
        np.testing.assert_allclose(
            logs["layer_loss"], np.mean(np.sum((data - negative) ** 2, -1)),
            rtol=1e-5)


def test_rbm_pretraining_keeps_no_momentum_for_the_tied_decoder_kernels():
    model = _model()
    groups = model.optimizer_variables()
    decoder_kernels = {layer.kernel.path for layer in model.decoder_layers}
    for name in ("pretrain", "pretrain_code"):
        # Each RBM's weights and biases, each with its one momentum.
        assert not decoder_kernels & {v.path for v in groups[name]}, name
        assert len(model.optimizers[name].momentums) == len(groups[name])
    assert [v.path for v in groups["pretrain_code"]] == [
        v.path for v in model.pretrained_variables(model.num_layers - 1)]
    assert {v.path for v in groups["pretrain"]} == {
        v.path for layer in range(model.num_layers - 1)
        for v in model.rbm(layer)}
    assert decoder_kernels <= {v.path for v in groups["finetune"]}
    # Greedy autoencoders train their decoders: those kernels are theirs.
    autoencoders = _model(pretraining="autoencoders")
    assert {layer.kernel.path for layer in autoencoders.decoder_layers} <= {
        v.path for name in ("pretrain", "pretrain_code")
        for v in autoencoders.optimizer_variables()[name]}


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
    # The network's own output (linear pixels unclipped; the served
    # reconstruction clips them to [0, 1]).
    codes = model.encode(tf.constant(images))["codes"]
    reconstruction = np.array(model.decoded_images(codes))
    np.testing.assert_allclose(reconstruction.reshape(32, -1), hidden,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(
        model.reconstruct(tf.constant(images))["images"],
        np.clip(reconstruction, 0.0, 1.0))


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
    model = _model(hidden_units=(32, 16), code_dim=4,
                   **{"optimizers.finetune.learning_rate": 0.01})
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
    ("optimizers.pretrain.learning_rate", 0.0),
    ("optimizers.pretrain_code.learning_rate", 0.0),
    ("optimizers.pretrain_code.momentum", 1.0),
    ("weight_decay", -1e-4),
    ("loss", "hinge"),
    ("preprocessing", "levels"),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(errors.UsageError, match=f"config.{field}"):
        deep_ae.DeepAutoencoder(_config(**{field: value}), MOCK)
