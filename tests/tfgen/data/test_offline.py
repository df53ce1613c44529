"""Tests of the offline builders and of TFDS's builders' split mapping.

Most tests write tiny synthetic files (IDX files of 5x4 images, CIFAR-10
batches of a few records) so that they run anywhere; the ``real MNIST`` tests
read the shared folder of real files and are skipped where it is absent.
"""

import gzip
import json
import struct
import tarfile

from etils import epath
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfgen import data
from tfgen import errors
from tfgen.data import offline

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def write_idx(path, array, magic, *, count=None):
    """Writes ``array`` as an IDX file, gzipped when ``path`` ends in .gz.

    ``count`` replaces the first dimension in the header, to make a header
    that disagrees with the data.
    """
    dims = list(array.shape)
    if count is not None:
        dims[0] = count
    content = (struct.pack(">I", magic)
               + struct.pack(f">{len(dims)}I", *dims)
               + np.asarray(array, np.uint8).tobytes())
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as stream:
        stream.write(content)


def synthetic_mnist(seed=0, num_train=20, num_test=7, height=5, width=4):
    """Random IDX contents: ``{role: uint8 array}``."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (num_train, height, width)),
        "train_labels": rng.integers(0, 10, num_train),
        "test_images": rng.integers(0, 256, (num_test, height, width)),
        "test_labels": rng.integers(0, 10, num_test),
    }


def write_mnist_folder(folder, arrays, *, gzipped=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gzipped else ""
    for role, array in arrays.items():
        magic = IMAGES_MAGIC if role.endswith("images") else LABELS_MAGIC
        write_idx(folder / (FILE_NAMES[role] + suffix), array, magic)
    return folder


def decode_idx_with_numpy(path):
    """An independent IDX decoder: ``(dims, array)``."""
    with gzip.open(path, "rb") as stream:
        content = stream.read()
    num_dims = content[3]
    dims = tuple(int(size) for size in
                 np.frombuffer(content[4:4 + 4 * num_dims], ">u4"))
    return dims, np.frombuffer(content[4 + 4 * num_dims:],
                               np.uint8).reshape(dims)


def load_split(name, split, data_dir, manual_dir):
    """A whole split as numpy arrays: images (N, H, W, C), labels (N,)."""
    dataset = data.load(name, split, preprocessing="levels", seed=0,
                        data_dir=data_dir, manual_dir=manual_dir)
    batch = next(iter(dataset.batch(100_000)))
    return batch["image"].numpy(), batch["label"].numpy()


# ---------------------------------------------------------------------------
# Real MNIST files.


@pytest.fixture(scope="module")
def real_mnist_data_dir(mnist_manual_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("real_mnist")
    data.get_info("mnist", data_dir=path, manual_dir=mnist_manual_dir)
    return path


def test_real_mnist_sizes_come_from_the_headers(
        mnist_manual_dir, real_mnist_data_dir):
    (num_train_file, height, width), _ = decode_idx_with_numpy(
        mnist_manual_dir / "train-images-idx3-ubyte.gz")

    info = data.get_info("mnist", data_dir=real_mnist_data_dir,
                         manual_dir=mnist_manual_dir)

    # The shared train file holds a 20,000-image subset, not 60,000.
    assert num_train_file == 20_000
    assert info.split_sizes == {"train": 18_000, "validation": 2_000,
                                "test": 10_000}
    assert info.image_shape == (height, width, 1) == (28, 28, 1)
    assert info.num_levels == 256
    assert info.num_classes == 10


def test_real_mnist_test_split_equals_the_file(
        mnist_manual_dir, real_mnist_data_dir):
    _, expected_images = decode_idx_with_numpy(
        mnist_manual_dir / "t10k-images-idx3-ubyte.gz")
    _, expected_labels = decode_idx_with_numpy(
        mnist_manual_dir / "t10k-labels-idx1-ubyte.gz")

    images, labels = load_split("mnist", "test", real_mnist_data_dir,
                                mnist_manual_dir)

    np.testing.assert_array_equal(images[0, :, :, 0], expected_images[0])
    assert labels[0] == expected_labels[0] == 7
    np.testing.assert_array_equal(images[..., 0], expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    assert images.max() == 255


def test_real_mnist_validation_is_the_tail_of_the_train_file(
        mnist_manual_dir, real_mnist_data_dir):
    _, train_images = decode_idx_with_numpy(
        mnist_manual_dir / "train-images-idx3-ubyte.gz")
    _, train_labels = decode_idx_with_numpy(
        mnist_manual_dir / "train-labels-idx1-ubyte.gz")

    images, labels = load_split("mnist", "validation", real_mnist_data_dir,
                                mnist_manual_dir)

    np.testing.assert_array_equal(images[..., 0], train_images[-2000:])
    np.testing.assert_array_equal(labels, train_labels[-2000:])


# ---------------------------------------------------------------------------
# Synthetic IDX files.


@pytest.mark.parametrize("gzipped", [True, False])
def test_synthetic_idx_files_are_read_exactly(tmp_path, gzipped):
    arrays = synthetic_mnist()
    folder = write_mnist_folder(tmp_path / "files", arrays, gzipped=gzipped)
    data_dir = tmp_path / "tfds"

    info = data.get_info("mnist", data_dir=data_dir, manual_dir=folder)
    splits = {split: load_split("mnist", split, data_dir, folder)
              for split in data.SPLITS}

    assert info.image_shape == (5, 4, 1)
    assert info.split_sizes == {"train": 18, "validation": 2, "test": 7}
    assert info.num_levels == 256
    expected = {
        "train": (arrays["train_images"][:18], arrays["train_labels"][:18]),
        "validation": (arrays["train_images"][18:],
                       arrays["train_labels"][18:]),
        "test": (arrays["test_images"], arrays["test_labels"]),
    }
    for split, (images, labels) in splits.items():
        np.testing.assert_array_equal(images[..., 0], expected[split][0])
        np.testing.assert_array_equal(labels, expected[split][1])


def test_fashion_mnist_reads_the_same_format(tmp_path):
    arrays = synthetic_mnist(seed=1)
    folder = write_mnist_folder(tmp_path / "files", arrays)

    info = data.get_info("fashion_mnist", data_dir=tmp_path / "tfds",
                         manual_dir=folder)
    images, labels = load_split("fashion_mnist", "test", tmp_path / "tfds",
                                folder)

    assert info.split_sizes == {"train": 18, "validation": 2, "test": 7}
    np.testing.assert_array_equal(images[..., 0], arrays["test_images"])
    np.testing.assert_array_equal(labels, arrays["test_labels"])
    assert list((tmp_path / "tfds" / offline.FILES_DIR).glob(
        "*/fashion_mnist_files"))


def test_builders_have_names_of_their_own():
    names = {name: builder.name for name, builder in offline.BUILDERS.items()}

    assert names == {"mnist": "mnist_files",
                     "fashion_mnist": "fashion_mnist_files",
                     "cifar10": "cifar10_files"}
    for builder_name in names.values():
        assert tfds.builder_cls(builder_name) is offline.BUILDERS[
            builder_name[:-len("_files")]]
    assert offline.FashionMnistFiles.CLASS_NAMES[0] == "T-shirt/top"


def test_standard_size_uses_the_standard_config():
    assert offline.IdxConfig.for_size(28, 28) is (
        offline.MnistFiles.BUILDER_CONFIGS[0])
    assert offline.IdxConfig.for_size(5, 4).name == "5x4"


def _prepared_folder(data_dir, folder, config="5x4"):
    """Where the files of ``folder`` are prepared: by their content."""
    files = offline.check_idx_files(folder)
    return (data_dir / offline.FILES_DIR / files.digest / "mnist_files"
            / config / "1.0.0")


def test_prepared_data_is_reused(tmp_path):
    folder = write_mnist_folder(tmp_path / "files", synthetic_mnist())
    data.get_info("mnist", data_dir=tmp_path / "tfds", manual_dir=folder)
    prepared = _prepared_folder(tmp_path / "tfds", folder)
    first_files = sorted(path.name for path in prepared.iterdir())
    stamp = (prepared / "dataset_info.json").stat().st_mtime_ns

    data.get_info("mnist", data_dir=tmp_path / "tfds", manual_dir=folder)

    assert sorted(path.name for path in prepared.iterdir()) == first_files
    assert (prepared / "dataset_info.json").stat().st_mtime_ns == stamp


def test_other_files_of_a_prepared_dataset_are_prepared_beside_it(tmp_path):
    # Two MNIST-format datasets whose files have the same names and the
    # same byte sizes (not gzipped: the size is the header's), different
    # pixels and labels: each is read from its own files, in either order.
    arrays = {"first": synthetic_mnist(seed=0),
              "second": synthetic_mnist(seed=2)}
    folders = {name: write_mnist_folder(tmp_path / name, value,
                                        gzipped=False)
               for name, value in arrays.items()}
    sizes = {name: sorted((path.name, path.stat().st_size)
                          for path in folder.iterdir())
             for name, folder in folders.items()}
    assert sizes["first"] == sizes["second"]
    data_dir = tmp_path / "tfds"
    for name in ("first", "second", "first"):
        images, labels = load_split("mnist", "test", data_dir, folders[name])
        np.testing.assert_array_equal(images[..., 0],
                                      arrays[name]["test_images"])
        np.testing.assert_array_equal(labels, arrays[name]["test_labels"])
    prepared = {name: _prepared_folder(data_dir, folder)
                for name, folder in folders.items()}
    assert prepared["first"] != prepared["second"]
    assert all(path.is_dir() for path in prepared.values())

    # Files rewritten in place, same names and sizes, are a new dataset
    # too: their content names the folder.
    third = synthetic_mnist(seed=3)
    write_mnist_folder(folders["first"], third, gzipped=False)
    images, _ = load_split("mnist", "test", data_dir, folders["first"])
    np.testing.assert_array_equal(images[..., 0], third["test_images"])


def test_a_prepared_folder_edited_to_other_files_is_reported(tmp_path):
    first = write_mnist_folder(tmp_path / "first", synthetic_mnist())
    data.get_info("mnist", data_dir=tmp_path / "tfds", manual_dir=first)
    metadata_path = _prepared_folder(tmp_path / "tfds", first) / (
        "metadata.json")
    metadata = json.loads(metadata_path.read_text())
    for record in metadata["source_files"].values():
        record["sha256"] = "0" * 64
    metadata_path.write_text(json.dumps(metadata))

    with pytest.raises(errors.UsageError, match="prepared from other files"):
        data.get_info("mnist", data_dir=tmp_path / "tfds", manual_dir=first)


def expect_usage_error_and_no_data_dir(tmp_path, folder, *fragments,
                                       name="mnist"):
    data_dir = tmp_path / "tfds"

    with pytest.raises(errors.UsageError) as raised:
        data.load(name, "train", preprocessing="unit", seed=0,
                  data_dir=data_dir, manual_dir=folder)

    for fragment in fragments:
        assert fragment in str(raised.value)
    assert not data_dir.exists()


@pytest.mark.parametrize("role", sorted(FILE_NAMES))
def test_a_missing_file_is_named(tmp_path, role):
    folder = write_mnist_folder(tmp_path / "files", synthetic_mnist())
    (folder / (FILE_NAMES[role] + ".gz")).unlink()

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, f"lacks {FILE_NAMES[role]}.gz")


def test_a_missing_manual_dir_is_reported(tmp_path):
    expect_usage_error_and_no_data_dir(
        tmp_path, tmp_path / "absent", "absent does not exist")


def test_a_manual_dir_that_is_a_file_is_reported(tmp_path):
    path = tmp_path / "plain_file"
    path.write_text("not a folder")

    expect_usage_error_and_no_data_dir(tmp_path, path, "is not a folder")


def test_a_header_count_that_disagrees_with_the_file_is_reported(tmp_path):
    arrays = synthetic_mnist()
    folder = write_mnist_folder(tmp_path / "files", arrays)
    write_idx(folder / "train-images-idx3-ubyte.gz", arrays["train_images"],
              IMAGES_MAGIC, count=21)

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, "train-images-idx3-ubyte.gz",
        "header says 21 x 5 x 4 = 420 bytes", "holds 400")


def test_label_and_image_counts_must_agree(tmp_path):
    arrays = synthetic_mnist()
    arrays["test_labels"] = arrays["test_labels"][:6]
    folder = write_mnist_folder(tmp_path / "files", arrays)

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, "t10k-labels-idx1-ubyte.gz holds 6 labels",
        "t10k-images-idx3-ubyte.gz holds 7 images")


def test_a_wrong_magic_number_is_reported(tmp_path):
    arrays = synthetic_mnist()
    folder = write_mnist_folder(tmp_path / "files", arrays)
    # A label file where the test images belong.
    write_idx(folder / "t10k-images-idx3-ubyte.gz", arrays["test_labels"],
              LABELS_MAGIC)

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, "t10k-images-idx3-ubyte.gz has magic number "
        "0x00000801, expected 0x00000803")


def test_a_label_outside_the_classes_is_reported(tmp_path):
    arrays = synthetic_mnist()
    arrays["train_labels"][3] = 12
    folder = write_mnist_folder(tmp_path / "files", arrays)

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, "train-labels-idx1-ubyte.gz holds label 12")


def test_too_few_images_for_a_validation_split_is_reported(tmp_path):
    folder = write_mnist_folder(tmp_path / "files",
                                synthetic_mnist(num_train=9))

    expect_usage_error_and_no_data_dir(tmp_path, folder, "too few")


def test_a_corrupt_gzip_file_is_reported(tmp_path):
    folder = write_mnist_folder(tmp_path / "files", synthetic_mnist())
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip data")

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, "train-labels-idx1-ubyte.gz cannot be read")


# ---------------------------------------------------------------------------
# Synthetic CIFAR-10 batches.


def synthetic_cifar(seed=0, records_per_batch=2, num_test=3):
    """Random CIFAR-10 contents: ``{file name: (images, labels)}``."""
    rng = np.random.default_rng(seed)
    contents = {}
    for name in offline.CIFAR_TRAIN_FILES + (offline.CIFAR_TEST_FILE,):
        count = num_test if name == offline.CIFAR_TEST_FILE else (
            records_per_batch)
        contents[name] = (
            rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, count, dtype=np.uint8))
    return contents


def cifar_batch_bytes(images, labels):
    """The binary format: per record a label byte, then R, G, B planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels[:, np.newaxis], planes], axis=1).tobytes()


