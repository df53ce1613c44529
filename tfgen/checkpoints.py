"""Training checkpoints: written whole or not at all, restored on re-runs."""

import os

import tensorflow as tf


class TrainingCheckpoint:
    """The state of a training run in ``<workdir>/checkpoints``.

    TensorFlow writes each checkpoint to temporary files and renames them, and
    updates the ``checkpoint`` index file last, so an interrupted save never
    replaces the last complete checkpoint.

    Args:
        model: a built ``GenerativeModel`` (optimizer slots created too, see
            ``GenerativeModel.build_for_training``).
        directory: the checkpoint folder.
        max_to_keep: how many recent checkpoints to keep.
    """

    def __init__(self, model, directory, max_to_keep=2):
        self.directory = os.fspath(directory)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False,
                                 name="completed_epochs")
        # 1 once training ended and after_training ran: only then is the
        # checkpoint the model that training evaluated and exported.
        self._finished = tf.Variable(0, dtype=tf.int64, trainable=False,
                                     name="training_finished")
        groups = model.checkpoint_variables()
        self._checkpoint = tf.train.Checkpoint(
            epoch=self.epoch, finished=self._finished, **groups)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, self.directory, max_to_keep=max_to_keep)

    @property
    def latest(self):
        """Path prefix of the newest complete checkpoint, or ``None``."""
        return self._manager.latest_checkpoint

    def restore(self):
        """Restores the newest checkpoint, if any.

        Returns:
            The number of epochs completed by the restored run (0 if there
            was no checkpoint).
        """
        if self.latest is None:
            return 0
        self._checkpoint.restore(self.latest).assert_existing_objects_matched()
        return int(self.epoch.numpy())

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
        """
        self.epoch.assign(completed_epochs)
        self._finished.assign(int(finished))
        return self._manager.save(checkpoint_number=completed_epochs)
