"""Tests of ``tfgen.data.preprocessing`` on hand-made gray levels."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tfgen import errors
from tfgen.data import preprocessing

NUM_LEVELS = 17


def levels_dataset(images, labels=None):
    """An unbatched dataset of uint8 images, as TFDS gives them."""
    images = np.asarray(images, np.uint8)
    if labels is None:
        labels = np.arange(len(images))
    return tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": np.asarray(labels, np.int64)})


def epoch(dataset):
    """One pass over ``dataset`` as a stacked numpy array of its images."""
    return np.stack([example["image"] for example in
                     dataset.as_numpy_iterator()])


def half_gray(num_images):
    """Images of level 8 of 16 (probability one half), 8x8x1 each."""
    return levels_dataset(np.full((num_images, 8, 8, 1), 8))


def all_levels_image():
    """A (17, 4, 1) image whose row r holds level r."""
    rows = np.arange(NUM_LEVELS)[:, np.newaxis, np.newaxis]
    return np.broadcast_to(rows, (NUM_LEVELS, 4, 1))


def test_unit_and_symmetric_give_exact_values_in_range():
    dataset = levels_dataset([all_levels_image()])
    levels = np.arange(NUM_LEVELS, dtype=np.float32)[:, np.newaxis, np.newaxis]

    unit = epoch(preprocessing.preprocess(
        dataset, "unit", num_levels=NUM_LEVELS, seed=0))[0]
    symmetric = epoch(preprocessing.preprocess(
        dataset, "symmetric", num_levels=NUM_LEVELS, seed=0))[0]

    assert unit.dtype == np.float32 and symmetric.dtype == np.float32
    np.testing.assert_allclose(unit, np.broadcast_to(levels / 16, unit.shape),
                               rtol=0, atol=1e-7)
    np.testing.assert_allclose(
        symmetric, np.broadcast_to(levels / 8 - 1, symmetric.shape),
        rtol=0, atol=1e-7)
    assert unit.min() == 0.0 and unit.max() == 1.0
    assert symmetric.min() == -1.0 and symmetric.max() == 1.0
    assert symmetric[8, 0, 0] == 0.0


def test_unit_uses_the_number_of_levels():
    # 255 of 256 levels is white; 255 of 17 levels would not be.
    dataset = levels_dataset([[[[0], [51], [255]]]])

    unit = epoch(preprocessing.preprocess(
        dataset, "unit", num_levels=256, seed=0))[0]

    np.testing.assert_allclose(unit.ravel(), [0.0, 0.2, 1.0], atol=1e-7)


def test_levels_are_the_int32_levels():
    image = all_levels_image()
    dataset = preprocessing.preprocess(
        levels_dataset([image]), "levels", num_levels=NUM_LEVELS, seed=0)

    assert dataset.element_spec["image"] == tf.TensorSpec((17, 4, 1),
                                                          tf.int32)
    np.testing.assert_array_equal(epoch(dataset)[0], image)


@pytest.mark.parametrize("name", ["binarize_static", "binarize_dynamic",
                                  "unit", "symmetric", "levels"])
def test_labels_pass_through_as_int64(name):
    dataset = preprocessing.preprocess(
        levels_dataset(np.zeros((3, 2, 2, 1)), labels=[4, 0, 9]), name,
        num_levels=NUM_LEVELS, seed=0)

    labels = [example["label"] for example in dataset.as_numpy_iterator()]

    assert dataset.element_spec["label"] == tf.TensorSpec((), tf.int64)
    assert labels == [4, 0, 9]


def test_static_binarization_is_fixed_per_seed_and_index():
    dataset = preprocessing.preprocess(
        half_gray(6), "binarize_static", num_levels=NUM_LEVELS, seed=7)
    again = preprocessing.preprocess(
        half_gray(6), "binarize_static", num_levels=NUM_LEVELS, seed=7)
    other_seed = preprocessing.preprocess(
        half_gray(6), "binarize_static", num_levels=NUM_LEVELS, seed=8)

    first_epoch = epoch(dataset)

    assert set(np.unique(first_epoch)) == {0.0, 1.0}
    np.testing.assert_array_equal(epoch(dataset), first_epoch)
    np.testing.assert_array_equal(epoch(again), first_epoch)
    assert not np.array_equal(epoch(other_seed), first_epoch)
    # Equal images at different positions get their own draws.
    assert not np.array_equal(first_epoch[0], first_epoch[1])


def test_dynamic_binarization_changes_each_epoch_reproducibly():
    def draws(epoch_number, seed=7):
        return epoch(preprocessing.preprocess(
            half_gray(6), "binarize_dynamic", num_levels=NUM_LEVELS,
            seed=seed, epoch=epoch_number))

    epochs = [draws(number) for number in range(3)]

    assert set(np.unique(epochs[0])) == {0.0, 1.0}
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    # An epoch's draws depend on the seed and its number alone: the same
    # in a new pipeline (a resumed run's), in any order, read twice.
    for number in (2, 0, 1):
        np.testing.assert_array_equal(draws(number), epochs[number])
    dataset = preprocessing.preprocess(
        half_gray(6), "binarize_dynamic", num_levels=NUM_LEVELS, seed=7,
        epoch=1)
    np.testing.assert_array_equal(epoch(dataset), epoch(dataset))
    assert not np.array_equal(draws(0, seed=8), epochs[0])


def test_static_binarization_ignores_the_epoch():
    first, later = (epoch(preprocessing.preprocess(
        half_gray(4), "binarize_static", num_levels=NUM_LEVELS, seed=7,
        epoch=number)) for number in (0, 5))

    np.testing.assert_array_equal(first, later)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_a_bad_epoch_is_refused(bad):
    with pytest.raises(errors.UsageError, match="epoch"):
        preprocessing.preprocess(half_gray(2), "binarize_dynamic",
                                 num_levels=NUM_LEVELS, seed=7, epoch=bad)


def test_static_and_dynamic_draws_differ():
    static = epoch(preprocessing.preprocess(
        half_gray(4), "binarize_static", num_levels=NUM_LEVELS, seed=7))
    dynamic = epoch(preprocessing.preprocess(
        half_gray(4), "binarize_dynamic", num_levels=NUM_LEVELS, seed=7))

    assert not np.array_equal(static, dynamic)


@pytest.mark.parametrize("name", ["binarize_static", "binarize_dynamic"])
def test_binarized_mean_matches_level_fraction(name):
    num_images = 200
    dataset = preprocessing.preprocess(
        levels_dataset([all_levels_image()] * num_images), name,
        num_levels=NUM_LEVELS, seed=11)

    draws = next(iter(dataset.batch(num_images)))["image"].numpy()
    # draws: (200, 17, 4, 1) -> one mean per level over 800 pixels.
    means = draws.mean(axis=(0, 2, 3))
    probabilities = np.arange(NUM_LEVELS) / (NUM_LEVELS - 1)

    # Level 0 never fires and the top level always does.
    assert means[0] == 0.0 and means[-1] == 1.0
    # Each mean averages 800 independent Bernoulli(p) draws: standard error
    # sqrt(p (1 - p) / 800) <= 0.018. Five standard errors make a false
    # alarm on any of the 17 levels less likely than 1e-5.
    standard_errors = np.sqrt(probabilities * (1 - probabilities) / 800)
    np.testing.assert_array_less(np.abs(means - probabilities),
                                 5 * standard_errors + 1e-12)


def test_binarize_is_the_same_eagerly_and_in_a_graph():
    levels = tf.constant(all_levels_image(), tf.uint8)
    seed = tf.constant([3, 4], tf.int64)

    eager = preprocessing.binarize(levels, NUM_LEVELS, seed)
    traced = tf.function(preprocessing.binarize)(levels, NUM_LEVELS, seed)

    np.testing.assert_array_equal(eager.numpy(), traced.numpy())


@pytest.mark.parametrize("kwargs, message", [
    ({"preprocessing": "binary", "num_levels": 17, "seed": 0},
     "unknown preprocessing 'binary'; valid: binarize_static, "
     "binarize_dynamic, unit, symmetric, levels"),
    ({"preprocessing": "unit", "num_levels": 1, "seed": 0},
     "num_levels=1 must be an integer of at least 2"),
    ({"preprocessing": "unit", "num_levels": 17, "seed": "0"},
     "seed='0' must be an integer"),
    ({"preprocessing": "unit", "num_levels": 17, "seed": True},
     "seed=True must be an integer"),
])
def test_bad_arguments_raise_usage_errors(kwargs, message):
    preprocessing_name = kwargs.pop("preprocessing")

    with pytest.raises(errors.UsageError, match=re.escape(message)):
        preprocessing.preprocess(half_gray(1), preprocessing_name, **kwargs)


def test_numpy_integer_seeds_are_accepted():
    dataset = preprocessing.preprocess(
        half_gray(2), "binarize_static", num_levels=NUM_LEVELS,
        seed=np.int64(7))
    reference = preprocessing.preprocess(
        half_gray(2), "binarize_static", num_levels=NUM_LEVELS, seed=7)

    np.testing.assert_array_equal(epoch(dataset), epoch(reference))