def write_cifar(folder, contents, layout):
    folder.mkdir(parents=True, exist_ok=True)
    batches = {name: cifar_batch_bytes(*arrays)
               for name, arrays in contents.items()}
    if layout == "archive":
        staging = folder.parent / "staging" / offline.CIFAR_FOLDER
        staging.mkdir(parents=True)
        for name, content in batches.items():
            (staging / name).write_bytes(content)
        with tarfile.open(folder / offline.CIFAR_ARCHIVE, "w:gz") as tar:
            tar.add(staging, arcname=offline.CIFAR_FOLDER)
        return folder
    target = folder / offline.CIFAR_FOLDER if layout == "folder" else folder
    target.mkdir(exist_ok=True)
    for name, content in batches.items():
        (target / name).write_bytes(content)
    return folder


@pytest.mark.parametrize("layout", ["folder", "flat", "archive"])
def test_synthetic_cifar_batches_are_read_exactly(tmp_path, layout):
    contents = synthetic_cifar()
    folder = write_cifar(tmp_path / "files", contents, layout)
    data_dir = tmp_path / "tfds"
    train_images = np.concatenate(
        [contents[name][0] for name in offline.CIFAR_TRAIN_FILES])
    train_labels = np.concatenate(
        [contents[name][1] for name in offline.CIFAR_TRAIN_FILES])

    info = data.get_info("cifar10", data_dir=data_dir, manual_dir=folder)
    splits = {split: load_split("cifar10", split, data_dir, folder)
              for split in data.SPLITS}

    assert info.image_shape == (32, 32, 3)
    assert info.num_levels == 256
    assert info.split_sizes == {"train": 9, "validation": 1, "test": 3}
    expected = {
        "train": (train_images[:9], train_labels[:9]),
        "validation": (train_images[9:], train_labels[9:]),
        "test": contents[offline.CIFAR_TEST_FILE],
    }
    for split, (images, labels) in splits.items():
        np.testing.assert_array_equal(images, expected[split][0])
        np.testing.assert_array_equal(labels, expected[split][1])


