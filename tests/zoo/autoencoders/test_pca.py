"""Tests of PCA (Pearson 1901; Hotelling 1933) as a closed-form autoencoder.

The fit is checked against what PCA must satisfy whatever the code: the
mean training error equals (N - 1) / N times the discarded eigenvalues, the
eigenvalues add up to the total variance computed by hand, and scikit-learn's
``PCA`` finds the same components, variances and transforms. The codec is
checked to be an orthogonal projection, and the fit to survive the one
training loop's checkpoint and resumption.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import decomposition
from sklearn.datasets import load_digits

import zoo  # noqa: F401  (fills the registry)
from tfgen import checkpoints
from tfgen import data
from tfgen import errors
from tfgen import registry
from tfgen import training
from tfgen.data.info import DataInfo
from zoo.autoencoders import pca

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)
DIGITS = load_digits().images[..., None].astype(np.float32) / 16.0  # (N,8,8,1)


def _config(**fields):
    """The tiny config with ``fields`` set; dotted names reach nested
    fields, as on the command line."""
    config = pca.get_config("tiny")
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(info=MOCK, **fields):
    keras.utils.set_random_seed(0)
    return pca.PCA(_config(**fields), info)


def _batches(images, batch_size=100):
    return tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": np.zeros(len(images), np.int32)}
    ).batch(batch_size)


def _fitted(images, code_dim, info=MOCK):
    model = _model(info, code_dim=code_dim)
    model.adapt(_batches(images))
    return model


def _mean_squared_error(model, images):
    """The model's ``squared_error`` metric over all of ``images``."""
    for metric in model.metrics:
        metric.reset_state()
    logs = None
    for batch in _batches(images):
        logs = model.test_step(batch)
    return float(logs["squared_error"])


def _random_images(num_images, seed=0):
    return np.random.RandomState(seed).uniform(
        size=(num_images, 8, 8, 1)).astype(np.float32)


# --- Config and registry. -----------------------------------------------


def test_configs_are_locked_and_registered():
    config, tiny = pca.get_config(), pca.get_config("tiny")
    assert (config.loss, config.preprocessing, config.epochs) == (
        "squared_error", "unit", 1)
    assert tiny.code_dim < config.code_dim
    with pytest.raises(AttributeError):
        config.num_components = 3  # misspelt field
    with pytest.raises(ValueError, match="variant"):
        pca.get_config("huge")
    spec = registry.get("pca")
    assert spec.model_class is pca.PCA and spec.family == "autoencoders"
    assert spec.capabilities == ("encode", "decode", "reconstruct")


