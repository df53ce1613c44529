"""The model contract of tfgen.model.GenerativeModel, on toy models.

The base class owns the plumbing every model would otherwise write: named
optimizers and the variables each updates, the step helper (gradients
scaled across replicas, weight decay), metrics declared by name, named
random streams, labelled capabilities and the checks of every capability's
inputs. Each test would fail if the base got its part wrong.
"""

import json
import pathlib
import subprocess
import sys

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

import tfgen  # noqa: F401
from tfgen import config as config_lib
from tfgen import errors
from tfgen import optimizers
from tfgen.data import DataInfo
from tfgen.model import GenerativeModel

INFO = DataInfo(name="mock", event_shape=(2, 2, 1), num_levels=2,
                num_classes=3)


def _config(**optimizer_entries):
    config = config_lib.base_config()
    if optimizer_entries:
        config.optimizers = ml_collections.ConfigDict(optimizer_entries)
    config.preprocessing = "unit"
    config.lock()
    return config


class Linear(GenerativeModel):
    """f(x) = x . w + b; its loss is the mean of f over the batch.

    Two optimizers, one for ``w`` and one for ``b``; labelled ``sample``
    (the mean image plus the label) and unlabelled ``encode``.
    """

    capabilities = ("sample", "encode", "decode")
    metric_names = ("loss", "mean_pixel")
    labelled_capabilities = ("sample",)

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.w = self.add_weight(shape=(4, 1), initializer="ones", name="w")
        self.b = self.add_weight(shape=(1,), initializer="zeros", name="b")
        self.code_size = 1
        self.built = True

    def optimizer_variables(self):
        return {"weights": [self.w], "bias": [self.b]}

    def train_step(self, batch):
        flat = tf.reshape(batch["image"], [-1, 4])
        with tf.GradientTape(persistent=True) as tape:
            loss = tf.reduce_mean(flat @ self.w + self.b)
        self.minimize(tape, loss, optimizer="weights", weight_decay=0.5)
        self.minimize(tape, loss, optimizer="bias")
        return self.update_metrics({"loss": loss, "mean_pixel": flat})

    def _sample(self, seed, labels):
        noise = self.stream("sample").normal_rows(seed, [2, 2, 1])
        return {"images": noise + tf.cast(labels, tf.float32)[:, None, None,
                                                              None]}

    def _encode(self, images):
        return {"codes": tf.reshape(images, [-1, 4]) @ self.w + self.b}

    def _decode(self, codes):
        return {"images": tf.reshape(tf.tile(codes, [1, 4]), [-1, 2, 2, 1])}


def _linear(algorithm="sgd", learning_rate=0.1, **settings):
    entry = optimizers.optimizer_config(algorithm, learning_rate, **settings)
    model = Linear(_config(weights=entry, bias=optimizers.optimizer_config(
        "sgd", 1.0)), INFO)
    model.build_for_training()
    return model


def test_each_named_optimizer_updates_its_variables_with_weight_decay():
    model = _linear("sgd", 0.1, momentum=0.5)
    images = np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1) / 8
    batch = {"image": tf.constant(images)}
    mean = images.reshape(2, 4).mean(axis=0)[:, None]  # d loss / d w
    w, velocity = np.ones((4, 1)), np.zeros((4, 1))
    for _ in range(2):
        model.train_step(batch)
        # Keras SGD with momentum on the gradient plus 0.5 * w (weight
        # decay on a weight matrix), by hand.
        velocity = 0.5 * velocity - 0.1 * (mean + 0.5 * w)
        w = w + velocity
        np.testing.assert_allclose(model.w.numpy(), w, rtol=1e-6)
    # The bias: plain SGD at rate 1 on d loss / d b = 1, no weight decay.
    np.testing.assert_allclose(model.b.numpy(), [-2.0])
    assert model.optimizers["weights"].iterations.numpy() == 2
    groups = model.checkpoint_variables()
    assert set(groups) == {"model", "optimizer_weights", "optimizer_bias"}
    # The momentum slot of w is in the checkpoint.
    assert any(variable.shape == (4, 1)
               for variable in groups["optimizer_weights"])


def test_the_config_must_name_exactly_the_models_optimizers():
    with pytest.raises(errors.UsageError, match="no 'bias' entry"):
        Linear(_config(weights=optimizers.optimizer_config()),
               INFO).compile_for_training()
    entry = optimizers.optimizer_config()
    with pytest.raises(errors.UsageError, match="does not use"):
        Linear(_config(weights=entry, bias=entry, extra=entry),
               INFO).compile_for_training()


