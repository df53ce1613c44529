"""The README's tables of single ``tfgen.train`` runs, made by one command.

Some of the README's tables are a row per ``python -m tfgen.train`` command:
a model on MNIST, another seed, a flag that is not the default. Each such
table is named here (``TABLES``): its runs, each the model, dataset, epochs,
seed and ``--config`` overrides of one command, and its columns, each read
from the run's ``metrics.json`` (the evaluation harness's numbers). This
script trains every run of the tables asked for (or reuses a finished one,
by workdir, as ``tfgen.leaderboard`` does: ``tfgen.leaderboard.measure``)
and writes each table as a ``tfgen.results`` file,
``<results_dir>/train_runs_<table>.json``: the README's table, and under
``raw`` the command of this script, its commit, the cores, the date and
every run's numbers with the ``tfgen.train`` command that reproduces it.

    python benchmarks/train_runs.py --tables=gan_mnist \\
        --manual_dir=../shared/data/mnist
    python benchmarks/train_runs.py --list_tables

(from the repository root; then ``python -m tfgen.results --write``). Runs
go to ``<workdir_base>/<table>/<run>`` (default ``runs/train_runs``); a
finished run of the same config is reused and marked so, its training time
the one recorded. A run that fails is reported in its row with its error,
the others go on, and the exit status is 1. ``--config_variant=tiny``
runs every run with its model's tiny config, for tests.
"""

import dataclasses
import json
import pathlib
import sys

from absl import app
from absl import flags

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# TensorFlow is imported where it is used, so that a bad flag answers at
# once.
from tfgen import cli  # noqa: E402
from tfgen import errors  # noqa: E402
from tfgen import results  # noqa: E402

MNIST = "mnist"


@dataclasses.dataclass(frozen=True)
class Run:
    """One ``python -m tfgen.train`` command.

    Attributes:
        model: the ``--model``.
        dataset: the ``--dataset`` (None: the config's); ``mnist`` reads
            ``--manual_dir``.
        epochs: the ``--epochs`` (None: the config's).
        seed: the ``--seed`` (None: the config's).
        overrides: ``--config.FIELD=VALUE`` pairs, as given on the
            command line.
        note: words the row adds after the command (what the flags mean).
    """

    model: str
    dataset: str = None
    epochs: int = None
    seed: int = None
    overrides: tuple = ()
    note: str = ""

    @property
    def name(self):
        """The run's folder name: the model and what it changes."""
        parts = [self.model, self.dataset, self.epochs and f"e{self.epochs}",
                 self.seed is not None and f"s{self.seed}",
                 *(f"{field}={value}" for field, value in self.overrides)]
        text = "_".join(str(part) for part in parts if part)
        return "".join(char if char.isalnum() or char in "._=-" else "-"
                       for char in text)

    def command(self, manual_dir="../shared/data/mnist"):
        """The ``tfgen.train`` command line of the run."""
        words = ["python -m tfgen.train", f"--model={self.model}"]
        if self.dataset:
            words.append(f"--dataset={self.dataset}")
            if self.dataset == MNIST:
                words.append(f"--manual_dir={manual_dir}")
        if self.epochs is not None:
            words.append(f"--epochs={self.epochs}")
        if self.seed is not None:
            words.append(f"--seed={self.seed}")
        for field, value in self.overrides:
            quoted = f'"{value}"' if " " in value else value
            words.append(f"--config.{field}={quoted}")
        return " ".join(words)


@dataclasses.dataclass(frozen=True)
class Column:
    """A column: its header, the row's value, its format.

    ``value(row)`` gets the run's row (``tfgen.leaderboard.measure``'s: the
    harness's numbers, ``test`` the model's test metrics) and returns a
    number, a string or None ("—"). ``reused_format``, where set, formats
    the number of a run this command reused rather than trained (one that
    an earlier command measured, such as its training time).
    """

    header: str
    value: object
    format: str = None
    reused_format: str = None


@dataclasses.dataclass(frozen=True)
class Table:
    """A README table of runs: its runs, its columns after the command."""

    runs: tuple
    columns: tuple
    notes: str


