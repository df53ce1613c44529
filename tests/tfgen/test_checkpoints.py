"""Checkpoints survive faults: damaged files, failed writes, a second run.

Each damage is made for real on the files TensorFlow wrote (a truncated
data or index file, a flipped byte, a garbled ``checkpoint`` index), a
failed write by a real operating-system limit (``RLIMIT_FSIZE``: the
write fails as on a full disk), and the second run by a second process.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfgen import checkpoints
from tfgen import errors

REPO = pathlib.Path(__file__).resolve().parents[2]


class Holder:
    """What ``TrainingCheckpoint`` asks of a model: its variable groups."""

    def __init__(self, size=256, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = tf.Variable(rng.normal(size=size).astype(np.float32))
        self.step = tf.Variable(0, dtype=tf.int64)

    def checkpoint_variables(self):
        return {"model": [self.weights, self.step]}


def _train(holder, checkpoint, epochs):
    """Changes the weights each epoch and saves; returns them per epoch."""
    saved = {}
    for epoch in range(1, epochs + 1):
        holder.weights.assign_add(tf.fill(holder.weights.shape, 1.0))
        holder.step.assign(epoch)
        checkpoint.save(epoch)
        saved[epoch] = holder.weights.numpy().copy()
    return saved


def _data_file(prefix):
    (path,) = pathlib.Path(prefix).parent.glob(
        pathlib.Path(prefix).name + ".data-*")
    return path


def _truncate(path):
    os.truncate(path, os.path.getsize(path) // 2)


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [
    lambda prefix: _truncate(_data_file(prefix)),
    lambda prefix: _flip_byte(_data_file(prefix)),
    lambda prefix: _truncate(pathlib.Path(prefix + ".index")),
], ids=["truncated data", "flipped byte", "truncated index"])
def test_a_damaged_checkpoint_is_set_aside_and_the_previous_restored(
        tmp_path, capsys, damage):
    holder = Holder()
    checkpoint = checkpoints.TrainingCheckpoint(holder, tmp_path)
    saved = _train(holder, checkpoint, 3)
    newest = checkpoint.latest
    assert newest.endswith("ckpt-3")
    damage(newest)

    fresh = Holder(seed=1)
    resumed = checkpoints.TrainingCheckpoint(fresh, tmp_path)
    assert resumed.restore() == 2
    np.testing.assert_array_equal(fresh.weights.numpy(), saved[2])
    assert int(fresh.step.numpy()) == 2
    warning = capsys.readouterr().err
    assert f"checkpoint {newest} cannot be read" in warning
    assert "resuming from" in warning and warning.rstrip().endswith("ckpt-2")
    # Its files are kept aside for inspection, out of TensorFlow's sight.
    (aside,) = (tmp_path / checkpoints.CORRUPT_DIR).iterdir()
    assert aside.name.startswith("ckpt-3.")
    assert sorted(path.name for path in aside.iterdir()) == [
        "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
    assert resumed.latest.endswith("ckpt-2")
    assert tf.train.get_checkpoint_state(
        str(tmp_path)).all_model_checkpoint_paths[-1].endswith("ckpt-2")
    # Training goes on from there: epoch 3 is written again, and restored.
    fresh.weights.assign_add(tf.fill(fresh.weights.shape, 1.0))
    resumed.save(3)
    again = Holder(seed=2)
    assert checkpoints.TrainingCheckpoint(again, tmp_path).restore() == 3
    np.testing.assert_array_equal(again.weights.numpy(), saved[3])


def test_data_without_its_index_is_set_aside_with_a_warning(tmp_path,
                                                           capsys):
    # What a save cut short between its renames leaves: data, no index.
    holder = Holder()
    checkpoint = checkpoints.TrainingCheckpoint(holder, tmp_path)
    saved = _train(holder, checkpoint, 2)
    newest = checkpoint.latest
    pathlib.Path(newest + ".index").unlink()

    fresh = Holder(seed=1)
    assert checkpoints.TrainingCheckpoint(fresh, tmp_path).restore() == 1
    np.testing.assert_array_equal(fresh.weights.numpy(), saved[1])
    assert f"checkpoint {newest} has no index file" in capsys.readouterr().err
    assert not list(tmp_path.glob("ckpt-2.*"))
    (aside,) = (tmp_path / checkpoints.CORRUPT_DIR).iterdir()
    assert [path.name for path in aside.iterdir()] == [
        "ckpt-2.data-00000-of-00001"]


def test_a_first_save_cut_short_trains_from_the_start(tmp_path, capsys):
    holder = Holder()
    checkpoint = checkpoints.TrainingCheckpoint(holder, tmp_path)
    _train(holder, checkpoint, 1)
    pathlib.Path(checkpoint.latest + ".index").unlink()

    assert checkpoints.TrainingCheckpoint(Holder(seed=1),
                                          tmp_path).restore() == 0
    assert "has no index file" in capsys.readouterr().err


def test_every_checkpoint_damaged_is_an_error_naming_each(tmp_path):
    holder = Holder()
    checkpoint = checkpoints.TrainingCheckpoint(holder, tmp_path)
    _train(holder, checkpoint, 2)
    for number in (1, 2):
        _truncate(_data_file(str(tmp_path / f"ckpt-{number}")))
    with pytest.raises(checkpoints.CheckpointError) as raised:
        checkpoints.TrainingCheckpoint(Holder(), tmp_path).restore()
    message = str(raised.value)
    assert f"{tmp_path / 'ckpt-2'}: " in message
    assert f"{tmp_path / 'ckpt-1'}: " in message
    # Nothing is moved when nothing can be resumed.
    assert not (tmp_path / checkpoints.CORRUPT_DIR).exists()


def test_a_garbled_index_file_does_not_restart_training(tmp_path):
    # TensorFlow ignores a checkpoint file it cannot parse (a warning, and
    # no latest checkpoint): the run would start again from epoch 0.
    holder = Holder()
    saved = _train(holder, checkpoints.TrainingCheckpoint(holder, tmp_path), 2)
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: {{{")
    fresh = Holder(seed=1)
    resumed = checkpoints.TrainingCheckpoint(fresh, tmp_path)
    assert resumed.restore() == 2
    np.testing.assert_array_equal(fresh.weights.numpy(), saved[2])
    assert resumed.latest.endswith("ckpt-2")


def test_an_intact_checkpoint_is_restored_without_writing(tmp_path):
    holder = Holder()
    _train(holder, checkpoints.TrainingCheckpoint(holder, tmp_path), 2)
    before = sorted((path.name, path.stat().st_mtime_ns)
                    for path in tmp_path.iterdir())
    assert checkpoints.TrainingCheckpoint(Holder(), tmp_path).restore() == 2
    assert sorted((path.name, path.stat().st_mtime_ns)
                  for path in tmp_path.iterdir()) == before


def test_a_checkpoint_of_another_model_is_refused_not_set_aside(tmp_path):
    holder = Holder(size=256)
    _train(holder, checkpoints.TrainingCheckpoint(holder, tmp_path), 1)
    with pytest.raises((AssertionError, ValueError)):
        checkpoints.TrainingCheckpoint(Holder(size=8), tmp_path).restore()
    assert not (tmp_path / checkpoints.CORRUPT_DIR).exists()
    assert (tmp_path / "ckpt-1.index").is_file()


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path,
                                                      file_size_limit):
    holder = Holder(size=100_000)
    checkpoint = checkpoints.TrainingCheckpoint(holder, tmp_path)
    saved = _train(holder, checkpoint, 1)
    holder.weights.assign_add(tf.fill(holder.weights.shape, 1.0))
    file_size_limit(4096)  # Well below the 400 KB of the weights.
    with pytest.raises(checkpoints.CheckpointError) as raised:
        checkpoint.save(2)
    file_size_limit(None)
    message = str(raised.value)
    assert message.startswith(
        f"could not write the checkpoint of epoch 2 in {tmp_path}: ")
    assert "File too large" in message
    assert message.endswith(f"the previous checkpoint, {tmp_path / 'ckpt-1'}"
                            ", is intact")
    # Nothing half-written is left, and the previous one is whole.
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
    assert checkpoint.latest.endswith("ckpt-1")
    fresh = Holder(size=100_000, seed=1)
    assert checkpoints.TrainingCheckpoint(fresh, tmp_path).restore() == 1
    np.testing.assert_array_equal(fresh.weights.numpy(), saved[1])


def test_what_a_killed_save_left_is_removed_on_restore(tmp_path):
    holder = Holder()
    _train(holder, checkpoints.TrainingCheckpoint(holder, tmp_path), 1)
    # A save killed before its rename leaves its temporary folder.
    (tmp_path / "ckpt-2_temp").mkdir()
    (tmp_path / "ckpt-2_temp" / "part-00000-of-00001.index").write_bytes(b"x")
    assert checkpoints.TrainingCheckpoint(Holder(), tmp_path).restore() == 1
    assert not (tmp_path / "ckpt-2_temp").exists()


# Takes the lock, says so, and holds it until killed.
_HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from tfgen import checkpoints
with checkpoints.workdir_lock({workdir!r}):
    print("held", flush=True)
    time.sleep(600)
"""


