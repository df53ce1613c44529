"""One table of every registered model's test numbers, across the families.

    python -m tfgen.leaderboard --dataset=digits
    python -m tfgen.leaderboard --models=pca,vae --epochs=20
    python -m tfgen.leaderboard --epochs_fraction=0.3   # the README's table
    python -m tfgen.leaderboard --config_variant=tiny   # a smoke run
    python -m tfgen.leaderboard --dataset=mnist \\
        --manual_dir=../shared/data/mnist --models=pixelcnn,rbm,vae,dbn \\
        --binarize --epochs_fraction=0.05

Every model (``--models``, default all registered ones) is trained with its
default config (``--config_variant``: another variant, ``tiny`` for a smoke
run of seconds per model), the dataset set to ``--dataset``, by
``tfgen.training.train_and_evaluate``, the loop ``python -m tfgen.train``
runs, in ``<workdir_base>/<dataset>/<model>``. ``--epochs`` is the budget:
it overrides ``config.epochs`` of every model but those fitted in closed
form (PCA keeps its one pass); a model trained in stages counts the epochs
of its stages, which its row reports. A workdir already
holding a finished run of the same config is reused, not trained again
(``--retrain`` removes it and trains anew); one trained for fewer epochs
than asked is resumed, its training time the sum of both sessions.
``--epochs_fraction=F`` is the other budget: every model trains F times its
own default epochs, rounded up (at least 1; a staged model's
``pretrain_epochs`` likewise), so that the models' budgets keep their
proportions; the whole zoo's defaults take longer than the 45 minutes the
README's digits table is given. ``--binarize`` gives a model of gray levels
(``levels``: the autoregressive ones) dynamically binarized pixels, as the
published binarized-MNIST numbers have them.

Each row gathers the harness's numbers (``tfgen.evaluation.evaluate``, read
from the run's ``metrics.json``): the test NLL and what kind of number it
is, the Parzen-window NLL of the samples, the Fréchet distance and label
spread of the samples, the reconstruction error; and what only this command
measures: the number of trainable weights of the restored model and the
time its ``sample`` takes per image. A model that fails (any exception) is
reported with its error and the others go on; the exit status is then 1
(the files are written all the same). Bad flags print one line on stderr
and exit with status 2, having trained nothing.

Output, in ``--output_dir`` (default ``results/leaderboard/<dataset>``;
``results/leaderboard_<variant>/<dataset>`` for a variant):
``leaderboard.json`` (a ``tfgen.results`` document: the table as the
README renders it, and under ``raw`` the command, commit, core count, date,
budget, every row and the total time), ``leaderboard.md`` (the table by family and model,
its legend and caveats; on ``mnist`` the published binarized-MNIST numbers
beside ours) and ``leaderboard.png`` (a row of samples of every sampling
model, seeds 0-15). The tables are written by ``tfgen.leaderboard_tables``;
``--from_output=FILE`` renders a finished leaderboard's ``leaderboard.json``
again (after a change of the tables) without training or measuring.
"""

import dataclasses
import json
import math
import os
import pathlib
import shutil
import sys
import time

from tfgen import cli
from tfgen import errors
from tfgen import leaderboard_tables as tables
from tfgen import results
# TensorFlow is imported where it is needed, as in tfgen.train, so that a
# bad flag is reported before it starts.
from tfgen import train as train_cli


# A row's numbers as the harness names them in metrics.json, copied as they
# are (None where the model has none).
METRIC_KEYS = (
    "test_nll", "test_bits_per_dim", "log_prob_kind", "log_prob_stderr",
    "log_prob_samples", "baseline_independent_pixels_nll",
    "parzen_nll", "parzen_stderr", "parzen_bandwidth", "parzen_num_samples",
    "parzen_bandwidth_at_grid_edge",
    "frechet_distance", "frechet_num_samples", "frechet_floor_train",
    "frechet_floor_half", "classes_covered", "label_entropy",
    "label_entropy_max", "largest_class_share", "test_squared_error",
    "train_seconds", "epochs")

# The exit status when a model failed (2 is a usage error's).
_FAILED_STATUS = 1


@dataclasses.dataclass
class PlannedRun:
    """One model to measure, its request checked; nothing trained yet."""

    spec: object
    config: object
    workdir: pathlib.Path


