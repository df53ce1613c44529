"""Training on two mirrored replicas ends as training on one device.

Each check runs ``tests/distributed_helpers.py`` in a process of its own
(the CPU is split into two logical devices before TensorFlow starts, and
one strategy's collectives per process): two steps of a model's tiny
config under the default strategy and under ``mirrored``, the second batch
of three examples split 2 and 1 between the replicas, so both the share
weighting of gradients and the slicing of training noise are exercised.
One model of each family: noise in every step (``vae``), persistent chains
(``rbm`` with PCD), staged models with hand-written updates (``dbn``, and
the ``deep_ae``'s RBM pretraining), an autoregressive model
(``pixelcnn``) and a GAN with batch norm over the global batch (``dcgan``,
whose Adam steps of about the learning rate on near-zero gradients turn
round-off into differences up to 1e-3).
"""

import json
import pathlib
import subprocess
import sys

import pytest

from tfgen import distribute
from tfgen import errors

REPO = pathlib.Path(__file__).resolve().parents[2]
HELPER = REPO / "tests" / "distributed_helpers.py"

# check -> largest relative difference of any trainable variable.
CHECKS = {
    "vae:2:uneven": 1e-6,
    "pixelcnn:2:uneven": 1e-6,
    "rbm:2:uneven:training=pcd": 1e-6,
    "dbn:2:uneven": 1e-6,
    "deep_ae:2:uneven": 1e-6,
    "dcgan:2:uneven": 1e-3,
}


def _run_helper(data_dir, *checks):
    done = subprocess.run(
        [sys.executable, str(HELPER), str(data_dir), *checks],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()
            if line.startswith("{")]


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_two_replicas_train_as_one_device(check, data_dir):
    (row,) = _run_helper(data_dir, check)
    assert "refused" not in row, row
    assert row["replicas"] == 2, row
    assert row["difference"] <= CHECKS[check], row


def test_a_model_that_cannot_split_its_batch_is_refused(data_dir):
    rows = _run_helper(data_dir, "unrolled_gan:1", "wgan:1",
                       "rbm:1::minibatch_size=8")
    reasons = {row["model"] + (":minibatch" if "minibatch" in row["check"]
                               else ""): row.get("refused", "")
               for row in rows}
    assert "unrolled discriminator" in reasons["unrolled_gan"]
    assert "discriminator_steps" in reasons["wgan"]
    assert "minibatch_size" in reasons["rbm:minibatch"]
    for reason in reasons.values():
        assert "cannot train on 2 replicas" in reason


def test_the_train_command_trains_and_exports_on_two_replicas(data_dir,
                                                              tmp_path):
    workdir = tmp_path / "work"
    done = subprocess.run(
        [sys.executable, "-m", "tfgen.train", "--model=vae",
         "--config_variant=tiny", "--epochs=1", "--strategy=mirrored",
         "--cpu_devices=2", f"--workdir={workdir}", f"--data_dir={data_dir}"],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["epochs"] == 1
    assert (pathlib.Path(metrics["export"]) / "saved_model.pb").is_file()


def test_unknown_strategy_and_bad_device_counts_are_refused():
    with pytest.raises(errors.UsageError, match="unknown strategy 'tpu'"):
        distribute.get_strategy("tpu")
    with pytest.raises(errors.UsageError, match="--cpu_devices=0"):
        distribute.split_cpu(0)
    assert distribute.get_strategy("default").num_replicas_in_sync == 1


def test_the_train_command_refuses_a_strategy_it_does_not_know(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tfgen.train", "--model=vae",
         "--strategy=tpu", f"--workdir={tmp_path / 'w'}"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 2
    assert "--strategy" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "w").exists()
