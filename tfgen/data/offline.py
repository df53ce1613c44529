"""TFDS builders that read MNIST, Fashion-MNIST and CIFAR-10 from local files.

With a network, ``tfgen.data`` uses TFDS's own ``mnist``, ``fashion_mnist`` and
``cifar10`` builders, which download the data. Without one, a user puts the
standard distribution files in a folder and passes it as ``--manual_dir``
(TFDS's manual-download convention, ``DownloadConfig(manual_dir=...)``); the
builders here read them from ``dl_manager.manual_dir``:

- ``mnist_files`` and ``fashion_mnist_files``: the four IDX files
  ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, gzipped (``.gz``,
  as distributed) or not. The number of images and their height and width are
  read from each file's header, never assumed: a folder may hold a subset of
  the 60,000 training images, and the header must agree with the file's size.
- ``cifar10_files``: the binary version of CIFAR-10, either the folder
  ``cifar-10-batches-bin/`` (``data_batch_1.bin`` .. ``data_batch_5.bin`` and
  ``test_batch.bin``), those six files directly in the folder, or the archive
  ``cifar-10-binary.tar.gz``.

The names end in ``_files`` so they never clash with TFDS's own builders, and
a dataset prepared from local files is cached apart from a downloaded one.
The image size of the IDX builders is a builder config named ``HxW``
(``28x28`` for the standard files); files of another size get a config of
their own and so a cache folder of their own.

Splits are deterministic: the test file is ``test``; the training file loses
its last tenth (``validation_count``) to ``validation``; examples keep the
files' order. The metadata holds ``num_levels`` (256) and the fingerprint
of the files read (each one's name, byte size and SHA-256).

A dataset prepared from local files is kept under a folder of the data
folder named by that fingerprint's digest,
``<data_dir>/manual_files/<digest>/mnist_files/28x28/1.0.0``: other files
for the same dataset (another MNIST-format dataset, a subset, an edited
copy) are prepared beside the first, so both work and neither is ever
read in place of the other.
"""

import dataclasses
import functools
import gzip
import hashlib
import json
import math
import os
import pathlib
import struct
import tarfile
import zlib

from etils import epath
import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import constants as tfds_constants

from tfgen import errors

NUM_LEVELS = 256
NUM_CLASSES = 10

# IDX magic numbers: two zero bytes, a type code (0x08 = unsigned byte) and
# the number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

CIFAR_FOLDER = "cifar-10-batches-bin"
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_TRAIN_FILES = tuple(f"data_batch_{number}.bin" for number in range(1, 6))
CIFAR_TEST_FILE = "test_batch.bin"
CIFAR_IMAGE_SHAPE = (32, 32, 3)
# One label byte, then the red, green and blue 32x32 planes.
CIFAR_RECORD_BYTES = 1 + math.prod(CIFAR_IMAGE_SHAPE)

_READ_CHUNK_BYTES = 1 << 20


def validation_count(num_train_file_examples):
    """Number of examples at the end of the training file kept for validation.

    Args:
        num_train_file_examples: number of examples in the training file(s).

    Returns:
        A tenth of them, rounded down (6,000 of MNIST's 60,000, 5,000 of
        CIFAR-10's 50,000, i.e. its fifth batch).
    """
    return num_train_file_examples // 10


def _check_enough_for_validation(num_train_file_examples, source):
    if validation_count(num_train_file_examples) < 1:
        raise errors.UsageError(
            f"{source} holds {num_train_file_examples} images, too few to "
            "split off a validation tenth (at least 10 are needed)")


def check_manual_dir(manual_dir):
    """Checks that ``manual_dir`` is an existing folder.

    Args:
        manual_dir: path of the folder with the standard files.

    Returns:
        The folder as an absolute ``pathlib.Path``.

    Raises:
        UsageError: it does not exist or is not a folder.
    """
    path = pathlib.Path(manual_dir).expanduser().absolute()
    if not path.exists():
        raise errors.UsageError(f"manual_dir {path} does not exist")
    if not path.is_dir():
        raise errors.UsageError(f"manual_dir {path} is not a folder")
    return path


# Under the data folder: datasets prepared from local files, one folder per
# fingerprint (see ``SourceFiles.digest``).
FILES_DIR = "manual_files"


@functools.lru_cache(maxsize=64)
def _sha256(path, size, mtime_ns):
    """The file's SHA-256, computed once per (path, size, mtime)."""
    del size, mtime_ns  # Part of the cache key: a changed file is hashed anew.
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_READ_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(paths):
    """``{file name: {"bytes": size, "sha256": hex}}`` of the files."""
    prints = {}
    for path in paths:
        stat = path.stat()
        prints[path.name] = {"bytes": stat.st_size, "sha256": _sha256(
            os.fspath(path), stat.st_size, stat.st_mtime_ns)}
    return prints