def _test(name, sign=1.0):
    def value(row):
        number = (row.get("test") or {}).get(name)
        return None if number is None else sign * number
    return value


def _key(name):
    return lambda row: row.get(name)


def _percent(name):
    def value(row):
        number = _test(name)(row)
        return None if number is None else 100 * number
    return value


def _frechet(row):
    distance, floor = row.get("frechet_distance"), row.get(
        "frechet_floor_train")
    if distance is None:
        return None
    return distance if floor is None else results.cell(
        [distance, floor], "{:.2f} (floor {:.2f})")


EPOCHS = Column("epochs", _key("epochs"))
TRAIN_TIME = Column("train time (2 CPU cores)", _key("train_seconds"),
                    "{:.0f} s", reused_format="{:.0f} s (reused)")
NEGATIVE_ELBO = Column("test negative ELBO", _test("elbo", -1.0), ".2f")
NLL_BOUND = Column("test -log p(x) bound (k=100)", _key("test_nll"), ".2f")
NLL = Column("test NLL (nats)", _key("test_nll"), ".2f")
LOG_Z_STDERR = Column("log Z stderr (AIS)", _key("log_prob_stderr"), ".3f")
INDEPENDENT = Column("independent pixels", _key(
    "baseline_independent_pixels_nll"), ".2f")
KL = Column("test KL", _test("kl"), ".2f")
TEST_ERROR = Column("test error %", _percent("classification_error"), ".1f")
RECONSTRUCTION = Column("squared error", _key("test_squared_error"), ".3f")
FRECHET = Column("Fréchet distance", _frechet)
LABEL_ENTROPY = Column("label entropy (max 2.30)", _key("label_entropy"),
                       ".3f")
CLASSES = Column("classes covered", _key("classes_covered"))

_LEVELS = (("likelihood", "categorical"), ("preprocessing", "levels"))
_DBN_MNIST = (("hidden_units", "(500, 500, 2000)"), ("pretrain_epochs", "5"),
              ("ais_betas", "200"), ("ais_chains", "50"),
              ("log_prob_samples", "10"), ("sample_gibbs_steps", "100"))