@pytest.mark.parametrize("fields, field", [
    ({"code_dim": 65}, "config.code_dim"),  # more than the 64 pixels
    ({"code_dim": 0}, "config.code_dim"),
    ({"loss": "cross_entropy"}, "config.loss"),
    ({"epochs": 2}, "config.epochs"),
    ({"preprocessing": "levels"}, "config.preprocessing"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        pca.PCA(_config(**fields), MOCK)


def test_adapt_refuses_fewer_images_than_components():
    model = _model(code_dim=5)
    with pytest.raises(errors.UsageError, match="config.code_dim=5"):
        model.adapt(_batches(_random_images(4)))


# --- The fit. ---------------------------------------------------------------


@pytest.mark.parametrize("code_dim", [1, 4, 16, 63])
def test_training_error_is_the_discarded_variance(code_dim):
    model = _fitted(DIGITS, code_dim)
    variances = model.explained_variance.numpy().astype(np.float64)  # (64,)
    flat = DIGITS.reshape(len(DIGITS), -1).astype(np.float64)
    num_images = len(flat)
    # The eigenvalues are the variances along orthogonal directions: they
    # add up to the trace of the covariance, computed here pixel by pixel.
    np.testing.assert_allclose(variances.sum(), flat.var(axis=0, ddof=1).sum(),
                               rtol=1e-5)
    assert np.all(np.diff(variances) <= 1e-7), "not in decreasing order"
    discarded = variances[code_dim:].sum()
    np.testing.assert_allclose(
        _mean_squared_error(model, DIGITS),
        (num_images - 1) / num_images * discarded, rtol=1e-4, atol=1e-6)
    report = model.report()
    np.testing.assert_allclose(report["discarded_variance"], discarded,
                               rtol=1e-6)
    np.testing.assert_allclose(report["explained_variance_fraction"],
                               variances[:code_dim].sum() / variances.sum(),
                               rtol=1e-6)


def test_fewer_images_than_pixels_are_reconstructed_at_full_rank():
    images = _random_images(10)  # centred, they span 9 dimensions
    model = _fitted(images, code_dim=9)
    variances = model.explained_variance.numpy()
    # Past the rank: zero up to the SVD's rounding, or padding.
    assert np.all(variances[:9] > 1e-3) and np.all(variances[9:] < 1e-10)
    np.testing.assert_allclose(model.reconstruct(images)["images"], images,
                               atol=1e-5)
    # One component fewer leaves exactly the last eigenvalue, times 9/10.
    model = _fitted(images, code_dim=8)
    np.testing.assert_allclose(_mean_squared_error(model, images),
                               0.9 * variances[8], rtol=1e-4)


@pytest.mark.parametrize("images", [DIGITS, _random_images(300, seed=1)],
                         ids=["digits", "random"])
def test_matches_scikit_learn(images):
    code_dim = 10
    model = _fitted(images, code_dim)
    flat = images.reshape(len(images), -1)
    reference = decomposition.PCA(n_components=code_dim,
                                  svd_solver="full").fit(flat)
    components = model.components.numpy()  # (64, code_dim)
    # Each component is fixed up to its sign, which pca pins: the entry of
    # largest magnitude is positive.
    signs = np.sign(np.sum(components * reference.components_.T, axis=0))
    np.testing.assert_allclose(components, reference.components_.T * signs,
                               atol=1e-4)
    peaks = components[np.abs(components).argmax(axis=0),
                       np.arange(code_dim)]
    assert np.all(peaks > 0)
    np.testing.assert_allclose(model.mean.numpy(), reference.mean_, atol=1e-6)
    np.testing.assert_allclose(model.explained_variance.numpy()[:code_dim],
                               reference.explained_variance_, rtol=1e-4)
    # Every eigenvalue, not only the kept ones.
    full = decomposition.PCA(svd_solver="full").fit(flat)
    np.testing.assert_allclose(model.explained_variance.numpy(),
                               full.explained_variance_, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(model.encode(images)["codes"],
                               reference.transform(flat) * signs, atol=1e-4)
    codes = reference.transform(flat).astype(np.float32)
    np.testing.assert_allclose(
        np.reshape(model.decoded_images(codes * signs), flat.shape),
        reference.inverse_transform(codes), atol=1e-4)


# --- The codec is an orthogonal projection. -------------------------------


@pytest.mark.parametrize("adapted", [False, True])
def test_encode_decode_is_an_orthogonal_projection(adapted):
    model = _model(code_dim=6)
    if adapted:
        model.adapt(_batches(DIGITS))
    images = tf.constant(DIGITS[:50])
    # The linear codec itself (the capabilities clip its overshoot to
    # [0, 1], see test_capabilities_clip_the_linear_overshoot).
    codes = model.encode(images)["codes"]  # (50, 6)
    reconstructions = model.decoded_images(codes)
    # Idempotent: projecting a projection changes nothing.
    np.testing.assert_allclose(
        model.decoded_images(model.encode(reconstructions)["codes"]),
        reconstructions, atol=1e-5)
    # W^T W = I: decoding then encoding returns the codes.
    np.testing.assert_allclose(model.encode(model.decoded_images(codes))[
        "codes"], codes, atol=1e-5)
    # Orthogonal: the residual has no component in the subspace, so moving
    # the code by delta adds exactly |delta|^2 to the squared error.
    residual = np.reshape(images - reconstructions, (50, -1))
    np.testing.assert_allclose(residual @ model.components.numpy(), 0.0,
                               atol=1e-5)
    delta = np.random.RandomState(0).normal(size=(50, 6)).astype(np.float32)
    moved = model.decoded_images(codes + delta)
    np.testing.assert_allclose(
        np.sum(np.square(images - moved), axis=(1, 2, 3)),
        np.sum(np.square(residual), axis=1) + np.sum(delta**2, axis=1),
        rtol=1e-4)


def test_capabilities_trace_from_their_declared_inputs():
    model = _fitted(DIGITS, code_dim=3)
    images = tf.constant(DIGITS[:5])
    arguments = {"images": images, "codes": model.encode(images)["codes"]}
    for capability in model.capabilities:
        inputs = model.capability_inputs(capability)
        traced = tf.function(getattr(model, capability)).get_concrete_function(
            **{name: spec.spec for name, spec in inputs.items()})
        given = {name: arguments[name] for name in inputs}
        eager = getattr(model, capability)(**given)
        for name, value in traced(**given).items():
            np.testing.assert_allclose(value, eager[name], atol=1e-6)
    assert model.capability_inputs("decode")["codes"].spec == tf.TensorSpec(
        [None, 3], tf.float32)


# --- Training. --------------------------------------------------------------


def test_train_step_measures_without_changing_the_fit():
    model = _fitted(DIGITS, code_dim=4)
    model.compile_for_training()
    before = [variable.numpy() for variable in model.variables]
    batch = next(iter(_batches(DIGITS)))
    logs = model.train_step(batch)
    for variable, value in zip(model.variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    expected = model.loss_terms(batch["image"], training=False)
    np.testing.assert_allclose(logs["squared_error"],
                               np.mean(expected["squared_error"]), rtol=1e-6)
    assert model.training_stages() == [("measure", 1)]


def test_the_training_loop_fits_checkpoints_and_resumes(data_dir, tmp_path):
    spec = registry.get("pca")
    config = pca.get_config()
    model, results = training.train_and_evaluate(
        spec, config, tmp_path, data_dir=data_dir, verbose=0)
    train_images, _ = data.dataset_arrays(data.load(
        "digits", "train", preprocessing="unit", seed=0,
        data_dir=data_dir))
    _, directions, variances = pca.principal_components(
        train_images.reshape(len(train_images), -1))
    signs = np.sign(np.sum(model.components.numpy()
                           * directions.numpy()[:, :16], axis=0))
    np.testing.assert_array_equal(signs, 1.0)  # the same pinned signs
    np.testing.assert_allclose(model.components.numpy(),
                               directions.numpy()[:, :16], atol=1e-4)
    num_train = len(train_images)
    discarded = variances.numpy()[16:].sum()
    # The one measuring epoch saw the fitted model on the training split.
    np.testing.assert_allclose(results["history"]["squared_error"][0],
                               (num_train - 1) / num_train * discarded,
                               rtol=1e-4)
    assert results["model_report"]["explained_variance_fraction"] > 0.8
    assert results["test"]["squared_error"] < 1.0

    # The checkpoint carries the fit into a fresh, unadapted model.
    fresh = training.build_model(spec, config, model.data_info)
    fresh.build_for_training()
    assert checkpoints.TrainingCheckpoint(
        fresh, tmp_path / "checkpoints").restore() == 1
    for name in ("mean", "components", "explained_variance"):
        np.testing.assert_array_equal(getattr(fresh, name).numpy(),
                                      getattr(model, name).numpy())

    # A re-run resumes after the finished epoch: nothing left to run.
    _, again = training.train_and_evaluate(
        spec, config, tmp_path, data_dir=data_dir, verbose=0)
    assert again["history"] == {}
    assert again["test"] == results["test"]


def test_capabilities_clip_the_linear_overshoot():
    model = _model(code_dim=6)
    model.adapt(_batches(DIGITS))
    codes = model.encode(DIGITS[:50])["codes"]
    linear = np.asarray(model.decoded_images(codes * 3.0))
    assert linear.min() < 0.0 and linear.max() > 1.0  # it does overshoot
    served = np.asarray(model.decode(codes * 3.0)["images"])
    np.testing.assert_array_equal(served, np.clip(linear, 0.0, 1.0))
    np.testing.assert_array_equal(
        model.reconstruct(DIGITS[:50])["images"],
        np.clip(model.decoded_images(codes), 0.0, 1.0))
