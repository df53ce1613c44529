"""GenerativeModel resets and reads its metrics in compiled calls.

Keras's own ``reset_metrics`` and ``get_metrics_result`` (one eager call per
metric) are the reference; the compiled versions must agree with them, see
every metric (dict results included), and follow metrics added later.
"""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

import tfgen  # noqa: F401
from tfgen import config as config_lib
from tfgen.data import DataInfo
from tfgen.model import GenerativeModel

INFO = DataInfo(name="mock", event_shape=(2, 2, 1), num_levels=2,
                num_classes=1)


class PairMetric(keras.metrics.Metric):
    """A metric whose result is a dict of two entries."""

    def __init__(self):
        super().__init__(name="pair")
        self.total = self.add_variable(shape=(2,), initializer="zeros",
                                       name="total")

    def update_state(self, values):
        self.total.assign_add(values)

    def result(self):
        return {"first": self.total[0], "second": self.total[1]}


class Tracked(GenerativeModel):
    """Tracks the pixel mean, the pixel maximum and a pair of sums.

    The two means are declared (``metric_names``); the pair, a metric whose
    result is a dict, joins the base's trackers.
    """

    metric_names = ("mean", "maximum")

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.trackers["pair"] = PairMetric()
        self.built = True

    def train_step(self, batch):
        images = tf.reshape(batch["image"], [-1])
        self.update_metrics({"mean": images,
                             "maximum": tf.reduce_max(images)})
        self.trackers["pair"].update_state(
            tf.stack([tf.reduce_sum(images), 1.0]))
        return self.get_metrics_result()


def _model():
    model = Tracked(config_lib.base_config(), INFO)
    model.compile(optimizer=None)
    return model


def _update(model, values):
    model.train_step({"image": tf.constant(values, tf.float32)})


def test_results_match_keras_and_reset_zeroes_every_variable():
    model = _model()
    _update(model, [[1.0, 2.0], [3.0, 6.0]])
    _update(model, [[0.0, 0.0], [0.0, 4.0]])
    expected = keras.Model.get_metrics_result(model)
    got = model.get_metrics_result()
    assert sorted(got) == ["first", "maximum", "mean", "second"]
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-6)
    np.testing.assert_allclose(got["mean"], 2.0)  # 16 / 8
    np.testing.assert_allclose(got["maximum"], 5.0)  # (6 + 4) / 2
    np.testing.assert_allclose(got["first"], 16.0)
    np.testing.assert_allclose(got["second"], 2.0)

    model.reset_metrics()
    for metric in model.metrics:
        for variable in metric.variables:
            np.testing.assert_array_equal(variable.numpy(), 0.0)
    # The same traced functions serve the next epoch.
    _update(model, [[7.0, 7.0], [7.0, 7.0]])
    np.testing.assert_allclose(model.get_metrics_result()["mean"], 7.0)


def test_a_metric_added_later_is_reset_and_read():
    model = _model()
    _update(model, [[1.0, 1.0], [1.0, 1.0]])
    model.get_metrics_result()
    model.reset_metrics()
    late = keras.metrics.Sum(name="late")
    late.update_state(5.0)
    model.trackers["late"] = late
    assert model.get_metrics_result()["late"] == 5.0
    model.reset_metrics()
    assert late.result() == 0.0


def test_fit_reports_each_epochs_own_metrics():
    # The pair's first entry sums the epoch's pixels: 16 + 48 each epoch,
    # 128 at epoch 2 had the reset missed.
    model = _model()
    first = np.ones((4, 2, 2, 1), np.float32)
    history = model.fit(tf.data.Dataset.from_tensor_slices(
        {"image": np.concatenate([first, 3 * first])}).batch(4),
        epochs=2, verbose=0, shuffle=False)
    np.testing.assert_allclose(history.history["first"], [64.0, 64.0])
    np.testing.assert_allclose(history.history["mean"], [2.0, 2.0])


# Two logical CPUs must be set before TensorFlow starts: a fresh process.
_MIRRORED = """
import sys
sys.path[:0] = [{repo!r}, {tests!r}]
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
import test_metric_bookkeeping as bookkeeping
from tfgen import config as config_lib

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = bookkeeping.Tracked(config_lib.base_config(), bookkeeping.INFO)
    model.compile(optimizer=None)
images = np.concatenate([np.zeros((4, 2, 2, 1)), 10 * np.ones((4, 2, 2, 1))])
history = model.fit(tf.data.Dataset.from_tensor_slices(
    {{"image": images.astype(np.float32)}}).batch(8), epochs=2, verbose=0)
print(history.history["mean"], history.history["second"])
"""


def test_metrics_under_a_mirrored_strategy_sum_the_replicas():
    # Each replica sees 4 of the 8 images (zeros, tens) and counts its own
    # update in the pair's second entry: a read of one replica's variables
    # would report a mean of 0 or 10, not 5, and a count of 1, not 2.
    here = pathlib.Path(__file__).resolve()
    script = _MIRRORED.format(repo=str(here.parents[2]),
                              tests=str(here.parent))
    completed = subprocess.run([sys.executable, "-c", script],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().splitlines()[-1] == (
        "[5.0, 5.0] [2.0, 2.0]")
