"""Datasets for tfgen, all through ``tensorflow_datasets``.

``DATASETS`` lists the ``--dataset`` names:

- ``digits``: scikit-learn's 8x8 handwritten digits with 17 gray levels
  (``tfgen.data.digits``), embedded, so it needs neither network nor files.
- ``ring8``, ``grid25``: mixtures of Gaussians in the plane
  (``tfgen.data.toy2d``), generated, whose examples are 2-D points (the
  ``identity`` preprocessing) rather than images.
- ``mnist``, ``fashion_mnist``, ``cifar10``: without ``manual_dir``, TFDS's
  own builders of those names, which download the data into ``data_dir``;
  with ``manual_dir``, the builders of ``tfgen.data.offline``
  (``mnist_files``, ``fashion_mnist_files``, ``cifar10_files``), which read
  the standard distribution files from that folder.

Every dataset has the splits ``train``, ``validation`` and ``test``. Where
the data comes with only ``train`` and ``test`` (TFDS's own builders), the
last tenth of ``train`` is the validation split, as in the offline builders.

``get_info`` tells a model the sizes it needs (``DataInfo``); ``load`` gives
one split as an unbatched, unshuffled ``tf.data.Dataset`` of
``{"image", "label"}``, preprocessed as the model's config asks
(``tfgen.data.preprocessing``); ``load_by_epoch`` gives it as a function of
the epoch (whose draws ``binarize_dynamic`` makes), and ``shuffled_epochs``
a range of epochs of such a split, shuffled and batched, each epoch a
function of the seed and its number alone.

Both check their arguments (dataset name, split, preprocessing, seed, the
manual folder and its files) before they write anything, so a call that
fails on bad input leaves no folder behind.
"""

import dataclasses
import numbers

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfgen import errors
from tfgen.data import digits
from tfgen.data import offline
from tfgen.data import preprocessing as preprocessing_lib
from tfgen.data import toy2d
from tfgen.data.info import DataInfo
from tfgen.data.preprocessing import unit_intensities

__all__ = ["DATASETS", "SPLITS", "DataInfo", "dataset_arrays", "get_info",
           "load", "load_by_epoch", "num_batches", "shuffle_seed",
           "shuffled_epochs", "split_by_batch", "unit_intensities"]

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "ring8", "grid25")
SPLITS = ("train", "validation", "test")

# Datasets shipped with the code: no download and no manual folder.
_EMBEDDED = {"digits": digits.Digits, "ring8": toy2d.Ring8,
             "grid25": toy2d.Grid25}

# Preparation progress bars would flood logs and test output.
tfds.disable_progress_bar()


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """A prepared builder and how our splits map onto its TFDS splits."""

    builder: tfds.core.DatasetBuilder
    tfds_splits: dict   # {"train": TFDS split spec, ...}
    split_sizes: dict   # {"train": number of examples, ...}


def _check_dataset(name):
    if name not in DATASETS:
        raise errors.UsageError(
            f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def _check_split(split):
    if split not in SPLITS:
        raise errors.UsageError(
            f"unknown split {split!r}; valid: {', '.join(SPLITS)}")


def _prepare(name, data_dir, manual_dir):
    """Prepares ``name`` in ``data_dir`` if needed and maps its splits.

    Args:
        name: a name from ``DATASETS``.
        data_dir: TFDS's cache of prepared datasets; TFDS's default if None.
        manual_dir: folder with the standard files, or None.

    Returns:
        A ``_Prepared``.

    Raises:
        UsageError: bad name or manual folder, raised before any folder is
            made.
    """
    _check_dataset(name)
    if name in _EMBEDDED and manual_dir is not None:
        raise errors.UsageError(
            f"dataset {name!r} is embedded and takes no manual_dir")
    if name in _EMBEDDED:
        builder = _EMBEDDED[name](data_dir=data_dir)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                try_download_gcs=False))
    elif manual_dir is not None:
        # Checks the folder and its files before it writes anything.
        builder = offline.prepare(
            offline.BUILDERS[name], manual_dir, data_dir=data_dir)
    else:
        # TFDS's own builder under the same name: downloads on first use.
        builder = tfds.builder(name, data_dir=data_dir)
        try:
            builder.download_and_prepare()
        except Exception as error:  # Any failure to fetch: no network, etc.
            first_line = (str(error).splitlines() or [type(error).__name__])[0]
            raise errors.UsageError(
                f"could not download {name!r} ({type(error).__name__}: "
                f"{first_line[:200]}); offline, pass --manual_dir=DIR with "
                "its standard files") from error

    splits = builder.info.splits
    if "validation" in splits:
        tfds_splits = {split: split for split in SPLITS}
        split_sizes = {split: splits[split].num_examples for split in SPLITS}
    else:
        num_train_file = splits["train"].num_examples
        num_train = num_train_file - offline.validation_count(num_train_file)
        tfds_splits = {
            "train": f"train[:{num_train}]",
            "validation": f"train[{num_train}:]",
            "test": "test",
        }
        split_sizes = {
            "train": num_train,
            "validation": num_train_file - num_train,
            "test": splits["test"].num_examples,
        }
    return _Prepared(builder, tfds_splits, split_sizes)


