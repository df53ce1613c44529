"""Shared callbacks: non-finite guard, epoch checkpoints, sample grids."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen  # noqa: F401
from tfgen import callbacks
from tfgen import checkpoints
from tfgen.model import CapabilityInput
import summary_helpers


class RegressionModel(keras.Model):
    """A one-weight model whose loss is NaN on any batch holding a NaN."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs):
        return self.dense(inputs)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(data["image"]) - 1.0))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.loss_tracker.reset_state()  # Per-batch value, so a NaN shows.
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def checkpoint_variables(self):
        return {"model": list(self.variables),
                "optimizer": list(self.optimizer.variables)}


def _dataset(nan_from_epoch):
    """Finite batches until ``nan_from_epoch`` (0-based), then NaN inputs."""
    epoch = tf.Variable(0)

    def generator():
        bad = int(epoch.numpy()) >= nan_from_epoch
        epoch.assign_add(1)
        for _ in range(3):
            yield {"image": np.full([2, 1], np.nan if bad else 1.0, np.float32)}

    return tf.data.Dataset.from_generator(
        generator, output_signature={"image": tf.TensorSpec([2, 1], tf.float32)})


def test_guard_stops_at_first_nan_and_last_good_checkpoint_survives(tmp_path):
    model = RegressionModel()
    model.compile(optimizer="sgd")
    model(tf.ones([1, 1]))
    model.optimizer.build(model.trainable_variables)
    checkpoint = checkpoints.TrainingCheckpoint(model, tmp_path)
    guard = callbacks.NonFiniteGuard()
    after_epoch = {}
    recorder = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: after_epoch.__setitem__(
            epoch + 1, [v.numpy().copy() for v in model.variables]))
    model.fit(_dataset(nan_from_epoch=2), epochs=5, verbose=0,
              callbacks=[guard, callbacks.EpochCheckpoint(checkpoint, guard),
                         recorder])
    assert guard.failure == "metric 'loss' became nan at epoch 3, batch 1"
    # Epochs 1 and 2 were saved; the diverged third was not.
    assert checkpoint.latest.endswith("ckpt-2")
    assert not all(np.all(np.isfinite(v.numpy())) for v in model.variables)

    fresh = RegressionModel()
    fresh.compile(optimizer="sgd")
    fresh(tf.ones([1, 1]))
    fresh.optimizer.build(fresh.trainable_variables)
    assert checkpoints.TrainingCheckpoint(fresh, tmp_path).restore() == 2
    for restored, saved in zip(fresh.variables, after_epoch[2]):
        np.testing.assert_array_equal(restored.numpy(), saved)


def test_checkpoint_restore_without_checkpoint_returns_zero(tmp_path):
    model = RegressionModel()
    model.compile(optimizer="sgd")
    model(tf.ones([1, 1]))
    assert checkpoints.TrainingCheckpoint(model, tmp_path / "none").restore() == 0


class Sampler(RegressionModel):
    """Samples 2x2 images of one gray value, its weight: no labels."""

    def capability_inputs(self, capability):
        assert capability == "sample"
        return {"seed": CapabilityInput(tf.TensorSpec([None], tf.int64))}

    def sample(self, seed):
        return {"images": tf.zeros([tf.shape(seed)[0], 2, 2, 1])
                + self.dense.kernel[0, 0]}


def _sampler():
    model = Sampler()
    model.compile(optimizer="sgd")
    model(tf.ones([1, 1]))
    return model


def test_sample_grid_summary_survives_several_fits(tmp_path):
    """A staged model runs fit once per stage with the same callbacks."""
    model = _sampler()
    summary = callbacks.SampleGridSummary(tmp_path, num_samples=4)
    for stage_end in (1, 2):
        model.fit(_dataset(nan_from_epoch=99), epochs=stage_end,
                  initial_epoch=stage_end - 1, verbose=0, callbacks=[summary])
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert summary_helpers.grid_steps(tmp_path) == [1, 2]


@pytest.mark.parametrize("every_epochs, expected", [
    (2, [2, 3]),      # every second epoch, and the last
    (1, [1, 2, 3]),   # the default
    (0, [3]),         # only the last
    (5, [3]),         # a cadence longer than the run: the last
])
def test_sample_grids_follow_the_cadence_and_the_last_epoch(
        tmp_path, every_epochs, expected):
    model = _sampler()
    summary = callbacks.SampleGridSummary(
        tmp_path, num_samples=4, every_epochs=every_epochs, last_epoch=3)
    model.fit(_dataset(nan_from_epoch=99), epochs=3, verbose=0,
              callbacks=[summary])
    assert summary_helpers.grid_steps(tmp_path) == expected
