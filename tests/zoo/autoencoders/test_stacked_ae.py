"""Tests of the stacked autoencoder of Bengio, Lamblin, Popovici & Larochelle.

Greedy layer-wise training of deep networks (2007).

The greedy objective is checked against numpy: stage i reconstructs the codes
that the layers below give for the data, and its update is one step of SGD
with momentum and weight decay on that objective, touching nothing else.
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
    config = stacked_ae.get_config("tiny")
    for name, value in fields.items():
        setattr(config, name, value)  # locked: existing fields only
    return config


def _model(**fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = stacked_ae.StackedAutoencoder(_config(**fields), MOCK)
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
def test_pretraining_step_is_momentum_sgd_on_its_layer_alone(layer, rate):
    # Layer 2 is the code layer: it learns at code_learning_rate.
    model = _model(pretrain_learning_rate=0.3, code_learning_rate=0.02,
                   momentum=0.5, weight_decay=0.01)
    images = _digits(16)
    variables = model.layer_variables(layer)
    with tf.GradientTape() as tape:
        objective = tf.reduce_mean(model.layer_loss(tf.constant(images),
                                                    layer))
    gradients = [np.array(g) for g in tape.gradient(objective, variables)]
    before = {variable.path: np.array(variable)
              for variable in model.trainable_variables}
    expected_loss = _numpy_layer_loss(model, images, layer, "cross_entropy")

    model.begin_stage(f"pretrain_layer_{layer}")
    logs = model.train_step(_batch(images))

    np.testing.assert_allclose(logs["layer_loss"], expected_loss.mean(),
                               rtol=1e-5)
    for variable, gradient in zip(variables, gradients):
        old = before[variable.path]
        decay = 0.01 * old if old.ndim == 2 else 0.0  # kernels only
        # First step: the velocity starts at 0, so momentum plays no part.
        np.testing.assert_allclose(variable, old - rate * (gradient + decay),
                                   rtol=1e-5, atol=1e-7)
    own = {variable.path for variable in variables}
    for variable in model.trainable_variables:
        if variable.path not in own:
            np.testing.assert_array_equal(variable, before[variable.path])


def test_greedy_stages_then_finetuning_lower_their_objectives():
    model = _model(hidden_units=(32, 16), code_dim=4, learning_rate=0.01)
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


def test_adapt_starts_the_outputs_at_the_mean_image():
    model = _model()
    images = _digits(64)
    model.adapt(tf.data.Dataset.from_tensor_slices(
        {"image": images}).batch(10))
    mean = np.clip(images.reshape(64, -1).mean(0), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(model.decoder_layers[0].bias,
                               np.log(mean / (1 - mean)), rtol=1e-4,
                               atol=1e-4)


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
    ("pretrain_learning_rate", -0.1),
    ("code_learning_rate", 0.0),
    ("momentum", -0.5),
    ("weight_decay", -1.0),
    ("loss", "hinge"),
    ("preprocessing", "symmetric"),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(errors.UsageError, match=f"config.{field}"):
        stacked_ae.StackedAutoencoder(_config(**{field: value}), MOCK)
