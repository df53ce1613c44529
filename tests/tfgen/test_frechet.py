"""Tests of tfgen.frechet: the Fréchet distance against closed forms, the
label spread by hand, the classifier's cache, and the metric on digits."""

import json
import types

import numpy as np
import pytest
import scipy.linalg

from tfgen import frechet

# Steps of the one digits classifier the tests train: about 3 s on 2 CPU
# cores and ~97% test accuracy (the default's 2000 steps give ~98%).
_TEST_STEPS = 300


def _random_spd(rng, size):
    """A random symmetric positive definite (size, size) matrix."""
    factor = rng.normal(size=(size, size))
    return factor @ factor.T + 0.1 * np.eye(size)


def _closed_form(mean_a, cov_a, mean_b, cov_b):
    """The distance computed independently of scipy.linalg.sqrtm.

    (C_a C_b)^{1/2} is similar to (C_a^{1/2} C_b C_a^{1/2})^{1/2}, a
    symmetric PSD matrix, so its trace is the sum of the square roots of
    that matrix's eigenvalues; C_a^{1/2} comes from an eigendecomposition.
    """
    values, vectors = np.linalg.eigh(cov_a)
    root_a = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    difference = mean_a - mean_b
    return (difference @ difference + np.trace(cov_a) + np.trace(cov_b)
            - 2 * trace_root)


# --- The Fréchet distance. -------------------------------------------------

def test_diagonal_covariances_by_hand():
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    # ||dmu||^2 = 1 + 0 + 4; sum (sqrt a - sqrt b)^2 = 1 + 1 + 6.25.
    expected = 5.0 + 8.25
    distance = frechet.frechet_distance(mean_a, np.diag(var_a),
                                        mean_b, np.diag(var_b))
    # Float64 rounding of a few operations on numbers near 10.
    assert distance == pytest.approx(expected, abs=1e-9)


def test_commuting_covariances():
    # The same eigenvectors: the distance is that of the eigenvalues.
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    var_a, var_b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    mean_a, mean_b = rng.normal(size=5), rng.normal(size=5)
    expected = (np.sum((mean_a - mean_b) ** 2)
                + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2))
    distance = frechet.frechet_distance(
        mean_a, rotation @ np.diag(var_a) @ rotation.T,
        mean_b, rotation @ np.diag(var_b) @ rotation.T)
    assert distance == pytest.approx(expected, rel=1e-9)


def test_general_covariances_against_an_eigendecomposition():
    rng = np.random.default_rng(1)
    for size in (2, 7, 20):
        mean_a, mean_b = rng.normal(size=size), rng.normal(size=size)
        cov_a, cov_b = _random_spd(rng, size), _random_spd(rng, size)
        distance = frechet.frechet_distance(mean_a, cov_a, mean_b, cov_b)
        # Two float64 routes to the same number (traces of order 100).
        assert distance == pytest.approx(
            _closed_form(mean_a, cov_a, mean_b, cov_b), rel=1e-8)


def test_zero_for_identical_gaussians_and_symmetric():
    rng = np.random.default_rng(2)
    mean_a, mean_b = rng.normal(size=6), rng.normal(size=6)
    cov_a, cov_b = _random_spd(rng, 6), _random_spd(rng, 6)
    assert frechet.frechet_distance(mean_a, cov_a, mean_a, cov_a) == (
        pytest.approx(0.0, abs=1e-9))
    assert frechet.frechet_distance(mean_a, cov_a, mean_b, cov_b) == (
        pytest.approx(frechet.frechet_distance(mean_b, cov_b, mean_a, cov_a),
                      rel=1e-9))


def test_singular_covariances():
    # Fewer samples than features: both covariances are singular.
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(5, 30)), rng.normal(size=(6, 30))
    statistics = (*frechet.feature_statistics(first),
                  *frechet.feature_statistics(second))
    # The eps fallback, if taken, moves the distance by O(eps * F).
    assert frechet.frechet_distance(*statistics) == pytest.approx(
        _closed_form(*statistics), abs=1e-3)


