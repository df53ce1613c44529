"""Tests of the embedded ``digits`` dataset and of the data API's checks."""

import numpy as np
import pytest
from sklearn import datasets as sklearn_datasets
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import data
from tfgen import errors
from tfgen.data import digits

SIZES = {"train": 1257, "validation": 180, "test": 360}


def load_levels(data_dir, split):
    """A whole split as numpy arrays: images (N, 8, 8, 1), labels (N,)."""
    dataset = data.load("digits", split, preprocessing="levels", seed=0,
                        data_dir=data_dir)
    batch = next(iter(dataset.batch(2000)))
    return batch["image"].numpy(), batch["label"].numpy()


@pytest.fixture(scope="module")
def sklearn_digits():
    bunch = sklearn_datasets.load_digits()
    return bunch.images.astype(np.int64), bunch.target.astype(np.int64)


@pytest.fixture(scope="module")
def splits(data_dir):
    return {split: load_levels(data_dir, split) for split in SIZES}


def test_info_reads_shape_levels_classes_and_sizes(data_dir):
    info = data.get_info("digits", data_dir=data_dir)

    assert info == data.DataInfo(
        name="digits", event_shape=(8, 8, 1), num_levels=17, num_classes=10,
        split_sizes=SIZES)
    assert sum(info.split_sizes.values()) == 1797
    assert info.num_pixels == 64


def test_num_levels_is_in_the_prepared_metadata(data_dir):
    # A builder made afresh reads its metadata back from the prepared folder.
    builder = digits.Digits(data_dir=data_dir)

    assert builder.is_prepared()
    assert builder.info.metadata["num_levels"] == 17
    assert digits.Digits.NUM_LEVELS == 17
    assert builder.info.features["image"].shape == (8, 8, 1)


def test_split_indices_are_a_disjoint_cover(sklearn_digits):
    _, labels = sklearn_digits

    indices = digits.split_indices(labels)

    assert {split: len(chosen) for split, chosen in indices.items()} == SIZES
    everything = np.concatenate(list(indices.values()))
    np.testing.assert_array_equal(np.sort(everything), np.arange(1797))


def test_split_indices_are_stratified(sklearn_digits):
    _, labels = sklearn_digits
    class_counts = np.bincount(labels, minlength=10)

    for split, chosen in digits.split_indices(labels).items():
        expected = class_counts * SIZES[split] / len(labels)
        found = np.bincount(labels[chosen], minlength=10)
        # Each split takes evenly spaced positions of a class-grouped order
        # (the validation split from what the test split left), so every
        # class is within two examples of its proportional share.
        assert np.all(np.abs(found - expected) <= 2), (split, found, expected)


def test_split_indices_reject_sizes_that_do_not_cover_the_data():
    with pytest.raises(ValueError, match="do not sum"):
        digits.split_indices(np.zeros(10, np.int64), {"train": 5, "test": 4})


def test_splits_hold_exactly_sklearn_images_and_labels(
        splits, sklearn_digits):
    images, labels = sklearn_digits
    indices = digits.split_indices(labels)

    for split, (split_images, split_labels) in splits.items():
        assert split_images.shape == (SIZES[split], 8, 8, 1)
        # Examples keep scikit-learn's order within a split.
        np.testing.assert_array_equal(split_images[..., 0],
                                      images[indices[split]])
        np.testing.assert_array_equal(split_labels, labels[indices[split]])


def test_splits_together_are_sklearn_digits_as_a_multiset(
        splits, sklearn_digits):
    images, labels = sklearn_digits
    expected_rows = np.concatenate(
        [images.reshape(-1, 64), labels[:, np.newaxis]], axis=1)
    found_rows = np.concatenate(
        [np.concatenate([split_images.reshape(-1, 64),
                         split_labels[:, np.newaxis]], axis=1)
         for split_images, split_labels in splits.values()])

    def sorted_rows(rows):
        return rows[np.lexsort(rows.T[::-1])]

    np.testing.assert_array_equal(sorted_rows(found_rows),
                                  sorted_rows(expected_rows))


def test_levels_are_zero_to_sixteen_and_all_occur(splits):
    train_images, _ = splits["train"]

    np.testing.assert_array_equal(np.unique(train_images), np.arange(17))


def test_same_split_on_a_second_preparation(splits, tmp_path):
    other_images, other_labels = load_levels(tmp_path / "tfds", "validation")

    np.testing.assert_array_equal(other_images, splits["validation"][0])
    np.testing.assert_array_equal(other_labels, splits["validation"][1])


@pytest.mark.parametrize("preprocessing, dtype", [
    ("binarize_static", tf.float32),
    ("binarize_dynamic", tf.float32),
    ("unit", tf.float32),
    ("symmetric", tf.float32),
    ("levels", tf.int32),
])
def test_load_gives_unbatched_examples_of_a_known_count(
        data_dir, preprocessing, dtype):
    dataset = data.load("digits", "validation", preprocessing=preprocessing,
                        seed=3, data_dir=data_dir)

    assert dataset.element_spec == {
        "image": tf.TensorSpec((8, 8, 1), dtype),
        "label": tf.TensorSpec((), tf.int64),
    }
    assert int(dataset.cardinality()) == 180