@pytest.mark.parametrize("field, value, message", [
    ("algorithm", "sgdd", "algorithm='sgdd' is not one of"),
    ("learning_rate", 0.0, "learning_rate=0.0 must be positive"),
    ("momentum", 1.0, "momentum=1.0 must lie in"),
])
def test_bad_optimizer_entries_are_named(field, value, message):
    entry = optimizers.optimizer_config("sgd", 0.1, momentum=0.5)
    entry[field] = value
    with pytest.raises(errors.UsageError,
                       match=f"config.optimizers.weights.{message}"):
        Linear(_config(weights=entry, bias=optimizers.optimizer_config()),
               INFO).compile_for_training()


def test_an_optimizer_setting_keras_refuses_is_a_usage_error():
    entry = optimizers.optimizer_config("adam", 1e-3, not_a_setting=1.0)
    with pytest.raises(errors.UsageError, match="config.optimizers.model"):
        optimizers.validate_entry("model", entry)


def test_overrides_reach_optimizer_entries():
    config = config_lib.base_config()
    config.lock()
    config_lib.apply_overrides(config, {
        "optimizers.model.learning_rate": "0.25",
        "optimizers.model.algorithm": "sgd"})
    optimizer = optimizers.build(config.optimizers.model)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert float(optimizer.learning_rate) == 0.25


def test_metrics_are_declared_by_name():
    model = _linear()
    logs = model.train_step({"image": tf.ones([2, 2, 2, 1])})
    assert set(logs) == {"loss", "mean_pixel"}
    assert [metric.name for metric in model.metrics] == ["loss",
                                                         "mean_pixel"]
    assert float(logs["mean_pixel"]) == 1.0
    with pytest.raises(ValueError, match="not in its metric_names"):
        model.update_metrics({"los": 1.0})
    model.reset_metrics()
    assert float(model.trackers["loss"].count.numpy()) == 0


