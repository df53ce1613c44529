"""tfgen's ``rbm`` against scikit-learn's ``BernoulliRBM``, side by side.

Both train on the same statically binarized training images (``digits``, or
MNIST from its IDX files with ``--dataset=mnist --manual_dir=DIR``) with
the same number of hidden units, learning rate, batch size and epochs, by
persistent contrastive divergence (scikit-learn's only algorithm; tfgen's
``--config.training=pcd`` with as many chains as the batch has images), no
momentum and no weight decay. For each batch size the two alternate in one
process (this machine is noisy: only ratios measured side by side count),
and the script prints a JSON line per batch size and a markdown table:

- seconds per epoch of each and their ratio (tfgen / scikit-learn; below 1
  means tfgen is faster): the wall time of ``BernoulliRBM.fit`` and of
  ``model.fit`` (the repeated dataset, ``steps_per_epoch`` set, so one
  iterator serves every epoch), each after a pause that lets the other
  library's idle threads stop polling (``--settle_seconds``), divided by
  the epochs. tfgen's ``rbm`` makes its updates on minibatches of the batch
  size inside each ``train_step`` (``config.minibatch_size``): by default
  one step holds a whole epoch's updates in one compiled loop, so Keras's
  per-step cost is paid once per epoch rather than once per update of 10
  images. ``--minibatches_per_step=N`` holds N updates per step instead;
  ``--jit_compile`` adds XLA (slower on this CPU); ``--tf_threads=1`` runs
  TensorFlow on one thread (scikit-learn keeps numpy's default);
- the test pseudo-log-likelihood of each (Besag 1975, computed for both
  from their parameters by the same function, exactly: every pixel flipped,
  not one at random), in nats per image;
- the test accuracy of logistic regression (scikit-learn defaults,
  ``max_iter=1000``) on each RBM's hidden probabilities, the setting of
  scikit-learn's RBM example, beside the same on raw pixels.

Run: ``python benchmarks/rbm_vs_sklearn.py [--batch_sizes=10,100,500]
[--epochs=N] [--repeats=3] [--tf_threads=1] [--dataset=mnist
--manual_dir=../shared/data/mnist]``. ``--parameters_dir=DIR`` also keeps
each library's last trained parameters and the scored test images, one
``.npz`` per library and batch size, so that the reported numbers can be
checked.
"""

import json
import pathlib
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tfgen  # noqa: E402,F401
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402

from tfgen import data  # noqa: E402
from tfgen import registry  # noqa: E402
from tfgen import training  # noqa: E402
from zoo.boltzmann import energy  # noqa: E402
import zoo  # noqa: E402,F401

flags.DEFINE_enum("dataset", "digits", ["digits", "mnist"],
                  "Images of both RBMs, statically binarized.")
flags.DEFINE_string("manual_dir", None,
                    "Folder of the MNIST IDX files, for --dataset=mnist.")
flags.DEFINE_integer("pll_images", 1000,
                     "Test images scored by the exact pseudo-likelihood "
                     "(it costs one free energy per pixel).")
flags.DEFINE_list("batch_sizes", ["10", "100", "500"], "Batch sizes to time.")
flags.DEFINE_integer("epochs", 0,
                     "Epochs of each timed training; 0: 100 on digits (an "
                     "epoch takes a few ms: shorter runs time noise), 10 on "
                     "MNIST.")
flags.DEFINE_integer("repeats", 3, "Timed trainings of each, alternating.")
flags.DEFINE_integer("num_hidden", 100, "Hidden units of both RBMs.")
flags.DEFINE_float("learning_rate", 0.05, "Learning rate of both RBMs.")
flags.DEFINE_integer("minibatches_per_step", 0,
                     "Updates of tfgen's rbm per train_step (its "
                     "config.minibatch_size option); 0: a whole epoch's.")
flags.DEFINE_integer("steps_per_execution", 0,
                     "tfgen's training steps per compiled call; 0: an "
                     "epoch's steps, at most 50.")
flags.DEFINE_integer("tf_threads", 0,
                     "TensorFlow's intra- and inter-op threads; 0 keeps its "
                     "default (all cores). 1 runs each small op without "
                     "cross-thread hand-offs (sometimes faster on digits "
                     "at batch 10).")
