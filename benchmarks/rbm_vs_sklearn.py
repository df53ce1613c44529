"""tfgen's ``rbm`` against scikit-learn's ``BernoulliRBM``, side by side.

Both train on the same statically binarized training images (``digits``, or
MNIST from its IDX files with ``--dataset=mnist --manual_dir=DIR``) with
the same number of hidden units, learning rate, batch size and epochs, by
persistent contrastive divergence (scikit-learn's only algorithm; tfgen's
``--config.training=pcd`` with as many chains as the batch has images), no
momentum and no weight decay. For each batch size the two alternate in one
process (this machine is noisy: only ratios measured side by side count);
the script reports each batch size on stderr as it is measured, then
prints one JSON document (the command, the commit, the cores, the date,
the settings and one row per batch size) and a markdown table:

- seconds per epoch of each, the median over ``--repeats`` (every repeat is
  kept in the document), and their ratio (tfgen / scikit-learn; below 1
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

``--results=PATH`` writes the table as a ``tfgen.results`` file (one table,
named by the dataset; the JSON document as its raw, with its provenance);
``--from_output=FILE`` measures nothing: it reads the JSON document from
FILE (the printed output of an earlier run, saved) and prints its table and
writes ``--results`` with that run's provenance. The README's two tables,
one per dataset, are made from the repository root by

    python benchmarks/rbm_vs_sklearn.py --repeats=5 \\
        --results=results/rbm_vs_sklearn_digits.json
    python benchmarks/rbm_vs_sklearn.py --dataset=mnist \\
        --manual_dir=../shared/data/mnist \\
        --results=results/rbm_vs_sklearn_mnist.json

(about 1 and 3 minutes on 2 cores), then ``python -m tfgen.results
--write``.
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

# TensorFlow, Keras and scikit-learn are imported where they are used, so
# that --from_output and a bad flag answer in a second.
from tfgen import cli  # noqa: E402
from tfgen import results  # noqa: E402

flags.DEFINE_enum("dataset", "digits", ["digits", "mnist"],
                  "Images of both RBMs, statically binarized.")
flags.DEFINE_string("manual_dir", None,
                    "Folder of the MNIST IDX files, for --dataset=mnist.")
flags.DEFINE_integer("pll_images", 1000,
                     "Test images scored by the exact pseudo-likelihood "
                     "(it costs one free energy per pixel).", lower_bound=1)
flags.DEFINE_list("batch_sizes", ["10", "100", "500"], "Batch sizes to time.")
flags.register_validator(
    "batch_sizes",
    lambda sizes: bool(sizes) and all(size.isdigit() and int(size) > 0
                                      for size in sizes),
    message="--batch_sizes: expected positive integers, e.g. 10,100,500")
flags.DEFINE_integer("epochs", 0,
                     "Epochs of each timed training; 0: 100 on digits (an "
                     "epoch takes a few ms: shorter runs time noise), 10 on "
                     "MNIST.", lower_bound=0)
flags.DEFINE_integer("repeats", 3, "Timed trainings of each, alternating.",
                     lower_bound=1)
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
cli.define_results_flags()
FLAGS = flags.FLAGS

# The README's columns: {title: key of a row of the document}.
_COLUMNS = {
    "batch": "batch_size",
    "tfgen s/epoch": "tfgen_seconds_per_epoch",
    "scikit-learn s/epoch": "sklearn_seconds_per_epoch",
    "ratio": "ratio_tfgen_over_sklearn",
    "tfgen PLL": "tfgen_test_pseudo_log_likelihood",
    "scikit-learn PLL": "sklearn_test_pseudo_log_likelihood",
    "tfgen LR acc": "tfgen_logistic_accuracy",
    "scikit-learn LR acc": "sklearn_logistic_accuracy",
    "raw pixels LR acc": "raw_pixels_logistic_accuracy",
}
# An epoch of 8x8 digits takes milliseconds: one more decimal than MNIST's.
_SECONDS_FORMAT = {"digits": ".4f", "mnist": ".3f"}


def _split(split, data_dir):
    from tfgen import data

    dataset = data.load(FLAGS.dataset, split, preprocessing="binarize_static",
                        seed=0, data_dir=data_dir,
                        manual_dir=FLAGS.manual_dir)
    images = np.stack([e["image"] for e in dataset.as_numpy_iterator()])
    labels = np.array([e["label"] for e in dataset.as_numpy_iterator()])
    return images.reshape(len(images), -1).astype(np.float32), labels


def _test_pseudo_log_likelihood(visible, parameters):
    """Mean exact pseudo-log-likelihood of the test images, nats."""
    import tensorflow as tf
    from zoo.boltzmann import energy

    return float(tf.reduce_mean(energy.exact_pseudo_log_likelihood(
        visible, *parameters)))


def _logistic_accuracy(train_features, train_labels, test_features,
                       test_labels):
    from sklearn.linear_model import LogisticRegression

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
    from sklearn.neural_network import BernoulliRBM

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
    import tensorflow as tf
    from tfgen import registry
    from tfgen import training
    import zoo  # noqa: F401  (registers rbm)

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


def run_benchmark():
    """Trains both RBMs at every batch size; returns the JSON document."""
    import keras
    import tensorflow as tf
    from tfgen import data

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
            "tfgen_seconds_per_epoch_repeats": seconds["tfgen"],
            "sklearn_seconds_per_epoch_repeats": seconds["sklearn"],
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
        print(json.dumps(row), file=sys.stderr, flush=True)  # Progress.
        rows.append(row)
    # After the measurement: the versions of the libraries it imported.
    return {
        "benchmark": "rbm_vs_sklearn", **results.provenance(),
        "dataset": FLAGS.dataset, "manual_dir": FLAGS.manual_dir,
        "train_images": len(train_x), "test_images": len(test_x),
        "pll_images": len(test_x[:FLAGS.pll_images]),
        "epochs": _epochs(), "repeats": FLAGS.repeats,
        "settle_seconds": FLAGS.settle_seconds,
        "steps_per_execution": FLAGS.steps_per_execution or "auto",
        "jit_compile": FLAGS.jit_compile,
        "rows": rows,
    }


def _data_label(document):
    """The README's data cell: the dataset, its size and how it is chosen."""
    name = {"digits": "`digits`", "mnist": "MNIST"}[document["dataset"]]
    if document["dataset"] == "digits":
        chosen = "default"
    else:
        chosen = (f"`--dataset={document['dataset']} "
                  f"--manual_dir={document['manual_dir']}`")
    return f"{name}, {document['train_images']:,} images ({chosen})"


