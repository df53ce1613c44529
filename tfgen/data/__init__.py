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
(``tfgen.data.preprocessing``).

Both check their arguments (dataset name, split, preprocessing, seed, the
manual folder and its files) before they write anything, so a call that
fails on bad input leaves no folder behind.
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfgen import errors
from tfgen.data import digits
from tfgen.data import offline
from tfgen.data import preprocessing as preprocessing_lib
from tfgen.data import toy2d
from tfgen.data.info import DataInfo

__all__ = ["DATASETS", "SPLITS", "DataInfo", "get_info", "load"]

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


def load(name, split, *, preprocessing, seed, data_dir=None, manual_dir=None):
    """Returns one split of a dataset, preprocessed, preparing it if needed.

    Args:
        name: a name from ``DATASETS``.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        preprocessing: a name from ``tfgen.config.PREPROCESSINGS``.
        seed: integer seed of the binarizations.
        data_dir: where TFDS caches prepared datasets (TFDS's default when
            None).
        manual_dir: folder with the standard files, read instead of
            downloading.

    Returns:
        A ``tf.data.Dataset`` of ``{"image": (H, W, C) tensor, "label": int64
        scalar}``, in a fixed order, neither batched nor shuffled (the
        training loop does both). The image is int32 levels for ``levels``
        and float32 otherwise.

    Raises:
        UsageError: unknown dataset, split or preprocessing, a seed that is
            not an integer, or a bad ``manual_dir`` (as for ``get_info``).
    """
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
    return preprocessing_lib.preprocess(
        dataset, preprocessing, num_levels=num_levels, seed=seed)