flags.DEFINE_float("settle_seconds", 1.0,
                   "Pause before each timed training (see _settle).")
flags.DEFINE_bool("jit_compile", False,
                  "Compile tfgen's train_step with XLA (slower on this CPU).")
flags.DEFINE_string("parameters_dir", None,
                    "If set, writes <library>_batch<size>.npz there: the "
                    "last trained weights, visible_bias, hidden_bias and "
                    "the test_images the pseudo-likelihood scored.")
FLAGS = flags.FLAGS


def _split(split, data_dir):
    dataset = data.load(FLAGS.dataset, split, preprocessing="binarize_static",
                        seed=0, data_dir=data_dir,
                        manual_dir=FLAGS.manual_dir)
    images = np.stack([e["image"] for e in dataset.as_numpy_iterator()])
    labels = np.array([e["label"] for e in dataset.as_numpy_iterator()])
    return images.reshape(len(images), -1).astype(np.float32), labels


def _test_pseudo_log_likelihood(visible, parameters):
    """Mean exact pseudo-log-likelihood of the test images, nats."""
    return float(tf.reduce_mean(energy.exact_pseudo_log_likelihood(
        visible, *parameters)))


def _logistic_accuracy(train_features, train_labels, test_features,
                       test_labels):
    classifier = LogisticRegression(max_iter=1000)
    classifier.fit(train_features, train_labels)
    return float(classifier.score(test_features, test_labels))


def _epochs():
    return FLAGS.epochs or {"digits": 100, "mnist": 10}[FLAGS.dataset]


def _settle():
    """Waits for the other library's idle threads to stop spinning.

    OpenBLAS's threads (numpy's) and TensorFlow's keep polling for work for
    a while after a call; on 2 cores the run timed next would share them.
    """
    time.sleep(FLAGS.settle_seconds)


def _train_sklearn(images, batch_size):
    sklearn_rbm = BernoulliRBM(n_components=FLAGS.num_hidden,
                               learning_rate=FLAGS.learning_rate,
                               batch_size=batch_size, n_iter=_epochs(),
                               random_state=0)
    _settle()
    start = time.perf_counter()
    sklearn_rbm.fit(images)
    seconds = time.perf_counter() - start
    parameters = (sklearn_rbm.components_.T, sklearn_rbm.intercept_visible_,
                  sklearn_rbm.intercept_hidden_)
    return seconds / _epochs(), parameters, sklearn_rbm.transform


