"""Retrieval and reconstruction numbers of tfgen.evaluation, by hand."""

import math

import numpy as np
import pytest
from scipy.spatial import distance

from tfgen import evaluation


def test_squared_errors_sum_over_pixels_per_image():
    images = np.array([[[0.0, 1.0], [0.5, 0.5]],
                       [[1.0, 1.0], [1.0, 1.0]]]).reshape(2, 2, 2, 1)
    reconstructions = np.array([[[0.5, 1.0], [0.5, 0.0]],
                                [[1.0, 1.0], [1.0, 1.0]]]).reshape(2, 2, 2, 1)
    # Image 0: 0.5^2 + 0.5^2 = 0.5; image 1 is reconstructed exactly.
    np.testing.assert_allclose(
        evaluation.squared_errors(images, reconstructions), [0.5, 0.0])
    with pytest.raises(ValueError, match="shape"):
        evaluation.squared_errors(images, reconstructions[:, :1])


def test_nearest_neighbours_of_hand_placed_points():
    references = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    queries = np.array([[0.0, 0.0], [3.0, 3.0]])
    indices, distances = evaluation.nearest_neighbours(
        queries, references, 3)
    # From (0,0): itself at 0, (0,1) at 1, (3,0) at 3.
    # From (3,3): (3,4) at 1, (3,0) at 3, (0,1) at sqrt(9 + 4).
    np.testing.assert_array_equal(indices, [[0, 2, 1], [3, 1, 2]])
    np.testing.assert_allclose(distances,
                               [[0.0, 1.0, 3.0], [1.0, 3.0, math.sqrt(13)]])


def test_query_indices_leave_each_query_out_of_its_own_neighbours():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    indices, distances = evaluation.nearest_neighbours(
        points, points, 2, query_indices=np.arange(4))
    np.testing.assert_array_equal(indices, [[1, 2], [0, 2], [1, 0], [2, 1]])
    np.testing.assert_allclose(distances, [[1, 3], [1, 2], [2, 3], [4, 6]])


def test_equal_distances_are_ordered_by_reference_index():
    # Four references at distance 1 from the origin, one at distance 0.5.
    references = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0],
                           [0.5, 0.0]])
    indices, _ = evaluation.nearest_neighbours(np.zeros((1, 2)), references, 4)
    np.testing.assert_array_equal(indices, [[4, 0, 1, 2]])


def test_nearest_neighbours_match_brute_force_for_any_chunk_size():
    rng = np.random.default_rng(0)
    references = rng.normal(size=(50, 3))
    queries = references[:17]
    full = distance.cdist(queries, references)  # (17, 50)
    full[np.arange(17), np.arange(17)] = np.inf
    expected = np.argsort(full, axis=1, kind="stable")[:, :5]
    for chunk_size in (1, 4, 256):
        indices, distances = evaluation.nearest_neighbours(
            queries, references, 5, query_indices=np.arange(17),
            chunk_size=chunk_size)
        np.testing.assert_array_equal(indices, expected)
        np.testing.assert_allclose(
            distances, np.take_along_axis(full, expected, axis=1), rtol=1e-9)


@pytest.mark.parametrize("queries, references, k, query_indices, match", [
    (np.zeros((2, 3)), np.zeros((4, 2)), 1, None, "must be"),
    (np.zeros((2, 2)), np.zeros((4, 2)), 5, None, r"\[1, 4\]"),
    (np.zeros((2, 2)), np.zeros((4, 2)), 4, [0, 1], r"\[1, 3\]"),
    (np.zeros((2, 2)), np.zeros((4, 2)), 0, None, "num_neighbours=0"),
    (np.zeros((2, 2)), np.zeros((4, 2)), 1, [0], "1 query_indices for 2"),
])
def test_nearest_neighbours_rejects_bad_arguments(queries, references, k,
                                                  query_indices, match):
    with pytest.raises(ValueError, match=match):
        evaluation.nearest_neighbours(queries, references, k,
                                      query_indices=query_indices)


def test_retrieval_precision_averages_the_fraction_of_matching_labels():
    neighbour_labels = np.array([[1, 1, 2, 3], [0, 0, 0, 0], [5, 4, 4, 4]])
    query_labels = np.array([1, 0, 9])
    # (2/4 + 4/4 + 0/4) / 3 = 0.5
    assert evaluation.retrieval_precision(
        neighbour_labels, query_labels) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="query labels"):
        evaluation.retrieval_precision(neighbour_labels, query_labels[:2])
