"""tfgen's ``pixelcnn_pp`` against TensorFlow Probability's ``tfd.PixelCNN``.

From the repository root:

    python -m benchmarks.pixelcnn_pp_vs_tfp
    python -m benchmarks.pixelcnn_pp_vs_tfp --dataset=mnist \\
        --manual_dir=../shared/data/mnist --epochs=1 --train_examples=2000

The README's two tables (``tfgen.results`` files, below):

    python -m benchmarks.pixelcnn_pp_vs_tfp --seeds=0,1 \\
        --results=results/pixelcnn_pp_vs_tfp_digits.json
    python -m benchmarks.pixelcnn_pp_vs_tfp --dataset=mnist \\
        --manual_dir=../shared/data/mnist --epochs=1 --train_examples=3000 \\
        --test_examples=1000 --num_samples=4 \\
        --results=results/pixelcnn_pp_vs_tfp_mnist.json

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

``--seeds=0,1`` (``--seed`` is the same flag) runs the whole comparison
once per seed, one after the other in this process; each seed's row holds
what ``--seed=S`` alone measures (the seed is set again before each run).
The JSON document printed at the end holds every row and the command,
commit, core count and date of the run. ``--results=PATH`` also writes the
README's table (named after the dataset: a row per seed, the command that
measures it alone, both libraries' bits/dim, the ratio of the epoch times,
with their seconds when there is one epoch, and of the sampling times, with
their seconds) as a ``tfgen.results`` file
whose ``raw`` is that document; ``--from_output=FILE`` reads a document an
earlier run printed instead of measuring and writes ``--results`` with
that run's provenance.

Flags: ``--dataset`` (digits or mnist), ``--manual_dir`` (MNIST's IDX files),
``--epochs`` (0: 12 on digits, 1 on MNIST), ``--train_examples`` and
``--test_examples`` (0: all), ``--num_filters``, ``--num_residual_blocks``,
``--num_resolutions``, ``--num_components``, ``--dropout_rate``,
``--batch_size``, ``--learning_rate``, ``--num_samples``, ``--seeds``,
``--weight_norm``, ``--fast_sampling``, ``--run_tfp`` (``--norun_tfp``: ours
alone, rows without TFP's numbers and no table, for trying changes to
ours), ``--results``, ``--from_output``. A bad ``--seeds`` or
``--from_output``, or ``--results`` with ``--norun_tfp``, prints one line on
stderr and exits with status 2.
"""

import json
import math
import pathlib
import shlex
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# tfgen first: it sets Keras' backend. TensorFlow, TFP and the zoo are
# imported where they are used, so that a bad flag or --from_output does
# not wait for them.
import tfgen  # noqa: E402,F401
from tfgen import cli  # noqa: E402
from tfgen import errors  # noqa: E402
from tfgen import results  # noqa: E402

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
flags.DEFINE_list("seeds", ["0"], "Seeds of both initializations: one "
                  "comparison per seed, one after the other.")
flags.DEFINE_alias("seed", "seeds")
flags.DEFINE_bool("weight_norm", False, "Ours: weight normalization with "
                  "data-dependent initialization.")
flags.DEFINE_bool("fast_sampling", True, "Ours: the per-pixel fast sampler.")
flags.DEFINE_bool("run_tfp", True, "Also train and score TFP's; off: "
                  "ours alone (rows without TFP's numbers, no table).")
cli.define_results_flags()
FLAGS = flags.FLAGS


