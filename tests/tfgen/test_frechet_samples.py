"""Tests of tfgen.frechet.evaluate_samples, the harness's numbers of a
sampler: the real test set drawn back as samples, and a tiny untrained
DCGAN. An untrained classifier gives the features: the properties tested
hold for any feature map, and it costs nothing to build."""

import math
import types

import numpy as np
import pytest

from tfgen import data
from tfgen import frechet
from tfgen import registry
from tfgen import training
import zoo  # noqa: F401  (fills the registry)

KEYS = {"frechet_distance", "frechet_distance_half", "frechet_floor_half",
        "frechet_half_size", "frechet_num_samples", "label_entropy",
        "label_entropy_max", "effective_classes", "classes_covered",
        "largest_class_share", "real_label_entropy"}


def _untrained_classifier(record=None):
    return frechet.FeatureClassifier(
        frechet._build_network((8, 8, 1), 10, seed=0), record or {})


class RealImagesSampler:
    """Draws the real test images back: sample i is image i mod N, in the
    [-1, 1] units of the ``symmetric`` preprocessing."""

    capabilities = ("sample",)
    name = "real_images"

    def __init__(self, symmetric_images, data_info):
        self.images = symmetric_images
        self.data_info = data_info
        self.config = types.SimpleNamespace(preprocessing="symmetric")

    def sample(self, seed):
        return {"images": self.images[np.asarray(seed) % len(self.images)]}


@pytest.fixture(scope="module")
def digits_test(data_dir):
    """The test split as the symmetric preprocessing gives it, and info."""
    info = data.get_info("digits", data_dir=data_dir)
    split = data.load("digits", "test", preprocessing="symmetric", seed=0,
                      data_dir=data_dir)
    return split, info


def test_real_images_drawn_back_score_zero_above_a_positive_floor(
        digits_test):
    split, info = digits_test
    symmetric = np.stack([element["image"]
                          for element in split.as_numpy_iterator()])
    sampler = RealImagesSampler(symmetric, info)
    classifier = _untrained_classifier()
    results = frechet.evaluate_samples(sampler, split, classifier=classifier,
                                       seed=0)
    assert set(results) == KEYS  # No accuracy recorded for this classifier.
    assert results["frechet_num_samples"] == 360
    assert results["frechet_half_size"] == 180
    # The floor is the distance between two disjoint random halves, those
    # picked here by hand. (The untrained network's features are small,
    # ~0.01, so every distance here is small; only their ratios matter.)
    order = np.random.default_rng(0).permutation(360)
    features = classifier.features((symmetric + 1) / 2)
    floor = results["frechet_floor_half"]
    assert floor > 0
    assert floor == pytest.approx(
        frechet.features_distance(features[order[:180]],
                                  features[order[180:]]), rel=1e-9)
    # The samples are the test set itself, so the two Gaussians are equal:
    # what is left is sqrtm's float64 rounding, ~1e-10 of the floor.
    assert results["frechet_distance"] < 1e-6 * floor
    assert results["label_entropy"] == results["real_label_entropy"]
    # Real images 0..179 against the other half, real too: of the floor's
    # size (a factor 2 either way leaves room for the draw of the halves).
    assert 0.5 * floor < results["frechet_distance_half"] < 2 * floor
    # The same images given as [0, 1] intensities give the same numbers.
    from_array = frechet.evaluate_samples(
        sampler, (symmetric + 1) / 2, classifier=classifier, seed=0)
    for key in KEYS:
        assert from_array[key] == pytest.approx(results[key], rel=1e-6,
                                                abs=1e-9), key


def test_the_seed_picks_other_halves(digits_test):
    split, info = digits_test
    symmetric = np.stack([element["image"]
                          for element in split.as_numpy_iterator()])
    sampler = RealImagesSampler(symmetric, info)
    classifier = _untrained_classifier()
    first = frechet.evaluate_samples(sampler, split, classifier=classifier,
                                     seed=0)
    second = frechet.evaluate_samples(sampler, split, classifier=classifier,
                                      seed=1)
    assert second["frechet_floor_half"] != first["frechet_floor_half"]
    # Seeds 360..719 draw the test set again, in the same order.
    assert second["frechet_distance"] < 1e-6 * second["frechet_floor_half"]


