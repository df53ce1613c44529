"""``--strategy=multi_worker``: two worker processes on localhost.

The pair trains as one device does: the chief alone writes the workdir
(checkpoints, metrics, the export), the other task removes what it wrote,
and a pair started again resumes from the chief's last checkpoint and ends
with the parameters of a single-device run of the same global batch. A
pair that loses a task stops with a message naming it, and resumes when
both are started again. Each process is ``python -m tfgen.train``, with
its own ``TF_CONFIG``.
"""

import json
import os
import pathlib
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import kill_resume
from benchmarks import multi_worker
from tfgen import distribute
from tfgen import errors

REPO = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds; a tiny vae's epoch takes about one.


def _command(workdir, data_dir, epochs):
    return kill_resume.Case("vae", epochs).argv(workdir, data_dir)


def _start_pair(workdir, data_dir, epochs, *, other_flags=()):
    return multi_worker.start_workers(_command(workdir, data_dir, epochs),
                                      other_flags=other_flags)


def _finish(processes):
    return multi_worker.finish(processes, timeout=TIMEOUT)


def test_a_pair_checkpoints_from_the_chief_and_resumes_as_one_device(
        data_dir, tmp_path):
    workdir = tmp_path / "pair"
    first = _finish(_start_pair(workdir, data_dir, epochs=1))
    for code, _, err in first:
        assert code == 0, err[-3000:]
    assert "worker-1: training done" in first[1][1]
    # The chief's checkpoint, results and export; nothing of the other's.
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert (pathlib.Path(metrics["export"]) / "saved_model.pb").is_file()
    assert not (workdir / "workers").exists()

    second = _finish(_start_pair(workdir, data_dir, epochs=2))
    for code, out, err in second:
        assert code == 0, err[-3000:]
        assert (f"Resuming from {workdir / 'checkpoints' / 'ckpt-1'} "
                "(1 epochs done)") in out
    assert json.loads((workdir / "metrics.json").read_text())["epochs"] == 2

    alone = tmp_path / "alone"
    done = subprocess.run(_command(alone, data_dir, 2), capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    found = multi_worker.differences(kill_resume.final_state(alone),
                                     kill_resume.final_state(workdir))
    assert found["parameters"] <= 1e-5 and found["optimizer"] <= 1e-5
    assert found["integers_equal"]


def test_a_cluster_with_a_chief_job_trains_and_the_chief_writes(
        data_dir, tmp_path):
    # The chief task, not worker 0, sends its epoch and fingerprint
    # (distribute.from_chief) and writes the workdir.
    workdir = tmp_path / "pair"
    chief, other = _finish(multi_worker.start_workers(
        _command(workdir, data_dir, epochs=1), chief_job=True))
    for code, _, err in (chief, other):
        assert code == 0, err[-3000:]
    assert "SavedModel:" in chief[1]
    assert "worker-0: training done" in other[1]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["epochs"] == 1
    assert (pathlib.Path(metrics["export"]) / "saved_model.pb").is_file()
    assert not (workdir / "workers").exists()


def test_a_pair_that_loses_a_task_stops_and_resumes_when_restarted(
        data_dir, tmp_path):
    workdir = tmp_path / "pair"
    chief, other = _start_pair(workdir, data_dir, epochs=5)
    deadline = time.time() + TIMEOUT
    while not (workdir / "checkpoints" / "ckpt-2.index").exists():
        assert chief.poll() is None, chief.communicate()[1][-3000:]
        assert time.time() < deadline
        time.sleep(0.1)
    other.kill()
    ((code, _, err),) = _finish([chief])
    assert code == 1
    last_line = err.strip().splitlines()[-1]
    assert "worker-0: the cluster lost the task" in last_line
    assert "/task:1" in last_line and "start every task again" in last_line

    restarted = _finish(_start_pair(workdir, data_dir, epochs=5))
    for code, out, err in restarted:
        assert code == 0, err[-3000:]
        assert "Resuming from" in out
    (resumed,) = {line for _, out, _ in restarted
                  for line in out.splitlines() if "Resuming from" in line}
    assert int(resumed.split("ckpt-")[1].split()[0]) >= 2
    assert json.loads((workdir / "metrics.json").read_text())["epochs"] == 5
    assert not (workdir / "workers").exists()


def test_a_task_started_with_another_config_is_refused(data_dir, tmp_path):
    workdir = tmp_path / "pair"
    chief, other = _finish(_start_pair(workdir, data_dir, epochs=1,
                                       other_flags=["--seed=7"]))
    assert other[0] == 2
    assert other[2].strip().splitlines()[-1] == (
        "error: worker-1 was started with another model or config than the "
        "chief; start every task of the cluster with the same flags")
    assert chief[0] == 1 and "lost the task" in chief[2]
    assert not (workdir / "checkpoints").exists()


def test_a_model_that_cannot_train_on_replicas_is_refused_by_every_task(
        data_dir, tmp_path):
    # WGAN's several critic steps per generator step are not replica-aware;
    # two workers are two replicas, refused as under mirrored.
    workdir = tmp_path / "pair"
    argv = kill_resume.Case("wgan", 1).argv(workdir, data_dir)
    for code, _, err in _finish(multi_worker.start_workers(argv)):
        assert code == 2, err[-3000:]
        last_line = err.strip().splitlines()[-1]
        assert last_line.startswith("error: wgan cannot train on 2 replicas")
        assert "discriminator_steps" in last_line
    assert not (workdir / "checkpoints").exists()


def _config(cluster, task_type="worker", index=0):
    return {"TF_CONFIG": json.dumps(
        {"cluster": cluster, "task": {"type": task_type, "index": index}})}


def test_the_chief_is_the_chief_task_or_else_worker_0():
    workers = {"worker": ["a:1", "b:2", "c:3"]}
    found = distribute.cluster_from_env(_config(workers, index=0))
    assert (found.is_chief, found.name, found.num_workers) == (
        True, "worker-0", 3)
    assert not distribute.cluster_from_env(_config(workers, index=2)).is_chief
    with_chief = {"chief": ["a:1"], "worker": ["b:2"]}
    assert distribute.cluster_from_env(_config(with_chief, "chief")).is_chief
    found = distribute.cluster_from_env(_config(with_chief, "worker", 0))
    assert not found.is_chief and found.num_workers == 2


@pytest.mark.parametrize("environ, message", [
    ({}, "needs the TF_CONFIG environment variable"),
    ({"TF_CONFIG": "{cluster"}, "not JSON"),
    ({"TF_CONFIG": "[1]"}, "must be a JSON object"),
    ({"TF_CONFIG": json.dumps({"task": {}})}, '"cluster" must map'),
    (_config({"ps": ["a:1"], "worker": ["b:2"]}), "job 'ps' is not supported"),
    (_config({"worker": ["a"]}), '"host:port"'),
    (_config({"worker": "a:1"}), '"host:port"'),
    (_config({"worker": ["a:1", "a:1"]}), "appears twice"),
    (_config({"chief": ["a:1", "b:2"], "worker": ["c:3"]}, "chief"),
     "may have one"),
    (_config({"worker": ["a:1"]}, "chief"), "task type 'chief' is not a job"),
    (_config({"worker": ["a:1", "b:2"]}, index=2), "task index 2"),
    (_config({"worker": ["a:1", "b:2"]}, index=True), "task index True"),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})},
     '"task" must be'),
])
def test_a_bad_tf_config_is_refused_naming_what_is_wrong(environ, message):
    with pytest.raises(errors.UsageError, match="TF_CONFIG") as raised:
        distribute.cluster_from_env(environ)
    assert message in str(raised.value)


