"""The evaluation harness's numbers, against hand-computed values."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import evaluation
from tfgen.data import DataInfo
from tfgen.model import GenerativeModel
import model_helpers


def test_independent_pixel_nll_binarized_matches_hand_computation():
    # Two pixels; training marginals with add-one smoothing:
    # pixel 0: 3 ones of 4 -> (3+1)/(4+2) = 2/3; pixel 1: 0 ones -> 1/6.
    train = np.array([[1, 0], [1, 0], [1, 0], [0, 0]], np.float32).reshape(4, 1, 2, 1)
    test = np.array([[1, 1], [0, 0]], np.float32).reshape(2, 1, 2, 1)
    expected = -0.5 * ((math.log(2 / 3) + math.log(1 / 6))
                       + (math.log(1 / 3) + math.log(5 / 6)))
    got = evaluation.independent_pixel_nll(
        train, test, preprocessing="binarize_static", num_levels=17)
    assert got == pytest.approx(expected, rel=1e-6)


def test_independent_pixel_nll_levels_matches_hand_computation():
    # One pixel, three levels; counts 2,1,0 plus one each -> 3/6, 2/6, 1/6.
    train = np.array([0, 0, 1], np.int32).reshape(3, 1, 1, 1)
    test = np.array([2, 0], np.int32).reshape(2, 1, 1, 1)
    expected = -0.5 * (math.log(1 / 6) + math.log(3 / 6))
    got = evaluation.independent_pixel_nll(
        train, test, preprocessing="levels", num_levels=3)
    assert got == pytest.approx(expected, rel=1e-6)


def test_independent_pixel_model_is_normalized_over_all_images():
    # Summing exp(-NLL) over every possible 2x1 binary image gives 1.
    rng = np.random.default_rng(0)
    train = (rng.random((20, 1, 2, 1)) < 0.3).astype(np.float32)
    total = 0.0
    for bits in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        image = np.array(bits, np.float32).reshape(1, 1, 2, 1)
        total += math.exp(-evaluation.independent_pixel_nll(
            train, image, preprocessing="binarize_dynamic", num_levels=2))
    # float32 images carry the sum to about 1e-8.
    assert total == pytest.approx(1.0, abs=1e-6)


def test_continuous_preprocessing_has_no_discrete_baseline():
    images = np.zeros((2, 1, 1, 1), np.float32)
    assert evaluation.independent_pixel_nll(
        images, images, preprocessing="unit", num_levels=256) is None


def test_bits_per_dim():
    assert evaluation.bits_per_dim(64 * math.log(2.0), 64) == pytest.approx(1.0)


# --- evaluate(): the one computation of a trained model's test numbers. -----

class Scored(GenerativeModel):
    """A model whose every number is known in closed form.

    log p(x) = -(sum of x) - 1 (a stated estimate, stderr 0.3); the
    reconstruction of x is ``flip`` * x (in the data's units); the test
    loss is the sum of x.
    """

    capabilities = ("log_prob", "reconstruct")
    metric_names = ("loss",)
    log_prob_kind = "estimate"

    def __init__(self, config, data_info, flip=0.5):
        super().__init__(config, data_info)
        self.flip = flip
        self.built = True

    def log_prob_stderr(self):
        return 0.3

    def report(self):
        return {"constant": 2}

    def _sums(self, images):
        images = tf.cast(images, tf.float32)
        return tf.reduce_sum(tf.reshape(images, [tf.shape(images)[0], -1]),
                             axis=1)

    def test_step(self, batch):
        return self.update_metrics({"loss": self._sums(batch["image"])})

    def _log_prob(self, images):
        return {"log_prob": -self._sums(images) - 1.0}

    def _reconstruct(self, images):
        images = tf.cast(images, tf.float32)
        if self.config.preprocessing == "levels":
            # A capability's images are in [0, 1] for level data.
            images = images / (self.data_info.num_levels - 1)
        return {"images": self.flip * images}


def _scored(preprocessing, train, test, num_levels=2, flip=0.5):
    config = config_lib.base_config(log_prob_samples=7)
    config.preprocessing = preprocessing
    config.batch_size = 3  # not a divisor of the test set's size
    config.lock()
    info = DataInfo("mock", test.shape[1:], num_levels, 0,
                    {"train": len(train), "test": len(test)})
    model = Scored(config, info, flip=flip)
    model.compile_for_training()
    splits = {
        "test": tf.data.Dataset.from_tensor_slices(
            {"image": test, "label": np.zeros(len(test), np.int64)}),
        "train_for_evaluation": tf.data.Dataset.from_tensor_slices(
            {"image": train, "label": np.zeros(len(train), np.int64)})}
    return model, splits


def test_evaluate_binarized_numbers_against_closed_forms():
    rng = np.random.default_rng(0)
    train = (rng.random((20, 2, 3, 1)) < 0.3).astype(np.float32)
    test = (rng.random((7, 2, 3, 1)) < 0.6).astype(np.float32)
    model, splits = _scored("binarize_static", train, test)
    results = evaluation.evaluate(model, splits)
    sums = test.reshape(7, -1).sum(axis=1)
    assert results["num_test_examples"] == 7
    assert results["test"] == {"loss": pytest.approx(sums.mean(), rel=1e-6)}
    assert results["test_nll"] == pytest.approx(sums.mean() + 1.0, rel=1e-6)
    assert results["log_prob_kind"] == "estimate"
    assert results["log_prob_stderr"] == 0.3
    assert results["log_prob_samples"] == 7
    assert "test_bits_per_dim" not in results  # not integer levels
    # (x - x/2)^2 summed: a quarter of the number of ones.
    assert results["test_squared_error"] == pytest.approx(0.25 * sums.mean(),
                                                          rel=1e-6)
    assert results["baseline_independent_pixels_nll"] == pytest.approx(
        evaluation.independent_pixel_nll(
            train, test, preprocessing="binarize_static", num_levels=2))
    assert results["model_report"] == {"constant": 2.0}
    json.dumps(results)  # plain numbers and strings


def test_evaluate_levels_in_bits_per_dim_and_errors_in_unit_intensities():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 3, (10, 2, 2, 1)).astype(np.int32)
    test = rng.integers(0, 3, (5, 2, 2, 1)).astype(np.int32)
    model, splits = _scored("levels", train, test, num_levels=3)
    results = evaluation.evaluate(model, splits)
    sums = test.reshape(5, -1).sum(axis=1)
    nll = sums.mean() + 1.0
    assert results["test_nll"] == pytest.approx(nll, rel=1e-6)
    assert results["test_bits_per_dim"] == pytest.approx(
        nll / (4 * math.log(2.0)), rel=1e-6)
    # Levels 0..2 are intensities 0, 1/2, 1; the reconstruction is half.
    unit = test.reshape(5, -1) / 2.0
    assert results["test_squared_error"] == pytest.approx(
        np.square(unit / 2).sum(axis=1).mean(), rel=1e-6)


def test_evaluate_symmetric_errors_are_in_unit_intensities_unclipped():
    rng = np.random.default_rng(2)
    test = rng.uniform(-1, 1, (4, 2, 2, 1)).astype(np.float32)
    # The reconstruction -x: in [0, 1] units (1 - x)/2 against (1 + x)/2,
    # a difference of x per pixel.
    model, splits = _scored("symmetric", test, test, flip=-1.0)
    results = evaluation.evaluate(model, splits)
    assert results["test_squared_error"] == pytest.approx(
        np.square(test).reshape(4, -1).sum(axis=1).mean(), rel=1e-5)
    assert "baseline_independent_pixels_nll" not in results  # continuous
    # An overshooting reconstruction, 3x, counts beyond [0, 1].
    model, splits = _scored("unit", np.abs(test), np.abs(test), flip=3.0)
    assert evaluation.evaluate(model, splits)["test_squared_error"] == (
        pytest.approx(np.square(2 * np.abs(test)).reshape(4, -1).sum(
            axis=1).mean(), rel=1e-5))


def test_report_lines_state_the_kind_k_and_error_of_the_nll():
    results = {"test": {"loss": 1.5, "elbo": -1.5}, "test_nll": 22.27344,
               "log_prob_kind": "lower_bound", "log_prob_stderr": 0.0,
               "log_prob_samples": 100, "test_squared_error": 6.5,
               "baseline_independent_pixels_nll": 27.21,
               "model_report": {"log_partition": 78.2}}
    assert evaluation.report_lines(results) == [
        "test elbo: -1.5000",
        "test loss: 1.5000",
        "test NLL: 22.2734 nats (log_prob lower_bound, k=100)",
        "test squared error per example (reconstruct): 6.5000",
        "baseline NLL, independent pixels (ignores the input): 27.2100 nats",
        "model log_partition: 78.2000",
    ]
    estimate = {"test_nll": 22.5, "log_prob_kind": "estimate",
                "log_prob_stderr": 0.0071, "test_bits_per_dim": 2.08}
    assert evaluation.report_lines(estimate) == [
        "test NLL: 22.5000 nats (log_prob estimate, stderr 0.0071)",
        "test bits/dim: 2.0800"]


def test_record_evaluation_keeps_training_numbers_and_replaces_its_own(
        tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(
        {"model": "vae", "history": {"loss": [3.0]}, "test_nll": 99.0,
         "export": "somewhere"}))
    evaluation.record_evaluation(tmp_path, {"test_nll": 22.0,
                                            "test": {"loss": 1.0}},
                                 model="vae", checkpoint="ckpt-3", epochs=3)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == {"model": "vae", "history": {"loss": [3.0]},
                       "test_nll": 22.0, "test": {"loss": 1.0},
                       "export": "somewhere"}
    assert json.loads((tmp_path / "evaluation.json").read_text()) == {
        "model": "vae", "checkpoint": "ckpt-3", "epochs": 3,
        "test_nll": 22.0, "test": {"loss": 1.0}}
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "evaluation.json", "metrics.json"]  # no temporary left


def test_export_record_round_trips_beside_a_saved_model(tmp_path):
    model, _ = _scored("binarize_static", np.zeros((2, 1, 1, 1), np.float32),
                       np.zeros((2, 1, 1, 1), np.float32))
    assert evaluation.read_export_record(tmp_path) is None
    evaluation.write_export_record(tmp_path, model, "scored")
    record = evaluation.read_export_record(tmp_path)
    assert record["model"] == "scored"
    assert record["log_prob_kind"] == "estimate"
    assert record["log_prob_stderr"] == 0.3
    assert record["model_report"] == {"constant": 2.0}
    assert record["config"]["preprocessing"] == "binarize_static"
    assert record["config"]["optimizers"]["model"]["algorithm"] == "adam"
    assert (tmp_path / "assets.extra" / "tfgen_model.json").is_file()


# --- Sample quality of samplers of labelled images. -------------------------

@pytest.mark.parametrize("sample_quality", [True, False])
def test_samplers_of_labelled_images_get_the_frechet_numbers(
        sample_quality, data_dir, monkeypatch):
    from tfgen import frechet

    asked = []

    def untrained_classifier(dataset, **kwargs):
        asked.append((dataset, kwargs["data_dir"]))
        return frechet.FeatureClassifier(
            frechet._build_network((8, 8, 1), 10, seed=0),
            {"test_accuracy": 0.5})

    monkeypatch.setattr(frechet, "classifier_for", untrained_classifier)
    model, splits = model_helpers.tiny_model(
        "gan", data_dir, sample_quality=sample_quality)
    results = evaluation.evaluate(model, splits, data_dir=data_dir)
    lines = evaluation.report_lines(results)
    if not sample_quality:
        assert "frechet_distance" not in results and not asked
        assert not any("Fréchet" in line for line in lines)
        return
    assert asked == [("digits", data_dir)]
    assert results["frechet_num_samples"] == results["num_test_examples"]
    assert results["frechet_distance"] > 0
    assert results["frechet_floor_train"] > 0
    assert results["classifier_accuracy"] == 0.5
    assert 1 <= results["classes_covered"] <= 10
    assert any(line.startswith("Fréchet distance of 360 samples")
               for line in lines)


def test_the_frechet_and_parzen_numbers_share_one_draw_of_each_seed(
        data_dir, monkeypatch):
    from tfgen import frechet

    classifier = frechet.FeatureClassifier(
        frechet._build_network((8, 8, 1), 10, seed=0), {})
    monkeypatch.setattr(frechet, "classifier_for",
                        lambda dataset, **kwargs: classifier)
    # 400 Parzen samples: the Fréchet distance's 360 (seeds 0..359, as many
    # as test images) and 40 more.
    model, splits = model_helpers.tiny_model(
        "gan", data_dir, sample_quality=True, parzen_samples=400)
    drawn = []
    sample = model.sample

    def counted_sample(seed, **kwargs):
        drawn.extend(np.asarray(seed).tolist())
        return sample(seed=seed, **kwargs)

    monkeypatch.setattr(model, "sample", counted_sample)
    results = evaluation.evaluate(model, splits, data_dir=data_dir)
    assert sorted(drawn) == list(range(400))  # Each seed once.
    # The numbers are those of separate draws.
    drawn.clear()
    separate = {**frechet.evaluate_samples(
        model, splits["test"], classifier=classifier,
        train_split_or_images=splits["train_for_evaluation"]),
        **evaluation.parzen_likelihood(model, splits)}
    assert len(drawn) == 760
    for key in ("frechet_distance", "frechet_floor_half", "label_entropy",
                "parzen_nll", "parzen_stderr", "parzen_bandwidth"):
        assert results[key] == pytest.approx(separate[key], rel=1e-6), key
