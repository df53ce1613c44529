"""Tests of the conditional VAE (Sohn et al. 2015; Kingma et al. 2014's M2).

The conditional ELBO and the k=1 bound are checked against numpy forward
passes that concatenate the one-hot label by hand; after a short training on
the sklearn digits, samples drawn for label k are classified as k by a
logistic regression trained on real digits, and the bound with the true
labels beats the bound with wrong ones. Labels outside [0, num_classes - 1]
are rejected, eagerly and by the exported signatures.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import export
import zoo  # noqa: F401  (fills the registry)
from tfgen import errors
from tfgen import evaluation
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.autoencoders import cvae

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)
DIGITS = DataInfo(name="digits", event_shape=(8, 8, 1), num_levels=17,
                  num_classes=10)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = cvae.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    return cvae.ConditionalVAE(_config(**fields), info)


def _binary(batch_size, seed=0):
    draw = np.random.RandomState(seed).uniform(size=(batch_size, 8, 8, 1))
    return (draw < 0.4).astype(np.float32)


def _numpy_forward(network, inputs):
    """The MLP in numpy: relu on every Dense layer but the last."""
    dense = [layer for layer in network.layers
             if isinstance(layer, keras.layers.Dense)]
    hidden = inputs.astype(np.float64)
    for index, layer in enumerate(dense):
        kernel, bias = (np.asarray(v, np.float64) for v in layer.weights)
        hidden = hidden @ kernel + bias
        if index < len(dense) - 1:
            hidden = np.maximum(hidden, 0.0)
    return hidden


def _numpy_conditional_terms(model, images, labels, noise):
    """Hand-computed log p(x|z, y), log q(z|x, y), log p(z) and the KL."""
    one_hot = np.eye(10)[labels]
    flat = images.reshape(len(images), -1)
    loc, raw = np.split(
        _numpy_forward(model.encoder, np.concatenate([flat, one_hot], 1)),
        2, axis=-1)
    scale = np.logaddexp(0.0, raw) + 1e-4  # softplus plus the floor
    codes = loc + scale * noise
    logits = _numpy_forward(model.decoder,
                            np.concatenate([codes, one_hot], 1))
    reconstruction = -(flat * np.logaddexp(0.0, -logits)
                       + (1 - flat) * np.logaddexp(0.0, logits)).sum(1)
    log_posterior = -0.5 * np.sum(noise**2 + np.log(2 * np.pi)
                                  + 2 * np.log(scale), axis=1)
    log_prior = -0.5 * np.sum(codes**2 + np.log(2 * np.pi), axis=1)
    kl = 0.5 * np.sum(loc**2 + scale**2 - 1.0 - 2.0 * np.log(scale), axis=1)
    return reconstruction, log_posterior, log_prior, kl


# --- Config, registry, inputs. ---------------------------------------------


def test_registered_with_the_vae_config():
    spec = registry.get("cvae")
    assert spec.model_class is cvae.ConditionalVAE
    assert spec.family == "autoencoders"
    assert spec.capabilities == ("sample", "log_prob", "encode", "decode",
                                 "reconstruct")
    assert cvae.get_config().latent_dim == 8
    assert cvae.get_config("tiny").epochs == 1
    with pytest.raises(ValueError, match="cvae config variant"):
        cvae.get_config("huge")


def test_dataset_without_classes_raises_usage_error():
    unlabelled = DataInfo(name="toy", event_shape=(8, 8, 1), num_levels=17,
                          num_classes=0)
    with pytest.raises(errors.UsageError, match="config.dataset"):
        cvae.ConditionalVAE(_config(), unlabelled)


def test_every_capability_takes_labels_in_range():
    model = _model()
    for capability in model.capabilities:
        labels = model.capability_inputs(capability)["labels"]
        assert labels.spec == tf.TensorSpec([None], tf.int64)
        assert (labels.minimum, labels.maximum) == (0, 9)
    assert list(model.capability_inputs("sample")) == ["seed", "labels"]
    assert list(model.capability_inputs("decode")) == ["codes", "labels"]
    assert list(model.capability_inputs("log_prob")) == ["images", "labels"]
    # The harness fills them from a dataset batch.
    batch = {"image": tf.constant(_binary(3)),
             "label": tf.constant([4, 0, 9], tf.int64)}
    arguments = evaluation.capability_arguments(model, "log_prob", batch)
    np.testing.assert_array_equal(arguments["labels"], [4, 0, 9])


# --- The maths. -------------------------------------------------------------


def test_conditional_elbo_and_one_sample_bound_by_hand():
    model = _model(latent_dim=3, hidden_units=(12,))
    images = _binary(6)
    labels = np.array([0, 3, 9, 3, 5, 1])
    seeds = tf.constant([21, 22, 23, 24, 25, 26], tf.int64)
    noise = model.posterior_noise(seeds, 1).numpy()[:, 0]  # (6, 3)
    reconstruction, log_posterior, log_prior, kl = (
        _numpy_conditional_terms(model, images, labels, noise))

    terms = model.elbo_terms(tf.constant(images),
                             tf.constant(noise, tf.float32),
                             tf.constant(labels))
    np.testing.assert_allclose(terms["reconstruction"], reconstruction,
                               rtol=1e-4)
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(terms["elbo"], reconstruction - kl, rtol=1e-4)

    # k = 1: log p(x|z, y) + log p(z) - log q(z|x, y) at the same z.
    bound = model.importance_weighted_bound(
        tf.constant(images), 1, seeds, labels=tf.constant(labels))
    np.testing.assert_allclose(
        bound, reconstruction + log_prior - log_posterior, rtol=1e-4)


def test_decoder_and_encoder_depend_on_the_label():
    model = _model()
    codes = tf.constant([[0.5, -1.0]] * 10)
    images = model.decode(codes, tf.range(10, dtype=tf.int64))["images"]
    assert np.abs(images[0] - images[7]).max() > 1e-3
    repeated = tf.constant(np.repeat(_binary(1), 2, axis=0))
    encoded = model.encode(repeated, tf.constant([2, 8], tf.int64))["codes"]
    assert np.abs(encoded[0] - encoded[1]).max() > 1e-4


def test_out_of_range_labels_are_rejected():
    model = _model()
    images = tf.constant(_binary(2))
    for labels in ([0, 10], [-1, 3]):
        with pytest.raises(tf.errors.InvalidArgumentError, match="labels"):
            model.log_prob(images, tf.constant(labels, tf.int64))
    with pytest.raises(ValueError, match="labels"):
        model.elbo_terms(images, tf.zeros([2, 2]))
    # The exported signatures check the declared range before the model
    # runs, naming the input.
    module = export.build_serving_module(model)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"input labels of sample must lie in \[0, 9\]"):
        module.sample(seed=tf.constant([1], tf.int64),
                      labels=tf.constant([10], tf.int64))
    served = module.sample(seed=tf.constant([1], tf.int64),
                           labels=tf.constant([9], tf.int64))["images"]
    np.testing.assert_allclose(
        served, model.sample(tf.constant([1], tf.int64),
                             tf.constant([9], tf.int64))["images"],
        atol=1e-6)


def test_sample_without_labels_draws_the_label_from_the_seed():
    model = _model()
    seeds = tf.range(200, dtype=tf.int64)
    unlabelled = model.sample(seeds)["images"].numpy()
    np.testing.assert_array_equal(unlabelled,
                                  model.sample(seeds)["images"].numpy())
    # Each row equals the sample of one of the ten labels, with the same
    # code, and every label turns up.
    by_label = np.stack([
        model.sample(seeds, tf.fill([200], tf.constant(label, tf.int64)))[
            "images"].numpy() for label in range(10)])  # (10, 200, 8, 8, 1)
    distances = np.abs(by_label - unlabelled[None]).max(axis=(2, 3, 4))
    assert np.all(distances.min(axis=0) < 1e-6)
    counts = np.bincount(distances.argmin(axis=0), minlength=10)
    assert counts.min() >= 5, counts


# --- After training on digits. --------------------------------------------


@pytest.fixture(scope="module")
def trained_on_digits():
    """A CVAE trained for a few seconds on binarized sklearn digits."""
    digits = load_digits()
    gray = digits.images[..., None] / 16.0  # (1797, 8, 8, 1)
    binary = (np.random.RandomState(0).uniform(size=gray.shape)
              < gray).astype(np.float32)
    labels = digits.target.astype(np.int64)
    model = _model(DIGITS, latent_dim=4, hidden_units=(64,),
                   **{"optimizers.model.learning_rate": 3e-3})
    model.compile_for_training()
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": binary[:1437], "label": labels[:1437]})
    model.fit(dataset.shuffle(1437, seed=0).batch(64), epochs=15,
              shuffle=False, verbose=0)
    return model, gray, binary, labels


def test_samples_for_label_k_look_like_digit_k(trained_on_digits):
    model, gray, _, labels = trained_on_digits
    classifier = LogisticRegression(max_iter=2000).fit(
        gray[:1437].reshape(1437, -1), labels[:1437])
    wanted = np.repeat(np.arange(10), 30)
    samples = model.sample(tf.range(300, dtype=tf.int64),
                           tf.constant(wanted))["images"].numpy()
    predicted = classifier.predict(samples.reshape(300, -1))
    accuracy = np.mean(predicted == wanted)
    # The classifier gets about 97% of real test digits right.
    assert accuracy > 0.8, (accuracy, np.bincount(predicted, minlength=10))


def test_the_true_label_makes_the_test_images_likelier(trained_on_digits):
    model, _, binary, labels = trained_on_digits
    test, true = tf.constant(binary[1437:]), tf.constant(labels[1437:])
    wrong = (true + 1 + tf.constant(np.random.RandomState(0).randint(
        0, 9, size=len(binary) - 1437))) % 10
    with_true = model.log_prob(test, true)["log_prob"].numpy()
    with_wrong = model.log_prob(test, wrong)["log_prob"].numpy()
    assert with_true.mean() > with_wrong.mean() + 5.0, (
        with_true.mean(), with_wrong.mean())
    # A bound on a log-probability of binary images: below zero, and the
    # k=10 bound is at least the k=1 one on average.
    assert with_true.max() < 0.0
    seeds = tf.range(len(binary) - 1437, dtype=tf.int64)
    one, ten = (float(tf.reduce_mean(model.importance_weighted_bound(
        test, k, seeds, labels=true))) for k in (1, 10))
    assert one <= ten, (one, ten)