def _num_levels(info):
    """Gray levels per channel: from the metadata, else the pixel dtype.

    None for data that are not images (points in the plane).
    """
    if not isinstance(info.features["image"], tfds.features.Image):
        return None
    try:
        return int(info.metadata["num_levels"])
    except (KeyError, TypeError):  # TypeError: the builder has no metadata.
        pass
    # TFDS's own image datasets use every value of their (uint8) dtype.
    dtype = np.dtype(info.features["image"].np_dtype)
    return int(np.iinfo(dtype).max) + 1


def _data_info(name, prepared):
    features = prepared.builder.info.features
    return DataInfo(
        name=name,
        event_shape=tuple(int(size) for size in features["image"].shape),
        num_levels=_num_levels(prepared.builder.info),
        num_classes=int(features["label"].num_classes),
        split_sizes=dict(prepared.split_sizes))


def get_info(name, *, data_dir=None, manual_dir=None):
    """Returns what a model needs to know of a dataset, preparing it if needed.

    Args:
        name: a name from ``DATASETS``.
        data_dir: where TFDS caches prepared datasets (TFDS's default,
            ``~/tensorflow_datasets`` or ``$TFDS_DATA_DIR``, when None).
        manual_dir: folder with the standard files of ``mnist``,
            ``fashion_mnist`` or ``cifar10``, read instead of downloading.

    Returns:
        A ``DataInfo`` with the image shape, number of gray levels, number of
        classes and the size of each split.

    Raises:
        UsageError: unknown dataset; ``manual_dir`` given for ``digits``,
            missing, or lacking or holding a malformed file.
    """
    return _data_info(name, _prepare(name, data_dir, manual_dir))


def _raw_split(name, split, preprocessing, seed, data_dir, manual_dir):
    """Checks a request and returns ``(levels dataset, num_levels, size)``."""
    _check_dataset(name)
    _check_split(split)
    preprocessing_lib.check_preprocessing(preprocessing)
    preprocessing_lib.check_seed(seed)
    prepared = _prepare(name, data_dir, manual_dir)
    num_levels = _num_levels(prepared.builder.info)
    if (num_levels is None) != (preprocessing == "identity"):
        raise errors.UsageError(
            f"preprocessing {preprocessing!r} does not fit dataset {name!r}: "
            "'identity' is for datasets of points, the others for images")
    dataset = prepared.builder.as_dataset(
        split=prepared.tfds_splits[split], shuffle_files=False)
    # Other features (e.g. CIFAR-10's "id" in TFDS) are not part of the API.
    dataset = dataset.map(
        lambda example: {"image": example["image"],
                         "label": example["label"]})
    return dataset, num_levels, prepared.split_sizes[split]


def load(name, split, *, preprocessing, seed, epoch=0, data_dir=None,
         manual_dir=None):
    """Returns one split of a dataset, preprocessed, preparing it if needed.

    Args:
        name: a name from ``DATASETS``.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        preprocessing: a name from ``tfgen.config.PREPROCESSINGS``.
        seed: integer seed of the binarizations.
        epoch: whose draws ``binarize_dynamic`` makes (the others ignore
            it).
        data_dir: where TFDS caches prepared datasets (TFDS's default when
            None).
        manual_dir: folder with the standard files, read instead of
            downloading.

    Returns:
        A ``tf.data.Dataset`` of ``{"image": (H, W, C) tensor, "label": int64
        scalar}``, in a fixed order, neither batched nor shuffled. The image
        is int32 levels for ``levels`` and float32 otherwise.

    Raises:
        UsageError: unknown dataset, split or preprocessing, a seed that is
            not an integer, a negative epoch, or a bad ``manual_dir`` (as
            for ``get_info``).
    """
    preprocessing_lib.check_epoch(epoch)
    dataset, num_levels, _ = _raw_split(name, split, preprocessing, seed,
                                        data_dir, manual_dir)
    return preprocessing_lib.preprocess(
        dataset, preprocessing, num_levels=num_levels, seed=seed, epoch=epoch)


# Keeps the shuffles' seeds apart from other draws of the same user seed.
_SHUFFLE_SALT = 0x5348