def test_decode_cifar_batch_puts_the_planes_in_channels():
    record = np.zeros(offline.CIFAR_RECORD_BYTES, np.uint8)
    record[0] = 6                       # label
    record[1 + 0 * 1024 + 0] = 10       # red, row 0, column 0
    record[1 + 1 * 1024 + 33] = 20      # green, row 1, column 1
    record[1 + 2 * 1024 + 1023] = 30    # blue, row 31, column 31

    images, labels = offline.decode_cifar_batch(record.tobytes(), "one.bin")

    assert labels.tolist() == [6]
    assert images.shape == (1, 32, 32, 3)
    assert images[0, 0, 0, 0] == 10
    assert images[0, 1, 1, 1] == 20
    assert images[0, 31, 31, 2] == 30
    assert images.sum() == 60


def test_a_cifar_batch_of_the_wrong_size_is_named(tmp_path):
    folder = write_cifar(tmp_path / "files", synthetic_cifar(), "folder")
    batch = folder / offline.CIFAR_FOLDER / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes() + b"extra")

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, "data_batch_3.bin holds 6151 bytes",
        name="cifar10")


def test_a_missing_cifar_batch_is_named(tmp_path):
    folder = write_cifar(tmp_path / "files", synthetic_cifar(), "folder")
    (folder / offline.CIFAR_FOLDER / "test_batch.bin").unlink()

    expect_usage_error_and_no_data_dir(
        tmp_path, folder, "lacks test_batch.bin", name="cifar10")


