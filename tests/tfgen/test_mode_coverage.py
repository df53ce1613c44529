"""Mode coverage (VEEGAN, Table 1) on samples whose answers are known."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import evaluation
from tfgen import mode_coverage
from tfgen.data import DataInfo
from tfgen.data import toy2d
from tfgen.model import GenerativeModel


def test_samples_drawn_from_the_mixture_cover_every_mode_at_the_chi2_share():
    # Closed form: ||x - mu||^2 / sigma^2 ~ chi2_2, P(<= 9) = 1 - e^-4.5.
    assert mode_coverage.expected_share() == pytest.approx(0.98889, abs=1e-5)
    for mixture in (toy2d.ring(), toy2d.grid()):
        samples, drawn_modes = mixture.sample(100_000,
                                              np.random.RandomState(0))
        result = mode_coverage.mode_coverage(samples, mixture)
        num_modes = len(mixture.means)
        assert result["num_modes"] == num_modes
        assert result["modes_covered"] == num_modes
        # The binomial standard error of the share is
        # sqrt(0.0111 * 0.9889 / 1e5) = 3.3e-4; 1.5e-3 is 4.5 of them.
        assert result["high_quality_share"] == pytest.approx(
            1 - math.exp(-4.5), abs=1.5e-3)
        # Each high-quality sample is counted at the mode that drew it.
        modes, _ = mode_coverage.nearest_modes(samples, mixture.means)
        np.testing.assert_array_equal(modes, drawn_modes)
        assert sum(result["mode_counts"]) == round(
            result["high_quality_share"] * len(samples))
        # Even spread: about 100,000 / K per mode, KL near 0 (the
        # multinomial noise of K counts gives KL ~ (K - 1) / (2 N) ~ 1e-4).
        assert result["mode_kl"] < 2e-3


def test_samples_on_one_mode_cover_one():
    mixture = toy2d.ring()
    rng = np.random.RandomState(1)
    samples = mixture.means[3] + mixture.stddev * rng.standard_normal(
        (2500, 2))
    result = mode_coverage.mode_coverage(samples, mixture)
    assert result["modes_covered"] == 1
    assert result["mode_counts"][3] == sum(result["mode_counts"]) > 2400
    assert [i for i, c in enumerate(result["mode_counts"]) if c] == [3]
    # Everything on one mode of 8: KL to uniform is log 8.
    assert result["mode_kl"] == pytest.approx(math.log(8))


def test_far_samples_are_never_high_quality_and_capture_nothing():
    mixture = toy2d.ring()
    # Midway between neighbouring modes (distance 2 sin(pi/8) = 0.77 from
    # each), the origin, and points far outside the ring.
    angles = 2 * np.pi * (np.arange(8) + 0.5) / 8
    midway = 2 * np.cos(np.pi / 8) * np.stack(
        [np.cos(angles), np.sin(angles)], 1)
    samples = np.concatenate([midway, [[0.0, 0.0], [10.0, -10.0]]])
    result = mode_coverage.mode_coverage(samples, mixture)
    assert result["modes_covered"] == 0
    assert result["high_quality_share"] == 0.0
    assert result["mode_counts"] == [0] * 8
    assert result["mode_kl"] is None


def test_three_standard_deviations_is_the_boundary():
    # Exact binary fractions: sigma 5/16, radius 15/16; (9/16, 12/16) is
    # 15/16 from the origin (3-4-5). Samples exactly on the boundary count;
    # 2^-20 beyond it they do not.
    mixture = toy2d.Mixture(np.array([[0.0, 0.0], [4.0, 0.0]]), 0.3125)
    on_boundary = [[0.9375, 0.0], [4.0, -0.9375], [0.5625, 0.75]]
    outside = [[0.9375 + 2**-20, 0.0], [4.0, 0.9375 + 2**-20]]
    result = mode_coverage.mode_coverage(on_boundary + outside, mixture)
    assert result["mode_counts"] == [2, 1]
    assert result["high_quality_share"] == pytest.approx(3 / 5)
    assert result["modes_covered"] == 2
    # The radius is num_stddevs sigma: at 2 sigma none of them counts.
    narrower = mode_coverage.mode_coverage(on_boundary + outside, mixture,
                                           num_stddevs=2.0)
    assert narrower["high_quality_share"] == 0.0


def test_one_high_quality_sample_captures_a_mode():
    # VEEGAN: a mode is captured by at least one high-quality sample.
    mixture = toy2d.grid()
    samples = np.concatenate([np.repeat(mixture.means[:1], 997, axis=0),
                              mixture.means[[7, 24]],
                              mixture.means[[24]] + [[0.0, 0.2]]])  # far
    result = mode_coverage.mode_coverage(samples, mixture)
    assert result["modes_covered"] == 3
    assert result["mode_counts"][0] == 997
    assert result["mode_counts"][7] == result["mode_counts"][24] == 1
    assert result["high_quality_share"] == pytest.approx(999 / 1000)


def test_the_radius_is_the_mixtures_standard_deviation():
    # 0.1 from a mode: within 3 sigma of grid25 (0.15), not of ring8 (0.06).
    ring, grid = toy2d.ring(), toy2d.grid()
    near_ring = ring.means[:1] + [[0.0, 0.1]]
    near_grid = grid.means[:1] + [[0.0, 0.1]]
    assert mode_coverage.mode_coverage(near_ring, ring)["modes_covered"] == 0
    assert mode_coverage.mode_coverage(near_grid, grid)["modes_covered"] == 1


def test_non_finite_samples_are_low_quality():
    mixture = toy2d.ring()
    samples = np.array([[np.nan, 0.0], [np.inf, 1.0], mixture.means[2]])
    result = mode_coverage.mode_coverage(samples, mixture)
    assert result["mode_counts"][2] == 1 and result["modes_covered"] == 1
    # They lie at an infinite distance from every mode, not a NaN one.
    _, distances = mode_coverage.nearest_modes(samples, mixture.means)
    np.testing.assert_array_equal(distances, [np.inf, np.inf, 0.0])
    assert result["high_quality_share"] == pytest.approx(1 / 3)


def test_kl_to_uniform_by_hand():
    # q = (3/4, 1/4, 0, 0): 3/4 log 3 + 1/4 log 1.
    assert mode_coverage.histogram_kl_to_uniform([3, 1, 0, 0]) == \
        pytest.approx(0.75 * math.log(3))


@pytest.mark.parametrize("samples, message", [
    (np.zeros((3, 3)), "samples"), (np.zeros((0, 2)), "samples"),
    (np.zeros(2), "samples")])
def test_bad_samples_are_named(samples, message):
    with pytest.raises(ValueError, match=message):
        mode_coverage.mode_coverage(samples, toy2d.ring())


def test_bad_radius_is_named():
    with pytest.raises(ValueError, match="num_stddevs"):
        mode_coverage.mode_coverage(np.zeros((1, 2)), toy2d.ring(),
                                    num_stddevs=0)


# --- evaluate() reports mode coverage for a sampler of points. -------------

class RingSampler(GenerativeModel):
    """Samples mode (seed mod ``num_used``) of ring8, exactly at its mean."""

    capabilities = ("sample",)
    metric_names = ("loss",)

    def __init__(self, config, data_info, num_used):
        super().__init__(config, data_info)
        self.num_used = num_used
        self.means = tf.constant(toy2d.ring().means, tf.float32)
        self.built = True

    def test_step(self, batch):
        return self.update_metrics({"loss": tf.zeros([1])})

    def _sample(self, seed):
        modes = tf.cast(seed, tf.int32) % self.num_used
        return {"images": tf.gather(self.means, modes)}


def _ring_sampler(name, num_used):
    config = config_lib.base_config()
    config.preprocessing = "identity"
    config.dataset = name
    config.lock()
    points, labels = toy2d.ring().sample(10, np.random.RandomState(0))
    info = DataInfo(name, (2,), None, 8, {"train": 10, "test": 10})
    model = RingSampler(config, info, num_used)
    model.compile_for_training()
    split = tf.data.Dataset.from_tensor_slices(
        {"image": points, "label": labels})
    return model, {"test": split, "train_for_evaluation": split}


def test_evaluate_reports_mode_coverage_on_a_ring():
    model, splits = _ring_sampler("ring8", num_used=5)
    results = evaluation.evaluate(model, splits)
    assert results["modes_covered"] == 5
    assert results["num_modes"] == 8
    assert results["high_quality_share"] == 1.0
    assert results["mode_coverage_samples"] == mode_coverage.NUM_SAMPLES
    assert "modes covered: 5 of 8" in "\n".join(
        evaluation.report_lines(results))


def test_evaluate_reports_no_mode_coverage_off_the_toys():
    model, splits = _ring_sampler("points", num_used=5)
    results = evaluation.evaluate(model, splits)
    assert "modes_covered" not in results
