"""The GANs trained on MNIST, at MNIST's size, exported and served whole.

The conformance suite exports every model trained on ``digits`` (8x8). Here
``dcgan``, ``wgan_gp`` and ``cgan`` of their tiny configs are built for
MNIST (28x28, from the real files: the DCGAN's 7x7 start), published as the
command line publishes them, and run in a fresh process that cannot import
the project: ``sample``, ``decode`` and ``discriminate`` (on real test
images) return what the model in memory returns.
"""

import numpy as np
import pytest

import export
from serving_helpers import FreshServer
from serving_helpers import assert_served_as_in_memory
from tfgen import data
from tfgen import registry
from tfgen.data import DataInfo
import zoo  # noqa: F401

NAMES = ("dcgan", "wgan_gp", "cgan")
NUM_IMAGES = 3
MNIST = DataInfo(name="mnist", event_shape=(28, 28, 1), num_levels=256,
                 num_classes=10,
                 split_sizes={"train": 18000, "validation": 2000,
                              "test": 10000})


@pytest.fixture(scope="module")
def mnist_test(mnist_manual_dir, tmp_path_factory):
    """The first test images of MNIST in [-1, 1], and their labels."""
    split = data.load("mnist", "test", preprocessing="symmetric", seed=0,
                      data_dir=str(tmp_path_factory.mktemp("data")),
                      manual_dir=str(mnist_manual_dir))
    batch = next(iter(split.batch(NUM_IMAGES)))
    return (np.asarray(batch["image"], np.float32),
            np.asarray(batch["label"], np.int64))


@pytest.fixture(scope="module")
def fresh_server():
    with FreshServer() as server:
        yield server


@pytest.mark.parametrize("name", NAMES)
def test_served_at_28x28_as_in_memory(name, mnist_test, fresh_server,
                                      tmp_path):
    spec = registry.get(name)
    model = spec.build(spec.get_config("tiny"), MNIST)
    images, labels = mnist_test
    seeds = np.arange(NUM_IMAGES, dtype=np.int64)
    codes = np.random.default_rng(0).standard_normal(
        (NUM_IMAGES, model.latent_dim)).astype(np.float32)
    requests = {"sample": {"seed": seeds}, "decode": {"codes": codes},
                "discriminate": {"images": images}}
    if model.labelled_capabilities:
        for request in requests.values():
            request["labels"] = labels
    path = export.publish(model, tmp_path, name)
    served, by_cli, _ = fresh_server.check(path, requests, "serving_default",
                                           requests["sample"])
    assert_served_as_in_memory(model, served, requests, name, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(by_cli["images"], served["sample"]["images"],
                               rtol=1e-5, atol=1e-5)
    samples = served["sample"]["images"]
    assert samples.shape == (NUM_IMAGES, 28, 28, 1)
    assert not np.allclose(samples[0], samples[1])
