"""Every autoregressive model at MNIST's size, exported and served whole.

The conformance suite exports every model trained on ``digits`` (8x8). Here
each autoregressive model of its tiny config is built for binarized MNIST
(28x28, from the real files), its weights set at random (so every
conditional is non-trivial), published as the command line publishes it,
and run in a fresh process that cannot import the project: ``log_prob`` of
real test images, ``sample`` and ``complete`` (a 784-step chain inside the
SavedModel) return exactly what the model in memory returns.
"""

import numpy as np
import pytest

from autoregressive_helpers import build
import export
from serving_helpers import FreshServer
from serving_helpers import assert_served_as_in_memory
from tfgen import data
from tfgen import registry

NAMES = [spec.name for spec in registry.specs()
         if spec.family == "autoregressive"]
NUM_IMAGES = 2


@pytest.fixture(scope="module")
def mnist_images(mnist_manual_dir, tmp_path_factory):
    """The first test images of MNIST, binarized as the test split is."""
    split = data.load("mnist", "test", preprocessing="binarize_static",
                      seed=0, data_dir=str(tmp_path_factory.mktemp("data")),
                      manual_dir=str(mnist_manual_dir))
    batch = next(iter(split.batch(NUM_IMAGES)))
    return np.asarray(batch["image"], np.float32)


@pytest.fixture(scope="module")
def fresh_server():
    with FreshServer() as server:
        yield server


@pytest.mark.parametrize("name", NAMES)
def test_served_at_28x28_as_in_memory(name, mnist_images, fresh_server,
                                      tmp_path):
    model = build(name, (28, 28, 1), 2, "binarize_dynamic", scale=0.1)
    mask = np.zeros_like(mnist_images)
    mask[:, :14] = 1.0  # the upper halves known
    seeds = np.arange(NUM_IMAGES, dtype=np.int64)
    requests = {
        "log_prob": {"images": mnist_images},
        "sample": {"seed": seeds},
        "complete": {"images": mnist_images, "mask": mask, "seed": seeds},
    }
    path = export.publish(model, tmp_path, name)
    served, by_cli, _ = fresh_server.check(path, requests, "serving_default",
                                           requests["sample"])
    assert_served_as_in_memory(model, served, requests, name, rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_array_equal(by_cli["images"], served["sample"]["images"])
    # Not a trivial chain: samples differ, completions keep the known half.
    samples = served["sample"]["images"]
    assert not np.array_equal(samples[0], samples[1])
    completed = served["complete"]["images"]
    np.testing.assert_array_equal(completed[:, :14], mnist_images[:, :14])
    assert np.isfinite(served["log_prob"]["log_prob"]).all()
