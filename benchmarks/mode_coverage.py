"""Experiment: mode collapse of the GAN against the unrolled GAN in the plane.

From the repository root:

    python -m benchmarks.mode_coverage
    python -m benchmarks.mode_coverage --datasets=ring8 --seeds=0,1,2 \\
        --steps=5000 --output=mode_coverage.json --figure=mode_coverage.png

Metz, Poole, Pfau & Sohl-Dickstein (2017), "Unrolled Generative Adversarial
Networks", section 3.1 and figure 1: on a ring of 8 Gaussians the GAN
visits the modes one at a time, its samples piled on one or two, while the
unrolled GAN spreads over all of them. Srivastava et al. (2017), "VEEGAN",
Table 1, count it (``tfgen.mode_coverage``: modes captured and the share of
high-quality samples, of 2,500 samples, five runs): on the 2D Ring the GAN
captures 1 mode of 8, the unrolled GAN (5 unrolling steps) 7.6; on the 2D
Grid 3.3 and 23.6 of 25.

For each dataset, model (``unrolled_gan`` once per ``--unrolling_steps``)
and seed, this command trains the registered model with
``tfgen.training.train_and_evaluate``, as ``python -m tfgen.train`` does,
with the 2-D setup of the unrolled-GAN authors' reference notebook as config
overrides (``PAPER_OVERRIDES``): both players with two hidden layers of 128
tanh units and orthogonal initial weights (gain 1.4), a linear generator
output, the minimax game of the paper's equations played with simultaneous
updates (``config.updates``: both players' gradients taken at the same
parameters, on one batch), Adam with beta_1 0.5 and
learning rates 1e-3 (generator) and 1e-4 (discriminator), batches of 512
and a 256-dimensional code. Both models get the same budget of ``--steps``
training steps (one discriminator and one generator update each; an epoch
of the 20,000 training points is 40 steps); the notebook trains for 25,000.
``--steps`` defaults to 5,000: on 2 cores shared with other work a
5,000-step run trains in about 2.5 minutes (``gan``) and 3.5
(``unrolled_gan``, K = 5), plus some 20 s of set-up and evaluation each.

Measured (the README's tables, ``results/mode_coverage_*.json``): on the
grid the unrolled GAN captures 20-23 of 25 modes and the GAN 8-9 in every
seed, VEEGAN's contrast; on the ring both capture all 8 in every seed, and
the plain GAN does not collapse. With ReLU players neither model reaches
the ring at this budget.
``--config.NAME=VALUE`` overrides any field after the paper's;
``--workdir`` keeps the runs (default: a temporary folder, removed at the
end) and ``--data_dir`` is ``tfgen.train``'s.

The numbers are those that ``tfgen.evaluation.evaluate`` reports for the
trained model (2,500 samples, seeds 0..2499). The command prints one JSON
document (the command, the commit, the cores, the date, every run's
numbers and each model's mean and standard deviation over the seeds) and a
markdown table, and writes the JSON to ``--output`` if given.
``--figure=PATH`` draws, like the paper's figure 1, the samples of the
first seed's runs on the figure's dataset (``ring8`` where it is run) after
``--snapshot_steps`` and at the end, one row per model: those runs train in
chunks, each resuming the same workdir from its checkpoint.
"""

import json
import math
import pathlib
import sys
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

# Run as a script, the repository root is not on the path.
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tfgen import cli  # noqa: E402
from tfgen import errors  # noqa: E402
from tfgen import train as train_cli  # noqa: E402  (its flags, make_config)
from zoo.adversarial import unrolled_gan  # noqa: E402,F401  (registers it)

FLAGS = flags.FLAGS

flags.DEFINE_list("datasets", ["ring8", "grid25"], "2-D mixtures to run.")
flags.DEFINE_list("models", ["gan", "unrolled_gan"],
                  "Registered models; unrolled_gan runs once per "
                  "--unrolling_steps.")
flags.DEFINE_list("unrolling_steps", ["5"],
                  "K of unrolled_gan (VEEGAN: 5; the paper's figure: 10).")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of each model's runs.")
flags.DEFINE_integer("steps", 5000,
                     "Training steps of every run (rounded up to whole "
                     "epochs of 40 steps).", lower_bound=1)
flags.DEFINE_list("snapshot_steps", ["500", "1500"],
                  "Steps before the end at which the figure shows samples.")