def test_a_folder_without_cifar_files_is_reported(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()

    expect_usage_error_and_no_data_dir(
        tmp_path, folder,
        "lacks cifar-10-batches-bin/data_batch_1.bin "
        "(or cifar-10-binary.tar.gz)", name="cifar10")


# ---------------------------------------------------------------------------
# TFDS's own builders (used when downloading) have no validation split; the
# API takes the last tenth of "train". A local stand-in checks that mapping.


class _TrainTestOnly(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Stands in for TFDS's mnist: uint8 images, train and test, no metadata."""

    VERSION = tfds.core.Version("1.0.0")
    # A test module is no package, where TFDS looks for a builder's files.
    code_path = epath.Path(__file__)
    pkg_dir_path = code_path.parent
    TRAIN_IMAGES = np.arange(20 * 4, dtype=np.uint8).reshape(20, 2, 2, 1)
    TEST_IMAGES = np.full((3, 2, 2, 1), 255, np.uint8)

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(2, 2, 1)),
                "label": tfds.features.ClassLabel(num_classes=10),
                "id": tfds.features.Text(),
            }),
            disable_shuffling=True)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(self.TRAIN_IMAGES),
                "test": self._generate_examples(self.TEST_IMAGES)}

    def _generate_examples(self, images):
        for index, image in enumerate(images):
            yield index, {"image": image, "label": index % 10,
                          "id": f"example_{index}"}


