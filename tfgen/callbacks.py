"""Callbacks shared by every model's ``model.fit``.

The one training loop (``tfgen.training``) adds these to Keras's own progress
bar and TensorBoard callback: a guard that stops on a non-finite metric, a
checkpoint at the end of every good epoch, and a grid of samples written to
TensorBoard each epoch.
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from tfgen import plots


class NonFiniteGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose metrics are NaN or infinite.

    After ``fit`` returns, ``failure`` holds a message naming the epoch, the
    batch and the metric, or ``None`` if training stayed finite. The epoch in
    which training diverged is not checkpointed (see ``EpochCheckpoint``), so
    the last good checkpoint survives.
    """

    def __init__(self):
        super().__init__()
        self.failure = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                self.failure = (f"metric {name!r} became {float(np.asarray(value))} "
                                f"at epoch {self._epoch + 1}, batch {batch + 1}")
                self.model.stop_training = True
                return


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a ``TrainingCheckpoint`` after every epoch that stayed finite.

    Args:
        checkpoint: the run's ``tfgen.checkpoints.TrainingCheckpoint``.
        guard: the run's ``NonFiniteGuard``; an epoch it stopped is not saved.
    """

    def __init__(self, checkpoint, guard):
        super().__init__()
        self._checkpoint = checkpoint
        self._guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if self._guard.failure is not None:
            return
        if not all(math.isfinite(float(np.asarray(v))) for v in (logs or {}).values()):
            return
        self._checkpoint.save(epoch + 1)


class SampleGridSummary(keras.callbacks.Callback):
    """Writes a grid of the model's samples to TensorBoard every few epochs.

    The samples come from the model's ``sample`` capability with fixed seeds
    (``plots.grid_sample_arguments``: one class per column for a model that
    samples given labels), so successive grids show the same draws evolving.

    Args:
        log_dir: TensorBoard folder for the image summaries.
        num_samples: number of images in the grid.
        every_epochs: a grid after every this many epochs; 0: none but the
            last. Sequential samplers are slow, so they sample less often.
        last_epoch: the run's last epoch (1-based), which always gets a grid.
    """

    def __init__(self, log_dir, num_samples=64, every_epochs=1,
                 last_epoch=None):
        super().__init__()
        self._log_dir = os.fspath(log_dir)
        self._num_samples = int(num_samples)
        self._every = int(every_epochs)
        self._last_epoch = last_epoch
        self._writer = None
        self._sample = None

    def _due(self, completed):
        if completed == self._last_epoch:
            return True
        return self._every > 0 and completed % self._every == 0

    def on_epoch_end(self, epoch, logs=None):
        if not self._due(epoch + 1):
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self._log_dir)
            # Traced once: eager sampling would cost more than the epoch of
            # a small model.
            self._sample = tf.function(self.model.sample)
        arguments, columns = plots.grid_sample_arguments(self.model,
                                                         self._num_samples)
        images = self._sample(**arguments)["images"]
        grid = plots.image_grid(np.asarray(images, dtype=np.float32),
                                num_columns=columns)
        with self._writer.as_default():
            tf.summary.image("samples", grid[np.newaxis], step=epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        # A staged model calls fit once per stage: each opens its own writer.
        if self._writer is not None:
            self._writer.close()
        self._writer = None
        self._sample = None