TABLES = {
    "vae_mnist": Table(
        runs=(Run("vae", MNIST, 30), Run("iaf_vae", MNIST, 30)),
        columns=(EPOCHS, TRAIN_TIME, NEGATIVE_ELBO, NLL_BOUND, INDEPENDENT),
        notes="Binarized MNIST (the first 18,000 training images, "
              "dynamically binarized; the 10,000 test images binarized "
              "once), NLLs per test image in nats."),
    "vae_digits": Table(
        runs=(Run("vae", seed=0), Run("vae", seed=1),
              Run("iaf_vae", seed=0), Run("iaf_vae", seed=1),
              Run("vae", epochs=40, seed=0, overrides=_LEVELS,
                  note="17 gray levels"),
              Run("vae", epochs=40, seed=1, overrides=_LEVELS,
                  note="17 gray levels"),
              Run("iaf_vae", epochs=40, seed=0, overrides=_LEVELS,
                  note="17 gray levels"),
              Run("iaf_vae", epochs=40, seed=1, overrides=_LEVELS,
                  note="17 gray levels"),
              Run("beta_vae", seed=0), Run("beta_vae", seed=1),
              Run("cvae", note="a bound on -log p(x|y)")),
        columns=(NEGATIVE_ELBO, NLL_BOUND, KL),
        notes="digits; NLL bounds by 100 importance samples, nats per test "
              "image."),
    "boltzmann_digits": Table(
        runs=(Run("rbm", seed=1),
              Run("rbm", overrides=(("training", "pcd"),),
                  note="persistent CD"),
              Run("rbm", epochs=120, overrides=(("training", "pcd"),),
                  note="persistent CD"),
              Run("gaussian_rbm", seed=1), Run("gaussian_rbm", seed=2),
              Run("dbn", seed=1),
              Run("dbn", overrides=(("finetune", "discriminative"),
                                    ("preprocessing", "unit")),
                  note="discriminative fine-tuning on gray levels")),
        columns=(TRAIN_TIME, NLL, LOG_Z_STDERR, TEST_ERROR, RECONSTRUCTION),
        notes="digits; NLLs per test image in nats, log Z by AIS."),
    "boltzmann_mnist": Table(
        runs=(Run("rbm", MNIST, 2), Run("gaussian_rbm", MNIST, 2),
              Run("boltzmann_machine", MNIST, 1,
                  overrides=(("ais_betas", "200"),
                             ("sample_gibbs_steps", "20"),
                             ("sample_quality", "False"),
                             ("parzen_samples", "0")),
                  note="200 AIS steps: a rough log Z; no sample scores, "
                       "whose 10,000 samples of sequential sweeps over "
                       "800 units would take hours"),
              Run("dbn", MNIST, 5, overrides=_DBN_MNIST,
                  note="the 784-500-500-2000 net")),
        columns=(TRAIN_TIME, NLL, LOG_Z_STDERR, TEST_ERROR, RECONSTRUCTION),
        notes="MNIST, the first 18,000 training images; NLLs per test image "
              "in nats (independent pixels 206.0)."),
    "gan_mnist": Table(
        runs=(Run("dcgan", MNIST, 5, overrides=(("filters", "64"),)),
              Run("wgan_gp", MNIST, 3, overrides=(("filters", "64"),)),
              Run("cgan", MNIST, 20)),
        columns=(EPOCHS, TRAIN_TIME, FRECHET, LABEL_ENTROPY, CLASSES),
        notes="MNIST, the first 18,000 training images, pixels in [-1, 1]; "
              "Fréchet distance of as many samples as test images to the "
              "10,000 test images in the features of the dataset's "
              "classifier (floor: as many training images)."),
    "autoregressive_mnist": Table(
        runs=tuple(Run(model, MNIST, epochs, overrides=(
            ("preprocessing", "binarize_dynamic"),))
            for model, epochs in (("fvbn", 20), ("pixelcnn", 8),
                                  ("gated_pixelcnn", 5), ("row_lstm", 10),
                                  ("diagonal_bilstm", 2),
                                  ("pixelcnn_pp", 1))),
        columns=(EPOCHS, TRAIN_TIME, NLL),
        notes="Binarized MNIST; exact NLLs per test image in nats "
              "(independent pixels 206.0)."),
}


def plan(table, *, workdir_base, variant=None):
    """The table's runs as ``tfgen.leaderboard.PlannedRun``s, checked.

    Raises:
        UsageError: a run's model, dataset or override is wrong, or its
            workdir holds another run.
    """
    from tfgen import leaderboard
    from tfgen import train as train_cli

    planned = []
    for run in table.runs:
        spec, config = train_cli.make_config(
            run.model, variant=variant, dataset=run.dataset,
            overrides=dict(run.overrides), epochs=run.epochs, seed=run.seed)
        workdir = pathlib.Path(workdir_base) / run.name
        leaderboard.check_workdir(workdir, spec, config, retrain=False)
        planned.append(leaderboard.PlannedRun(spec, config, workdir))
    return planned


def measure_table(name, table, *, workdir_base, variant=None, data_dir=None,
                  manual_dir=None, verbose=1):
    """Trains or reuses every run of a table.

    Returns:
        The table's JSON document: provenance, the settings, and a row per
        run (``leaderboard.measure``'s, with its ``tfgen.train`` command,
        or its error).
    """
    from tfgen import leaderboard

    planned = plan(table, workdir_base=workdir_base, variant=variant)
    commands = [run.command() for run in table.runs]
    # The MNIST files are for the MNIST runs: an embedded dataset (digits)
    # refuses a manual folder.
    measured = leaderboard.measure_all(
        planned, data_dir=data_dir, verbose=verbose,
        manual_dir=lambda run: manual_dir if run.config.dataset == MNIST
        else None,
        labels=[f"{name}: {command}" for command in commands])
    rows = []
    for run, command, (row, _) in zip(table.runs, commands, measured):
        row.update(command=command, note=run.note)
        rows.append(row)
    return {"benchmark": "train_runs", "table": name, **results.provenance(),
            "variant": variant, "rows": rows,
            "num_failed": sum(row["status"] == "failed" for row in rows)}