@pytest.fixture
def downloadable_stand_in(monkeypatch):
    def builder(name, data_dir=None):
        assert name == "mnist"
        return _TrainTestOnly(data_dir=data_dir)

    monkeypatch.setattr(tfds, "builder", builder)


def test_tfds_builders_get_a_validation_tail(tmp_path, downloadable_stand_in):
    info = data.get_info("mnist", data_dir=tmp_path)
    train_images, _ = load_split("mnist", "train", tmp_path, None)
    validation_images, validation_labels = load_split(
        "mnist", "validation", tmp_path, None)
    test = data.load("mnist", "test", preprocessing="unit", seed=0,
                     data_dir=tmp_path)

    assert info.split_sizes == {"train": 18, "validation": 2, "test": 3}
    assert info.num_levels == 256  # From the uint8 dtype: no metadata.
    assert info.image_shape == (2, 2, 1)
    np.testing.assert_array_equal(train_images,
                                  _TrainTestOnly.TRAIN_IMAGES[:18])
    np.testing.assert_array_equal(validation_images,
                                  _TrainTestOnly.TRAIN_IMAGES[18:])
    assert validation_labels.tolist() == [8, 9]
    # Only image and label reach the caller.
    assert test.element_spec == {"image": tf.TensorSpec((2, 2, 1), tf.float32),
                                 "label": tf.TensorSpec((), tf.int64)}


def test_failed_download_is_one_usage_error_pointing_to_manual_dir(
        tmp_path, monkeypatch):
    class Unreachable:
        def download_and_prepare(self):
            raise ConnectionError("Failed to resolve the dataset's host\nmore")

    monkeypatch.setattr(tfds, "builder", lambda name, data_dir=None: Unreachable())
    with pytest.raises(errors.UsageError) as raised:
        data.get_info("mnist", data_dir=tmp_path)
    message = str(raised.value)
    assert message == ("could not download 'mnist' (ConnectionError: Failed to "
                       "resolve the dataset's host); offline, pass "
                       "--manual_dir=DIR with its standard files")