@dataclasses.dataclass(frozen=True)
class SourceFiles:
    """The checked files a builder will read from a manual folder.

    Attributes:
        paths: ``{role: path}`` of the files to read.
        fingerprint: ``fingerprint(paths)``, recorded in the prepared
            dataset's metadata to tell whether a cache came from these files.
        config: the builder config these files need, or None for the default.
    """

    paths: dict
    fingerprint: dict
    config: object

    @property
    def digest(self):
        """16 hex digits naming the files' content: the prepared folder."""
        text = json.dumps(self.fingerprint, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def prepare(builder_class, manual_dir, *, data_dir=None):
    """Checks the files in ``manual_dir``, then prepares a dataset from them.

    Nothing is written before the files pass their checks, so a bad folder
    leaves ``data_dir`` untouched.

    Args:
        builder_class: ``MnistFiles``, ``FashionMnistFiles`` or
            ``Cifar10Files``.
        manual_dir: folder holding the standard files.
        data_dir: where TFDS caches prepared datasets (TFDS's default when
            None); the dataset goes to ``<data_dir>/manual_files/<digest>``
            (``SourceFiles.digest``), apart from one prepared from other
            files.

    Returns:
        The prepared builder.

    Raises:
        UsageError: the folder is missing, lacks a file, a file is
            malformed, or the folder of these files' digest holds a
            dataset prepared from others.
    """
    manual_dir = check_manual_dir(manual_dir)
    files = builder_class.check_files(manual_dir)
    root = pathlib.Path(data_dir if data_dir is not None
                        else tfds_constants.get_default_data_dir())
    builder = builder_class(data_dir=root / FILES_DIR / files.digest,
                            config=files.config)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(manual_dir), try_download_gcs=False))
    try:
        recorded = dict(builder.info.metadata["source_files"])
    except KeyError:
        recorded = None
    if recorded != files.fingerprint:
        # Only a folder edited by hand, or one of an older tfgen, gets here.
        raise errors.UsageError(
            f"{builder.data_dir} was prepared from other files ({recorded}) "
            f"than those in {manual_dir} ({files.fingerprint}); delete that "
            "folder to prepare it again")
    return builder


# ---------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST).


def _find_idx_file(manual_dir, stem):
    for name in (stem + ".gz", stem):
        path = manual_dir / name
        if path.is_file():
            return path
    raise errors.UsageError(
        f"manual_dir {manual_dir} lacks {stem}.gz (or {stem})")