def default_output_dir(dataset, variant=None):
    """``results/leaderboard[_<variant>]/<dataset>``."""
    suffix = f"_{variant}" if variant else ""
    return pathlib.Path("results") / f"leaderboard{suffix}" / dataset


def default_workdir_base(variant=None):
    """``runs/leaderboard[_<variant>]``: a variant's runs apart, so that a
    smoke run never stands in the way of the real one."""
    return pathlib.Path("runs") / (
        f"leaderboard_{variant}" if variant else "leaderboard")


def _config_json(config):
    from tfgen import config as config_lib

    return json.loads(config_lib.to_json(config))


def _read_json(path):
    path = pathlib.Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def finished_metrics(workdir, spec, config):
    """The metrics of a finished run of ``spec`` with exactly ``config``.

    Returns:
        The workdir's ``metrics.json`` dict when ``run.json`` names the
        model, ``config.json`` equals ``config`` and ``metrics.json``
        holds the evaluation's numbers; otherwise None.
    """
    from tfgen import evaluation
    from tfgen import training

    workdir = pathlib.Path(workdir)
    metrics = _read_json(workdir / evaluation.METRICS_FILE)
    if (metrics is None or "num_test_examples" not in metrics
            or (training.read_run(workdir) or {}).get("model") != spec.name):
        return None
    saved = _read_json(workdir / training.CONFIG_FILE)
    return metrics if saved == _config_json(config) else None


def check_workdir(workdir, spec, config, retrain):
    """Refuses a workdir that training could neither reuse nor resume.

    Mirrors ``tfgen.training``'s resumption rule (another model, or another
    config but for ``epochs`` and fields added since, is refused) and adds
    one: a finished run of more epochs than asked cannot be cut back.

    Raises:
        UsageError: naming the workdir and what differs.
    """
    from tfgen import evaluation
    from tfgen import training

    if not workdir.exists():
        return
    if not workdir.is_dir():
        raise errors.UsageError(f"workdir {workdir} is not a folder")
    saved_model = (training.read_run(workdir) or {}).get("model")
    if retrain:
        if saved_model != spec.name and any(workdir.iterdir()):
            raise errors.UsageError(
                f"--retrain would remove {workdir}, which holds no run of "
                f"{spec.name!r}; remove it yourself")
        return
    if saved_model not in (None, spec.name):
        raise errors.UsageError(f"workdir {workdir} holds a run of "
                                f"{saved_model!r}, not {spec.name!r}")
    saved = _read_json(workdir / training.CONFIG_FILE)
    if saved is None or finished_metrics(workdir, spec, config) is not None:
        return
    wanted = _config_json(config)
    differing = sorted(key for key in saved
                       if key != "epochs" and saved[key] != wanted.get(key))
    if differing:
        key = differing[0]
        raise errors.UsageError(
            f"workdir {workdir} holds a run with another config ({key}: "
            f"{saved[key]!r} there, {wanted.get(key)!r} now); pass --retrain "
            "to replace it, or another --workdir_base")
    if ((workdir / evaluation.METRICS_FILE).is_file()
            and saved["epochs"] > wanted["epochs"]):
        raise errors.UsageError(
            f"workdir {workdir} holds a run of {saved['epochs']} epochs, more "
            f"than the {wanted['epochs']} asked; pass --retrain")


