"""Tests of the denoising autoencoder (Vincent et al. 2008).

The objective is recomputed in numpy from the model's weights: the decoder's
output on the corrupted input against the clean input. The corruption's
statistics (masking rate, Gaussian stddev) are checked against the config
with binomial and chi-square tolerances, and evaluation is checked to be
noise-free.
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
from zoo.autoencoders import denoising_ae

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = denoising_ae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = denoising_ae.DenoisingAutoencoder(_config(**fields), info)
    model.compile_for_training()
    return model


def _gray(batch_size, seed=0):
    return np.random.RandomState(seed).uniform(
        size=(batch_size, 8, 8, 1)).astype(np.float32)


def _batch(images):
    return {"image": tf.constant(images),
            "label": tf.zeros([len(images)], tf.int32)}


def _dense_weights(network):
    return [[np.asarray(v, np.float64) for v in layer.weights]
            for layer in network.layers
            if isinstance(layer, keras.layers.Dense)]


def _sigmoid(values):
    return 1.0 / (1.0 + np.exp(-values))


def _numpy_logits(model, inputs):
    """Decoder logits of the encoded inputs, (B, pixels), in numpy."""
    hidden = inputs.reshape(len(inputs), -1).astype(np.float64)
    for kernel, bias in _dense_weights(model.encoder):  # all sigmoid
        hidden = _sigmoid(hidden @ kernel + bias)
    decoder = _dense_weights(model.decoder)
    for index, (kernel, bias) in enumerate(decoder):
        hidden = hidden @ kernel + bias
        if index < len(decoder) - 1:
            hidden = _sigmoid(hidden)
    return hidden


def _numpy_cross_entropy(images, logits):
    targets = images.reshape(len(images), -1)
    # -[x log s(l) + (1 - x) log(1 - s(l))], with log s(l) = -softplus(-l).
    return (targets * np.logaddexp(0.0, -logits)
            + (1 - targets) * np.logaddexp(0.0, logits)).sum(axis=1)


def _first_draw(model, draw, shape):
    """The draw a fresh model's first train_step makes, replayed."""
    generator = keras.random.SeedGenerator(model.config.seed)
    return keras.ops.convert_to_numpy(draw(shape, seed=generator))


# --- Config and registry. -----------------------------------------------


def test_configs_are_locked_and_tiny_is_small():
    config, tiny = denoising_ae.get_config(), denoising_ae.get_config("tiny")
    assert (config.preprocessing, config.noise) == ("unit", "gaussian")
    assert config.optimizers.model.learning_rate == 3e-3
    assert tiny.epochs == 1 and tiny.code_dim < config.code_dim
    with pytest.raises(AttributeError):
        config.corruption_level = 0.5  # misspelt field
    with pytest.raises(ValueError, match="variant"):
        denoising_ae.get_config("huge")


def test_registered_under_denoising_ae():
    spec = registry.get("denoising_ae")
    assert spec.model_class is denoising_ae.DenoisingAutoencoder
    assert spec.family == "autoencoders"
    assert spec.get_config is denoising_ae.get_config
    assert spec.capabilities == ("encode", "decode", "reconstruct")