def _holding_process(workdir):
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD.format(repo=str(REPO),
                                            workdir=str(workdir))],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_on_a_workdir_is_refused_until_the_first_ends(
        tmp_path):
    process = _holding_process(tmp_path)
    try:
        with pytest.raises(errors.UsageError) as raised:
            with checkpoints.workdir_lock(tmp_path):
                pytest.fail("two runs held one workdir")
        message = str(raised.value)
        assert message.startswith(f"workdir {tmp_path} is in use by another "
                                  f"run (pid {process.pid} on ")
        assert message.endswith("; wait for it to end or use another "
                                "--workdir")
    finally:
        # Killed outright, it cannot release anything itself.
        process.kill()
        process.wait()
    with checkpoints.workdir_lock(tmp_path):
        # Re-entrant in one process: training, then its export.
        with checkpoints.workdir_lock(tmp_path):
            pass
        assert f"pid {os.getpid()} " in (
            tmp_path / checkpoints.LOCK_FILE).read_text()


def test_the_train_command_refuses_a_workdir_in_use(tmp_path, data_dir):
    workdir = tmp_path / "run"
    process = _holding_process(workdir)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "tfgen.train", "--model=pca",
             "--config_variant=tiny", f"--workdir={workdir}",
             f"--data_dir={data_dir}"],
            capture_output=True, text=True, timeout=600, cwd=REPO)
    finally:
        process.kill()
        process.wait()
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert completed.stderr.strip().splitlines()[-1].startswith(
        f"error: workdir {workdir} is in use by another run (pid "
        f"{process.pid} ")
    assert sorted(path.name for path in workdir.iterdir()) == [
        checkpoints.LOCK_FILE]