flags.DEFINE_string("output", None, "Writes the JSON document here.")
flags.DEFINE_string("figure", None, "Writes the figure (PNG) here.")
cli.define_results_flags()

# Metz et al. (2017), appendix A, as tfgen config overrides.
PAPER_OVERRIDES = {
    "preprocessing": "identity",
    "generator_units": "128,128",
    "discriminator_units": "128,128",
    "generator_activation": "tanh",
    "discriminator_activation": "tanh",
    "mlp_initializer": "orthogonal",
    "latent_dim": "256",
    "loss": "minimax",
    "batch_size": "512",
    "optimizers.generator.learning_rate": "1e-3",
    "optimizers.generator.beta_1": "0.5",
    "optimizers.discriminator.learning_rate": "1e-4",
    "optimizers.discriminator.beta_1": "0.5",
    # Equations 7-8 and the notebook: both players step from the same
    # parameters on one batch.
    "updates": "simultaneous",
    # A compiled call per epoch (40 steps): the per-step cost of Keras
    # would otherwise dominate these small networks.
    "steps_per_execution": "40",
    "sample_every_epochs": "0",
}

# The mixtures' training splits hold this many points (tfgen.data.toy2d).
_TRAIN_POINTS = 20000


def _steps_per_epoch(overrides):
    return math.ceil(_TRAIN_POINTS / int(overrides["batch_size"]))


def _label(model, unrolling_steps):
    return model if unrolling_steps is None else f"{model} k={unrolling_steps}"


def _variants():
    """``(model, unrolling_steps or None)`` for each model to run."""
    variants = []
    for model in FLAGS.models:
        if model == "unrolled_gan":
            variants += [(model, int(k)) for k in FLAGS.unrolling_steps]
        else:
            variants.append((model, None))
    return variants


def train_run(dataset, model, unrolling_steps, seed, epochs_list, workdir,
              overrides):
    """Trains one run to each of ``epochs_list``, resuming the same workdir.

    Returns:
        A list, one per entry of ``epochs_list``, of ``(results, samples)``:
        ``train_and_evaluate``'s results and the 2,500 samples (N, 2) the
        mode coverage was measured on.
    """
    from tfgen import training

    run_overrides = dict(overrides)
    if unrolling_steps is not None:
        run_overrides["unrolling_steps"] = str(unrolling_steps)
    snapshots = []
    for epochs in epochs_list:
        spec, config = train_cli.make_config(
            model, overrides=run_overrides, dataset=dataset, epochs=epochs,
            seed=seed)
        trained, results = training.train_and_evaluate(
            spec, config, workdir, data_dir=FLAGS.data_dir, verbose=0)
        seeds = np.arange(results["mode_coverage_samples"], dtype=np.int64)
        samples = np.asarray(trained.sample(seed=seeds)["images"])
        snapshots.append((results, samples))
        print(f"{dataset} {_label(model, unrolling_steps)} seed {seed} "
              f"epochs {epochs}: {results['modes_covered']} of "
              f"{results['num_modes']} modes, high quality "
              f"{results['high_quality_share']:.3f} "
              f"({results['train_seconds']:.0f} s)", file=sys.stderr,
              flush=True)
    return snapshots


def _mean_std(values):
    values = np.asarray(values, np.float64)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def summarize(runs):
    """Each (dataset, model)'s numbers per seed and their mean and std.

    The standard deviation is over the seeds (ddof = 1; 0 for one seed).
    """
    summary = []
    keys = []
    for run in runs:
        key = (run["dataset"], run["label"])
        if key not in keys:
            keys.append(key)
    for dataset, label in keys:
        chosen = [run for run in runs
                  if (run["dataset"], run["label"]) == (dataset, label)]
        modes_mean, modes_std = _mean_std([r["modes_covered"]
                                           for r in chosen])
        share_mean, share_std = _mean_std([r["high_quality_share"]
                                           for r in chosen])
        summary.append({
            "dataset": dataset, "model": label,
            "num_modes": chosen[0]["num_modes"],
            "seeds": [r["seed"] for r in chosen],
            "modes_covered": [r["modes_covered"] for r in chosen],
            "high_quality_share": [r["high_quality_share"] for r in chosen],
            "modes_covered_mean": modes_mean, "modes_covered_std": modes_std,
            "high_quality_share_mean": share_mean,
            "high_quality_share_std": share_std,
            "train_seconds_mean": _mean_std([r["train_seconds"]
                                             for r in chosen])[0]})
    return summary