def plan(models=None, *, dataset="digits", workdir_base=None, variant=None,
         epochs=None, seed=None, retrain=False, epochs_fraction=None,
         binarize=False):
    """Checks the whole request and lists the runs, writing nothing.

    Args:
        models: registered model names; None: all of them.
        dataset: an image dataset of ``tfgen.data.DATASETS``.
        workdir_base: runs go to ``<workdir_base>/<dataset>/<model>``.
        variant: a config variant (``"tiny"``) or None for the default.
        epochs: overrides ``config.epochs`` of every model.
        seed: overrides ``config.seed`` of every model.
        retrain: train every model anew, removing its workdir.
        epochs_fraction: instead of ``epochs``, each model trains this
            fraction of its own epochs (``scaled_epochs``).
        binarize: a model of integer gray levels (``levels``) sees
            dynamically binarized pixels instead (``BINARIZED``), as the
            published binarized-MNIST likelihoods do.

    Returns:
        A list of ``PlannedRun``.

    Raises:
        UsageError: unknown models (all named), a dataset that is not of
            images, a bad value, or a workdir that cannot be reused.
    """
    from tfgen import registry
    from tfgen.data import toy2d
    import zoo  # noqa: F401  (fills the registry)

    names = registry.names() if models is None else list(models)
    unknown = [name for name in names if name not in registry.names()]
    if unknown:
        raise errors.UsageError(
            f"--models: unknown model{'s' * (len(unknown) > 1)} "
            f"{', '.join(map(repr, unknown))}; valid models: "
            f"{', '.join(registry.names())}")
    if not names:
        raise errors.UsageError("--models names no model")
    if epochs_fraction is not None:
        if epochs is not None:
            raise errors.UsageError(
                "--epochs and --epochs_fraction are two budgets; give one")
        if not (math.isfinite(epochs_fraction) and epochs_fraction > 0):
            raise errors.UsageError(
                f"--epochs_fraction={epochs_fraction}: must be a number "
                "above 0 (0.5: half of each model's default epochs)")
    if dataset in toy2d.MIXTURES:
        raise errors.UsageError(
            f"--dataset={dataset}: the leaderboard compares image models; "
            "the 2-D mixtures are measured by benchmarks.mode_coverage")
    base = pathlib.Path(workdir_base or default_workdir_base(variant))
    runs = []
    for name in dict.fromkeys(names):  # Once each, in the order given.
        spec = registry.get(name)
        overrides, model_epochs = {}, epochs
        if epochs_fraction is not None and not keeps_epochs(spec):
            scaled = scaled_epochs(spec, variant, epochs_fraction)
            model_epochs = scaled.pop("epochs")
            # Overrides are given as on the command line.
            overrides = {field: str(value) for field, value in scaled.items()}
        default = spec.get_config(variant) if variant else spec.get_config()
        if binarize and default.preprocessing == "levels":
            overrides["preprocessing"] = BINARIZED
        spec, config = train_cli.make_config(
            name, variant=variant, dataset=dataset, overrides=overrides,
            epochs=None if keeps_epochs(spec) else model_epochs, seed=seed)
        workdir = base / dataset / name
        check_workdir(workdir, spec, config, retrain)
        runs.append(PlannedRun(spec, config, workdir))
    return runs


def keeps_epochs(spec):
    """Whether a model keeps its epochs under ``--epochs``: one whose
    default config makes at most one pass (fitted in closed form, as PCA,
    which refuses more) has no budget to set."""
    return spec.get_config().epochs <= 1


# What --binarize turns a model of gray levels into.
BINARIZED = "binarize_dynamic"

# A config's fields that count passes over the data, scaled together by
# --epochs_fraction: the training and the greedy stages before it.
EPOCH_FIELDS = ("epochs", "pretrain_epochs")


def scaled_epochs(spec, variant, fraction):
    """A model's epoch fields times ``fraction``, rounded up, at least 1.

    Returns:
        ``{field: epochs}`` for each of ``EPOCH_FIELDS`` the model's config
        (``variant`` or the default) has.
    """
    config = spec.get_config(variant) if variant else spec.get_config()
    return {field: max(1, math.ceil(fraction * getattr(config, field)
                                    - 1e-9))
            for field in EPOCH_FIELDS if hasattr(config, field)}


def count_parameters(model):
    """Trainable weights of a model (a GAN's discriminator's included)."""
    import numpy as np

    return int(sum(np.prod(variable.shape)
                   for variable in model.trainable_variables))


def time_sampling(model, num_images=tables.SAMPLE_IMAGES):
    """Seconds per image of the model's ``sample``, and its images.

    Draws seeds 0..num_images-1 (a conditional model: label = seed mod the
    number of classes, as in the sample grids) once to trace and warm up,
    then once timed.

    Returns:
        ``(seconds_per_image, images)``, the images (N, H, W, C) as [0, 1]
        intensities for a picture.
    """
    import numpy as np

    from tfgen import plots

    arguments, _ = plots.grid_sample_arguments(model, num_images)
    np.asarray(model.sample(**arguments)["images"])  # Traces.
    start = time.perf_counter()
    images = np.asarray(model.sample(**arguments)["images"])
    seconds = time.perf_counter() - start
    return seconds / num_images, plots.display_units(
        images, model.config.preprocessing)


