"""What the shared training loop costs over a bare ``model.fit``.

Runs the same VAE, data and number of epochs two ways, alternating in one
process (this machine is noisy, so only ratios measured side by side count):

* ``tfgen``: ``tfgen.training.execute``, i.e. ``model.fit`` with every shared
  callback (progress, TensorBoard scalars and sample grids, a checkpoint per
  epoch, the non-finite guard);
* ``bare``: ``model.fit`` on the same batches, validating on the same split
  each epoch, with no callback at all.

Prints a JSON document (the command, the commit, the cores, the date, each
repeat's seconds per epoch of both, their medians and ratio) on one line and
a markdown table: seconds per epoch of each and their ratio. Run: ``python
benchmarks/training_loop_overhead.py [--epochs=20] [--repeats=3]
[--model=vae] [--variant=tiny] [--data_dir=DIR]``.

``--results=PATH`` writes the README's table (``overhead``: the model, its
data, both medians and their ratio) as a ``tfgen.results`` file, the JSON
document as its raw, with its provenance; ``--from_output=FILE`` measures
nothing: it reads the JSON document from FILE (the printed output of an
earlier run, saved), prints its table and writes ``--results`` with that
run's provenance. The README's table is made from the repository root by

    python benchmarks/training_loop_overhead.py \\
        --results=results/training_loop_overhead.json

(a minute or two on 2 cores), then ``python -m tfgen.results --write``.
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

# TensorFlow and the models are imported where they are used, so that
# --from_output and a bad flag answer in a second.
from tfgen import cli  # noqa: E402
from tfgen import results  # noqa: E402

flags.DEFINE_integer("epochs", 20, "Epochs per timed run.", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Timed runs of each kind, alternating.",
                     lower_bound=1)
flags.DEFINE_string("model", "vae", "Registered model to time.")
flags.DEFINE_enum("variant", None, ["tiny"],
                  "The model's config variant: 'tiny' (small networks, no "
                  "sample-quality or Parzen scoring) for tests.")
flags.DEFINE_string("data_dir", None,
                    "TFDS data folder (default: a temporary one).")
cli.define_results_flags()
FLAGS = flags.FLAGS


def _time_tfgen(spec, config, data_dir, workdir):
    from tfgen import training

    run = training.prepare(spec, config, workdir, data_dir=data_dir)
    _, run_results = training.execute(run, verbose=0)
    return run_results["train_seconds"]


def _time_bare(spec, config, data_dir):
    from tfgen import training

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


def run_benchmark(scratch):
    """Times both loops ``--repeats`` times; returns the JSON document."""
    from tfgen import registry
    import zoo  # noqa: F401  (registers the models)

    try:
        spec = registry.get(FLAGS.model)
    except (KeyError, ValueError) as error:
        cli.fail(f"--model: {error}", 2)
    config = spec.get_config(FLAGS.variant)
    with config.unlocked():
        config.epochs = FLAGS.epochs
    data_dir = FLAGS.data_dir or str(pathlib.Path(scratch) / "data")
    timings = {"tfgen": [], "bare": []}
    for repeat in range(FLAGS.repeats):
        workdir = pathlib.Path(scratch) / f"run{repeat}"
        timings["tfgen"].append(
            _time_tfgen(spec, config, data_dir, workdir) / FLAGS.epochs)
        timings["bare"].append(
            _time_bare(spec, config, data_dir) / FLAGS.epochs)
    tfgen_epoch = statistics.median(timings["tfgen"])
    bare_epoch = statistics.median(timings["bare"])
    # After the measurement: the versions of the libraries it imported.
    return {"benchmark": "training_loop_overhead", **results.provenance(),
            "model": FLAGS.model, "variant": FLAGS.variant,
            "dataset": config.dataset,
            "epochs": FLAGS.epochs, "repeats": FLAGS.repeats,
            "tfgen_seconds_per_epoch_repeats": timings["tfgen"],
            "bare_fit_seconds_per_epoch_repeats": timings["bare"],
            "tfgen_seconds_per_epoch": tfgen_epoch,
            "bare_fit_seconds_per_epoch": bare_epoch,
            "ratio_tfgen_over_bare": tfgen_epoch / bare_epoch}


def results_tables(document):
    """The document as the README's ``tfgen.results`` table, ``overhead``."""
    table = results.records_table(
        [document],
        {"model": lambda row: f"`{row['model']}`",
         "data": lambda row: f"`{row['dataset']}`",
         "shared loop s/epoch": "tfgen_seconds_per_epoch",
         "bare model.fit s/epoch": "bare_fit_seconds_per_epoch",
         "ratio": "ratio_tfgen_over_bare"},
        formats={"shared loop s/epoch": ".3f",
                 "bare model.fit s/epoch": ".3f", "ratio": ".2f"},
        notes=(f"Seconds per epoch of {document['epochs']} epochs, median "
               f"of {document['repeats']} repeats alternating in one "
               "process: tfgen.training.execute (every shared callback) "
               "and a bare model.fit on the same batches and validation; "
               "ratio shared / bare."))
    return {"overhead": table}



def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    if FLAGS.from_output:
        try:
            document = results.read_output(FLAGS.from_output,
                                           "training_loop_overhead")
        except results.ResultsError as error:
            cli.fail(f"--from_output={error}", 2)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            document = run_benchmark(scratch)
    if FLAGS.results:
        results.write_measured(FLAGS.results, results_tables(document),
                               document)
    tfgen_epoch = document["tfgen_seconds_per_epoch"]
    bare_epoch = document["bare_fit_seconds_per_epoch"]
    print(json.dumps(document))
    print()
    print("| loop | seconds per epoch (median) |")
    print("|---|---|")
    print(f"| tfgen.training.execute (all callbacks) | {tfgen_epoch:.3f} |")
    print(f"| bare model.fit | {bare_epoch:.3f} |")
    print(f"| ratio | {document['ratio_tfgen_over_bare']:.2f} |")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
