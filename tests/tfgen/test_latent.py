"""Latent walks and arithmetic: the paths' geometry by hand, the groups'
arithmetic by hand, and both figures drawn for a VAE and a GAN."""

import numpy as np
import pytest

import zoo  # noqa: F401
from tfgen import errors
from tfgen import evaluate
from tfgen import frechet
from tfgen import latent
import model_helpers


def test_linear_path_is_evenly_spaced_between_its_ends():
    start, end = np.array([1.0, -2.0, 0.5]), np.array([3.0, 2.0, -0.5])
    path = latent.linear_interpolation(start, end, 5)
    np.testing.assert_allclose(path[0], start)
    np.testing.assert_allclose(path[-1], end)
    np.testing.assert_allclose(np.diff(path, axis=0),
                               np.tile((end - start) / 4, (4, 1)), rtol=1e-6)


def test_spherical_path_keeps_the_norm_and_turns_at_a_constant_rate():
    # Orthogonal codes of norm 2: the great circle stays on the sphere of
    # radius 2, where the straight line's middle dips to sqrt(2).
    start, end = np.array([2.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    path = latent.spherical_interpolation(start, end, 7)
    np.testing.assert_allclose(path[0], start, atol=1e-6)
    np.testing.assert_allclose(path[-1], end, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 2.0, rtol=1e-6)
    angles = np.arctan2(path[:, 1], path[:, 0])
    np.testing.assert_allclose(np.diff(angles), np.pi / 2 / 6, rtol=1e-5)
    middle = latent.linear_interpolation(start, end, 3)[1]
    assert np.linalg.norm(middle) == pytest.approx(np.sqrt(2.0))


def test_spherical_path_of_parallel_codes_is_the_straight_line():
    start = np.array([1.0, 1.0])
    np.testing.assert_allclose(
        latent.spherical_interpolation(start, 3 * start, 4),
        latent.linear_interpolation(start, 3 * start, 4), rtol=1e-6)


def test_bad_paths_are_refused():
    with pytest.raises(ValueError, match="num_steps"):
        latent.linear_interpolation([0.0], [1.0], 1)
    with pytest.raises(ValueError, match="shapes"):
        latent.spherical_interpolation([0.0], [1.0, 2.0], 3)


def test_expressions_parse_to_classes_and_signs():
    assert latent.parse_expression("7-1+0") == [(7, 1), (1, -1), (0, 1)]
    assert latent.parse_expression("-2 + 3") == [(2, -1), (3, 1)]
    for bad in ("", "7*2", "a-b", "7--1"):
        with pytest.raises(errors.UsageError, match="--expression"):
            latent.parse_expression(bad)


def test_arithmetic_on_group_means_by_hand():
    codes = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0],
                      [5.0, 5.0], [7.0, 7.0], [9.0, 9.0]])
    groups = np.array([0, 0, 1, 1, 2, 2, 2])
    means = latent.group_means(codes, groups, [0, 1, 2], group_size=2)
    np.testing.assert_allclose(means[2], [6.0, 6.0])  # the first two only
    result = latent.combine(means, latent.parse_expression("2-0+1"))
    np.testing.assert_allclose(result, [6.0 - 2.0 + 0.0, 6.0 - 0.0 + 3.0])
    with pytest.raises(errors.UsageError, match="class 1"):
        latent.group_means(codes, groups, [1], group_size=3)


class _IntensityClassifier:
    """Labels an image by its mean intensity: ten bins of [0, 1]."""

    def predict_labels(self, images):
        means = np.asarray(images).reshape(len(images), -1).mean(1)
        return np.minimum((means * 10).astype(int), 9)


def _prepared(name, data_dir):
    model, splits = model_helpers.tiny_model(name, data_dir)
    return evaluate.PreparedEvaluation(model=model, splits=splits,
                                       provenance={"model": name})


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_both_figures_are_drawn(name, data_dir, tmp_path, monkeypatch):
    prepared = _prepared(name, data_dir)
    if name == "gan":
        # No encoder: prior codes are grouped by a classifier of their
        # decoded images; an untrained generator's images are all middling
        # gray, so the stand-in classifier bins mean intensity finely.
        monkeypatch.setattr(frechet, "classifier_for",
                            lambda *args, **kwargs: _IntensityClassifier())
        codes = latent._prior_codes(prepared.model, 200, 0)
        labels = _IntensityClassifier().predict_labels(
            latent._decoder(prepared.model)(codes))
        common = np.bincount(labels, minlength=10).argsort()[::-1][:2]
        expression = f"{common[0]}-{common[1]}+{common[0]}"
    else:
        expression = "7-1+4"
    paths = latent.write_figures(prepared, tmp_path, expression=expression,
                                 num_rows=2, num_steps=4, seed=0,
                                 data_dir=data_dir)
    for path in paths.values():
        assert path.stat().st_size > 1000


def test_a_conditional_decoder_has_no_class_arithmetic(data_dir, tmp_path):
    with pytest.raises(errors.UsageError, match="class as an input"):
        latent.write_figures(_prepared("cgan", data_dir), tmp_path,
                             expression="1-2+3", num_rows=1, num_steps=3,
                             seed=0)