def results_tables(document):
    """The document as a ``tfgen.results`` table, named by its dataset."""
    # The dataset is named on its first row, as the README's table had it.
    labels = [_data_label(document)] + [""] * (len(document["rows"]) - 1)
    seconds = _SECONDS_FORMAT[document["dataset"]]
    table = results.records_table(
        [{"data": label, **row}
         for label, row in zip(labels, document["rows"])],
        {"data": "data", **_COLUMNS},
        formats={"batch": "d", "tfgen s/epoch": seconds,
                 "scikit-learn s/epoch": seconds, "ratio": ".2f",
                 "tfgen PLL": ".2f", "scikit-learn PLL": ".2f",
                 "tfgen LR acc": ".3f", "scikit-learn LR acc": ".3f",
                 "raw pixels LR acc": ".3f"},
        notes=(f"Seconds per epoch of {document['epochs']} epochs, median "
               f"of {document['repeats']} repeats alternating in one "
               "process; ratio tfgen / scikit-learn (below 1: tfgen is "
               "faster). PLL: exact test pseudo-log-likelihood, nats per "
               f"image, of the first {document['pll_images']:,} test images. "
               "LR acc: test accuracy of logistic regression on the hidden "
               "probabilities (raw pixels: on the images)."))
    return {document["dataset"]: table}


def markdown_table(document):
    """The document's rows as the markdown table printed after it."""
    return results.render_table(results_tables(document)[document["dataset"]])



def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    document = cli.results_document("rbm_vs_sklearn", run_benchmark)
    cli.write_results_flag(results_tables(document), document)
    print(json.dumps(document))
    print()
    print(markdown_table(document))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