def _train(run, data_dir, manual_dir, retrain, verbose):
    """Trains (or resumes) a run; returns ``(model, metrics, status)``."""
    from tfgen import evaluation
    from tfgen import training

    if retrain and run.workdir.exists():
        shutil.rmtree(run.workdir)
    earlier = _read_json(run.workdir / evaluation.METRICS_FILE)
    model, metrics = training.train_and_evaluate(
        run.spec, run.config, run.workdir, data_dir=data_dir,
        manual_dir=manual_dir, verbose=verbose)
    if earlier is None or "train_seconds" not in earlier:
        return model, metrics, "trained"
    # A finished run resumed: its first session's time counts too. With no
    # epoch left to train (a field added to the config since), it was only
    # evaluated again and its training time is the first session's.
    if metrics["history"]:
        status = "continued"
        metrics["train_seconds"] = round(
            earlier["train_seconds"] + metrics["train_seconds"], 2)
    else:
        status = "evaluated again"
        metrics["train_seconds"] = earlier["train_seconds"]
    training.write_results(run.workdir, metrics)
    return model, metrics, status


def measure(run, *, data_dir=None, manual_dir=None, retrain=False,
            verbose=0):
    """Trains, resumes or reuses one run and gathers its row.

    Returns:
        ``(row, samples)``: the row (``METRIC_KEYS`` from ``metrics.json``,
        the test ``classification_error`` where the model has one, the
        number of weights, the sampling time) and the [0, 1] samples for
        the figure, or None for a model without ``sample``.
    """
    from tfgen import evaluate as evaluate_cli

    metrics = None if retrain else finished_metrics(run.workdir, run.spec,
                                                    run.config)
    if metrics is not None:
        status = "reused"
        model = evaluate_cli.prepare_workdir(
            run.workdir, data_dir=data_dir, manual_dir=manual_dir).model
    else:
        model, metrics, status = _train(run, data_dir, manual_dir, retrain,
                                        verbose)
    row = {**_row_head(run), "status": status,
           "num_parameters": count_parameters(model), **row_numbers(metrics)}
    samples = None
    if "sample" in model.capabilities and model.data_info.is_image:
        row["sample_seconds_per_image"], samples = time_sampling(model)
        row["sample_images_timed"] = tables.SAMPLE_IMAGES
    return row, samples


def measure_all(runs, *, data_dir=None, manual_dir=None, retrain=False,
                verbose=1, labels=None):
    """``measure`` of each run in turn; a run that fails is kept in its
    row (its error, ``error_line``) and the others go on.

    Args:
        runs: ``PlannedRun``s.
        data_dir, retrain: as for ``measure``.
        manual_dir: a folder for every run, or a function of the run that
            gives its folder (or None).
        verbose: 0: silent; 1: a line per run and Keras's epoch lines.
        labels: the runs' names in the progress lines (default: the
            models').

    Returns:
        A list of ``(row, samples)``, one per run, each row with its
        ``wall_seconds``; ``samples`` None for a failed run.
    """
    labels = labels or [run.spec.name for run in runs]
    measured = []
    for index, (planned, label) in enumerate(zip(runs, labels), 1):
        _progress(verbose, index, len(runs), f"{label}: started")
        start = time.time()
        folder = manual_dir(planned) if callable(manual_dir) else manual_dir
        try:
            row, samples = measure(planned, data_dir=data_dir,
                                   manual_dir=folder, retrain=retrain,
                                   verbose=2 if verbose else 0)
        except Exception as error:  # noqa: BLE001 (reported, the rest go on)
            row, samples = {**_row_head(planned), "status": "failed",
                            "error": error_line(error)}, None
        row["wall_seconds"] = round(time.time() - start, 1)
        measured.append((row, samples))
        _progress(verbose, index, len(runs),
                  f"{label}: {row.get('error') or row['status']} "
                  f"({row['wall_seconds']:.0f} s)")
    return measured


def row_numbers(metrics):
    """A row's numbers from a run's ``metrics.json`` dict.

    Returns:
        ``{key: value or None}`` for ``METRIC_KEYS``;
        ``classification_error``: the test error of a model that
        classifies, which the DBN's ``test_step`` reports among the
        ``test`` metrics; and ``test``: the model's own test metrics
        (``test_step``'s: ``elbo``, ``kl``, ...).
    """
    numbers = {key: metrics.get(key) for key in METRIC_KEYS}
    numbers["classification_error"] = metrics.get("test", {}).get(
        "classification_error")
    numbers["test"] = dict(metrics.get("test", {}))
    return numbers