def test_a_task_other_than_the_chief_reads_the_chiefs_and_keeps_nothing(
        tmp_path):
    chief = Holder(seed=0)
    directory = tmp_path / "checkpoints"
    saved = _train(chief, checkpoints.TrainingCheckpoint(chief, directory), 2)
    before = sorted(p.name for p in directory.iterdir())

    other = Holder(seed=1)
    scratch = tmp_path / "workers" / "worker-1" / "checkpoints"
    checkpoint = checkpoints.TrainingCheckpoint(other, directory,
                                                scratch=scratch)
    assert checkpoint.restore_epoch(0) == 0 and checkpoint.latest is None
    assert checkpoint.restore_epoch(1) == 1
    np.testing.assert_array_equal(other.weights.numpy(), saved[1])
    assert checkpoint.latest == str(directory / "ckpt-1")
    # Its save (a collective, in a cluster) is written, then removed.
    assert checkpoint.save(3) is None
    assert not scratch.exists()
    assert sorted(p.name for p in directory.iterdir()) == before
    with pytest.raises(checkpoints.CheckpointError, match="restore_epoch"):
        checkpoint.restore()

    _truncate(_data_file(directory / "ckpt-2"))
    with pytest.raises(checkpoints.CheckpointError,
                       match="cannot read the chief's checkpoint .*ckpt-2"):
        checkpoint.restore_epoch(2)
    with pytest.raises(checkpoints.CheckpointError, match="ckpt-5"):
        checkpoint.restore_epoch(5)
    assert sorted(p.name for p in directory.iterdir()) == before
