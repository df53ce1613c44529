"""Fixtures shared by the whole test suite.

``data_dir`` is a TFDS data folder in which the embedded ``digits`` dataset
has been prepared once per test session; tests that need a dataset pass it
as ``data_dir=`` so they never touch the user's ``~/tensorflow_datasets``.

``mnist_manual_dir`` is the folder of real MNIST IDX files shipped beside the
repository (``../shared/data/mnist``); tests that use it are skipped, with the
reason, where that folder is absent.
"""

import os
import pathlib

import pytest

# Keras 3 must run on TensorFlow, whichever test module imports it first.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

MNIST_MANUAL_DIR = (
    pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")

_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A TFDS data folder with ``digits`` prepared in it."""
    from tfgen import data  # Imported here: TensorFlow is slow to import.

    path = tmp_path_factory.mktemp("tensorflow_datasets")
    data.get_info("digits", data_dir=path)
    return path


@pytest.fixture(scope="session")
def mnist_manual_dir():
    """The folder of real MNIST IDX files; skips the test where it is absent."""
    missing = [name for name in _MNIST_FILES
               if not (MNIST_MANUAL_DIR / name).is_file()]
    if missing:
        pytest.skip(f"real MNIST files absent from {MNIST_MANUAL_DIR} "
                    f"(missing: {', '.join(missing)})")
    return MNIST_MANUAL_DIR


@pytest.fixture
def file_size_limit():
    """``limit(size)`` caps the files this process writes at ``size`` bytes
    (``RLIMIT_FSIZE``; None lifts the cap) until the test ends.

    A write past the cap fails with EFBIG, as one on a full disk fails with
    ENOSPC; SIGXFSZ, which would end the process, is ignored meanwhile.
    """
    import resource
    import signal

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def limit(size):
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (soft if size is None else size, hard))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, handler)
