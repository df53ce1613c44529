"""The evaluation harness's numbers, against hand-computed values."""

import math

import numpy as np
import pytest

from tfgen import evaluation


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