def _levels(split, data_dir, examples):
    from tfgen import data

    # The seed binarizes; integer levels do not use it.
    dataset = data.load(FLAGS.dataset, split, preprocessing="levels",
                        seed=0, data_dir=data_dir,
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


def _run_ours(info, train, test, seed):
    import tensorflow as tf
    from tfgen import registry
    from tfgen import training
    import zoo  # noqa: F401  (fills the registry)

    spec = registry.get("pixelcnn_pp")
    config = spec.get_config()
    with config.unlocked():
        config.update(num_filters=FLAGS.num_filters,
                      num_residual_blocks=FLAGS.num_residual_blocks,
                      num_resolutions=FLAGS.num_resolutions,
                      num_components=FLAGS.num_components,
                      dropout_rate=FLAGS.dropout_rate,
                      batch_size=FLAGS.batch_size, epochs=_epochs(),
                      seed=seed, weight_norm=FLAGS.weight_norm,
                      fast_sampling=FLAGS.fast_sampling)
        config.optimizers.model.learning_rate = FLAGS.learning_rate
    model = training.build_model(spec, config, info)
    model.build_for_training()
    batches = tf.data.Dataset.from_tensor_slices(
        {"image": train, "label": np.zeros(len(train), np.int64)}
    ).shuffle(len(train), seed=seed).batch(FLAGS.batch_size)
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


def _run_tfp(info, train, test, seed):
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
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
            len(train), seed=seed).batch(FLAGS.batch_size)
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
    images = distribution.sample(FLAGS.num_samples, seed=seed)
    sample_seconds = time.perf_counter() - start
    assert images.shape[0] == FLAGS.num_samples
    return nats, _seconds_per_epoch(epoch_seconds), sample_seconds