def _open_maybe_gzipped(path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_idx(path, magic, *, read_payload):
    """Reads an IDX file's header and checks it against the file's size.

    Args:
        path: the file, gzipped when its name ends in ``.gz``.
        magic: the expected magic number.
        read_payload: whether to return the data or only count its bytes.

    Returns:
        ``(dims, array)``: the dimensions from the header and the uint8 array
        of that shape, or None when ``read_payload`` is false.

    Raises:
        UsageError: wrong magic number, truncated or oversized file, or a
            corrupt gzip stream; the message names the file.
    """
    try:
        with _open_maybe_gzipped(path) as stream:
            head = stream.read(4)
            if len(head) < 4:
                raise errors.UsageError(f"{path} is too short for an IDX file")
            (found_magic,) = struct.unpack(">I", head)
            if found_magic != magic:
                raise errors.UsageError(
                    f"{path} has magic number {found_magic:#010x}, expected "
                    f"{magic:#010x}")
            num_dims = magic & 0xFF
            dims_bytes = stream.read(4 * num_dims)
            if len(dims_bytes) < 4 * num_dims:
                raise errors.UsageError(f"{path} ends inside its header")
            dims = struct.unpack(f">{num_dims}I", dims_bytes)
            if read_payload:
                payload = stream.read()
                payload_size = len(payload)
            else:
                payload, payload_size = None, 0
                while chunk := stream.read(_READ_CHUNK_BYTES):
                    payload_size += len(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise errors.UsageError(f"{path} cannot be read: {error}") from None
    expected_size = math.prod(dims)
    if payload_size != expected_size:
        raise errors.UsageError(
            f"{path}: header says {' x '.join(map(str, dims))} "
            f"= {expected_size} bytes of data, the file holds {payload_size}")
    if payload is None:
        return dims, None
    return dims, np.frombuffer(payload, np.uint8).reshape(dims)


def check_idx_files(manual_dir):
    """Checks the four MNIST-format IDX files in ``manual_dir``.

    Reads every header, counts every file's bytes and reads the labels, so
    a wrong magic number, a header that disagrees with the file's size, a
    label file that does not match its image file or holds a label outside
    0..9, or training and test images of different sizes is reported before
    anything is prepared.

    Args:
        manual_dir: an existing folder.

    Returns:
        The ``SourceFiles``; its ``config`` is the ``IdxConfig`` of the
        images' size.

    Raises:
        UsageError: a file is missing or malformed (the message names it).
    """
    paths = {role: _find_idx_file(manual_dir, stem)
             for role, stem in IDX_FILES.items()}
    num_examples, sizes = {}, {}
    for split in ("train", "test"):
        image_path = paths[f"{split}_images"]
        label_path = paths[f"{split}_labels"]
        (count, height, width), _ = _read_idx(
            image_path, IDX_IMAGES_MAGIC, read_payload=False)
        # Label files are small: read them whole to check every label now.
        (label_count,), labels = _read_idx(
            label_path, IDX_LABELS_MAGIC, read_payload=True)
        _check_labels(labels, label_path)
        if label_count != count:
            raise errors.UsageError(
                f"{label_path} holds {label_count} labels but {image_path} "
                f"holds {count} images")
        if count * height * width == 0:
            raise errors.UsageError(
                f"{image_path} holds {count} images of {height}x{width} "
                "pixels; nothing to read")
        num_examples[split] = count
        sizes[split] = (height, width)
    if sizes["train"] != sizes["test"]:
        raise errors.UsageError(
            f"{paths['train_images']} holds {_size_name(sizes['train'])} "
            f"images but {paths['test_images']} holds "
            f"{_size_name(sizes['test'])} images")
    _check_enough_for_validation(num_examples["train"], paths["train_images"])
    return SourceFiles(
        paths=paths,
        fingerprint=fingerprint(paths.values()),
        config=IdxConfig.for_size(*sizes["train"]))


def _size_name(height_width):
    return "x".join(str(size) for size in height_width)


def _check_labels(labels, path):
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise errors.UsageError(
            f"{path} holds label {int(labels.max())}, expected 0..9")


@dataclasses.dataclass(eq=False)
class IdxConfig(tfds.core.BuilderConfig):
    """Image size of an IDX dataset; the name is ``"{height}x{width}"``.

    Attributes:
        height: image height in pixels.
        width: image width in pixels.
    """

    height: int = 28
    width: int = 28

    @classmethod
    def for_size(cls, height, width):
        """Returns the config for images of ``height`` x ``width`` pixels.

        The standard 28x28 config is the builders' own instance; any other
        size gets a new config (TFDS logs it as a custom configuration).
        """
        if (height, width) == (28, 28):
            return _STANDARD_IDX_CONFIG
        return cls(name=_size_name((height, width)), height=height,
                   width=width,
                   description=f"{height}x{width} images")


_STANDARD_IDX_CONFIG = IdxConfig(
    name="28x28", height=28, width=28, description="28x28 images")

_IDX_INSTRUCTIONS = """\
Put the four IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or their unzipped
versions) in the manual folder.
"""


class _FilesBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """What the builders here share: example generation and the splits."""

    # TFDS 4.9 finds a builder's source through the importlib_resources
    # backport, which it does not install on Python >= 3.9; naming the file
    # here skips that lookup.
    code_path = epath.Path(__file__)

    def _splits(self, train_images, train_labels, test_images, test_labels):
        """The split generators: train file minus its tail, tail, test."""
        num_train = len(train_images) - validation_count(len(train_images))
        return {
            "train": self._generate_examples(
                train_images[:num_train], train_labels[:num_train], 0),
            "validation": self._generate_examples(
                train_images[num_train:], train_labels[num_train:],
                num_train),
            "test": self._generate_examples(test_images, test_labels, 0),
        }

    def _generate_examples(self, images, labels, first_index):
        for offset, (image, label) in enumerate(zip(images, labels)):
            # The index in the file is the key, which also fixes the order.
            yield first_index + offset, {"image": image, "label": int(label)}


class _IdxFilesBuilder(_FilesBuilder, skip_registration=True):
    """Reads a dataset in MNIST's IDX format; subclasses name the classes."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Reads the IDX files of a manual folder."}
    BUILDER_CONFIGS = [_STANDARD_IDX_CONFIG]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _IDX_INSTRUCTIONS

    CLASS_NAMES = None
    DESCRIPTION = None
    HOMEPAGE = None
    CITATION = None

    check_files = staticmethod(check_idx_files)

    def _info(self):
        config = self.builder_config
        return self.dataset_info_from_configs(
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(
                    shape=(config.height, config.width, 1), dtype=np.uint8),
                "label": tfds.features.ClassLabel(names=self.CLASS_NAMES),
            }),
            supervised_keys=("image", "label"),
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
            metadata=tfds.core.MetadataDict(num_levels=NUM_LEVELS),
            # Keep the files' order, so the data read back matches the files.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        files = check_idx_files(pathlib.Path(str(dl_manager.manual_dir)))
        config = self.builder_config
        if (files.config.height, files.config.width) != (config.height,
                                                        config.width):
            raise errors.UsageError(
                f"{files.paths['train_images']} holds "
                f"{files.config.name} images, the builder config expects "
                f"{config.name}")
        arrays = {}
        for role, path in files.paths.items():
            magic = IDX_IMAGES_MAGIC if role.endswith(
                "images") else IDX_LABELS_MAGIC
            _, arrays[role] = _read_idx(path, magic, read_payload=True)
        self.info.metadata["source_files"] = files.fingerprint
        return self._splits(
            arrays["train_images"][..., np.newaxis],  # (N, H, W, 1)
            arrays["train_labels"],
            arrays["test_images"][..., np.newaxis],
            arrays["test_labels"])


class MnistFiles(_IdxFilesBuilder):
    """MNIST (LeCun et al., 1998) read from its IDX files."""

    CLASS_NAMES = [str(digit) for digit in range(10)]
    DESCRIPTION = "MNIST handwritten digits, read from local IDX files."
    HOMEPAGE = "http://yann.lecun.com/exdb/mnist/"
    CITATION = """\
@article{lecun1998gradient,
  title = {Gradient-based learning applied to document recognition},
  author = {LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and
            Haffner, Patrick},
  journal = {Proceedings of the IEEE},
  volume = {86},
  number = {11},
  pages = {2278--2324},
  year = {1998}
}"""


class FashionMnistFiles(_IdxFilesBuilder):
    """Fashion-MNIST (Xiao et al., 2017) read from its IDX files."""

    CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    DESCRIPTION = "Fashion-MNIST article images, read from local IDX files."
    HOMEPAGE = "https://github.com/zalandoresearch/fashion-mnist"
    CITATION = """\
@article{xiao2017fashion,
  title = {Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
           Learning Algorithms},
  author = {Xiao, Han and Rasul, Kashif and Vollgraf, Roland},
  journal = {arXiv preprint arXiv:1708.07747},
  year = {2017}
}"""


# ---------------------------------------------------------------------------
# CIFAR-10, binary version.


def _check_cifar_size(size, name):
    if size == 0 or size % CIFAR_RECORD_BYTES:
        raise errors.UsageError(
            f"{name} holds {size} bytes, not a positive multiple of the "
            f"{CIFAR_RECORD_BYTES}-byte CIFAR-10 record")
    return size // CIFAR_RECORD_BYTES


def check_cifar_files(manual_dir):
    """Finds and checks CIFAR-10's binary batches in ``manual_dir``.

    Looked for, in order: the folder ``cifar-10-batches-bin/``, the batch
    files directly in ``manual_dir``, the archive ``cifar-10-binary.tar.gz``.

    Args:
        manual_dir: an existing folder.

    Returns:
        The ``SourceFiles``; ``paths`` maps each batch name to its file, or
        ``{"archive": path}`` for the archive.

    Raises:
        UsageError: a batch is missing, or its size is not a whole number of
            records (the message names it).
    """
    names = CIFAR_TRAIN_FILES + (CIFAR_TEST_FILE,)
    for folder in (manual_dir / CIFAR_FOLDER, manual_dir):
        if not (folder / names[0]).is_file():
            continue
        paths = {}
        for name in names:
            if not (folder / name).is_file():
                raise errors.UsageError(f"{folder} lacks {name}")
            paths[name] = folder / name
        sizes = {name: path.stat().st_size for name, path in paths.items()}
        break
    else:
        archive = manual_dir / CIFAR_ARCHIVE
        if not archive.is_file():
            raise errors.UsageError(
                f"manual_dir {manual_dir} lacks {CIFAR_FOLDER}/{names[0]} "
                f"(or {CIFAR_ARCHIVE})")
        members = _cifar_archive_members(archive)
        for name in names:
            if name not in members:
                raise errors.UsageError(
                    f"{archive} lacks {CIFAR_FOLDER}/{name}")
        paths = {"archive": archive}
        sizes = {name: members[name].size for name in names}
    counts = {name: _check_cifar_size(size, name)
              for name, size in sizes.items()}
    num_train = sum(counts[name] for name in CIFAR_TRAIN_FILES)
    _check_enough_for_validation(num_train, "the CIFAR-10 training batches")
    return SourceFiles(
        paths=paths,
        fingerprint=fingerprint(paths.values()),
        config=None)


def _cifar_archive_members(archive):
    """``{batch file name: TarInfo}`` of the archive's regular files."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            return {pathlib.PurePosixPath(member.name).name: member
                    for member in tar.getmembers() if member.isfile()}
    except (OSError, EOFError, tarfile.TarError, zlib.error) as error:
        raise errors.UsageError(
            f"{archive} cannot be read: {error}") from None


def _read_cifar_batches(files):
    """``{batch file name: bytes}`` for every batch of the checked files."""
    names = CIFAR_TRAIN_FILES + (CIFAR_TEST_FILE,)
    if "archive" not in files.paths:
        return {name: files.paths[name].read_bytes() for name in names}
    archive = files.paths["archive"]
    contents = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = pathlib.PurePosixPath(member.name).name
                if member.isfile() and name in names:
                    contents[name] = tar.extractfile(member).read()
    except (OSError, EOFError, tarfile.TarError, zlib.error) as error:
        raise errors.UsageError(
            f"{archive} cannot be read: {error}") from None
    return contents


def decode_cifar_batch(data, name):
    """Decodes one CIFAR-10 binary batch.

    Args:
        data: the batch file's bytes, a whole number of 3,073-byte records.
        name: the file's name, for error messages.

    Returns:
        ``(images, labels)``: uint8 ``(N, 32, 32, 3)`` and uint8 ``(N,)``.

    Raises:
        UsageError: the size is not a whole number of records, or a label is
            not 0..9.
    """
    count = _check_cifar_size(len(data), name)
    records = np.frombuffer(data, np.uint8).reshape(count, CIFAR_RECORD_BYTES)
    labels = records[:, 0]
    _check_labels(labels, name)
    height, width, channels = CIFAR_IMAGE_SHAPE
    # Each record stores whole color planes: (N, C, H, W) -> (N, H, W, C).
    images = records[:, 1:].reshape(count, channels, height, width)
    return images.transpose(0, 2, 3, 1), labels


_CIFAR_INSTRUCTIONS = f"""\
Put the binary version of CIFAR-10 in the manual folder: the folder
{CIFAR_FOLDER}/ (data_batch_1.bin .. data_batch_5.bin, test_batch.bin), or the
archive {CIFAR_ARCHIVE}.
"""


class Cifar10Files(_FilesBuilder):
    """CIFAR-10 (Krizhevsky, 2009) read from its binary batches."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Reads the binary batches of a manual folder."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = _CIFAR_INSTRUCTIONS
    CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog",
                   "frog", "horse", "ship", "truck"]

    check_files = staticmethod(check_cifar_files)

    def _info(self):
        return self.dataset_info_from_configs(
            description="CIFAR-10 32x32 color images, read from local files.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(
                    shape=CIFAR_IMAGE_SHAPE, dtype=np.uint8),
                "label": tfds.features.ClassLabel(names=self.CLASS_NAMES),
            }),
            supervised_keys=("image", "label"),
            homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
            citation="""\
@techreport{krizhevsky2009learning,
  title = {Learning Multiple Layers of Features from Tiny Images},
  author = {Krizhevsky, Alex},
  institution = {University of Toronto},
  year = {2009}
}""",
            metadata=tfds.core.MetadataDict(num_levels=NUM_LEVELS),
            # Keep the files' order, so the data read back matches the files.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        files = check_cifar_files(pathlib.Path(str(dl_manager.manual_dir)))
        batches = _read_cifar_batches(files)
        train = [decode_cifar_batch(batches[name], name)
                 for name in CIFAR_TRAIN_FILES]
        test_images, test_labels = decode_cifar_batch(
            batches[CIFAR_TEST_FILE], CIFAR_TEST_FILE)
        self.info.metadata["source_files"] = files.fingerprint
        return self._splits(
            np.concatenate([images for images, _ in train]),  # (N, 32, 32, 3)
            np.concatenate([labels for _, labels in train]),
            test_images, test_labels)


BUILDERS = {
    "mnist": MnistFiles,
    "fashion_mnist": FashionMnistFiles,
    "cifar10": Cifar10Files,
}