def test_failed_square_root_falls_back_to_an_offset(monkeypatch):
    rng = np.random.default_rng(4)
    mean_a, mean_b = rng.normal(size=4), rng.normal(size=4)
    cov_a, cov_b = _random_spd(rng, 4), _random_spd(rng, 4)
    sqrtm, calls = scipy.linalg.sqrtm, []

    def failing_once(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.nan) if len(calls) == 1 else sqrtm(
            matrix)

    monkeypatch.setattr(frechet.scipy.linalg, "sqrtm", failing_once)
    distance = frechet.frechet_distance(mean_a, cov_a, mean_b, cov_b,
                                        eps=1e-6)
    assert len(calls) == 2
    np.testing.assert_allclose(
        calls[1], (cov_a + 1e-6 * np.eye(4)) @ (cov_b + 1e-6 * np.eye(4)))
    # The offset moves the traces by about 2 * eps * F.
    assert distance == pytest.approx(
        _closed_form(mean_a, cov_a, mean_b, cov_b), abs=1e-4)

    monkeypatch.setattr(frechet.scipy.linalg, "sqrtm",
                        lambda matrix: np.full_like(matrix, np.nan))
    with pytest.raises(ValueError, match="square root"):
        frechet.frechet_distance(mean_a, cov_a, mean_b, cov_b)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="cov_b"):
        frechet.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3),
                                 np.eye(2))
    with pytest.raises(ValueError, match="mean_b"):
        frechet.frechet_distance(np.zeros(2), np.eye(2),
                                 np.array([0.0, np.nan]), np.eye(2))
    with pytest.raises(ValueError, match="features"):
        frechet.feature_statistics(np.zeros((1, 3)))


def test_feature_statistics_unbiased_by_hand():
    features = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mean, covariance = frechet.feature_statistics(features)
    np.testing.assert_allclose(mean, [2.0, 2.0])
    # Deviations (-2, -1), (0, -1), (2, 2); sums of products over N - 1 = 2.
    np.testing.assert_allclose(covariance, [[4.0, 3.0], [3.0, 3.0]])


def test_statistics_of_large_samples_approach_the_true_gaussian():
    rng = np.random.default_rng(5)
    mean, covariance = rng.normal(size=4), _random_spd(rng, 4)
    samples = rng.multivariate_normal(mean, covariance, size=200_000)
    distance = frechet.frechet_distance(
        *frechet.feature_statistics(samples), mean, covariance)
    # The estimate's distance to the truth is O(Tr C * F / N) ~ 1e-3 here;
    # a Gaussian shifted by 0.1 in one coordinate would be at 1e-2.
    assert distance < 3e-3


# --- Label spread. -----------------------------------------------------------

def test_label_spread_uniform_and_collapsed():
    uniform = frechet.label_spread(np.tile(np.arange(10), 7), 10)
    assert uniform["label_entropy"] == pytest.approx(np.log(10), rel=1e-12)
    assert uniform["effective_classes"] == pytest.approx(10, rel=1e-12)
    assert uniform["classes_covered"] == 10
    assert uniform["largest_class_share"] == pytest.approx(0.1)

    collapsed = frechet.label_spread(np.full(50, 3), 10)
    assert collapsed["label_entropy"] == 0.0
    assert collapsed["classes_covered"] == 1
    assert collapsed["largest_class_share"] == 1.0
    assert collapsed["label_distribution"][3] == 1.0


def test_label_spread_covered_threshold_and_entropy_by_hand():
    # 1000 samples of 10 classes: a class is covered from 1% (10 samples).
    labels = np.concatenate([np.full(981, 0), np.full(10, 1), np.full(9, 2)])
    spread = frechet.label_spread(labels, 10)
    assert spread["classes_covered"] == 2
    shares = np.array([0.981, 0.010, 0.009])
    assert spread["label_entropy"] == pytest.approx(
        -(shares * np.log(shares)).sum(), rel=1e-12)
    with pytest.raises(ValueError, match="predicted_labels"):
        frechet.label_spread([0, 10], 10)


# --- Model samples. ----------------------------------------------------------

def test_model_samples_in_unit_intensities():
    class SymmetricModel:
        config = types.SimpleNamespace(preprocessing="symmetric")

        def sample(self, seed):
            # A tanh generator's range, overshooting below -1 at seed 5.
            values = -1.2 + 0.2 * (np.asarray(seed) - 5.0)  # (B,)
            return {"images": np.broadcast_to(values[:, None, None, None],
                                              (len(seed), 2, 2, 1))}

    # seed=1 picks the block of seeds 5..9, drawn two at a time.
    images = frechet.model_samples(SymmetricModel(), 5, seed=1, batch_size=2)
    assert images.shape == (5, 2, 2, 1)
    # (v + 1) / 2 clipped to [0, 1]; float32 rounding.
    np.testing.assert_allclose(images[:, 0, 0, 0], [0, 0, 0.1, 0.2, 0.3],
                               atol=1e-6)


# --- The classifier, its cache and the metric on digits. --------------------

def test_classifier_rejects_bad_images():
    untrained = frechet.FeatureClassifier(
        frechet._build_network((8, 8, 1), 10, seed=0), {})
    assert untrained.features(np.zeros((3, 8, 8, 1))).shape == (
        3, frechet.FEATURE_SIZE)
    with pytest.raises(ValueError, match="images"):
        untrained.features(np.zeros((3, 28, 28, 1)))
    with pytest.raises(ValueError, match="generated_images"):
        frechet.compare_with_floor(untrained, np.zeros((10, 8, 8, 1)),
                                   np.zeros((4, 8, 8, 1)))