def test_the_train_command_refuses_multi_worker_without_tf_config(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key != "TF_CONFIG"}
    done = subprocess.run(
        [*_command(tmp_path / "work", tmp_path / "data", 1),
         "--strategy=multi_worker"],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, env=env)
    assert done.returncode == 2
    assert "needs the TF_CONFIG environment variable" in done.stderr
    assert not (tmp_path / "work").exists()


def test_a_lost_task_is_named():
    error = tf.errors.UnavailableError(None, None, (
        "Graph execution error:\n\nCollective ops is aborted by: Error "
        "reported from /job:worker/task:1: The following tasks are unhealthy "
        "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe "
        "tasks have crashed."))
    assert distribute.lost_task(error) == (
        "the cluster lost the task /job:worker/replica:0/task:1 (it stopped "
        "sending heartbeats)")
    closed = tf.errors.UnavailableError(None, None, (
        "Graph execution error:\n\nDetected at node allgather_1 defined at "
        "(most recent call last):\nSocket closed\nAdditional GRPC error "
        "information from remote target /job:worker/replica:0/task:1 while "
        "calling /tensorflow.WorkerService/RecvBuf:\n:UNKNOWN:Error received "
        'from peer  {grpc_message:"Socket closed", grpc_status:14}'))
    assert distribute.lost_task(closed) == (
        "the cluster lost the task /job:worker/replica:0/task:1 (Socket "
        "closed)")
    assert distribute.lost_task(tf.errors.UnavailableError(
        None, None, "Graph execution error:\n\nDetected at node x defined "
        "at (most recent call last):\nsocket closed")) == (
            "the cluster lost a task (socket closed)")


def test_differences_are_relative_and_grouped():
    expected = {"model/0": np.array([1.0, -3.0], np.float32),
                "optimizer_model/1": np.array([0.0], np.float32),
                "epoch": np.array(2)}
    found = {"model/0": np.array([1.5, -3.0], np.float32),
             "optimizer_model/1": np.array([0.25], np.float32),
             "epoch": np.array(2)}
    assert multi_worker.differences(expected, found) == {
        "parameters": 0.25, "optimizer": 0.25, "integers_equal": True}
    found["epoch"] = np.array(3)
    assert not multi_worker.differences(expected, found)["integers_equal"]
    with pytest.raises(ValueError, match="other tensors"):
        multi_worker.differences(expected, {"model/0": found["model/0"]})