def _train_tfgen(images, batch_size, info):
    spec = registry.get("rbm")
    config = spec.get_config()
    per_step = FLAGS.minibatches_per_step or -(-len(images) // batch_size)
    steps_per_epoch = -(-len(images) // (batch_size * per_step))
    with config.unlocked():
        config.optimizers.model.update(learning_rate=FLAGS.learning_rate,
                                       momentum=0.0)
        config.update(num_hidden=FLAGS.num_hidden, training="pcd",
                      num_chains=batch_size, cd_steps=1, weight_decay=0.0,
                      batch_size=batch_size * per_step,
                      minibatch_size=batch_size, epochs=_epochs(),
                      steps_per_execution=(FLAGS.steps_per_execution
                                           or min(steps_per_epoch, 50)),
                      jit_compile=FLAGS.jit_compile)
    model = training.build_model(spec, config, info)
    # Repeated, with steps_per_epoch: fit then makes one iterator, not one
    # per epoch (about 0.4 ms each).
    batches = tf.data.Dataset.from_tensor_slices(
        {"image": images.reshape((-1,) + info.image_shape),
         "label": np.zeros(len(images), np.int64)}
    ).shuffle(len(images), seed=0).batch(config.batch_size).cache().repeat()
    model.build_for_training()
    initial = model.get_weights()
    model.fit(batches, epochs=1, steps_per_epoch=1,
              verbose=0)  # Traces and compiles.
    model.set_weights(initial)  # The timed run starts from scratch.
    _settle()
    start = time.perf_counter()
    model.fit(batches, epochs=_epochs(), steps_per_epoch=steps_per_epoch,
              verbose=0)
    seconds = time.perf_counter() - start
    weights, visible_bias, hidden_bias = model.parameters
    parameters = (weights.numpy(), visible_bias.numpy(), hidden_bias.numpy())

    def transform(features):
        reshaped = features.reshape((-1,) + info.image_shape)
        return np.asarray(model.encode(images=reshaped)["codes"])

    return seconds / _epochs(), parameters, transform


def main(argv):
    del argv
    if FLAGS.tf_threads:
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.tf_threads)
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        info = data.get_info(FLAGS.dataset, data_dir=scratch,
                             manual_dir=FLAGS.manual_dir)
        train_x, train_y = _split("train", scratch)
        test_x, test_y = _split("test", scratch)
    raw_accuracy = _logistic_accuracy(train_x, train_y, test_x, test_y)
    rows = []
    for batch_size in (int(size) for size in FLAGS.batch_sizes):
        seconds = {"tfgen": [], "sklearn": []}
        for _ in range(FLAGS.repeats):
            tfgen_epoch, tfgen_params, tfgen_transform = _train_tfgen(
                train_x, batch_size, info)
            sklearn_epoch, sklearn_params, sklearn_transform = _train_sklearn(
                train_x, batch_size)
            seconds["tfgen"].append(tfgen_epoch)
            seconds["sklearn"].append(sklearn_epoch)
        row = {
            "benchmark": "rbm_vs_sklearn", "dataset": FLAGS.dataset,
            "batch_size": batch_size,
            "epochs": _epochs(), "num_hidden": FLAGS.num_hidden,
            "learning_rate": FLAGS.learning_rate, "repeats": FLAGS.repeats,
            "tf_threads": FLAGS.tf_threads or "default",
            "minibatches_per_step": FLAGS.minibatches_per_step or "epoch",
            "tfgen_seconds_per_epoch": statistics.median(seconds["tfgen"]),
            "sklearn_seconds_per_epoch": statistics.median(seconds["sklearn"]),
            "tfgen_test_pseudo_log_likelihood": _test_pseudo_log_likelihood(
                test_x[:FLAGS.pll_images], tfgen_params),
            "sklearn_test_pseudo_log_likelihood": _test_pseudo_log_likelihood(
                test_x[:FLAGS.pll_images], sklearn_params),
            "tfgen_logistic_accuracy": _logistic_accuracy(
                tfgen_transform(train_x), train_y, tfgen_transform(test_x),
                test_y),
            "sklearn_logistic_accuracy": _logistic_accuracy(
                sklearn_transform(train_x), train_y,
                sklearn_transform(test_x), test_y),
            "raw_pixels_logistic_accuracy": raw_accuracy,
        }
        row["ratio_tfgen_over_sklearn"] = (row["tfgen_seconds_per_epoch"]
                                           / row["sklearn_seconds_per_epoch"])
        if FLAGS.parameters_dir:
            for library, parameters in (("tfgen", tfgen_params),
                                        ("sklearn", sklearn_params)):
                np.savez(pathlib.Path(FLAGS.parameters_dir)
                         / f"{library}_batch{batch_size}.npz",
                         weights=parameters[0], visible_bias=parameters[1],
                         hidden_bias=parameters[2],
                         test_images=test_x[:FLAGS.pll_images])
        print(json.dumps(row), flush=True)
        rows.append(row)
    print()
    print("| batch | tfgen s/epoch | sklearn s/epoch | ratio | tfgen PLL | "
          "sklearn PLL | tfgen LR acc | sklearn LR acc | raw LR acc |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['batch_size']} | {r['tfgen_seconds_per_epoch']:.4f} | "
              f"{r['sklearn_seconds_per_epoch']:.4f} | "
              f"{r['ratio_tfgen_over_sklearn']:.2f} | "
              f"{r['tfgen_test_pseudo_log_likelihood']:.2f} | "
              f"{r['sklearn_test_pseudo_log_likelihood']:.2f} | "
              f"{r['tfgen_logistic_accuracy']:.3f} | "
              f"{r['sklearn_logistic_accuracy']:.3f} | "
              f"{r['raw_pixels_logistic_accuracy']:.3f} |")


if __name__ == "__main__":
    app.run(main)