@pytest.mark.parametrize("fields, field", [
    ({"noise": "salt_and_pepper"}, "config.noise"),
    ({"preprocessing": "binarize_dynamic"}, "config.noise='gaussian'"),
    ({"preprocessing": "levels"}, "config.preprocessing"),
    ({"corruption": 1.5}, "config.corruption"),
    ({"noise_stddev": -0.1}, "config.noise_stddev"),
    ({"hidden_units": (8, 0)}, "config.hidden_units"),
    ({"code_dim": 0}, "config.code_dim"),
    ({"loss": "hinge"}, "config.loss"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        denoising_ae.DenoisingAutoencoder(_config(**fields), MOCK)


def test_masking_noise_keeps_binarized_images_binary():
    model = _model(noise="masking", corruption=0.5,
                   preprocessing="binarize_static")
    images = (np.random.RandomState(6).uniform(size=(200, 8, 8, 1))
              < 0.5).astype(np.float32)
    uniform = _first_draw(model, keras.random.uniform, images.shape)
    corrupted = model.corrupt(images).numpy()
    # The paper's masking noise: each pixel zeroed where the model's first
    # uniform draw falls below the corruption level, the others kept.
    np.testing.assert_array_equal(corrupted, images * (uniform >= 0.5))
    # So the image stays binary: ones turn into zeros, zeros stay zeros,
    # and about half the ones go (binomial: four standard deviations).
    assert set(np.unique(corrupted)) <= {0.0, 1.0}
    assert np.all(corrupted <= images)
    ones = images.sum()
    rate = 1.0 - corrupted.sum() / ones
    assert abs(rate - 0.5) <= 4 * np.sqrt(0.25 / ones), rate


# --- The objective. -------------------------------------------------------


def test_full_masking_loss_is_the_decoding_of_zeros_against_clean_images():
    model = _model(noise="masking", corruption=1.0)
    images = _gray(6)
    # Every pixel is masked, so every image is encoded as the zero image;
    # the loss still compares with the clean images.
    logits = _numpy_logits(model, np.zeros_like(images))  # (6, 64), equal rows
    expected = _numpy_cross_entropy(images, logits).mean()
    logs = model.train_step(_batch(images))  # metrics before the update
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-5)
    reconstructions = _sigmoid(logits)
    np.testing.assert_allclose(
        logs["squared_error"],
        ((images.reshape(6, -1) - reconstructions)**2).sum(axis=1).mean(),
        rtol=1e-5)


@pytest.mark.parametrize("noise", ["masking", "gaussian"])
def test_loss_compares_the_corrupted_inputs_decoding_with_clean_images(noise):
    model = _model(noise=noise, corruption=0.5, noise_stddev=0.4)
    for variable in model.trainable_variables:
        # Larger weights than the initial ones, so that the output depends
        # clearly on the input and the wrong objectives below stand apart.
        variable.assign(variable * 4.0)
    images = _gray(6, seed=1)
    if noise == "masking":
        uniform = _first_draw(model, keras.random.uniform, images.shape)
        corrupted = images * (uniform >= 0.5)
    else:
        normal = _first_draw(model, keras.random.normal, images.shape)
        corrupted = images + 0.4 * normal
    logits = _numpy_logits(model, corrupted)
    expected = _numpy_cross_entropy(images, logits).mean()
    logs = model.train_step(_batch(images))
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-5)
    # The match is informative: the losses of the wrong objectives (the
    # corrupted images as targets, or no corruption) lie 100 times the
    # tolerance away.
    wrong_target = _numpy_cross_entropy(corrupted.clip(0, 1), logits).mean()
    no_noise = _numpy_cross_entropy(images, _numpy_logits(model, images))
    for wrong in (wrong_target, no_noise.mean()):
        assert abs(wrong - expected) > 1e-3 * expected, (wrong, expected)


def test_squared_error_loss_is_the_squared_distance_to_clean_images():
    model = _model(noise="masking", corruption=1.0, loss="squared_error")
    images = _gray(5, seed=2)
    outputs = _numpy_logits(model, np.zeros_like(images))  # linear outputs
    logs = model.train_step(_batch(images))
    expected = ((images.reshape(5, -1) - outputs)**2).sum(axis=1).mean()
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(logs["squared_error"], expected, rtol=1e-5)


# --- The corruption. --------------------------------------------------------


@pytest.mark.parametrize("corruption", [0.0, 0.3, 1.0])
def test_masking_zeroes_pixels_at_the_configured_rate(corruption):
    model = _model(noise="masking", corruption=corruption)
    images = np.full((200, 8, 8, 1), 0.7, np.float32)  # 12,800 pixels
    corrupted = tf.function(model.corrupt)(images).numpy()
    # Every pixel is kept as it was or set to zero.
    assert np.all((corrupted == 0.0) | (corrupted == np.float32(0.7)))
    rate = np.mean(corrupted == 0.0)
    # The number masked is Binomial(12800, corruption): four standard
    # deviations of the rate, at most 4 * 0.5 / sqrt(12800) = 0.018, fail by
    # chance about once in 16,000 draws (and the seed is fixed).
    tolerance = 4 * np.sqrt(corruption * (1 - corruption) / corrupted.size)
    assert abs(rate - corruption) <= tolerance, (rate, corruption)


def test_gaussian_noise_has_the_configured_stddev():
    model = _model(noise="gaussian", noise_stddev=0.25)
    images = _gray(200, seed=3)  # 12,800 pixels
    noise = (model.corrupt(images).numpy() - images).ravel()
    # The sample mean has standard error 0.25 / sqrt(n) = 0.0022 and the
    # sample stddev about 0.25 / sqrt(2 n) = 0.0016: four of each.
    n = noise.size
    assert abs(noise.mean()) < 4 * 0.25 / np.sqrt(n), noise.mean()
    assert abs(noise.std() - 0.25) < 4 * 0.25 / np.sqrt(2 * n), noise.std()
    # Unclipped: additive noise takes pixels outside [0, 1].
    corrupted = noise + images.ravel()
    assert corrupted.min() < 0.0 and corrupted.max() > 1.0


def test_noise_stream_is_model_state_and_advances():
    model = _model(noise="masking", corruption=0.5)
    state = model.noise_seed.state
    assert any(variable is state for variable in model.variables)
    images = np.ones((4, 8, 8, 1), np.float32)
    first, second = model.corrupt(images).numpy(), model.corrupt(images).numpy()
    assert not np.array_equal(first, second)
    # A model restored to the first state draws the first noise again.
    replay = _model(noise="masking", corruption=0.5)
    np.testing.assert_array_equal(replay.corrupt(images).numpy(), first)


# --- Evaluation and capabilities are noise-free. ---------------------------


def test_test_step_and_capabilities_use_the_clean_input():
    model = _model(noise="masking", corruption=0.9)
    images = _gray(8, seed=4)
    logits = _numpy_logits(model, images)
    for _ in range(2):  # the same numbers twice: no draw in test_step
        for metric in model.metrics:
            metric.reset_state()
        logs = model.test_step(_batch(images))
        np.testing.assert_allclose(
            logs["loss"], _numpy_cross_entropy(images, logits).mean(),
            rtol=1e-5)
    for _ in range(2):
        np.testing.assert_allclose(
            model.reconstruct(tf.constant(images))["images"].numpy().reshape(
                8, -1), _sigmoid(logits), rtol=1e-5, atol=1e-6)


def test_trained_model_removes_noise_from_test_digits():
    images = (load_digits().images[..., None] / 16.0).astype(np.float32)
    train, test = images[:1437], images[1437:]
    model = _model(noise="gaussian", noise_stddev=0.3, code_dim=64,
                   hidden_units=(), **{"optimizers.model.learning_rate": 3e-3})
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": train, "label": np.zeros(len(train), np.int32)})
    model.fit(dataset.shuffle(len(train), seed=0).batch(32), epochs=8,
              shuffle=False, verbose=0)
    noisy = test + np.random.RandomState(5).normal(
        scale=0.3, size=test.shape).astype(np.float32)
    denoised = model.reconstruct(tf.constant(noisy))["images"].numpy()

    def error(estimate):
        return ((estimate - test)**2).sum(axis=(1, 2, 3)).mean()

    # The noise alone costs 64 * 0.3^2 = 5.8 per image; the denoised images
    # are much closer to the clean ones.
    assert error(noisy) > 5.0
    assert error(denoised) < 0.5 * error(noisy), (error(denoised),
                                                  error(noisy))


def test_builds_and_trains_on_28x28():
    info = DataInfo(name="mnist", event_shape=(28, 28, 1), num_levels=256,
                    num_classes=10)
    model = _model(info, noise="masking", preprocessing="binarize_static")
    images = (np.random.RandomState(0).uniform(size=(4, 28, 28, 1))
              < 0.3).astype(np.float32)
    logs = model.train_step(_batch(images))
    assert np.isfinite(float(logs["loss"]))
    assert model.encode(images)["codes"].shape == (4, 4)
    assert model.decode(tf.zeros([2, 4]))["images"].shape == (2, 28, 28, 1)