def test_labelled_capabilities_get_checked_labels():
    model = _linear()
    assert set(model.capability_inputs("sample")) == {"seed", "labels"}
    assert set(model.capability_inputs("encode")) == {"images"}
    assert model.capability_inputs("decode")["codes"].spec.shape.as_list() \
        == [None, 1]
    seeds = tf.constant([1, 2], tf.int64)
    labelled = model.sample(seed=seeds, labels=tf.constant([0, 2]))["images"]
    noise = model.sample(seed=seeds, labels=tf.constant([0, 0]))["images"]
    np.testing.assert_allclose(labelled[1] - noise[1], 2.0 * np.ones((2, 2, 1)),
                               rtol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must"):
        model.sample(seed=seeds, labels=tf.constant([0, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must"):
        model.sample(seed=seeds, labels=tf.constant([-1, 0]))
    with pytest.raises(ValueError, match="not \\['labels'\\]"):
        model.encode(images=tf.zeros([1, 2, 2, 1]), labels=tf.constant([0]))


def test_sample_without_labels_draws_them_uniformly_per_row():
    model = _linear()
    seeds = tf.range(3000, dtype=tf.int64)
    labels = model.draw_labels(seeds).numpy()
    assert labels.min() == 0 and labels.max() == 2
    counts = np.bincount(labels, minlength=3)
    # 3,000 draws: each count is 1,000 +- 26 (one binomial stddev).
    assert np.all(np.abs(counts - 1000) < 5 * 26)
    # Row i's label depends on seed i alone.
    np.testing.assert_array_equal(model.draw_labels(seeds[7:9]), labels[7:9])
    drawn = model.sample(seed=seeds[:5])["images"]
    given = model.sample(seed=seeds[:5], labels=labels[:5])["images"]
    np.testing.assert_array_equal(drawn, given)


def test_named_streams_are_independent_and_seeded():
    model = _linear()
    seeds = tf.constant([5, 6], tf.int64)
    sample = model.stream("sample").uniform_rows(seeds, [4]).numpy()
    bound = model.stream("bound").uniform_rows(seeds, [4]).numpy()
    assert not np.allclose(sample, bound)
    np.testing.assert_array_equal(
        sample, model.stream("sample").uniform_rows(seeds, [4]))
    # Another model seed, other draws from the stream of the same name.
    config = _config(weights=optimizers.optimizer_config(),
                     bias=optimizers.optimizer_config())
    with config.unlocked():
        config.seed = 1
    other = Linear(config, INFO).stream("sample").uniform_rows(seeds, [4])
    assert not np.allclose(sample, other)


def test_missing_inputs_and_capabilities_are_refused():
    model = _linear()
    with pytest.raises(ValueError, match="no capability 'log_prob'"):
        model.log_prob(images=tf.zeros([1, 2, 2, 1]))
    with pytest.raises(ValueError, match="needs its input 'images'"):
        model.encode(images=None)


def test_a_declared_capability_needs_its_method():
    class Forgetful(GenerativeModel):
        capabilities = ("sample",)

    with pytest.raises(ValueError, match="without implementing"):
        Forgetful(_config(), INFO)


def test_log_prob_kind_is_declared_with_log_prob():
    class Undeclared(GenerativeModel):
        capabilities = ("log_prob",)

        def _log_prob(self, images):
            return {"log_prob": tf.zeros([tf.shape(images)[0]])}

    with pytest.raises(ValueError, match="log_prob_kind"):
        Undeclared(_config(), INFO)


class Estimated(GenerativeModel):
    """-sum(x) - log Z with log Z estimated: the core's bookkeeping."""

    capabilities = ("log_prob",)
    log_prob_kind = "estimate"

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.add_log_partition()
        self.built = True

    def _log_prob(self, images):
        return {"log_prob": -tf.reduce_sum(images, axis=[1, 2, 3])
                - self.log_partition}


def test_an_estimated_log_partition_is_kept_stated_and_reported():
    model = Estimated(_config(), INFO)
    images = tf.ones([2, 2, 2, 1])
    # Zero until estimated; no error stated, and nothing to report but
    # the zeros themselves.
    assert model.log_prob_stderr() == 0.0
    np.testing.assert_allclose(model.log_prob(images)["log_prob"], [-4, -4])
    model.store_log_partition(1.5, 0.25)
    np.testing.assert_allclose(model.log_prob(images)["log_prob"],
                               [-5.5, -5.5])
    assert model.log_prob_stderr() == 0.25
    assert model.report() == {"log_partition": 1.5,
                              "log_partition_stderr": 0.25}
    # Checkpointed and exported with the model's variables, never trained.
    names = {variable.name for variable in model.non_trainable_variables}
    assert {"log_partition", "log_partition_stderr"} <= names
    assert not model.trainable_variables
    # A model without one reports nothing and states no error.
    plain = Linear(_config(weights=optimizers.optimizer_config("sgd", 0.1),
                           bias=optimizers.optimizer_config("sgd", 0.1)), INFO)
    assert plain.report() == {} and plain.log_prob_stderr() == 0.0


def test_labels_need_a_dataset_with_classes():
    unlabelled = DataInfo(name="toy", event_shape=(2, 2, 1), num_levels=2,
                          num_classes=0)
    with pytest.raises(errors.UsageError, match="has no classes"):
        Linear(_config(), unlabelled)


# Two logical CPUs must be set before TensorFlow starts: a fresh process.
_MIRRORED = """
import sys
sys.path[:0] = [{repo!r}, {tests!r}]
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import json
import numpy as np
import test_model

images = np.arange(16, dtype=np.float32).reshape(4, 2, 2, 1) / 16
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = test_model._linear("sgd", 0.1)
model.fit(tf.data.Dataset.from_tensor_slices({{"image": images}}).batch(4),
          epochs=1, verbose=0, shuffle=False)
print(json.dumps([model.w.numpy().ravel().tolist(),
                  model.b.numpy().tolist()]))
"""


def test_gradients_are_scaled_across_replicas():
    # Two replicas each see 2 of the 4 images; their summed updates must
    # equal one step on the mean over all 4 (unscaled, the step doubles).
    here = pathlib.Path(__file__).resolve()
    script = _MIRRORED.format(repo=str(here.parents[2]),
                              tests=str(here.parent))
    completed = subprocess.run([sys.executable, "-c", script],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    weights, bias = json.loads(completed.stdout.strip().splitlines()[-1])
    images = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
    expected = 1.0 - 0.1 * (images.mean(axis=0) + 0.5)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    np.testing.assert_allclose(bias, [-1.0], rtol=1e-6)


class Filler(GenerativeModel):
    """Fills unknown pixels with a seeded uniform draw."""

    capabilities = ("complete",)

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.scale = self.add_weight(shape=(), initializer="ones",
                                     name="scale")
        self.built = True

    def _complete(self, images, mask, seed):
        fill = self.stream("complete").uniform_rows(seed, [2, 2, 1])
        return {"images": mask * images + (1.0 - mask) * self.scale * fill}


def test_complete_takes_images_a_mask_and_seeds_by_default():
    model = Filler(_config(), INFO)
    inputs = model.capability_inputs("complete")
    assert list(inputs) == ["images", "mask", "seed"]
    assert inputs["mask"].spec.shape.as_list() == [None, 2, 2, 1]
    assert (inputs["mask"].minimum, inputs["mask"].maximum) == (0.0, 1.0)
    images = np.full((2, 2, 2, 1), 0.5, np.float32)
    mask = np.zeros_like(images)
    mask[:, 0] = 1.0  # the top row is known
    seeds = np.array([3, 4], np.int64)
    completed = model.complete(images=images, mask=mask, seed=seeds)["images"]
    np.testing.assert_array_equal(completed[:, 0], images[:, 0])
    assert not np.allclose(completed[:, 1], 0.5)
    again = model.complete(images=images[1:], mask=mask[1:], seed=seeds[1:])
    np.testing.assert_array_equal(again["images"], completed[1:])
