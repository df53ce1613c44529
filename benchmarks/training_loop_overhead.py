"""What the shared training loop costs over a bare ``model.fit``.

Runs the same VAE, data and number of epochs two ways, alternating in one
process (this machine is noisy, so only ratios measured side by side count):

* ``tfgen``: ``tfgen.training.execute``, i.e. ``model.fit`` with every shared
  callback (progress, TensorBoard scalars and sample grids, a checkpoint per
  epoch, the non-finite guard);
* ``bare``: ``model.fit`` on the same batches, validating on the same split
  each epoch, with no callback at all.

Prints a JSON line and a markdown table: seconds per epoch of each and their
ratio. Run: ``python benchmarks/training_loop_overhead.py [--epochs=20]
[--repeats=3]``.
"""

import json
import pathlib
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tfgen  # noqa: E402,F401
from tfgen import registry  # noqa: E402
from tfgen import training  # noqa: E402
import zoo  # noqa: E402,F401

flags.DEFINE_integer("epochs", 20, "Epochs per timed run.")
flags.DEFINE_integer("repeats", 3, "Timed runs of each kind, alternating.")
flags.DEFINE_string("model", "vae", "Registered model to time.")
FLAGS = flags.FLAGS


def _time_tfgen(spec, config, data_dir, workdir):
    run = training.prepare(spec, config, workdir, data_dir=data_dir)
    _, results = training.execute(run, verbose=0)
    return results["train_seconds"]


def _time_bare(spec, config, data_dir):
    info, splits = training.load_datasets(config, data_dir=data_dir)
    model = training.build_model(spec, config, info)
    batches = (splits["train"].shuffle(info.split_sizes["train"], seed=0)
               .batch(config.batch_size).prefetch(-1))
    validation = splits["validation"].batch(config.batch_size).cache()
    model.build_for_training()
    start = time.time()
    model.fit(batches, validation_data=validation, epochs=config.epochs,
              verbose=0, shuffle=False)
    return time.time() - start


def main(argv):
    del argv
    spec = registry.get(FLAGS.model)
    config = spec.get_config()
    with config.unlocked():
        config.epochs = FLAGS.epochs
    timings = {"tfgen": [], "bare": []}
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = str(pathlib.Path(scratch) / "data")
        for repeat in range(FLAGS.repeats):
            workdir = pathlib.Path(scratch) / f"run{repeat}"
            timings["tfgen"].append(
                _time_tfgen(spec, config, data_dir, workdir) / FLAGS.epochs)
            timings["bare"].append(
                _time_bare(spec, config, data_dir) / FLAGS.epochs)
    tfgen_epoch = statistics.median(timings["tfgen"])
    bare_epoch = statistics.median(timings["bare"])
    result = {"benchmark": "training_loop_overhead", "model": FLAGS.model,
              "epochs": FLAGS.epochs, "repeats": FLAGS.repeats,
              "tfgen_seconds_per_epoch": round(tfgen_epoch, 4),
              "bare_fit_seconds_per_epoch": round(bare_epoch, 4),
              "ratio_tfgen_over_bare": round(tfgen_epoch / bare_epoch, 3)}
    print(json.dumps(result))
    print()
    print("| loop | seconds per epoch (median) |")
    print("|---|---|")
    print(f"| tfgen.training.execute (all callbacks) | {tfgen_epoch:.3f} |")
    print(f"| bare model.fit | {bare_epoch:.3f} |")
    print(f"| ratio | {tfgen_epoch / bare_epoch:.2f} |")


if __name__ == "__main__":
    app.run(main)
