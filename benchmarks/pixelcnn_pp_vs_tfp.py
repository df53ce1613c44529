"""tfgen's ``pixelcnn_pp`` against TensorFlow Probability's ``tfd.PixelCNN``.

From the repository root:

    python -m benchmarks.pixelcnn_pp_vs_tfp
    python -m benchmarks.pixelcnn_pp_vs_tfp --dataset=mnist \\
        --manual_dir=../shared/data/mnist --epochs=1 --train_examples=2000

Both are PixelCNN++ (Salimans et al. 2017): a discretized logistic mixture
on a two-stream gated U-net. They train on the same integer levels (17 on
``digits``, 256 on MNIST: ``tfd.PixelCNN(high=L - 1)``) with the same
budget: filters, gated blocks per resolution (TFP's ``num_resnet``),
resolutions (``num_hierarchies``), mixture components, dropout, epochs,
batch size, Adam and its learning rate, and weight normalization with
data-dependent initialization only in TFP (its default; ours with
``--weight_norm``, off by default as in its config, initialized by
``model.adapt`` on the training images as the training loop does). One process runs both, ours first, and prints a JSON
line and a markdown table:

- test bits/dim of each (exact: -log p(x) / (D ln 2), on the test split,
  dropout off), and their difference (ours minus TFP; below 0: ours is
  better);
- seconds per epoch of each (the median over the epochs after the first,
  which holds tracing; the one epoch if there is only one) and their ratio
  (ours / TFP; below 1: ours is faster);
- seconds to draw ``--num_samples`` images: ours by ``model.sample``
  after a one-image call that traces and compiles the in-graph chain (as
  a server does once), TFP's by ``dist.sample`` as its documentation calls
  it, eagerly; and their ratio.

TFP's sampler runs the whole network once per pixel; ours (with
``--fast_sampling``, on by default) computes each map's new pixel from
cached activations (``zoo/autoregressive/pixelcnn_pp_sampler.py``;
``--nofast_sampling``: a whole pass per value).

Flags: ``--dataset`` (digits or mnist), ``--manual_dir`` (MNIST's IDX files),
``--epochs`` (0: 12 on digits, 1 on MNIST), ``--train_examples`` and
``--test_examples`` (0: all), ``--num_filters``, ``--num_residual_blocks``,
``--num_resolutions``, ``--num_components``, ``--dropout_rate``,
``--batch_size``, ``--learning_rate``, ``--num_samples``, ``--seed``,
``--weight_norm``, ``--fast_sampling``, ``--run_tfp`` (``--norun_tfp``: ours
alone, its JSON row without TFP's numbers, for trying changes to ours).
"""

import json
import math
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
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402

from tfgen import data  # noqa: E402
from tfgen import registry  # noqa: E402
from tfgen import training  # noqa: E402
import zoo  # noqa: E402,F401

flags.DEFINE_enum("dataset", "digits", ["digits", "mnist"],
                  "Images of both models, as integer levels.")
flags.DEFINE_string("manual_dir", None,
                    "Folder of the MNIST IDX files, for --dataset=mnist.")
flags.DEFINE_integer("epochs", 0, "Epochs of each; 0: 12 on digits, 1 on "
                     "MNIST.")
flags.DEFINE_integer("train_examples", 0,
                     "Training images (the first ones); 0: all.")
flags.DEFINE_integer("test_examples", 0,
                     "Test images scored (the first ones); 0: all.")
flags.DEFINE_integer("num_filters", 32, "Filters of every layer.")
flags.DEFINE_integer("num_residual_blocks", 1,
                     "Gated blocks per resolution (TFP's num_resnet).")
flags.DEFINE_integer("num_resolutions", 2,
                     "Resolutions of the U-net (TFP's num_hierarchies).")
flags.DEFINE_integer("num_components", 5, "Logistics in each mixture.")
flags.DEFINE_float("dropout_rate", 0.5, "Dropout of both (TFP's default).")
flags.DEFINE_integer("batch_size", 32, "Images per step.")
flags.DEFINE_float("learning_rate", 1e-3, "Adam's learning rate.")
flags.DEFINE_integer("num_samples", 16, "Images drawn by each sampler.")
flags.DEFINE_integer("seed", 0, "Seed of both initializations.")
flags.DEFINE_bool("weight_norm", False, "Ours: weight normalization with "
                  "data-dependent initialization.")
