"""The Parzen-window likelihood: against scikit-learn, by hand, against the
known density of a Gaussian, and in the evaluation harness."""

import logging
import math
import types

import ml_collections
import numpy as np
import pytest
from scipy import stats
from sklearn.neighbors import KernelDensity

from tfgen import config as config_lib
from tfgen import evaluation
from tfgen import parzen
from tfgen.data import DataInfo
import model_helpers

# --- The density. ------------------------------------------------------------


@pytest.mark.parametrize("dimension", [1, 5, 64])
def test_log_densities_match_scikit_learns_kernel_density(dimension):
    rng = np.random.default_rng(dimension)
    samples = rng.normal(size=(23, dimension))
    points = rng.normal(size=(17, dimension))
    bandwidths = (0.3, 1.0, 2.5)
    got = parzen.log_densities(points, samples, bandwidths, chunk_size=4)
    for row, bandwidth in zip(got, bandwidths):
        reference = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(
            samples).score_samples(points)
        # Both exact in float64 (the tree's tolerances are 0 by default);
        # they differ in the order of summation only.
        np.testing.assert_allclose(row, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("bandwidth", [1.0, 0.5])
def test_log_density_of_one_point_and_two_samples_by_hand(bandwidth):
    # Squared distances of (0, 1) to (0, 0) and (1, 0): 1 and 2. In D = 2
    # a kernel is exp(-d / (2 sigma^2)) / (2 pi sigma^2); the window is
    # their mean.
    samples = np.array([[0.0, 0.0], [1.0, 0.0]])
    point = np.array([[0.0, 1.0]])
    variance = bandwidth**2
    expected = math.log(
        0.5 * (math.exp(-1 / (2 * variance)) + math.exp(-2 / (2 * variance)))
        / (2 * math.pi * variance))
    got = parzen.log_density(point, samples, bandwidth)
    assert got.shape == (1,)
    assert got[0] == pytest.approx(expected, rel=1e-12)


def test_images_are_flattened_and_chunks_do_not_change_the_numbers():
    rng = np.random.default_rng(3)
    samples = rng.random((40, 4, 4, 1))  # as images (M, H, W, C)
    points = rng.random((13, 4, 4, 1))
    whole = parzen.log_densities(points, samples, (0.05, 0.2),
                                 chunk_size=len(points))
    np.testing.assert_allclose(
        whole, parzen.log_densities(points.reshape(13, 16),
                                    samples.reshape(40, 16), (0.05, 0.2)),
        rtol=0, atol=1e-12)
    for chunk_size in (1, 3, 5):
        # A chunk's matrix product may round in another order: 1e-9 nats
        # is far below any difference that matters and far above that.
        np.testing.assert_allclose(
            parzen.log_densities(points, samples, (0.05, 0.2),
                                 chunk_size=chunk_size),
            whole, rtol=0, atol=1e-9)


def test_far_points_keep_a_finite_log_density():
    # Every kernel underflows to 0 in float64 at distance 100 and sigma
    # 0.01; the nearest sample, factored out, keeps the logarithm finite.
    samples = np.zeros((3, 2))
    point = np.array([[100.0, 0.0]])
    expected = (-(100.0**2) / (2 * 0.01**2)
                - math.log(2 * math.pi * 0.01**2))
    assert parzen.log_density(point, samples, 0.01)[0] == pytest.approx(
        expected, rel=1e-12)


def test_no_point_exceeds_the_peak_of_its_kernels():
    # A sample's own kernel peaks at 1/M N(0; 0, sigma^2 I); at sigma 1e-6
    # the others add nothing. The expansion of |x - s|^2 rounds to about
    # +-1e-15 at a zero distance, which the clip at 0 keeps from lifting
    # the density above its peak (by 0.003 nats, unclipped).
    rng = np.random.default_rng(6)
    samples = rng.random((200, 64))
    peak = -math.log(200) - 32 * math.log(2 * math.pi * 1e-12)
    got = parzen.log_density(samples, samples, 1e-6)
    assert (got - peak).max() <= 1e-9


def test_a_shift_of_every_point_and_sample_changes_nothing():
    # Far from the origin |x|^2 and |s|^2 are large (3e8 here) and their
    # difference loses digits; centring on the samples' mean keeps them.
    rng = np.random.default_rng(7)
    samples, points = rng.random((50, 3)), rng.random((20, 3))
    shift = 1e4
    np.testing.assert_allclose(
        parzen.log_density(points + shift, samples + shift, 0.01),
        parzen.log_density(points, samples, 0.01), rtol=0, atol=1e-6)


# --- Against a Gaussian of known density. -----------------------------------

def _gaussian_gap(dimension, seed=0, num_samples=2000, num_points=500):
    """Parzen NLL minus the exact NLL of the same test points, and the
    estimate with its data."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dimension, dimension))
    covariance = mixing @ mixing.T / dimension + 0.5 * np.eye(dimension)
    mean = rng.normal(size=dimension)
    truth = stats.multivariate_normal(mean, covariance)
    samples, validation, test = (
        rng.multivariate_normal(mean, covariance, size=count)
        for count in (num_samples, num_points, num_points))
    # The data's scale is about 1: a grid around it, no edge reached.
    result = parzen.estimate(samples, validation, test,
                             bandwidths=np.logspace(-2, 1, 37))
    assert not result["at_grid_edge"]
    exact = -truth.logpdf(test)  # (N,)
    # The exact NLL of the test points estimates the entropy, in closed
    # form 0.5 log det(2 pi e Sigma).
    entropy = 0.5 * np.linalg.slogdet(2 * math.pi * math.e * covariance)[1]
    assert exact.mean() == pytest.approx(
        entropy, abs=4 * exact.std() / math.sqrt(num_points))
    result["data"] = (samples, validation, test)
    return result["nll"] - exact.mean(), result


def test_parzen_is_near_the_truth_in_two_dimensions_and_far_in_many(
        record_property):
    gaps = {dimension: round(float(_gaussian_gap(dimension)[0]), 3)
            for dimension in (2, 20, 64)}
    print("Parzen NLL minus true NLL (nats), 2,000 samples:", gaps)
    record_property("parzen_gaps", gaps)
    # In 2-D the window's cross-entropy is within a few hundredths of a nat
    # of the entropy (0.034 measured; the gap estimates a KL divergence,
    # positive up to the noise of 500 test points).
    assert -0.02 < gaps[2] < 0.1
    # In more dimensions the window spreads its samples' mass ever thinner:
    # 2.4 nats at D = 20 and 14.0 at D = 64 measured, per dimension too.
    assert gaps[20] > 1.0
    assert gaps[64] > 2 * gaps[20]
    assert gaps[64] / 64 > gaps[20] / 20 > gaps[2] / 2


def test_estimate_reports_the_test_nll_at_the_selected_bandwidth():
    gap, result = _gaussian_gap(3, seed=1, num_samples=300, num_points=50)
    assert result["num_samples"] == 300 and result["num_test"] == 50
    assert result["dimension"] == 3
    assert len(result["bandwidths"]) == len(result["validation_scores"]) == 37
    assert math.isfinite(gap)
    samples, _, test = result["data"]
    negative = -parzen.log_density(test, samples, result["bandwidth"])
    assert result["nll"] == pytest.approx(negative.mean(), rel=1e-12)
    # The standard error of a mean over 50 test examples.
    assert result["stderr"] == pytest.approx(
        negative.std(ddof=1) / math.sqrt(50), rel=1e-12)


# --- Bandwidth selection. ----------------------------------------------------

def test_selection_picks_the_best_validation_score_at_a_known_scale():
    rng = np.random.default_rng(4)
    scale = 0.05
    samples = scale * rng.normal(size=(1000, 2))
    validation = scale * rng.normal(size=(200, 2))
    selection = parzen.select_bandwidth(samples, validation)
    grid = np.array(selection["bandwidths"])
    np.testing.assert_array_equal(grid, np.sort(parzen.DEFAULT_BANDWIDTHS))
    scores = [parzen.log_density(validation, samples, sigma).mean()
              for sigma in grid]
    np.testing.assert_allclose(selection["validation_scores"], scores,
                               rtol=1e-12)
    assert selection["bandwidth"] == grid[np.argmax(scores)]
    assert not selection["at_grid_edge"]
    # Silverman's rule for a Gaussian in D = 2, scale * M^(-1/6) = 0.016,
    # is near the likelihood's best bandwidth.
    rule = scale * 1000 ** (-1 / 6)
    assert rule / 2 < selection["bandwidth"] < 2 * rule
    # Ten times the scale, ten times the bandwidth (up to a grid step,
    # a factor 10^(1/12) = 1.21).
    wider = parzen.select_bandwidth(10 * samples, 10 * validation)
    assert wider["bandwidth"] / selection["bandwidth"] == pytest.approx(
        10, rel=0.25)


@pytest.mark.parametrize("grid, best", [((0.001, 0.002), 0.002),
                                        ((200.0, 100.0), 100.0)])
def test_a_best_bandwidth_at_the_grid_edge_is_flagged(grid, best, caplog):
    rng = np.random.default_rng(5)
    samples, validation = rng.normal(size=(50, 3)), rng.normal(size=(20, 3))
    with caplog.at_level(logging.WARNING):
        selection = parzen.select_bandwidth(samples, validation,
                                            bandwidths=grid)
    assert selection["bandwidth"] == best
    assert selection["at_grid_edge"]
    assert "end of the grid" in caplog.text
    # One bandwidth is no choice, and no edge.
    assert not parzen.select_bandwidth(samples, validation,
                                       bandwidths=(best,))["at_grid_edge"]


_GOOD = np.zeros((3, 2))


@pytest.mark.parametrize("arguments, message", [
    ((np.zeros((0, 2)), _GOOD, 1.0), "points is empty"),
    ((_GOOD, np.zeros((3, 0)), 1.0), "samples is empty"),
    ((np.zeros(3), _GOOD, 1.0), "points must be"),
    ((np.zeros((3, 3)), _GOOD, 1.0), "dimension 3 .* dimension 2 differ"),
    ((np.array([[0.0, np.nan]]), _GOOD, 1.0), "points holds non-finite"),
    ((_GOOD, np.array([[np.inf, 0.0]]), 1.0), "samples holds non-finite"),
    ((_GOOD, _GOOD, 0.0), "bandwidth must be positive"),
    ((_GOOD, _GOOD, -1.0), "bandwidth must be positive"),
    ((_GOOD, _GOOD, np.nan), "bandwidth must be positive"),
])
def test_bad_arguments_raise_value_errors_that_name_them(arguments, message):
    with pytest.raises(ValueError, match=message):
        parzen.log_density(*arguments)


def test_bad_grids_chunks_and_splits_raise_value_errors():
    with pytest.raises(ValueError, match="bandwidths is empty"):
        parzen.select_bandwidth(_GOOD, _GOOD, bandwidths=())
    with pytest.raises(ValueError, match="bandwidths must be positive"):
        parzen.select_bandwidth(_GOOD, _GOOD, bandwidths=(0.1, 0.0))
    with pytest.raises(ValueError, match="chunk_size=0"):
        parzen.log_density(_GOOD, _GOOD, 1.0, chunk_size=0)
    with pytest.raises(ValueError, match="validation of dimension 3"):
        parzen.estimate(_GOOD, np.zeros((2, 3)), _GOOD)
    with pytest.raises(ValueError, match="test of dimension 1"):
        parzen.estimate(_GOOD, _GOOD, np.zeros((2, 1)))
    with pytest.raises(ValueError, match="test is empty"):
        parzen.estimate(_GOOD, _GOOD, np.zeros((0, 2)))


# --- In the evaluation harness. ---------------------------------------------

def test_tiny_configs_skip_and_defaults_draw_ten_thousand_samples():
    assert config_lib.base_config().parzen_samples == 10000
    assert config_lib.make_tiny(config_lib.base_config()).parzen_samples == 0


def test_every_tiny_config_skips_the_parzen_likelihood():
    # It draws thousands of samples: too slow for the conformance suite.
    import zoo  # noqa: F401
    from tfgen import registry

    drawing = [name for name in registry.names()
               if "sample" in registry.get(name).model_class.capabilities
               and registry.get(name).get_config("tiny").get(
                   "parzen_samples", 0)]
    assert not drawing, f"tiny configs with parzen_samples > 0: {drawing}"


def test_evaluate_reports_the_parzen_nll_of_a_sampler_of_images(
        data_dir, monkeypatch):
    from tfgen import frechet

    model, splits = model_helpers.tiny_model("gan", data_dir,
                                             parzen_samples=50)
    assert model.config.preprocessing == "symmetric"
    results = evaluation.evaluate(model, splits)
    # The same numbers directly: seeds 0..49, samples mapped from [-1, 1]
    # and clipped, images read as [0, 1] intensities.
    samples = np.clip((np.asarray(model.sample(
        seed=np.arange(50, dtype=np.int64))["images"]) + 1) / 2, 0, 1)
    validation, _ = frechet.unit_images("digits", "validation",
                                        data_dir=data_dir)
    test, _ = frechet.unit_images("digits", "test", data_dir=data_dir)
    expected = parzen.estimate(samples, validation, test)
    # float32 intensities computed two ways differ in the last bits.
    assert results["parzen_nll"] == pytest.approx(expected["nll"], rel=1e-5)
    assert results["parzen_stderr"] == pytest.approx(expected["stderr"],
                                                     rel=1e-4)
    assert results["parzen_bandwidth"] == expected["bandwidth"]
    assert results["parzen_num_samples"] == 50
    assert results["parzen_selection_split"] == "validation"
    assert results["parzen_selection_examples"] == 180
    assert results["parzen_bandwidth_at_grid_edge"] == expected[
        "at_grid_edge"]
    line, = [line for line in evaluation.report_lines(results)
             if line.startswith("Parzen NLL: ")]
    assert f"{results['parzen_nll']:.2f} ± " in line
    assert "50 samples" in line and "not comparable" in line

    # Without a validation split: as many training images as test images.
    del splits["validation"]
    given = []
    monkeypatch.setattr(parzen, "estimate", lambda *arrays: (
        given.extend(arrays), expected)[1])
    held_out = evaluation.parzen_likelihood(model, splits)
    assert held_out["parzen_selection_split"] == "train"
    assert held_out["parzen_selection_examples"] == 360
    train, _ = frechet.unit_images("digits", "train", data_dir=data_dir)
    chosen = np.random.default_rng(0).permutation(len(train))[:360]
    for got, wanted in zip(given, (samples, train[chosen], test)):
        np.testing.assert_allclose(got, wanted, rtol=0, atol=1e-6)
    assert "chosen on training images" in "\n".join(
        evaluation.report_lines({**results, **held_out}))


def test_no_parzen_numbers_without_samples_or_images():
    info = DataInfo("mock", (2, 2, 1), 256, 10,
                    {"train": 4, "validation": 2, "test": 2})
    config = ml_collections.ConfigDict({"preprocessing": "unit"})
    # A config written before the field existed: no Parzen numbers.
    old = types.SimpleNamespace(config=config, data_info=info,
                                capabilities=("sample",), sample=None)
    assert evaluation.parzen_likelihood(old, {}) == {}
    config = ml_collections.ConfigDict({"preprocessing": "identity",
                                        "parzen_samples": 10})
    points = types.SimpleNamespace(
        config=config, capabilities=("sample",), sample=None,
        data_info=DataInfo("ring8", (2,), None, 8, {"test": 2}))
    assert evaluation.parzen_likelihood(points, {}) == {}
    # An exported model's view has the capability but no method.
    exported = types.SimpleNamespace(config=config, data_info=info,
                                     capabilities=("sample",))
    assert evaluation.parzen_likelihood(exported, {}) == {}


def test_config_validation_names_a_bad_parzen_samples():
    from tfgen import errors

    config = config_lib.base_config()
    config.parzen_samples = -1
    with pytest.raises(errors.UsageError,
                       match=r"config.parzen_samples=-1 must be"):
        config_lib.validate(config)
