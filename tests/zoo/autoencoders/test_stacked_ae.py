"""Tests of the stacked autoencoder of Bengio, Lamblin, Popovici & Larochelle.

Greedy layer-wise training of deep networks (2007).

The greedy objective is checked against numpy: stage i reconstructs the codes
that the layers below give for the data, and its updates are steps of SGD
with momentum and weight decay on that objective, replayed by hand over two
steps, by the stage's own named optimizer, touching nothing else.
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
from zoo.autoencoders import stacked_ae

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = stacked_ae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(**fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = stacked_ae.StackedAutoencoder(_config(**fields), MOCK)
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


def _numpy_layer_loss(model, images, layer, loss):
    """Stage ``layer``'s objective, written out in numpy, (B,)."""
    params = [[np.array(v, np.float64) for v in model.layer_variables(index)]
              for index in range(model.num_layers)]
    codes = images.reshape(len(images), -1).astype(np.float64)
    for below in range(layer):  # the codes of stage layer - 1
        kernel, bias, _, _ = params[below]
        codes = _sigmoid(codes @ kernel + bias)
    kernel, bias, back_kernel, back_bias = params[layer]
    hidden = codes @ kernel + bias
    if layer < model.num_layers - 1:  # the code layer is linear
        hidden = _sigmoid(hidden)
    outputs = hidden @ back_kernel + back_bias
    if loss == "squared_error":
        return np.sum((codes - outputs) ** 2, axis=-1)
    # Cross-entropy of the targets in [0, 1] against s(outputs).
    return np.sum(np.logaddexp(0, outputs) - codes * outputs, axis=-1)


def test_registered_with_its_config():
    spec = registry.get("stacked_ae")
    assert spec.model_class is stacked_ae.StackedAutoencoder
    assert spec.family == "autoencoders"
    assert set(spec.capabilities) == {"encode", "decode", "reconstruct"}
    optimizers = spec.get_config().optimizers
    assert dict(optimizers.pretrain) == {"algorithm": "sgd",
                                         "learning_rate": 0.1,
                                         "momentum": 0.9}
    assert dict(optimizers.pretrain_code) == {"algorithm": "sgd",
                                              "learning_rate": 0.01,
                                              "momentum": 0.9}
    assert dict(optimizers.finetune) == {"algorithm": "adam",
                                         "learning_rate": 1e-3}


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_stage_objective_reconstructs_the_codes_of_the_stage_below(loss):
    model = _model(loss=loss)
    images = _digits(16)
    for layer in range(model.num_layers):
        # Layer 0 reconstructs pixels under config.loss; the layers above
        # reconstruct probabilities under the cross-entropy.
        expected = _numpy_layer_loss(
            model, images, layer, loss if layer == 0 else "cross_entropy")
        np.testing.assert_allclose(
            model.layer_loss(tf.constant(images), layer), expected,
            rtol=1e-5)


@pytest.mark.parametrize("layer, rate", [(1, 0.3), (2, 0.02)])
def test_pretraining_steps_are_momentum_sgd_on_their_layer_alone(layer, rate):
    # Layer 2 is the code layer: its optimizer is pretrain_code.
    model = _model(**{"optimizers.pretrain.learning_rate": 0.3,
                      "optimizers.pretrain.momentum": 0.5,
                      "optimizers.pretrain_code.learning_rate": 0.02,
                      "optimizers.pretrain_code.momentum": 0.5,
                      "weight_decay": 0.01})
    images = _digits(16)
    variables = model.layer_variables(layer)
    before = {variable.path: np.array(variable)
              for variable in model.trainable_variables}
    velocities = [np.zeros(variable.shape) for variable in variables]
    model.begin_stage(f"pretrain_layer_{layer}")
    for step in range(2):
        with tf.GradientTape() as tape:
            objective = tf.reduce_mean(model.layer_loss(tf.constant(images),
                                                        layer))
        gradients = [np.array(g, np.float64)
                     for g in tape.gradient(objective, variables)]
        expected_loss = _numpy_layer_loss(model, images, layer,
                                          "cross_entropy")
        for metric in model.metrics:
            metric.reset_state()
        logs = model.train_step(_batch(images))
        np.testing.assert_allclose(logs["layer_loss"], expected_loss.mean(),
                                   rtol=1e-5, err_msg=f"step {step}")
        # By hand: v <- mu v - lr (g + wd W), W <- W + v, with the decay
        # on kernels only. At the second step the velocity is not zero.
        for index, (variable, gradient) in enumerate(zip(variables,
                                                         gradients)):
            old = velocities[index]
            weights = before[variable.path] if step == 0 else previous[index]
            decay = 0.01 * weights if weights.ndim == 2 else 0.0
            velocities[index] = 0.5 * old - rate * (gradient + decay)
            np.testing.assert_allclose(
                variable, weights + velocities[index], rtol=1e-5, atol=1e-7,
                err_msg=f"{variable.path} at step {step}")
        previous = [np.array(variable, np.float64) for variable in variables]
    own = {variable.path for variable in variables}
    for variable in model.trainable_variables:
        if variable.path not in own:
            np.testing.assert_array_equal(variable, before[variable.path])