def markdown_table(summary):
    """The summary as a markdown table, one row per dataset and model."""
    lines = ["| dataset | model | seeds | modes covered (per seed) | "
             "modes mean ± std | high-quality % (per seed) | "
             "high-quality % mean ± std | train s/run |",
             "|---|---|---|---|---|---|---|---|"]
    for row in summary:
        per_seed_modes = ", ".join(str(m) for m in row["modes_covered"])
        per_seed_share = ", ".join(f"{100 * s:.1f}"
                                   for s in row["high_quality_share"])
        lines.append(
            f"| {row['dataset']} | {row['model']} | "
            f"{','.join(str(s) for s in row['seeds'])} | {per_seed_modes} | "
            f"{row['modes_covered_mean']:.1f} ± {row['modes_covered_std']:.1f}"
            f" of {row['num_modes']} | {per_seed_share} | "
            f"{100 * row['high_quality_share_mean']:.1f} ± "
            f"{100 * row['high_quality_share_std']:.1f} | "
            f"{row['train_seconds_mean']:.0f} |")
    return "\n".join(lines)


def plot_snapshots(panels, means, path, *, title):
    """Samples of each model (rows) at each snapshot (columns).

    Args:
        panels: ``{label: [(steps, samples (N, 2)), ...]}``.
        means: (K, 2) the mixture's modes, marked on every panel.
        path: the PNG to write.
        title: the figure's title.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    num_rows = len(panels)
    num_columns = max(len(snapshots) for snapshots in panels.values())
    figure = Figure(figsize=(2.6 * num_columns, 2.6 * num_rows + 0.5))
    FigureCanvasAgg(figure)
    reach = 1.5 * np.abs(means).max()
    for row, (label, snapshots) in enumerate(panels.items()):
        for column, (steps, samples) in enumerate(snapshots):
            axes = figure.add_subplot(num_rows, num_columns,
                                      row * num_columns + column + 1)
            axes.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3,
                         color="#1f77b4", rasterized=True)
            axes.scatter(means[:, 0], means[:, 1], s=12, marker="x",
                         color="#d62728", linewidths=0.8)
            axes.set_xlim(-reach, reach)
            axes.set_ylim(-reach, reach)
            axes.set_aspect("equal")
            axes.set_xticks([])
            axes.set_yticks([])
            axes.set_title(f"{label}, step {steps}", fontsize=9)
    figure.suptitle(title)
    figure.tight_layout(rect=(0.0, 0.0, 1.0, 0.95))  # below the title
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return str(path)


def results_tables(document):
    """The summary as ``tfgen.results`` tables, one per dataset."""
    from tfgen import results

    columns = {
        "model": "model",
        "seeds": lambda row: ", ".join(str(seed) for seed in row["seeds"]),
        "modes covered (per seed)": "modes_covered",
        "modes, mean ± std": lambda row: [row["modes_covered_mean"],
                                          row["modes_covered_std"]],
        "of": "num_modes",
        "high-quality % (per seed)": lambda row: [
            100 * share for share in row["high_quality_share"]],
        "high-quality %, mean ± std": lambda row: [
            100 * row["high_quality_share_mean"],
            100 * row["high_quality_share_std"]],
        "training s per run": "train_seconds_mean",
    }
    formats = {"modes covered (per seed)": "d", "of": "d",
               "modes, mean ± std": "{:.1f} ± {:.1f}",
               "high-quality % (per seed)": ".1f",
               "high-quality %, mean ± std": "{:.1f} ± {:.1f}",
               "training s per run": ".0f"}
    tables = {}
    for dataset in dict.fromkeys(row["dataset"]
                                 for row in document["summary"]):
        rows = [row for row in document["summary"]
                if row["dataset"] == dataset]
        tables[dataset] = results.records_table(
            rows, columns, formats=formats,
            notes=(f"{document['steps']} training steps per run; modes "
                   f"captured and high-quality share of "
                   f"{document['num_samples']} samples (VEEGAN's metrics); "
                   "standard deviations over the seeds."))
    return tables


def run_benchmark(workdir):
    """Trains every run and returns the JSON document (and draws the figure).
    """
    from tfgen import mode_coverage
    from tfgen.data import toy2d

    overrides = {**PAPER_OVERRIDES, **cli.CONFIG_OVERRIDES}
    steps_per_epoch = _steps_per_epoch(overrides)
    epochs = math.ceil(FLAGS.steps / steps_per_epoch)
    snapshot_epochs = sorted({math.ceil(int(s) / steps_per_epoch)
                              for s in FLAGS.snapshot_steps} - {0})
    snapshot_epochs = [e for e in snapshot_epochs if e < epochs] + [epochs]
    figure_dataset = ("ring8" if "ring8" in FLAGS.datasets
                      else FLAGS.datasets[0])
    seeds = [int(seed) for seed in FLAGS.seeds]
    runs, panels = [], {}
    start = time.time()
    for dataset in FLAGS.datasets:
        for seed in seeds:
            for model, unrolling_steps in _variants():
                label = _label(model, unrolling_steps)
                in_figure = (FLAGS.figure and dataset == figure_dataset
                             and seed == seeds[0])
                folder = (pathlib.Path(workdir) / dataset
                          / f"{label.replace(' ', '_').replace('=', '')}"
                          f"_seed{seed}")
                snapshots = train_run(
                    dataset, model, unrolling_steps, seed,
                    snapshot_epochs if in_figure else [epochs], folder,
                    overrides)
                results, _ = snapshots[-1]
                runs.append({
                    "dataset": dataset, "model": model, "label": label,
                    "unrolling_steps": unrolling_steps, "seed": seed,
                    "epochs": epochs, "steps": epochs * steps_per_epoch,
                    "train_seconds": sum(r["train_seconds"]
                                         for r, _ in snapshots),
                    **{key: results[key] for key in (
                        "modes_covered", "num_modes", "high_quality_share",
                        "mode_counts", "mode_kl")},
                    "snapshots": [
                        {"steps": r["epochs"] * steps_per_epoch,
                         "modes_covered": r["modes_covered"],
                         "high_quality_share": r["high_quality_share"]}
                        for r, _ in snapshots]})
                if in_figure:
                    panels[label] = [(r["epochs"] * steps_per_epoch, samples)
                                     for r, samples in snapshots]
    from tfgen import results

    origin = results.provenance(" ".join(
        ["python -m benchmarks.mode_coverage"] + sys.argv[1:]))
    document = {
        "benchmark": "mode_coverage",
        **{key: origin[key] for key in ("command", "commit", "dirty",
                                        "cpu_count", "date")},
        "steps": epochs * steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "num_samples": mode_coverage.NUM_SAMPLES,
        "config_overrides": overrides,
        "wall_seconds": None,
        "runs": runs,
        "summary": summarize(runs),
    }
    if panels:
        document["figure"] = plot_snapshots(
            panels, toy2d.MIXTURES[figure_dataset]().means, FLAGS.figure,
            title=f"{figure_dataset}: 2,500 samples of seed {seeds[0]}; "
                  "x: the modes")
    document["wall_seconds"] = round(time.time() - start, 1)
    return document


def main(argv):
    del argv  # Checked by cli.parse_flags.
    logging.set_verbosity(logging.WARNING)
    try:
        from tfgen.data import toy2d

        for dataset in FLAGS.datasets:
            if dataset not in toy2d.MIXTURES:
                raise errors.UsageError(
                    f"--datasets: {dataset!r} is not one of "
                    f"{', '.join(toy2d.MIXTURES)}")
        if not FLAGS.seeds or not FLAGS.models:
            raise errors.UsageError("--seeds and --models must not be empty")
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    from tfgen import results

    if FLAGS.from_output:
        try:
            document = results.read_output(FLAGS.from_output,
                                           "mode_coverage")
        except results.ResultsError as error:
            cli.fail(f"--from_output={error}", 2)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            try:
                document = run_benchmark(FLAGS.workdir or scratch)
            except errors.UsageError as error:
                cli.fail(str(error), 2)
    if FLAGS.results:
        results.write_measured(FLAGS.results, results_tables(document),
                               document)
    print(json.dumps(document))
    print()
    print(markdown_table(document["summary"]))
    if FLAGS.output:
        output = pathlib.Path(FLAGS.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
