"""Training checkpoints and the workdir they live in, safe against faults.

* A checkpoint is written whole or not at all: TensorFlow writes its files
  under a temporary name and renames them, and updates the ``checkpoint``
  index file last. A save that fails (a full disk, a file-size limit)
  leaves the previous checkpoint as it was, removes its own temporary
  files and raises ``CheckpointError`` saying what happened.
* A checkpoint that cannot be read whole (a truncated or damaged file) is
  found on restore, before any of it reaches the model: it is moved to
  ``checkpoints/corrupt/`` with a warning naming it, and the run resumes
  from the newest checkpoint that reads whole.
* One run at a time per workdir: ``workdir_lock`` holds an operating-system
  lock on ``<workdir>/.lock`` for the length of a run, which a second run
  on the same workdir is refused; the lock goes with the process, however
  it ends, so a killed run never blocks the next one.
"""

import contextlib
import datetime
import fcntl
import os
import pathlib
import re
import shutil
import socket
import sys

import tensorflow as tf

from tfgen import errors

# Where restore moves checkpoints that cannot be read whole.
CORRUPT_DIR = "corrupt"
# The workdir's lock file (see ``workdir_lock``).
LOCK_FILE = ".lock"

_PREFIX = "ckpt"
_INDEX = re.compile(rf"^{_PREFIX}-(\d+)\.index$")
_DATA = re.compile(rf"^{_PREFIX}-(\d+)\.data-\d+-of-\d+$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written, or none in the folder reads whole."""


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def unreadable(prefix):
    """Why the checkpoint at ``prefix`` cannot be read whole, or None.

    Reads every tensor it holds: the index, each value and its checksum.
    """
    try:
        reader = tf.train.load_checkpoint(os.fspath(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, OSError, RuntimeError,
            ValueError) as error:
        return _first_line(error)
    return None


def saved_model_unreadable(export_dir):
    """Why the SavedModel in ``export_dir`` cannot be read whole, or None.

    Parses ``saved_model.pb`` and reads every tensor of its variables (see
    ``unreadable``); the reason names the file at fault.
    """
    from google.protobuf import message
    from tensorflow.core.protobuf import saved_model_pb2

    folder = pathlib.Path(export_dir)
    graph = folder / "saved_model.pb"
    try:
        proto = saved_model_pb2.SavedModel.FromString(graph.read_bytes())
    except (OSError, message.DecodeError) as error:
        return f"{graph}: {_first_line(error)}"
    if not proto.meta_graphs:
        return f"{graph}: holds no graph"
    variables = folder / "variables" / "variables"
    if any(variables.parent.glob("variables.*")):
        reason = unreadable(variables)
        if reason is not None:
            return f"{variables}: {reason}"
    return None


class TrainingCheckpoint:
    """The state of a training run in ``<workdir>/checkpoints``.

    Args:
        model: a built ``GenerativeModel`` (optimizer slots created too, see
            ``GenerativeModel.build_for_training``).
        directory: the checkpoint folder.
        max_to_keep: how many recent checkpoints to keep.
        scratch: for a task of a multi-worker run other than the chief: the
            folder its saves are written to and removed from at once;
            ``directory``, the chief's, is then only read
            (``restore_epoch``).
    """

    def __init__(self, model, directory, max_to_keep=2, *, scratch=None):
        self.directory = os.fspath(directory)
        self._scratch = None if scratch is None else os.fspath(scratch)
        self._restored = None  # What restore_epoch restored.
        self._max_to_keep = max_to_keep
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False,
                                 name="completed_epochs")
        # 1 once training ended and after_training ran: only then is the
        # checkpoint the model that training evaluated and exported.
        self._finished = tf.Variable(0, dtype=tf.int64, trainable=False,
                                     name="training_finished")
        groups = model.checkpoint_variables()
        self._checkpoint = tf.train.Checkpoint(
            epoch=self.epoch, finished=self._finished, **groups)
        # Made now, not on the first save or restore: under a multi-worker
        # strategy making a variable is a collective (its first value is
        # the chief's), which every task must reach at the same point.
        _ = self._checkpoint.save_counter
        self._manager = self._new_manager()

    def _new_manager(self):
        return tf.train.CheckpointManager(
            self._checkpoint, self._scratch or self.directory,
            max_to_keep=self._max_to_keep, checkpoint_name=_PREFIX)

    @property
    def latest(self):
        """Path prefix of the newest complete checkpoint, or ``None`` (for
        a task other than the chief: the one it restored)."""
        if self._scratch is not None:
            return self._restored
        return self._manager.latest_checkpoint

    def on_disk(self):
        """The prefixes of the checkpoints whose index file exists, newest
        (highest epoch) first, whatever the ``checkpoint`` file says."""
        folder = pathlib.Path(self.directory)
        if not folder.is_dir():
            return []
        numbered = [(int(match.group(1)), str(folder / match.group(0)[
            :-len(".index")])) for match in (
                _INDEX.match(path.name) for path in folder.iterdir())
            if match]
        return [prefix for _, prefix in sorted(numbered, reverse=True)]

    def restore(self):
        """Restores the newest checkpoint that reads whole, if any.

        Checkpoints that do not (see ``unreadable``), and data files
        whose index file is missing, are moved to ``checkpoints/corrupt/``,
        each with a warning on stderr naming it, and the ``checkpoint`` file
        is rewritten to list those left.

        Returns:
            The number of epochs completed by the restored run (0 if there
            was no checkpoint).

        Raises:
            CheckpointError: there are checkpoints, and none reads whole.
        """
        if self._scratch is not None:
            raise CheckpointError(
                "a task other than the chief restores the chief's "
                "checkpoint with restore_epoch, and changes nothing in "
                f"{self.directory}")
        self._remove_temporary()
        candidates = self.on_disk()
        # Data files without their index: a save cut short between its
        # renames, or an index lost since. Nothing to resume from there.
        for prefix in self._without_index(candidates):
            moved = self._set_aside(prefix)
            print(f"warning: checkpoint {prefix} has no index file; its data "
                  f"moved to {moved}", file=sys.stderr)
        if not candidates:
            return 0
        damaged = []
        for prefix in candidates:
            reason = unreadable(prefix)
            if reason is None:
                break
            damaged.append((prefix, reason))
        else:
            raise CheckpointError(
                f"no checkpoint in {self.directory} can be read: "
                + "; ".join(f"{prefix}: {reason}"
                            for prefix, reason in damaged)
                + "; move the folder aside to train from the start")
        good = candidates[len(damaged):]
        for prefix, reason in damaged:
            moved = self._set_aside(prefix)
            print(f"warning: checkpoint {prefix} cannot be read ({reason}); "
                  f"moved to {moved}, resuming from {good[0]}",
                  file=sys.stderr)
        if damaged or self.latest != good[0]:
            # The index file names what is on disk, oldest last.
            tf.compat.v1.train.update_checkpoint_state(
                self.directory, good[0],
                all_model_checkpoint_paths=list(reversed(good)))
            self._manager = self._new_manager()
        self._checkpoint.restore(good[0]).assert_existing_objects_matched()
        return int(self.epoch.numpy())

    def restore_epoch(self, epoch):
        """Restores ``<directory>/ckpt-<epoch>`` (the one the chief
        restored), reading it whole first; 0: restores nothing.

        Returns:
            ``epoch``.

        Raises:
            CheckpointError: that checkpoint is missing or does not read
                whole.
        """
        if not epoch:
            return 0
        prefix = os.path.join(self.directory, f"{_PREFIX}-{epoch}")
        reason = unreadable(prefix)
        if reason is not None:
            raise CheckpointError(
                f"cannot read the chief's checkpoint {prefix}: {reason}; "
                "the workdir must be a folder every task can read")
        self._checkpoint.restore(prefix).assert_existing_objects_matched()
        self._restored = prefix
        return int(self.epoch.numpy())

    def _without_index(self, indexed):
        """Prefixes whose data files lie here without an index file."""
        folder = pathlib.Path(self.directory)
        if not folder.is_dir():
            return []
        numbers = {int(match.group(1)) for match in (
            _DATA.match(path.name) for path in folder.iterdir()) if match}
        return [str(folder / f"{_PREFIX}-{number}")
                for number in sorted(numbers, reverse=True)
                if str(folder / f"{_PREFIX}-{number}") not in indexed]

    def _set_aside(self, prefix):
        """Moves a checkpoint's files to ``corrupt/``; returns where."""
        corrupt = pathlib.Path(self.directory) / CORRUPT_DIR
        corrupt.mkdir(exist_ok=True)
        name = pathlib.Path(prefix).name
        stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S%f")
        target = corrupt / f"{name}.{stamp}"
        target.mkdir()
        for path in pathlib.Path(self.directory).glob(f"{name}.*"):
            if path.is_file():
                os.replace(path, target / path.name)
        return target

    def _remove_temporary(self):
        """Removes what interrupted or failed saves left (``ckpt-N_temp``)."""
        folder = pathlib.Path(self.directory)
        if folder.is_dir():
            for path in folder.glob(f"{_PREFIX}-*_temp*"):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    @property
    def finished(self):
        """Whether the restored checkpoint was saved at the end of training,
        after ``after_training`` (False for an epoch's checkpoint)."""
        return bool(self._finished.numpy())

    def save(self, completed_epochs, *, finished=False):
        """Saves the current state after ``completed_epochs`` epochs.

        Args:
            completed_epochs: epochs done, across every stage.
            finished: training is over and ``after_training`` has run.

        Raises:
            CheckpointError: the checkpoint could not be written (the
                previous one is intact).
        """
        self.epoch.assign(completed_epochs)
        self._finished.assign(int(finished))
        try:
            saved = self._manager.save(checkpoint_number=completed_epochs)
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._manager = self._new_manager()
                return None
            return saved
        except (tf.errors.OpError, OSError) as error:
            self._remove_temporary()
            raise CheckpointError(
                f"could not write the checkpoint of epoch {completed_epochs} "
                f"in {self.directory}: {_first_line(error)}; the previous "
                f"checkpoint, {self.latest or '(none)'}, is intact") from None


_HELD = {}  # The locks this process holds: {lock file: [handle, depth]}.


@contextlib.contextmanager
def workdir_lock(workdir):
    """Holds ``<workdir>/.lock`` while a run writes in ``workdir``.

    An exclusive ``flock``, which the operating system releases when the
    process ends, however it ends. Re-entrant within a process (a run's
    training, then its export). Makes the workdir.

    Raises:
        UsageError: another process holds the workdir.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = (workdir / LOCK_FILE).resolve()
    held = _HELD.get(path)
    if held is not None:
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "holder unknown"
        handle.close()
        raise errors.UsageError(
            f"workdir {workdir} is in use by another run ({holder}); wait "
            "for it to end or use another --workdir") from None
    handle.seek(0)
    handle.truncate()
    started = datetime.datetime.now().astimezone().isoformat(
        timespec="seconds")
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                 f"{started}\n")
    handle.flush()
    _HELD[path] = [handle, 1]
    try:
        yield
    finally:
        del _HELD[path]
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