flags.DEFINE_bool("fast_sampling", True, "Ours: the per-pixel fast sampler.")
flags.DEFINE_bool("run_tfp", True, "Also train and score TFP's; off: "
                  "ours alone (a row without TFP's numbers, no table).")
FLAGS = flags.FLAGS


def _levels(split, data_dir, examples):
    dataset = data.load(FLAGS.dataset, split, preprocessing="levels",
                        seed=FLAGS.seed, data_dir=data_dir,
                        manual_dir=FLAGS.manual_dir)
    images = np.stack([e["image"] for e in dataset.as_numpy_iterator()])
    return images[:examples] if examples else images  # int32 (N, H, W, C)


def _epochs():
    return FLAGS.epochs or {"digits": 12, "mnist": 1}[FLAGS.dataset]


def _seconds_per_epoch(epoch_seconds):
    later = epoch_seconds[1:] or epoch_seconds
    return statistics.median(later)


def _bits_per_dim(nats, num_dims):
    return nats / (num_dims * math.log(2.0))


def _run_ours(info, train, test):
    spec = registry.get("pixelcnn_pp")
    config = spec.get_config()
    with config.unlocked():
        config.update(num_filters=FLAGS.num_filters,
                      num_residual_blocks=FLAGS.num_residual_blocks,
                      num_resolutions=FLAGS.num_resolutions,
                      num_components=FLAGS.num_components,
                      dropout_rate=FLAGS.dropout_rate,
                      batch_size=FLAGS.batch_size, epochs=_epochs(),
                      seed=FLAGS.seed, weight_norm=FLAGS.weight_norm,
                      fast_sampling=FLAGS.fast_sampling)
        config.optimizers.model.learning_rate = FLAGS.learning_rate
    model = training.build_model(spec, config, info)
    model.build_for_training()
    batches = tf.data.Dataset.from_tensor_slices(
        {"image": train, "label": np.zeros(len(train), np.int64)}
    ).shuffle(len(train), seed=FLAGS.seed).batch(FLAGS.batch_size)
    model.adapt(batches)  # As the training loop: before the first step.
    epoch_seconds = []
    for _ in range(_epochs()):
        start = time.perf_counter()
        model.fit(batches, epochs=1, verbose=0)
        epoch_seconds.append(time.perf_counter() - start)
    log_prob = tf.function(lambda images: model.log_prob(
        images=images)["log_prob"])
    nats = -np.mean(np.concatenate([
        log_prob(tf.constant(test[i:i + 500])).numpy()
        for i in range(0, len(test), 500)]))
    # One image first: it traces and compiles the in-graph chain, which
    # then serves any number of images (TFP's eager sampler has none).
    model.sample(seed=tf.constant([FLAGS.num_samples], tf.int64))
    start = time.perf_counter()
    images = model.sample(seed=tf.range(FLAGS.num_samples,
                                        dtype=tf.int64))["images"]
    sample_seconds = time.perf_counter() - start
    assert images.shape[0] == FLAGS.num_samples
    return nats, _seconds_per_epoch(epoch_seconds), sample_seconds


def _run_tfp(info, train, test):
    tf_keras.utils.set_random_seed(FLAGS.seed)
    image_shape = tuple(info.image_shape)
    distribution = tfp.distributions.PixelCNN(
        image_shape=image_shape, num_resnet=FLAGS.num_residual_blocks,
        num_hierarchies=FLAGS.num_resolutions,
        num_filters=FLAGS.num_filters,
        num_logistic_mix=FLAGS.num_components,
        dropout_p=FLAGS.dropout_rate, high=info.num_levels - 1, low=0)
    # As the documentation of tfd.PixelCNN trains it.
    image_input = tf_keras.layers.Input(shape=image_shape)
    log_prob = distribution.log_prob(image_input)
    model = tf_keras.Model(inputs=image_input, outputs=log_prob)
    model.add_loss(-tf.reduce_mean(log_prob))
    model.compile(optimizer=tf_keras.optimizers.Adam(FLAGS.learning_rate))
    batches = tf.data.Dataset.from_tensor_slices(
        train.astype(np.float32)).shuffle(
            len(train), seed=FLAGS.seed).batch(FLAGS.batch_size)
    epoch_seconds = []
    for _ in range(_epochs()):
        start = time.perf_counter()
        model.fit(batches, epochs=1, verbose=0)
        epoch_seconds.append(time.perf_counter() - start)
    score = tf.function(lambda images: distribution.log_prob(
        images, training=False))
    nats = -np.mean(np.concatenate([
        score(tf.constant(test[i:i + 500], tf.float32)).numpy()
        for i in range(0, len(test), 500)]))
    start = time.perf_counter()
    images = distribution.sample(FLAGS.num_samples, seed=FLAGS.seed)
    sample_seconds = time.perf_counter() - start
    assert images.shape[0] == FLAGS.num_samples
    return nats, _seconds_per_epoch(epoch_seconds), sample_seconds