def test_every_image_preprocessing_is_accepted(data_dir):
    # "identity" is for points (tests/tfgen/data/test_toy2d.py).
    for preprocessing in config_lib.PREPROCESSINGS:
        if preprocessing != "identity":
            data.load("digits", "test", preprocessing=preprocessing, seed=0,
                      data_dir=data_dir)


@pytest.mark.parametrize("call, message", [
    (lambda path: data.get_info("mnsit", data_dir=path),
     "unknown dataset 'mnsit'; valid: digits, mnist, fashion_mnist, "
     "cifar10, ring8, grid25"),
    (lambda path: data.load("nope", "train", preprocessing="unit", seed=0,
                            data_dir=path),
     "unknown dataset 'nope'"),
    (lambda path: data.load("digits", "training", preprocessing="unit",
                            seed=0, data_dir=path),
     "unknown split 'training'; valid: train, validation, test"),
    (lambda path: data.load("digits", "train", preprocessing="binary",
                            seed=0, data_dir=path),
     "unknown preprocessing 'binary'"),
    (lambda path: data.load("digits", "train", preprocessing="unit",
                            seed=0.5, data_dir=path),
     "seed=0.5 must be an integer"),
    (lambda path: data.get_info("digits", data_dir=path,
                                manual_dir=path.parent),
     "'digits' is embedded and takes no manual_dir"),
    (lambda path: data.load("digits", "train", preprocessing="unit", seed=0,
                            data_dir=path, manual_dir=path.parent),
     "'digits' is embedded and takes no manual_dir"),
])
def test_bad_arguments_raise_one_line_and_write_nothing(
        tmp_path, call, message):
    data_dir = tmp_path / "tfds"

    with pytest.raises(errors.UsageError) as raised:
        call(data_dir)

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert not data_dir.exists()


def test_datasets_lists_the_names():
    assert data.DATASETS == ("digits", "mnist", "fashion_mnist", "cifar10",
                             "ring8", "grid25")


def _epochs(data_dir, epochs, preprocessing="binarize_dynamic", seed=3):
    size = data.get_info("digits", data_dir=data_dir).split_sizes["train"]
    dataset = data.shuffled_epochs(
        data.load_by_epoch("digits", "train", preprocessing=preprocessing,
                           seed=seed, data_dir=data_dir),
        size=size, seed=seed, batch_size=100, epochs=epochs)
    per_epoch = data.num_batches(size, 100)
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == per_epoch * len(epochs)
    return [{key: np.concatenate([batch[key] for batch in
                                  batches[i * per_epoch:(i + 1) * per_epoch]])
             for key in ("image", "label")} for i in range(len(epochs))]


def test_each_epoch_is_the_split_shuffled_by_its_own_number(data_dir):
    first, second, third = _epochs(data_dir, range(3))
    unshuffled = next(iter(data.load(
        "digits", "train", preprocessing="levels", seed=3,
        data_dir=data_dir).batch(10_000)))["label"].numpy()

    for one in (first, second, third):
        # A permutation of the split: the same multiset of labels.
        np.testing.assert_array_equal(np.sort(one["label"]),
                                      np.sort(unshuffled))
    assert not np.array_equal(first["label"], unshuffled)
    assert not np.array_equal(first["label"], second["label"])
    assert not np.array_equal(second["image"], third["image"])


def test_an_epoch_is_the_same_whatever_epochs_come_before(data_dir):
    # A run resumed at epoch 2 reads range(2, 3) in a new pipeline.
    straight = _epochs(data_dir, range(3))
    (resumed,) = _epochs(data_dir, range(2, 3))

    for key in ("image", "label"):
        np.testing.assert_array_equal(resumed[key], straight[2][key])


def test_static_binarization_keeps_each_image_across_epochs(data_dir):
    first, second = _epochs(data_dir, range(2), "binarize_static")
    # Shuffled differently, the same binary images: equal as multisets.
    first_images, second_images = (
        sorted(map(bytes, epoch["image"].astype(np.uint8).reshape(
            len(epoch["image"]), -1))) for epoch in (first, second))
    assert first_images == second_images
    assert not np.array_equal(first["image"], second["image"])


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": range(0, 4, 2)}, "epochs"),
    ({"epochs": [0, 1]}, "epochs"),
    ({"epochs": range(-1, 2)}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"size": 0}, "size"),
    ({"seed": 1.5}, "seed"),
])
def test_shuffled_epochs_refuses_bad_arguments(data_dir, kwargs, match):
    arguments = {"size": 8, "seed": 0, "batch_size": 8, "epochs": range(2),
                 **kwargs}
    split_for_epoch = data.load_by_epoch("digits", "train",
                                         preprocessing="unit", seed=0,
                                         data_dir=data_dir)
    with pytest.raises(errors.UsageError, match=match):
        data.shuffled_epochs(split_for_epoch, **arguments)