def results_tables(name, document, table=None):
    """The document as its README table, named after the table: the
    command (and its note), then the table's columns; a failed run's row
    says its error, a reused run's time says so."""
    table = table or TABLES[name]
    columns = ["command", *(column.header for column in table.columns)]
    formats = {column.header: column.format for column in table.columns
               if column.format}
    rows = []
    for row in document["rows"]:
        command = f"`{row['command']}`" + (f" ({row['note']})"
                                            if row.get("note") else "")
        if row["status"] == "failed":
            rows.append([command, f"failed: {row['error']}",
                         *([None] * (len(table.columns) - 1))])
            continue
        values = []
        for column in table.columns:
            value = column.value(row)
            if (column.reused_format and value is not None
                    and row["status"] == "reused"):
                value = results.cell(value, column.reused_format)
            values.append(value)
        rows.append([command, *values])
    return {name: results.table(columns, rows, formats=formats,
                                notes=table.notes)}


def write_table(name, document, results_dir, table=None):
    """Writes ``<results_dir>/train_runs_<name>.json``; returns its path."""
    path = pathlib.Path(results_dir) / f"train_runs_{name}.json"
    results.write_measured(path, results_tables(name, document, table),
                           document)
    return path


flags.DEFINE_list("tables", None, "Tables to run (default: all; see "
                  "--list_tables).")
flags.DEFINE_bool("list_tables", False,
                  "Print every table's name and its runs' commands.")
flags.DEFINE_string("workdir_base", "runs/train_runs",
                    "Runs go to <workdir_base>/<table>/<run>.")
flags.DEFINE_string("results_dir", "results",
                    "Where train_runs_<table>.json go.")
# Shared with tfgen.train (and other benchmarks): one type, one meaning.
cli.define_shared_flag(flags.DEFINE_string, "config_variant", None,
                       'Every run with this config variant ("tiny": tests).')
cli.define_shared_flag(flags.DEFINE_string, "data_dir", None,
                       "TFDS folder where prepared datasets are cached.")
cli.define_shared_flag(flags.DEFINE_string, "manual_dir", None,
                       "Folder with the standard dataset files, for offline "
                       "use (MNIST's IDX files, for the MNIST tables).")
FLAGS = flags.FLAGS



def _chosen():
    names = FLAGS.tables or list(TABLES)
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise errors.UsageError(
            f"--tables: unknown table {', '.join(map(repr, unknown))}; "
            f"valid tables: {', '.join(TABLES)}")
    if not FLAGS.manual_dir and any(
            run.dataset == MNIST for name in names
            for run in TABLES[name].runs):
        raise errors.UsageError(
            "--manual_dir: the MNIST tables read MNIST's IDX files from it "
            "(e.g. --manual_dir=../shared/data/mnist)")
    return names


def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    if FLAGS.list_tables:
        for name, table in TABLES.items():
            print(name)
            for run in table.runs:
                print(f"    {run.command()}")
        return
    try:
        names = _chosen()
        for name in names:  # Every table checked before any trains.
            plan(TABLES[name], workdir_base=pathlib.Path(
                FLAGS.workdir_base) / name, variant=FLAGS.config_variant)
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    failed = 0
    for name in names:
        document = measure_table(
            name, TABLES[name],
            workdir_base=pathlib.Path(FLAGS.workdir_base) / name,
            variant=FLAGS.config_variant, data_dir=FLAGS.data_dir,
            manual_dir=FLAGS.manual_dir)
        path = write_table(name, document, FLAGS.results_dir)
        failed += document["num_failed"]
        print(json.dumps(document))
        print()
        print(results.render_table(results.read(path)["tables"][name]))
        print(f"Written to {path}.")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