def test_training_floor_is_of_the_test_sets_size(digits_test, data_dir):
    split, info = digits_test
    symmetric = np.stack([element["image"]
                          for element in split.as_numpy_iterator()])
    sampler = RealImagesSampler(symmetric, info)
    classifier = _untrained_classifier()
    train = data.load("digits", "train", preprocessing="symmetric", seed=0,
                      data_dir=data_dir)
    results = frechet.evaluate_samples(sampler, split, classifier=classifier,
                                       seed=3, train_split_or_images=train)
    train_images = np.stack([element["image"]
                             for element in train.as_numpy_iterator()])
    chosen = np.random.default_rng(3).permutation(1257)[:360]
    features = classifier.features((train_images[chosen] + 1) / 2)
    assert results["frechet_floor_train"] == pytest.approx(
        frechet.features_distance(features,
                                  classifier.features((symmetric + 1) / 2)),
        rel=1e-9)
    # 360 training images against the 360 test images: below the floor of
    # two sets of 180 (the bias of finite sets), above zero.
    assert 0 < results["frechet_floor_train"] < results["frechet_floor_half"]
    # The test set given as training images: all of it is chosen, so the
    # "floor" is the distance of a set to itself.
    itself = frechet.evaluate_samples(sampler, split, classifier=classifier,
                                      train_split_or_images=split)
    assert itself["frechet_floor_train"] < 1e-6 * results[
        "frechet_floor_train"]
    # Fewer training images than test images: no floor of that size.
    assert "frechet_floor_train" not in frechet.evaluate_samples(
        sampler, split, classifier=classifier,
        train_split_or_images=train.take(100))


def test_tiny_untrained_dcgan(digits_test, data_dir, monkeypatch):
    split, info = digits_test
    spec = registry.get("dcgan")
    model = training.build_model(spec, spec.get_config("tiny"), info)
    calls = []

    def cached_classifier(dataset, **kwargs):
        calls.append((dataset, kwargs))
        return _untrained_classifier({"test_accuracy": 0.25})

    monkeypatch.setattr(frechet, "classifier_for", cached_classifier)
    results = frechet.evaluate_samples(model, split, data_dir=data_dir)
    assert calls == [("digits", {"data_dir": data_dir, "manual_dir": None,
                                 "cache_dir": None})]
    assert set(results) == KEYS | {"classifier_accuracy"}
    assert results["classifier_accuracy"] == 0.25
    assert all(math.isfinite(value) for value in results.values())
    assert results["frechet_distance"] > 0
    assert results["label_entropy_max"] == pytest.approx(math.log(10))
    assert 1 <= results["classes_covered"] <= 10


def test_bad_arguments_are_named(digits_test):
    split, info = digits_test
    sampler = RealImagesSampler(np.zeros((10, 8, 8, 1), np.float32), info)
    classifier = _untrained_classifier()
    with pytest.raises(ValueError, match="test_split_or_images"):
        frechet.evaluate_samples(sampler, np.zeros((3, 8, 8, 1)),
                                 classifier=classifier)
    with pytest.raises(ValueError, match="images of shape"):
        frechet.evaluate_samples(sampler, np.zeros((10, 28, 28, 1)),
                                 classifier=classifier)
    with pytest.raises(ValueError, match="train_images holds 3 images"):
        frechet.train_floor(classifier, np.zeros((3, 8, 8, 1)),
                            np.zeros((4, 8, 8, 1)))
    no_sampler = types.SimpleNamespace(capabilities=("log_prob",),
                                       name="pixelcnn")
    with pytest.raises(ValueError, match="'pixelcnn' has no sample"):
        frechet.evaluate_samples(no_sampler, split, classifier=classifier)