def _row_head(run):
    return {"model": run.spec.name, "family": run.spec.family,
            "preprocessing": run.config.preprocessing,
            "workdir": str(run.workdir)}


def error_line(error):
    """``Type: first line of the message``, for a table cell."""
    message = str(error).strip().splitlines()
    return type(error).__name__ + (f": {message[0]}" if message else "")


@dataclasses.dataclass
class PreparedLeaderboard:
    """A checked request: the runs, where the files go, the dataset's info."""

    runs: list
    output_dir: pathlib.Path
    info: object
    settings: dict


def prepare(models=None, *, dataset="digits", workdir_base=None,
            output_dir=None, epochs=None, variant=None, seed=None,
            data_dir=None, manual_dir=None, retrain=False,
            epochs_fraction=None, binarize=False):
    """Checks the request (``plan``), the output folder and the data.

    Args:
        models, dataset, workdir_base, variant, epochs, seed, retrain,
            epochs_fraction, binarize: as for ``plan``.
        output_dir: where the three files go (``default_output_dir``).
        data_dir: TFDS folder of prepared datasets.
        manual_dir: folder of the dataset's standard files.

    Returns:
        A ``PreparedLeaderboard``; nothing is trained or written.

    Raises:
        UsageError: a bad request.
    """
    from tfgen import data

    runs = plan(models, dataset=dataset, workdir_base=workdir_base,
                variant=variant, epochs=epochs, seed=seed, retrain=retrain,
                epochs_fraction=epochs_fraction, binarize=binarize)
    output_dir = pathlib.Path(output_dir or default_output_dir(dataset,
                                                               variant))
    if output_dir.exists() and not output_dir.is_dir():
        raise errors.UsageError(f"--output_dir={output_dir} is not a folder")
    info = data.get_info(dataset, data_dir=data_dir, manual_dir=manual_dir)
    return PreparedLeaderboard(runs, output_dir, info, {
        "models": models, "dataset": dataset, "variant": variant,
        "epochs": epochs, "epochs_fraction": epochs_fraction,
        "binarize": binarize,
        "data_dir": data_dir, "manual_dir": manual_dir, "retrain": retrain})


def execute(prepared, *, verbose=1, command=None):
    """Trains or reuses every run, then writes the leaderboard.

    A model that fails is reported in its row with its error; the others
    go on.

    Args:
        prepared: a ``PreparedLeaderboard``.
        verbose: 0: silent; 1: a line per model and Keras's epoch lines.
        command: the command line to record (default: the call).

    Returns:
        The table written to ``leaderboard.json``; ``num_failed`` counts
        the failed models.
    """
    settings, runs = prepared.settings, prepared.runs
    start = time.time()
    rows, figure = [], {}
    for planned, (row, samples) in zip(runs, measure_all(
            runs, data_dir=settings["data_dir"],
            manual_dir=settings["manual_dir"], retrain=settings["retrain"],
            verbose=verbose)):
        if samples is not None:
            figure[planned.spec.name] = samples
        rows.append(row)
    rows.sort(key=lambda row: (row["family"], row["model"]))
    origin = results.provenance(command or _call_text(settings))
    table = {
        **{key: origin[key] for key in ("command", "commit", "dirty",
                                        "cpu_count", "date")},
        "dataset": settings["dataset"], "variant": settings["variant"],
        "epochs": settings["epochs"],
        "epochs_fraction": settings["epochs_fraction"],
        "budget": budget_text(settings["epochs"], settings["variant"],
                              [run.spec for run in runs],
                              settings["epochs_fraction"],
                              settings["binarize"]),
        "train_examples": int(prepared.info.split_sizes["train"]),
        "test_examples": int(prepared.info.split_sizes["test"]),
        "floors": _floors(rows), "rows": rows,
        "num_failed": sum(row["status"] == "failed" for row in rows),
        "wall_seconds": round(time.time() - start, 1),
    }
    write_outputs(table, figure, prepared.output_dir)
    return table


def run(models=None, *, verbose=1, command=None, **kwargs):
    """``prepare`` then ``execute``: what the command line does, as a call.

    Args:
        models: registered model names; None: all of them.
        verbose, command: as for ``execute``.
        **kwargs: the other keyword arguments of ``prepare``.

    Returns:
        ``execute``'s table.

    Raises:
        UsageError: a bad request, before anything is trained or written.
    """
    return execute(prepare(models, **kwargs), verbose=verbose,
                   command=command)