def shuffle_seed(seed, epoch):
    """The stateless seed of epoch ``epoch``'s shuffle: int64, shape ``(2,)``.

    A function of the two numbers alone, so a resumed run shuffles epoch
    ``epoch`` as an uninterrupted one does.
    """
    return tf.random.experimental.stateless_fold_in(
        tf.constant([int(seed), _SHUFFLE_SALT], tf.int64),
        tf.cast(epoch, tf.int64))


def load_by_epoch(name, split, *, preprocessing, seed, data_dir=None,
                  manual_dir=None):
    """One split as a function of the epoch: ``epoch -> dataset``.

    Like ``load``, checked and prepared once, here; the function returned
    gives the split preprocessed with epoch ``epoch``'s draws (an integer or
    a scalar integer tensor, as ``tf.data.Dataset.flat_map`` passes it).

    Raises:
        UsageError: as for ``load``.
    """
    examples, num_levels, _ = _raw_split(name, split, preprocessing, seed,
                                         data_dir, manual_dir)

    def split_for_epoch(epoch):
        return preprocessing_lib.preprocess(
            examples, preprocessing, num_levels=num_levels, seed=seed,
            epoch=epoch)
    return split_for_epoch


def shuffled_epochs(split_for_epoch, *, size, seed, batch_size, epochs):
    """Epochs of a split, one after another, each shuffled and batched.

    Epoch ``k`` is a function of ``seed`` and ``k`` alone: the split
    ``split_for_epoch(k)`` gives (its own preprocessing draws, with
    ``load_by_epoch``) in the order ``shuffle_seed(seed, k)`` draws. So a
    run resumed at epoch ``k`` from a checkpoint, in a new process, sees
    the batches an uninterrupted run would have seen, whatever iterators
    came before; ``model.fit`` reads it with ``initial_epoch=epochs.start``
    and ``steps_per_epoch=num_batches(size, batch_size)``.

    Args:
        split_for_epoch: ``epoch -> unbatched dataset`` of ``size`` examples
            in a fixed order (``load_by_epoch``'s function, or ``lambda
            epoch: dataset`` for a split whose examples never change).
        size: the number of examples in an epoch.
        seed: integer seed of the shuffles.
        batch_size: examples per batch; an epoch's last batch may be
            smaller.
        epochs: a ``range`` of epoch numbers (step 1), say
            ``range(initial_epoch, last_epoch)``.

    Returns:
        A ``tf.data.Dataset`` of batches, ``num_batches(size, batch_size)``
        per epoch.

    Raises:
        UsageError: a seed that is not an integer, a batch size or size
            below 1, or ``epochs`` not a range of non-negative numbers with
            step 1.
    """
    preprocessing_lib.check_seed(seed)
    if (not isinstance(epochs, range) or epochs.step != 1
            or epochs.start < 0):
        raise errors.UsageError(
            f"epochs={epochs!r} must be a range of non-negative epoch "
            "numbers with step 1")
    for label, value in (("batch_size", batch_size), ("size", size)):
        if (not isinstance(value, numbers.Integral)
                or isinstance(value, bool) or value < 1):
            raise errors.UsageError(
                f"{label}={value!r} must be a positive integer")

    def one_epoch(epoch):
        # The whole split as one element (what a full shuffle buffer
        # holds), permuted by a stateless shuffle: Dataset.shuffle would mix
        # in TensorFlow's global seed and takes no seed tensor when that is
        # 0.
        whole = split_for_epoch(epoch).batch(int(size))

        def shuffled_batches(examples):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(tf.shape(examples["label"])[0]),
                seed=shuffle_seed(seed, epoch))
            return tf.data.Dataset.from_tensor_slices(
                {key: tf.gather(value, order)
                 for key, value in examples.items()}).batch(int(batch_size))

        return whole.flat_map(shuffled_batches)

    return split_by_batch(tf.data.Dataset.range(epochs.start, epochs.stop)
                          .flat_map(one_epoch).prefetch(tf.data.AUTOTUNE))


def split_by_batch(dataset):
    """``dataset`` of batches, marked to be split batch by batch between
    the tasks of a multi-worker run.

    Each task reads it whole and keeps its part of every global batch, as
    the replicas of one process do; the default, sharding by the files read,
    would give each task other examples, or none.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)


def num_batches(size, batch_size):
    """Batches in an epoch of ``size`` examples (the last may be smaller)."""
    return -(-int(size) // int(batch_size))


def dataset_arrays(dataset):
    """Reads a (batched or unbatched) dataset of ``{"image", "label"}`` dicts.

    Returns:
        ``(images, labels)`` as numpy arrays, images ``(N, H, W, C)``.
    """
    images, labels = [], []
    for element in dataset.as_numpy_iterator():
        image, label = element["image"], element["label"]
        if np.ndim(label) == 0:
            image, label = image[np.newaxis], np.reshape(label, [1])
        images.append(image)
        labels.append(label)
    return np.concatenate(images), np.concatenate(labels)