def compare(seed, info, train, test):
    """Trains and scores ours, then TFP's, from ``seed``; one row."""
    import keras

    keras.utils.set_random_seed(seed)
    num_dims = int(np.prod(info.image_shape))
    ours = _run_ours(info, train, test, seed)
    theirs = _run_tfp(info, train, test, seed) if FLAGS.run_tfp else None
    row = {
        "dataset": FLAGS.dataset, "num_levels": int(info.num_levels),
        "image_shape": [int(size) for size in info.image_shape],
        "train_examples": len(train), "test_examples": len(test),
        "epochs": _epochs(), "num_filters": FLAGS.num_filters,
        "num_residual_blocks": FLAGS.num_residual_blocks,
        "num_resolutions": FLAGS.num_resolutions,
        "num_components": FLAGS.num_components,
        "dropout_rate": FLAGS.dropout_rate, "batch_size": FLAGS.batch_size,
        "learning_rate": FLAGS.learning_rate,
        "num_samples": FLAGS.num_samples, "seed": seed,
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
    if theirs is not None:
        row["bits_per_dim_tfgen_minus_tfp"] = (
            row["tfgen_test_bits_per_dim"] - row["tfp_test_bits_per_dim"])
        row["epoch_ratio_tfgen_over_tfp"] = (row["tfgen_seconds_per_epoch"]
                                             / row["tfp_seconds_per_epoch"])
        row["sample_ratio_tfgen_over_tfp"] = (row["tfgen_sample_seconds"]
                                              / row["tfp_sample_seconds"])
    return row


def format_markdown(rows):
    """Each row's numbers, both libraries and their ratios, as markdown."""
    lines = ["| data | library | test bits/dim | s/epoch | s to sample |",
             "|---|---|---|---|---|"]
    for row in rows:
        data_name = (f"{row['dataset']}, {row['num_levels']} levels, "
                     f"{row['train_examples']} images, {row['epochs']} "
                     f"epochs, seed {row['seed']}")
        for name, label in (("tfgen", "tfgen pixelcnn_pp"),
                            ("tfp", "TFP tfd.PixelCNN")):
            lines.append(f"| {data_name} | {label} | "
                         f"{row[f'{name}_test_bits_per_dim']:.3f} | "
                         f"{row[f'{name}_seconds_per_epoch']:.2f} | "
                         f"{row[f'{name}_sample_seconds']:.2f} "
                         f"({row['num_samples']}) |")
            data_name = ""
        lines.append(f"| | ratio / difference (tfgen vs TFP) | "
                     f"{row['bits_per_dim_tfgen_minus_tfp']:+.3f} | "
                     f"{row['epoch_ratio_tfgen_over_tfp']:.2f} | "
                     f"{row['sample_ratio_tfgen_over_tfp']:.3f} |")
    return "\n".join(lines)


def row_command(command, seed, num_seeds):
    """The command that measures one row alone: ``command`` without
    ``--results``, and with ``--seed=seed`` for a run of several seeds."""
    arguments, skip = [], False
    for argument in shlex.split(command):
        name = argument.split("=", 1)[0]
        if skip:
            skip = False
        elif name in ("--results", "--seeds", "--seed") and (
                name == "--results" or num_seeds > 1):
            skip = "=" not in argument  # "--results PATH": PATH follows.
        else:
            arguments.append(argument)
    if num_seeds > 1:
        arguments.append(f"--seed={seed}")
    return shlex.join(arguments)


def results_tables(document):
    """The README's table of a document: ``{dataset: table}``."""
    rows = document["rows"]
    if not rows or "tfp_test_bits_per_dim" not in rows[0]:
        raise errors.UsageError("--results: the rows lack TFP's numbers "
                                "(a --norun_tfp run)")

    def command(row):
        height, width = row["image_shape"][:2]
        return (f"`{row_command(document['command'], row['seed'], len(rows))}"
                f"` ({row['num_levels']} levels, {height}x{width}, "
                f"{row['num_samples']} samples)")

    def epoch_ratio(row):
        if row["epochs"] > 1:
            return row["epoch_ratio_tfgen_over_tfp"]
        # One epoch: its seconds hold tracing, so they are shown too.
        return results.cell([row["epoch_ratio_tfgen_over_tfp"],
                             row["tfgen_seconds_per_epoch"],
                             row["tfp_seconds_per_epoch"]],
                            "{:.2f} ({:.0f} s against {:.0f} s)")

    def sample_ratio(row):
        ours = "{:.2f}" if row["tfgen_sample_seconds"] < 1 else "{:.1f}"
        return results.cell([row["sample_ratio_tfgen_over_tfp"],
                             row["tfgen_sample_seconds"],
                             row["tfp_sample_seconds"]],
                            f"{{:.3f}} ({ours} s against {{:.1f}} s)")

    table = results.records_table(
        rows, {"command": command,
               "ours: bits/dim": "tfgen_test_bits_per_dim",
               "TFP: bits/dim": "tfp_test_bits_per_dim",
               "s/epoch ratio": epoch_ratio,
               "sampling-time ratio": sample_ratio},
        formats={"ours: bits/dim": ".3f", "TFP: bits/dim": ".3f",
                 "s/epoch ratio": ".2f"},
        notes=("Test bits/dim of tfgen's pixelcnn_pp and TFP's "
               "tfd.PixelCNN trained with the same budget, one after the "
               "other in one process; ratios ours / TFP of the median "
               "seconds per epoch after the first (the one epoch's, tracing "
               "included, when there is one; its seconds are then shown) "
               "and of the seconds to draw the samples (ours after a "
               "one-image call has compiled its chain). Rows of a run of "
               "several seeds, one after the other: each command measures "
               "its row alone."))
    return {rows[0]["dataset"]: table}


def _seeds(texts):
    try:
        return [int(text) for text in texts]
    except ValueError:
        raise errors.UsageError(f"--seeds={','.join(texts)}: expected "
                                "integers such as 0,1") from None


def measure(seeds):
    """One comparison per seed; the JSON document."""
    from tfgen import data

    # Recorded before measuring: the commit that is measured, even if the
    # checkout moves on during a long run.
    origin = results.provenance()
    with tempfile.TemporaryDirectory() as scratch:
        info = data.get_info(FLAGS.dataset, data_dir=scratch,
                             manual_dir=FLAGS.manual_dir)
        train = _levels("train", scratch, FLAGS.train_examples)
        test = _levels("test", scratch, FLAGS.test_examples)
    rows = []
    for seed in seeds:
        rows.append(compare(seed, info, train, test))
        print(f"seed {seed}: {json.dumps(rows[-1])}", file=sys.stderr,
              flush=True)
    return {"benchmark": "pixelcnn_pp_vs_tfp", **origin, "rows": rows}


def main(argv):
    del argv
    try:
        if FLAGS.from_output:
            document = results.read_output(
                FLAGS.from_output, "pixelcnn_pp_vs_tfp", required=("rows",))
        else:
            seeds = _seeds(FLAGS.seeds)
            if FLAGS.results and not FLAGS.run_tfp:
                raise errors.UsageError("--results: the table compares with "
                                        "TFP's, which --norun_tfp skips")
    except results.ResultsError as error:
        cli.fail(f"--from_output={error}", 2)
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    if not FLAGS.from_output:
        document = measure(seeds)
    if FLAGS.results:
        results.write_measured(FLAGS.results, results_tables(document),
                               document)
    print(json.dumps(document), flush=True)
    if "tfp_test_bits_per_dim" in document["rows"][0]:
        print()
        print(format_markdown(document["rows"]))


if __name__ == "__main__":
    app.run(main)