def budget_text(epochs, variant, specs=(), epochs_fraction=None,
                binarize=False):
    """The training budget in words."""
    what = "each model's default epochs"
    if epochs_fraction is not None:
        what = (f"{epochs_fraction:g} of each model's default epochs, rounded "
                "up (pretraining stages too)")
        kept = [spec.name for spec in specs if keeps_epochs(spec)]
        if kept:
            what += (f"; {', '.join(kept)} fitted in closed form, its own "
                     "epochs")
    elif epochs is not None:
        what = f"config.epochs={epochs} for every model"
        kept = [spec.name for spec in specs if keeps_epochs(spec)]
        if kept:
            what += (f" but {', '.join(kept)} (fitted in closed form, its "
                     "own epochs)")
    what += f", {variant} configs" if variant else ", default configs"
    return what + (f" (gray levels binarized: {BINARIZED})" if binarize
                   else "")


def _floors(rows):
    """The real-vs-real Fréchet floors, the same for every model's row."""
    for row in rows:
        if row.get("frechet_floor_half") is not None:
            return {key: row.get(key) for key in ("frechet_floor_train",
                                                  "frechet_floor_half")}
    return None


def _call_text(settings):
    return "tfgen.leaderboard.run(" + ", ".join(
        f"{key}={value!r}" for key, value in settings.items()
        if key in ("models", "dataset", "epochs", "epochs_fraction",
                   "binarize", "variant")) + ")"


def _progress(verbose, index, total, message):
    if verbose:
        print(f"[{index}/{total}] {message}", flush=True)


# --- The files. ---------------------------------------------------------------

def _write_text(path, text):
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_outputs(table, figure, output_dir):
    """Writes ``leaderboard.json``, ``.md`` and ``.png`` (if any model
    samples) to ``output_dir``; records their paths in ``table``."""
    from tfgen import plots

    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    ordered = [row["model"] for row in table["rows"]
               if row["model"] in figure]
    table["figure"] = None
    if ordered:
        table["figure"] = str(plots.plot_image_rows(
            [figure[name] for name in ordered],
            output_dir / "leaderboard.png", row_labels=ordered,
            title=f"samples (seeds 0-{tables.SAMPLE_IMAGES - 1}) on "
                  f"{table['dataset']}"))
    _write_tables(table, output_dir)


def _write_tables(table, output_dir):
    # A results document (tfgen.results): the README renders its tables.
    results.write(output_dir / "leaderboard.json",
                  tables.results_tables(table), raw=table,
                  origin=results.provenance_of(table))
    _write_text(output_dir / "leaderboard.md", tables.format_markdown(table))


def render_again(path, output_dir=None):
    """Writes ``leaderboard.json`` and ``.md`` again from a leaderboard's
    results file, training and measuring nothing.

    For a change of the tables' rendering (``tfgen.leaderboard_tables``):
    the rows, the command, the commit and the times stay those of the run
    that measured them.

    Args:
        path: a ``leaderboard.json`` that this command wrote.
        output_dir: where the files go; default: ``path``'s folder. The
            figure is copied there when it is another folder.

    Returns:
        The leaderboard's table, as ``execute`` returned it.

    Raises:
        UsageError: the file is not a leaderboard's results file.
    """
    import zoo  # noqa: F401  (fills the registry: the models table's words)

    try:
        table = results.read(path).get("raw")
    except results.ResultsError as error:
        raise errors.UsageError(f"--from_output: {error}") from None
    if not (isinstance(table, dict) and isinstance(table.get("rows"), list)
            and "dataset" in table):
        raise errors.UsageError(
            f"--from_output={path}: not a leaderboard's results file (its "
            "raw has no rows)")
    source = pathlib.Path(path).parent
    output_dir = pathlib.Path(output_dir or source)
    output_dir.mkdir(parents=True, exist_ok=True)
    figure = source / "leaderboard.png"
    if figure.is_file() and output_dir.resolve() != source.resolve():
        shutil.copyfile(figure, output_dir / "leaderboard.png")
    table["figure"] = (str(output_dir / "leaderboard.png")
                       if figure.is_file() else None)
    _write_tables(table, output_dir)
    return table


