"""The 2-D toy mixtures: their builders, their densities, their pipeline."""

import numpy as np
import pytest

from tfgen import data
from tfgen import errors
from tfgen import plots
from tfgen.data import toy2d


def _points(name, split, data_dir):
    dataset = data.load(name, split, preprocessing="identity", seed=0,
                        data_dir=data_dir)
    elements = list(dataset.as_numpy_iterator())
    return (np.stack([element["image"] for element in elements]),
            np.array([element["label"] for element in elements]))


@pytest.mark.parametrize("name, num_modes", [("ring8", 8), ("grid25", 25)])
def test_info_describes_points_not_images(name, num_modes, data_dir):
    info = data.get_info(name, data_dir=data_dir)
    assert info.event_shape == (2,) and not info.is_image
    assert info.num_levels is None and info.num_classes == num_modes
    assert info.split_sizes == toy2d.SPLIT_SIZES
    assert info.event_size == 2
    with pytest.raises(ValueError, match="not images"):
        info.image_shape  # noqa: B018


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_points_come_from_their_labelled_mode(name, data_dir):
    mixture = toy2d.MIXTURES[name]()
    points, modes = _points(name, "validation", data_dir)
    assert points.dtype == np.float32 and points.shape == (2000, 2)
    # Each point lies within a few stddevs of its mode's mean, and the
    # spread per coordinate is the stated stddev (2,000 points: the sample
    # stddev is within 5% of the truth at about 3 standard errors).
    offsets = points - mixture.means[modes]
    assert np.abs(offsets).max() < 6 * mixture.stddev
    assert abs(offsets.std() / mixture.stddev - 1) < 0.05
    # Modes are equally likely: every count within 5 binomial stddevs.
    counts = np.bincount(modes, minlength=len(mixture.means))
    expected = len(modes) / len(mixture.means)
    assert np.all(np.abs(counts - expected)
                  < 5 * np.sqrt(expected * (1 - 1 / len(mixture.means))))


def test_splits_are_fixed_and_disjoint(data_dir):
    train, _ = _points("ring8", "train", data_dir)
    again, _ = _points("ring8", "train", data_dir)
    test, _ = _points("ring8", "test", data_dir)
    np.testing.assert_array_equal(train, again)
    assert not set(map(tuple, test)) & set(map(tuple, train[:5000]))


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_density_integrates_to_one(name):
    mixture = toy2d.MIXTURES[name]()
    # A midpoint rule on a grid fine against the modes' stddev.
    step = mixture.stddev / 4
    low = mixture.means.min() - 8 * mixture.stddev
    high = mixture.means.max() + 8 * mixture.stddev
    axis = np.arange(low, high, step) + step / 2
    total = 0.0
    for start in range(0, len(axis), 64):  # in slabs, to bound memory
        xs, ys = np.meshgrid(axis[start:start + 64], axis, indexing="ij")
        points = np.stack([xs.ravel(), ys.ravel()], 1)
        total += np.exp(mixture.log_prob(points)).sum() * step**2
    assert total == pytest.approx(1.0, abs=1e-3)


def test_preprocessing_must_fit_the_kind_of_data(data_dir):
    with pytest.raises(errors.UsageError, match="identity"):
        data.load("ring8", "train", preprocessing="unit", seed=0,
                  data_dir=data_dir)
    with pytest.raises(errors.UsageError, match="identity"):
        data.load("digits", "train", preprocessing="identity", seed=0,
                  data_dir=data_dir)


def test_points_plot_is_written(tmp_path):
    mixture = toy2d.ring()
    points, _ = mixture.sample(500, np.random.RandomState(0))
    path = plots.plot_points(points, points[::-1] * 0.5,
                             tmp_path / "points.png", title="ring8")
    assert (tmp_path / "points.png").stat().st_size > 1000
    assert str(path).endswith("points.png")
    with pytest.raises(ValueError, match="samples"):
        plots.plot_points(points, points[:, :1], tmp_path / "bad.png")