def _optimizer_state(model):
    return {name: [np.array(variable) for variable in optimizer.variables]
            for name, optimizer in model.optimizers.items()}


def _momenta(model):
    """{variable path: its momentum} over both pretraining optimizers."""
    momenta = {}
    for name in ("pretrain", "pretrain_code"):
        # One momentum per variable, in the order the optimizer was built.
        variables = model.optimizer_variables()[name]
        sgd_momenta = model.optimizers[name].momentums
        assert len(sgd_momenta) == len(variables)
        for variable, momentum in zip(variables, sgd_momenta):
            assert momentum.shape == variable.shape
            momenta[variable.path] = np.array(momentum)
    return momenta


def test_each_stage_steps_its_own_optimizer_on_its_own_variables():
    model = _model()
    groups = model.optimizer_variables()
    paths = {name: [variable.path for variable in variables]
             for name, variables in groups.items()}
    top = model.num_layers - 1
    assert paths["pretrain"] == [
        variable.path for layer in range(top)
        for variable in model.layer_variables(layer)]
    assert paths["pretrain_code"] == [
        variable.path for variable in model.layer_variables(top)]
    assert paths["finetune"] == [
        variable.path for variable in model.trainable_variables]
    batch = _batch(_digits(16))
    stages = [(f"pretrain_layer_{layer}",
               "pretrain_code" if layer == top else "pretrain",
               model.layer_variables(layer))
              for layer in range(model.num_layers)]
    stages.append(("finetune", "finetune", model.trainable_variables))
    for stage, optimizer, variables in stages:
        weights = {variable.path: np.array(variable)
                   for variable in model.trainable_variables}
        state = _optimizer_state(model)
        momenta = _momenta(model)
        model.begin_stage(stage)
        model.train_step(batch)
        changed = {variable.path for variable in model.trainable_variables
                   if not np.array_equal(variable, weights[variable.path])}
        assert changed == {variable.path for variable in variables}, stage
        for name, values in _optimizer_state(model).items():
            moved = [not np.array_equal(new, old)
                     for new, old in zip(values, state[name])]
            assert any(moved) == (name == optimizer), (stage, name)
        # Of the SGD momenta, only those of the stage's variables moved.
        moved = {path for path, value in _momenta(model).items()
                 if not np.array_equal(value, momenta[path])}
        assert moved == (changed if optimizer != "finetune" else set()), stage


def test_greedy_stages_then_finetuning_lower_their_objectives():
    model = _model(hidden_units=(32, 16), code_dim=4,
                   **{"optimizers.finetune.learning_rate": 0.01})
    images = _digits(64)
    batch = _batch(images)
    for layer in range(model.num_layers):
        start = float(tf.reduce_mean(model.layer_loss(images, layer)))
        model.begin_stage(f"pretrain_layer_{layer}")
        train_step = tf.function(model.train_step)
        for _ in range(50):
            train_step(batch)
        end = float(tf.reduce_mean(model.layer_loss(images, layer)))
        assert end < start, (layer, start, end)
    model.begin_stage("finetune")
    start = float(model.test_step(batch)["squared_error"])
    train_step = tf.function(model.train_step)
    for _ in range(100):
        train_step(batch)
    for metric in model.metrics:
        metric.reset_state()
    end = float(model.test_step(batch)["squared_error"])
    assert end < 0.7 * start, (start, end)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_adapt_starts_the_outputs_at_the_mean_image(loss):
    model = _model(loss=loss)
    images = _digits(64)
    model.adapt(tf.data.Dataset.from_tensor_slices(
        {"image": images}).batch(10))
    mean = images.reshape(64, -1).mean(0)
    if loss == "cross_entropy":
        # Logistic outputs: the log-odds, with the mean clipped to
        # [1e-3, 1 - 1e-3] (the digits' corners are always blank).
        assert mean.min() == 0.0
        clipped = np.clip(mean, 1e-3, 1 - 1e-3)
        expected = np.log(clipped / (1 - clipped))
    else:
        expected = mean  # linear outputs: the mean itself
    np.testing.assert_allclose(model.decoder_layers[0].bias, expected,
                               rtol=1e-4, atol=1e-4)


def test_training_stages_and_their_names():
    model = _model()
    assert model.training_stages() == [
        ("pretrain_layer_0", 1), ("pretrain_layer_1", 1),
        ("pretrain_layer_2", 1), ("finetune", 1)]
    with pytest.raises(ValueError, match="pretrain_layer_3"):
        model.begin_stage("pretrain_layer_3")


@pytest.mark.parametrize("field, value", [
    ("hidden_units", (0,)),
    ("code_dim", 0),
    ("pretrain_epochs", -1),
    ("optimizers.pretrain.learning_rate", -0.1),
    ("optimizers.pretrain_code.learning_rate", 0.0),
    ("optimizers.pretrain.momentum", -0.5),
    ("optimizers.finetune.algorithm", "newton"),
    ("weight_decay", -1.0),
    ("loss", "hinge"),
    ("preprocessing", "symmetric"),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(errors.UsageError, match=f"config.{field}"):
        stacked_ae.StackedAutoencoder(_config(**{field: value}), MOCK)
