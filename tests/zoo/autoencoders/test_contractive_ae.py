"""Tests of the contractive autoencoder (Rifai et al. 2011).

The Jacobian penalty, in closed form for one sigmoid layer and as a chain of
factors for more, is checked against the Jacobian that automatic
differentiation builds explicitly (``tf.GradientTape.batch_jacobian``),
eagerly and under ``tf.function``; the tied-weight reconstruction against
numpy; and the objective's effect: a larger lambda trains a flatter encoder.
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
from zoo.autoencoders import contractive_ae

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = contractive_ae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = contractive_ae.ContractiveAutoencoder(_config(**fields), info)
    model.compile_for_training()
    return model


def _gray(batch_size, seed=0):
    return np.random.RandomState(seed).uniform(
        size=(batch_size, 8, 8, 1)).astype(np.float32)


def _batch(images):
    return {"image": tf.constant(images),
            "label": tf.zeros([len(images)], tf.int32)}


def _explicit_penalty(model, images):
    """sum of (dh_j/dx_i)^2 from the (B, code_dim, pixels) Jacobian."""
    pixels = tf.reshape(tf.constant(images), [len(images), -1])  # (B, 64)
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        codes = model.encoder(tf.reshape(pixels, images.shape))
    jacobian = tape.batch_jacobian(codes, pixels)  # (B, code_dim, 64)
    assert jacobian.shape == (len(images), model.code_size, 64)
    return tf.reduce_sum(tf.square(jacobian), axis=[1, 2]).numpy()


def _sigmoid(values):
    return 1.0 / (1.0 + np.exp(-values))


# --- Config and registry. -----------------------------------------------


def test_configs_are_locked_and_tiny_is_small():
    config, tiny = (contractive_ae.get_config(),
                    contractive_ae.get_config("tiny"))
    assert config.hidden_units == () and config.contraction > 0
    assert config.preprocessing == "unit"
    assert config.optimizers.model.learning_rate == 3e-3
    assert tiny.epochs == 1 and tiny.code_dim < config.code_dim
    with pytest.raises(AttributeError):
        config.lambda_ = 0.5  # not a field
    with pytest.raises(ValueError, match="variant"):
        contractive_ae.get_config("huge")


def test_registered_under_contractive_ae():
    spec = registry.get("contractive_ae")
    assert spec.model_class is contractive_ae.ContractiveAutoencoder
    assert spec.family == "autoencoders"
    assert spec.get_config is contractive_ae.get_config
    assert spec.capabilities == ("encode", "decode", "reconstruct")
    assert "jacobian_penalty" in spec.model_class.metric_names


@pytest.mark.parametrize("fields, field", [
    ({"contraction": -0.1}, "config.contraction"),
    ({"hidden_units": (0,)}, "config.hidden_units"),
    ({"code_dim": 0}, "config.code_dim"),
    ({"preprocessing": "symmetric"}, "config.preprocessing"),
    ({"loss": "hinge"}, "config.loss"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        contractive_ae.ContractiveAutoencoder(_config(**fields), MOCK)


# --- The penalty against an explicit Jacobian. -----------------------------


@pytest.mark.parametrize("hidden_units", [(), (12,), (12, 7)])
@pytest.mark.parametrize("compiled", [False, True])
def test_penalty_is_the_squared_frobenius_norm_of_the_batch_jacobian(
        hidden_units, compiled):
    model = _model(hidden_units=hidden_units, code_dim=5)
    for layer in model.encoder_layers:
        # Spread the pre-activations, so that the sigmoid slopes h (1 - h)
        # differ from unit to unit and from image to image.
        layer.kernel.assign(layer.kernel * 3.0)
        layer.bias.assign(tf.random.stateless_normal(layer.bias.shape, [1, 2]))
    images = _gray(7)
    penalty = tf.function(model.penalty) if compiled else model.penalty
    computed = penalty(tf.constant(images)).numpy()
    explicit = _explicit_penalty(model, images)
    assert computed.shape == (7,)
    assert np.ptp(explicit) > 0.05 * explicit.mean()  # images differ
    np.testing.assert_allclose(computed, explicit, rtol=1e-5)


def test_one_layer_closed_form_by_hand():
    # Two pixels, two code units: h = s(x W + b), J_ji = h_j (1 - h_j) W_ij.
    info = DataInfo(name="toy", event_shape=(2, 1, 1), num_levels=2,
                    num_classes=1)
    model = _model(info, hidden_units=(), code_dim=2)
    kernel = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    bias = np.array([0.0, -1.0], np.float32)
    (layer,) = model.encoder_layers
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    x = np.array([0.2, 0.9], np.float32)
    h = _sigmoid(x @ kernel + bias)
    slope = h * (1 - h)
    expected = (slope[0]**2 * (1.0**2 + 0.5**2)
                + slope[1]**2 * ((-2.0)**2 + 3.0**2))
    computed = model.penalty(x.reshape(1, 2, 1, 1)).numpy()
    np.testing.assert_allclose(computed, [expected], rtol=1e-6)


# --- The objective and the tied decoder. ----------------------------------


def test_loss_is_reconstruction_plus_lambda_times_penalty():
    model = _model(hidden_units=(), code_dim=6, contraction=0.7)
    images = _gray(5, seed=1)
    kernel, bias = (np.asarray(v, np.float64)
                    for v in model.encoder_layers[0].weights)
    (output_bias,) = (np.asarray(v, np.float64)
                      for v in model.decoder.biases)
    flat = images.reshape(5, -1).astype(np.float64)
    codes = _sigmoid(flat @ kernel + bias)  # (5, 6)
    logits = codes @ kernel.T + output_bias  # tied weights: W^T back
    reconstruction = (flat * np.logaddexp(0.0, -logits)
                      + (1 - flat) * np.logaddexp(0.0, logits)).sum(axis=1)
    penalty = _explicit_penalty(model, images)

    logs = model.train_step(_batch(images))  # metrics before the update
    np.testing.assert_allclose(logs["reconstruction"], reconstruction.mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(logs["jacobian_penalty"], penalty.mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(
        logs["loss"], (reconstruction + 0.7 * penalty).mean(), rtol=1e-5)
    np.testing.assert_allclose(
        logs["squared_error"],
        ((flat - _sigmoid(logits))**2).sum(axis=1).mean(), rtol=1e-5)


def test_decoder_shares_the_encoder_kernels():
    model = _model(hidden_units=(12,), code_dim=5)
    kernels = [layer.kernel for layer in model.encoder_layers]
    # The decoder owns only biases, one per mirrored layer; the model holds
    # each shared kernel once.
    encoder_ids = {id(v) for v in model.encoder.weights}
    assert [tuple(v.shape) for v in model.decoder.trainable_weights
            if id(v) not in encoder_ids] == [(12,), (64,)]
    assert len(model.trainable_variables) == 2 * 2 + 2
    codes = np.random.RandomState(2).uniform(size=(3, 5)).astype(np.float32)
    hidden = _sigmoid(codes @ kernels[1].numpy().T)
    expected = _sigmoid(hidden @ kernels[0].numpy().T)  # zero biases
    np.testing.assert_allclose(
        model.decode(tf.constant(codes))["images"].numpy().reshape(3, -1),
        expected, rtol=1e-5, atol=1e-6)
    # A change of an encoder kernel changes the decoder.
    kernels[0].assign(kernels[0] * 2.0)
    assert not np.allclose(model.decode(tf.constant(codes))["images"].numpy(
    ).reshape(3, -1), expected, atol=1e-3)


def _train_on_fixed_batch(contraction, images, steps=150):
    model = _model(hidden_units=(), code_dim=16, contraction=contraction,
                   **{"optimizers.model.learning_rate": 1e-2})
    model.fit(tf.data.Dataset.from_tensors(_batch(images)).repeat(steps),
              shuffle=False, verbose=0)
    for metric in model.metrics:
        metric.reset_state()
    return {name: float(value)
            for name, value in model.test_step(_batch(images)).items()}


def test_larger_lambda_trains_a_flatter_encoder():
    images = (load_digits().images[:64, ..., None] / 16.0).astype(np.float32)
    # Same initial weights, same batch, same steps: only lambda differs.
    results = {contraction: _train_on_fixed_batch(contraction, images)
               for contraction in (0.0, 0.1, 1.0)}
    penalties = [results[c]["jacobian_penalty"] for c in (0.0, 0.1, 1.0)]
    reconstructions = [results[c]["reconstruction"] for c in (0.0, 0.1, 1.0)]
    # The penalty falls with lambda, by a wide margin from 0 to 1, and the
    # reconstruction pays for it.
    assert penalties[0] > penalties[1] > penalties[2], penalties
    assert penalties[2] < 0.5 * penalties[0], penalties
    assert reconstructions[0] < reconstructions[2], reconstructions


def test_test_step_is_deterministic_and_reports_the_penalty():
    model = _model()
    batch = _batch(_gray(8, seed=3))
    logs = []
    for _ in range(2):
        for metric in model.metrics:
            metric.reset_state()
        logs.append({k: float(v) for k, v in model.test_step(batch).items()})
    assert logs[0] == logs[1]
    assert set(logs[0]) == {"loss", "squared_error", "reconstruction",
                            "jacobian_penalty"}
    assert logs[0]["jacobian_penalty"] > 0.0


def test_builds_and_trains_on_28x28():
    info = DataInfo(name="mnist", event_shape=(28, 28, 1), num_levels=256,
                    num_classes=10)
    model = _model(info, hidden_units=(32,))
    images = np.random.RandomState(0).uniform(
        size=(4, 28, 28, 1)).astype(np.float32)
    logs = model.train_step(_batch(images))
    assert np.isfinite(float(logs["loss"]))
    assert model.reconstruct(images)["images"].shape == (4, 28, 28, 1)