@pytest.fixture(scope="module")
def digits_classifier(data_dir, tmp_path_factory):
    """The digits classifier, trained once, and its cache folder."""
    cache_dir = tmp_path_factory.mktemp("classifiers")
    classifier = frechet.classifier_for(
        "digits", data_dir=data_dir, cache_dir=cache_dir,
        training_steps=_TEST_STEPS)
    return classifier, cache_dir


def test_second_call_loads_the_cached_classifier(digits_classifier,
                                                 data_dir, monkeypatch):
    classifier, cache_dir = digits_classifier
    (folder,) = (cache_dir / "classifiers").iterdir()
    assert folder.name.startswith("digits-")
    record = json.loads((folder / "classifier.json").read_text())
    assert record["test_accuracy"] == classifier.test_accuracy

    def no_training(*args, **kwargs):
        raise AssertionError("a cached classifier was trained again")

    monkeypatch.setattr(frechet, "train_classifier", no_training)
    loaded = frechet.classifier_for("digits", data_dir=data_dir,
                                    cache_dir=cache_dir,
                                    training_steps=_TEST_STEPS)
    images, _ = frechet.unit_images("digits", "test", data_dir=data_dir)
    np.testing.assert_array_equal(loaded.features(images[:20]),
                                  classifier.features(images[:20]))
    assert loaded.test_accuracy == classifier.test_accuracy
    # Another seed determines another classifier: it would be trained.
    with pytest.raises(AssertionError, match="trained again"):
        frechet.classifier_for("digits", data_dir=data_dir,
                               cache_dir=cache_dir, seed=1,
                               training_steps=_TEST_STEPS)


def test_interrupted_write_leaves_no_cache_folder(data_dir, tmp_path,
                                                  monkeypatch):
    def untrained(images, labels, *, num_classes, seed, **kwargs):
        return frechet._build_network(images.shape[1:], num_classes, seed)

    def killed_after_the_weights(*args, **kwargs):
        network = untrained(*args, **kwargs)
        save_weights = network.save_weights

        def save_then_die(path):
            save_weights(path)
            raise KeyboardInterrupt  # The weights written, not the record.

        network.save_weights = save_then_die
        return network

    monkeypatch.setattr(frechet, "train_classifier", killed_after_the_weights)
    with pytest.raises(KeyboardInterrupt):
        frechet.classifier_for("digits", data_dir=data_dir,
                               cache_dir=tmp_path, training_steps=1)
    # Neither the cache folder nor the hidden temporary one is left.
    assert list((tmp_path / "classifiers").iterdir()) == []

    monkeypatch.setattr(frechet, "train_classifier", untrained)
    frechet.classifier_for("digits", data_dir=data_dir, cache_dir=tmp_path,
                           training_steps=1)
    (folder,) = (tmp_path / "classifiers").iterdir()
    assert sorted(path.name for path in folder.iterdir()) == [
        "classifier.json", "classifier.weights.h5"]


def test_digits_metric_orders_real_collapsed_and_noise(digits_classifier,
                                                       data_dir):
    classifier, _ = digits_classifier
    assert classifier.test_accuracy >= 0.9
    real, labels = frechet.unit_images("digits", "test", data_dir=data_dir)
    assert classifier.accuracy(real, labels) == classifier.test_accuracy

    collapsed = np.repeat(real[:1], len(real), axis=0)
    noise = np.random.default_rng(0).uniform(size=real.shape).astype(
        np.float32)
    floor = frechet.real_floor(classifier, real, seed=0)
    assert floor["half_size"] == len(real) // 2
    distances = {name: frechet.compare_with_floor(
        classifier, real, images, seed=0) for name, images in
        (("collapsed", collapsed), ("noise", noise))}
    for name, compared in distances.items():
        assert compared["real_floor"] == floor["real_floor"]
        # Measured ~8 for the floor against >100 for both.
        assert compared["frechet_distance_half"] > 5 * floor["real_floor"], (
            name)

    quality = frechet.sample_quality(classifier, real, collapsed)
    assert quality["classes_covered"] == 1
    assert quality["label_entropy"] == 0.0
    # The real test set covers every class about evenly.
    assert quality["real_label_entropy"] > 0.95 * np.log(10)
    real_quality = frechet.sample_quality(classifier, real[::2], real[1::2])
    assert real_quality["frechet_distance"] < 2 * floor["real_floor"]
    assert real_quality["classes_covered"] == 10
