"""Staged training: one loop runs every stage, counting epochs across them."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen  # noqa: F401
from tfgen import config as config_lib
from tfgen import training
from tfgen.data import DataInfo
from tfgen.model import GenerativeModel

STEPS_PER_EPOCH = 2


class TwoStageCounter(GenerativeModel):
    """Counts the training steps taken in each of two stages."""

    def __init__(self, config, data_info, stage_epochs=(2, 3), **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.stage_epochs = stage_epochs
        self.steps = self.add_weight(shape=(2,), initializer="zeros",
                                     trainable=False, name="steps")
        self.stages_begun = []
        self._stage = None
        self.after_training_calls = 0
        self.adapted_to = None

    def call(self, images):
        return images

    def training_stages(self):
        return list(zip(("first", "second"), self.stage_epochs))

    def begin_stage(self, name):
        self.stages_begun.append(name)
        self._stage = ("first", "second").index(name)

    def adapt(self, train_batches):
        self.adapted_to = sum(int(b["image"].shape[0]) for b in train_batches)

    def after_training(self, train_batches):
        self.after_training_calls += 1

    def report(self):
        return {"after_training_calls": self.after_training_calls}

    def build_for_training(self, batch):
        self(batch["image"])

    def compile_for_training(self):
        self.compile(optimizer=None)

    def train_step(self, batch):
        # The stage is read when train_step is traced: a stale trace would
        # keep counting into the first stage.
        self.steps.assign_add(tf.one_hot(self._stage, 2))
        return {"first": self.steps[0], "second": self.steps[1]}

    def test_step(self, batch):
        return {"first": self.steps[0], "second": self.steps[1]}


def _run(workdir, stage_epochs):
    config = config_lib.base_config()
    config.preprocessing = "unit"
    config.batch_size = 2
    config.lock()
    info = DataInfo("mock", (2, 2, 1), 256, 10,
                    {"train": 4, "validation": 2, "test": 2})
    images = np.zeros((4, 2, 2, 1), np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": np.zeros(4, np.int64)})
    splits = {name: dataset for name in
              ("train", "validation", "test", "train_for_evaluation")}
    keras.utils.set_random_seed(0)
    model = TwoStageCounter(config, info, stage_epochs=stage_epochs)
    model.compile_for_training()
    run = training.PreparedRun(spec=type("Spec", (), {"name": "counter"}),
                               config=config, info=info, splits=splits,
                               model=model, workdir=pathlib.Path(workdir))
    _, results = training.execute(run, verbose=0)
    return model, results


def test_each_stage_runs_its_epochs_in_order(tmp_path):
    model, results = _run(tmp_path, (2, 3))
    assert model.stages_begun == ["first", "second"]
    np.testing.assert_array_equal(model.steps.numpy(),
                                  [2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH])
    assert len(results["history"]["first"]) == 5
    assert results["epochs"] == 5
    assert model.after_training_calls == 1
    assert model.adapted_to == 4  # Every training image, before training.
    assert results["model_report"] == {"after_training_calls": 1.0}


def test_resume_continues_inside_the_stage_where_it_stopped(tmp_path):
    _run(tmp_path, (2, 1))  # Stops after one epoch of the second stage.
    model, results = _run(tmp_path, (2, 3))
    # The first stage is done: it is not begun again.
    assert model.stages_begun == ["second"]
    np.testing.assert_array_equal(model.steps.numpy(),
                                  [2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH])
    assert len(results["history"]["second"]) == 2


def test_pictures_show_intensities_in_unit_range_whatever_the_preprocessing():
    # Linear decoders overshoot [0, 1]; a picture clips them rather than
    # letting one negative pixel rescale the whole grid.
    overshoot = np.array([-0.2, 0.5, 1.3], np.float32)
    np.testing.assert_allclose(
        training._display_units(overshoot, "unit"), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(
        training._display_units(np.array([0, 8, 16]), "levels", 17),
        [0.0, 0.5, 1.0])
    # A capability's output is already in [0, 1] for level data.
    np.testing.assert_allclose(
        training._display_units(np.array([0.25]), "levels"), [0.25])
    np.testing.assert_allclose(
        training._display_units(np.array([-1.0, 0.0, 1.0]), "symmetric"),
        [0.0, 0.5, 1.0])


def test_layerwise_stage_names_round_trip_to_their_layers():
    from tfgen import model as model_lib

    stages = model_lib.layerwise_stages(3, 2, 5)
    assert stages == [("pretrain_layer_0", 2), ("pretrain_layer_1", 2),
                      ("pretrain_layer_2", 2), ("finetune", 5)]
    assert [model_lib.pretrained_layer(name) for name, _ in stages] == [
        0, 1, 2, None]


def test_default_begin_stage_records_known_stages_and_rejects_others():
    class Staged(GenerativeModel):
        def training_stages(self):
            return [("warm", 1), ("train", 2)]

    config = config_lib.base_config()
    config.lock()
    model = Staged(config, DataInfo(name="mock", event_shape=(2, 2, 1),
                                    num_levels=2, num_classes=2))
    model.begin_stage("train")
    assert model.current_stage == "train"
    with pytest.raises(ValueError, match="unknown Staged stage 'cool'"):
        model.begin_stage("cool")
    assert model.current_stage == "train"
