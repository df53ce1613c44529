"""Tests of what the deterministic autoencoders share (``autoencoder.py``).

The two reconstruction losses are checked against numpy on hand-made
numbers, and every deterministic autoencoder of the registry against the
definition of its capabilities: ``reconstruct`` is ``decode`` of ``encode``,
codes have the declared width ``code_size``, and the step reports the
metrics it declares.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

import zoo  # noqa: F401  (fills the registry)
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.autoencoders import autoencoder

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)
DIGITS = load_digits().images[:40, ..., None].astype(np.float32) / 16.0

DETERMINISTIC = sorted(
    spec.name for spec in registry.specs()
    if issubclass(spec.model_class, autoencoder.Autoencoder))


def _model(name):
    spec = registry.get(name)
    keras.utils.set_random_seed(0)
    model = spec.model_class(spec.get_config("tiny"), MOCK)
    model.compile_for_training()
    return model


def test_the_family_has_its_six_deterministic_autoencoders():
    assert DETERMINISTIC == ["contractive_ae", "deep_ae", "denoising_ae",
                             "linear_ae", "pca", "stacked_ae"]


def test_squared_error_and_cross_entropy_by_hand():
    images = np.array([[0.0, 1.0, 0.25], [1.0, 0.5, 0.0]], np.float32)
    outputs = np.array([[0.5, -2.0, 1.0], [3.0, 0.0, -1.5]], np.float32)
    np.testing.assert_allclose(
        autoencoder.squared_error(images, outputs),
        [0.25 + 9.0 + 0.5625, 4.0 + 0.25 + 2.25], rtol=1e-6)
    # -[x log s(a) + (1 - x) log(1 - s(a))], each term written out.
    sigmoid = 1.0 / (1.0 + np.exp(-outputs.astype(np.float64)))
    expected = -(images * np.log(sigmoid)
                 + (1 - images) * np.log(1 - sigmoid)).sum(axis=1)
    np.testing.assert_allclose(autoencoder.cross_entropy(images, outputs),
                               expected, rtol=1e-6)
    np.testing.assert_allclose(
        autoencoder.reconstruction_loss("cross_entropy", images, outputs),
        expected, rtol=1e-6)
    with pytest.raises(ValueError, match="hinge"):
        autoencoder.reconstruction_loss("hinge", images, outputs)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_reconstruct_is_decode_of_encode(name):
    model = _model(name)
    if name == "pca":
        model.adapt(tf.data.Dataset.from_tensor_slices(
            {"image": DIGITS}).batch(20))
    else:
        # Every weight random and large (biases too), so that each part of
        # the codec matters below and images get distinct reconstructions.
        rng = np.random.RandomState(1)
        for variable in model.trainable_variables:
            variable.assign(rng.standard_normal(variable.shape))
    images = tf.constant(DIGITS)
    codes = model.encode(images)["codes"]
    assert codes.shape == (len(DIGITS), model.code_size)
    assert model.capability_inputs("decode")["codes"].spec == tf.TensorSpec(
        [None, model.code_size], tf.float32)
    decoded = model.decode(codes)["images"].numpy()
    reconstructed = model.reconstruct(images)["images"].numpy()
    assert reconstructed.shape == DIGITS.shape
    np.testing.assert_allclose(reconstructed, decoded, rtol=1e-6, atol=1e-6)
    # Not trivially: the images differ, and so do their reconstructions.
    assert np.abs(reconstructed[0] - reconstructed[1]).max() > 1e-2
    # And the same again under tf.function, as the export traces them.
    traced = tf.function(model.reconstruct)(images)["images"].numpy()
    np.testing.assert_allclose(traced, decoded, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_test_step_reports_the_squared_error_of_reconstruct(name):
    model = _model(name)
    logs = model.test_step({"image": tf.constant(DIGITS),
                            "label": tf.zeros([len(DIGITS)], tf.int64)})
    assert {"loss", "squared_error"} <= set(logs)
    assert set(logs) <= set(model.metric_names)
    # The metric is that of the decoder's own (for linear outputs,
    # unclipped) reconstruction, the papers' measure.
    reconstructed = model.decoded_images(
        model.encode(tf.constant(DIGITS))["codes"]).numpy()
    np.testing.assert_allclose(
        logs["squared_error"],
        np.mean(np.sum((DIGITS - reconstructed) ** 2, axis=(1, 2, 3))),
        rtol=1e-5)