def main(argv):
    del argv
    keras.utils.set_random_seed(FLAGS.seed)
    with tempfile.TemporaryDirectory() as scratch:
        info = data.get_info(FLAGS.dataset, data_dir=scratch,
                             manual_dir=FLAGS.manual_dir)
        train = _levels("train", scratch, FLAGS.train_examples)
        test = _levels("test", scratch, FLAGS.test_examples)
    num_dims = int(np.prod(info.image_shape))
    ours = _run_ours(info, train, test)
    theirs = _run_tfp(info, train, test) if FLAGS.run_tfp else None
    row = {
        "benchmark": "pixelcnn_pp_vs_tfp", "dataset": FLAGS.dataset,
        "num_levels": int(info.num_levels), "train_examples": len(train),
        "test_examples": len(test), "epochs": _epochs(),
        "num_filters": FLAGS.num_filters,
        "num_residual_blocks": FLAGS.num_residual_blocks,
        "num_resolutions": FLAGS.num_resolutions,
        "num_components": FLAGS.num_components,
        "dropout_rate": FLAGS.dropout_rate, "batch_size": FLAGS.batch_size,
        "learning_rate": FLAGS.learning_rate,
        "num_samples": FLAGS.num_samples, "seed": FLAGS.seed,
        "weight_norm": FLAGS.weight_norm,
        "fast_sampling": FLAGS.fast_sampling,
    }
    for name, result in (("tfgen", ours), ("tfp", theirs)):
        if result is None:
            continue
        nats, epoch, sampling = result
        row[f"{name}_test_nats"] = float(nats)
        row[f"{name}_test_bits_per_dim"] = _bits_per_dim(float(nats),
                                                         num_dims)
        row[f"{name}_seconds_per_epoch"] = epoch
        row[f"{name}_sample_seconds"] = sampling
    if theirs is None:
        print(json.dumps(row), flush=True)
        return
    row["bits_per_dim_tfgen_minus_tfp"] = (row["tfgen_test_bits_per_dim"]
                                           - row["tfp_test_bits_per_dim"])
    row["epoch_ratio_tfgen_over_tfp"] = (row["tfgen_seconds_per_epoch"]
                                         / row["tfp_seconds_per_epoch"])
    row["sample_ratio_tfgen_over_tfp"] = (row["tfgen_sample_seconds"]
                                          / row["tfp_sample_seconds"])
    print(json.dumps(row), flush=True)
    print()
    print("| data | library | test bits/dim | s/epoch | s to sample "
          f"{FLAGS.num_samples} |")
    print("|---|---|---|---|---|")
    data_name = (f"{FLAGS.dataset}, {row['num_levels']} levels, "
                 f"{len(train)} images, {_epochs()} epochs")
    for name, label in (("tfgen", "tfgen pixelcnn_pp"),
                        ("tfp", "TFP tfd.PixelCNN")):
        print(f"| {data_name} | {label} | "
              f"{row[f'{name}_test_bits_per_dim']:.3f} | "
              f"{row[f'{name}_seconds_per_epoch']:.2f} | "
              f"{row[f'{name}_sample_seconds']:.2f} |")
        data_name = ""
    print(f"| | ratio / difference (tfgen vs TFP) | "
          f"{row['bits_per_dim_tfgen_minus_tfp']:+.3f} | "
          f"{row['epoch_ratio_tfgen_over_tfp']:.2f} | "
          f"{row['sample_ratio_tfgen_over_tfp']:.2f} |")


if __name__ == "__main__":
    app.run(main)