# --- The command line. ------------------------------------------------------

def _define_flags():
    """The flags of this command alone.

    Defined only when it runs as the program: ``--models`` and
    ``--output_dir`` are names other commands (benchmarks, tfgen.latent)
    define too, and a process importing both must not fail. The shared
    ones (--dataset, --epochs, --config_variant, --seed, --data_dir,
    --manual_dir) are ``tfgen.train``'s, with its meaning.
    """
    from absl import flags

    flags.DEFINE_list("models", None, "Registered models to measure "
                      "(default: all; see python -m tfgen.train "
                      "--list_models).")
    flags.DEFINE_string("workdir_base", None,
                        "Runs go to <workdir_base>/<dataset>/<model> "
                        "(default: runs/leaderboard[_<variant>]).")
    flags.DEFINE_string("output_dir", None,
                        "Where the json, md and png go (default: "
                        "results/leaderboard[_<variant>]/<dataset>).")
    flags.DEFINE_float("epochs_fraction", None,
                       "Budget: each model trains this fraction of its own "
                       "default epochs, rounded up (instead of --epochs).")
    flags.DEFINE_bool("binarize", False,
                      "Models of integer gray levels see dynamically "
                      "binarized pixels, as binarized-MNIST papers do.")
    flags.DEFINE_bool("retrain", False, "Train every model anew, removing "
                      "its workdir, instead of reusing a finished run.")
    flags.DEFINE_string("from_output", None,
                        "A leaderboard.json to render again (its json and "
                        "md, to --output_dir or its own folder), training "
                        "nothing.")
    flags.FLAGS.set_default("dataset", "digits")
    for name in ("dataset", "epochs", "config_variant", "seed", "data_dir",
                 "manual_dir"):
        flags.declare_key_flag(name)


# tfgen.train's flags that mean nothing here: refused, not ignored.
_TRAIN_ONLY_FLAGS = ("model", "list_models", "workdir", "export_base")

# The flags of a new run, which --from_output refuses.
_RUN_FLAGS = ("models", "workdir_base", "epochs_fraction", "binarize",
              "retrain", "dataset", "epochs", "config_variant", "seed",
              "data_dir", "manual_dir")


def command_line(flag_values):
    """The command as given: the flags set."""
    given = [flag_values[name].serialize() for name in flag_values
             if flag_values[name].present]
    return " ".join(["python -m tfgen.leaderboard", *given])


def main(argv):
    del argv  # Checked by cli.parse_flags.
    from absl import flags
    from absl import logging

    flag_values = flags.FLAGS
    logging.set_verbosity(logging.WARNING)
    try:
        with cli.native_stderr_held():
            cli.refuse_config_overrides(
                "tfgen.leaderboard", "every model runs its own config")
            for name in _TRAIN_ONLY_FLAGS:
                if flag_values[name].present:
                    raise errors.UsageError(
                        f"--{name} is tfgen.train's; the leaderboard takes "
                        "--models and --workdir_base")
            if flag_values.from_output:
                given = [name for name in flag_values
                         if flag_values[name].present
                         and name not in ("from_output", "output_dir")
                         and name in _RUN_FLAGS]
                if given:
                    raise errors.UsageError(
                        f"--from_output renders a finished run; --{given[0]} "
                        "asks for a new one")
                where = (flag_values.output_dir
                         or pathlib.Path(flag_values.from_output).parent)
                table = render_again(flag_values.from_output, where)
                print(tables.format_markdown(table))
                print(f"Written to {where}.")
                return
            prepared = prepare(
                flag_values.models,
                dataset=flag_values.dataset,
                workdir_base=flag_values.workdir_base,
                output_dir=flag_values.output_dir,
                epochs=flag_values.epochs,
                variant=flag_values.config_variant, seed=flag_values.seed,
                data_dir=flag_values.data_dir,
                manual_dir=flag_values.manual_dir,
                retrain=flag_values.retrain,
                epochs_fraction=flag_values.epochs_fraction,
                binarize=flag_values.binarize)
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    table = execute(prepared, command=command_line(flag_values))
    print()
    print(tables.format_markdown(table))
    print(f"Written to {prepared.output_dir}.")
    sys.exit(_FAILED_STATUS if table["num_failed"] else 0)


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main, flags_parser=cli.parse_flags)
