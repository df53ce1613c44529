"""Experiment: the lecture's deep autoencoder against PCA, at one code size.

From the repository root (``python benchmarks/compare_autoencoders.py``
works as well):

    python -m benchmarks.compare_autoencoders
    python -m benchmarks.compare_autoencoders --preset=science \\
        --manual_dir=../shared/data/mnist --config.pretrain_epochs=5 \\
        --epochs=20
    python -m benchmarks.compare_autoencoders --config_variant=tiny

Hinton & Salakhutdinov (2006), "Reducing the dimensionality of data with
neural networks", Science 313: a deep autoencoder, pretrained and then
fine-tuned, reconstructs test images far better than PCA with as many
components (their figure 2), and its 2-D codes separate the classes where
PCA's overlap (figure 3). This command reproduces both with the zoo's
``deep_ae``, ``pca`` and ``vae``:

1. ``deep_ae`` and ``pca`` with ``--code_dim`` numbers per code, each
   trained by ``tfgen.training`` in its own folder ``<workdir>/<model>_code<k>``
   (a re-run resumes it). It writes ``comparison.md`` and
   ``comparison.json``: per model the average squared reconstruction error
   per test (and training) image, summed over pixels in [0, 1] (the paper's
   measure), and the precision of code-space retrieval (below); and
   ``reconstructions.png``: a test image of each class (row "original") and
   its reconstructions by each model.
2. ``pca``, ``deep_ae`` and ``vae`` with 2-D codes (the VAE's posterior
   means), their test codes coloured by label side by side in
   ``codes_2d.png`` (skip with ``--nocodes_2d``).
3. Retrieval: ``retrieval.png`` shows, for ``--num_queries`` test images,
   the ``--num_neighbours`` other test images nearest to each in code space
   (Euclidean), per model and in pixel space for reference; the tables give
   each model's precision at that k, the fraction of the neighbours sharing
   the query's label, averaged over every test image as query.

``--preset=science`` is the paper's MNIST setting: ``--dataset=mnist``, a
784-1000-500-250-30 ``deep_ae`` against 30-component PCA (flags given
explicitly win). ``--epochs`` sets the epochs of ``deep_ae`` and ``vae``
(PCA is fitted in closed form), ``--hidden_units`` and ``--pretraining``
those fields of ``deep_ae``'s config, and ``--config.NAME=VALUE`` any other
field of it (``--config.pretrain_epochs=N``: RBM epochs per layer).
``--config_variant=tiny`` uses every model's tiny config: a test run of
seconds.

``--compare_pretraining`` adds what pretraining buys: the main ``deep_ae``
trained with each other ``pretraining`` (``rbm``, ``autoencoders``,
``none``), and with none for a pretrained run's epochs in all, in
``<workdir>/deep_ae_code<k>_<suffix>``; rows under ``pretraining``.

``comparison.json`` records the command, commit, core count and date of the
run; ``--results=PATH`` writes the README's tables as a ``tfgen.results``
file whose ``raw`` is ``comparison.json``: ``comparison`` (main and 2-D
rows; in the paper's setting the main rows beside the paper's numbers, the
2-D rows as ``codes_2d``) and ``pretraining``. ``--from_output=FILE``
rebuilds it from an earlier run's ``comparison.json``, training nothing.
The README's tables (a fresh ``--workdir``: a resumed run's training time
counts only what it trained):

    python -m benchmarks.compare_autoencoders --compare_pretraining \\
        --workdir=runs/compare_autoencoders_digits \\
        --results=results/compare_autoencoders_digits.json
    python -m benchmarks.compare_autoencoders --preset=science \\
        --manual_dir=../shared/data/mnist --config.pretrain_epochs=5 \\
        --epochs=20 --workdir=runs/compare_autoencoders_mnist \\
        --results=results/compare_autoencoders_mnist.json

The flags ``--dataset``, ``--data_dir``, ``--manual_dir``, ``--workdir``
(here by default ``runs/compare_autoencoders``), ``--epochs``,
``--config_variant`` and ``--seed`` are those of ``tfgen.train``. Bad input
prints one line on stderr and exits with status 2, having written nothing.
"""

import copy
import dataclasses
import json
import os
import pathlib
import sys
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tfgen import cli  # noqa: E402
from tfgen import errors  # noqa: E402
from tfgen import results  # noqa: E402
from tfgen import train as train_cli  # noqa: E402  (its flags, make_config)

FLAGS = flags.FLAGS

flags.DEFINE_enum("preset", None, ["science"],
                  "science: the paper's MNIST setting, --dataset=mnist "
                  "--code_dim=30 --hidden_units=1000,500,250.")
flags.DEFINE_integer("code_dim", None,
                     "Code size of deep_ae and pca (default: deep_ae "
                     "config's).", lower_bound=1)
flags.DEFINE_list("hidden_units", None,
                  "deep_ae's encoder widths, e.g. 1000,500,250 (default: "
                  "its config's).")
flags.DEFINE_string("pretraining", None,
                    "deep_ae's pretraining (default: its config's).")
flags.DEFINE_bool("codes_2d", True,
                  "Also train pca, deep_ae and vae with 2-D codes and plot "
                  "their test codes.")
flags.DEFINE_integer("num_queries", 5,
                     "Query images in retrieval.png (one per class, so at "
                     "most the number of classes).",
                     lower_bound=1)
flags.DEFINE_integer("num_neighbours", 10,
                     "k: neighbours shown per query and counted by the "
                     "retrieval precision.", lower_bound=1)
flags.DEFINE_bool("compare_pretraining", False,
                  "Also train deep_ae with each other pretraining, and "
                  "without any for a pretrained run's epochs in all.")
cli.define_results_flags()
for _name in ("dataset", "data_dir", "manual_dir", "workdir", "epochs",
              "config_variant", "seed"):
    flags.declare_key_flag(_name)

DEFAULT_WORKDIR = pathlib.Path("runs") / "compare_autoencoders"
MAIN_MODELS = ("deep_ae", "pca")
CODES_2D_MODELS = ("pca", "deep_ae", "vae")
# Models whose epochs --epochs sets; PCA is fitted in closed form.
_EPOCH_MODELS = ("deep_ae", "vae")
# deep_ae's pretrainings, as the README's table describes them.
PRETRAININGS = {"rbm": "default: a stack of RBMs, CD-1, then unrolled",
                "autoencoders": "greedy shallow autoencoders; same as "
                                "`stacked_ae`",
                "none": "random weights"}

PRESETS = {
    "science": {"dataset": "mnist", "code_dim": 30,
                "hidden_units": (1000, 500, 250)},
}

# Hinton & Salakhutdinov (2006), figure 2B: average squared error per MNIST
# test image of the 784-1000-500-250-30 autoencoder and of 30-component PCA.
PAPER_MNIST_30 = {"deep_ae": 3.00, "pca": 13.87}
_PAPER_SETTING = (
    "Hinton & Salakhutdinov (2006) trained on all 60,000 MNIST training "
    "images: RBM pretraining of 50 epochs per layer, then 200 epochs of "
    "conjugate-gradient fine-tuning")


def code_field(config):
    """The config's code-size field: ``code_dim``, or the VAE's
    ``latent_dim``."""
    return "code_dim" if "code_dim" in config else "latent_dim"


def make_configs(*, variant=None, dataset=None, code_dim=None,
                 hidden_units=None, pretraining=None, epochs=None, seed=None,
                 overrides=None, codes_2d=True):
    """The configs of every run the comparison needs.

    Args:
        variant: config variant of every model (``"tiny"`` for tests).
        dataset: the dataset of every model (default: their configs').
        code_dim: code size of the main comparison (default: deep_ae's).
        hidden_units: deep_ae's encoder widths, a sequence of ints.
        pretraining: deep_ae's pretraining.
        epochs: epochs of deep_ae and vae.
        seed: seed of every model.
        overrides: ``{field: text}`` overrides of deep_ae's config.
        codes_2d: also the 2-D runs of ``CODES_2D_MODELS``.

    Returns:
        ``{(model_name, code_size): (spec, config)}``, main runs first; a
        run needed by both parts (``code_dim`` = 2) appears once.

    Raises:
        UsageError: a bad variant, dataset or config value.
    """
    # Imported here: it imports TensorFlow, whose start-up lines must not
    # bury a bad flag's one line (tfgen.cli holds them while flags parse).
    from tfgen import config as config_lib

    deep_overrides = dict(overrides or {})
    if "preprocessing" in deep_overrides:
        # PCA and the figures' originals are [0, 1] intensities: a binarized
        # deep_ae would be scored against other images.
        raise errors.UsageError(
            "compare_autoencoders compares every model on the same [0, 1] "
            "pixels: --config.preprocessing cannot be overridden")
    if hidden_units is not None:
        deep_overrides["hidden_units"] = repr(tuple(hidden_units))
    if pretraining is not None:
        deep_overrides["pretraining"] = pretraining
    if code_dim is None:
        _, deep_config = train_cli.make_config(
            "deep_ae", variant=variant, overrides=deep_overrides,
            dataset=dataset)
        code_dim = int(deep_config.code_dim)
    wanted = [(name, code_dim) for name in MAIN_MODELS]
    if codes_2d:
        wanted += [(name, 2) for name in CODES_2D_MODELS]
    configs = {}
    for name, size in wanted:
        if (name, size) in configs:
            continue
        spec, config = train_cli.make_config(
            name, variant=variant,
            overrides=deep_overrides if name == "deep_ae" else {},
            dataset=dataset,
            epochs=epochs if name in _EPOCH_MODELS else None, seed=seed)
        config_lib.apply_overrides(config, {code_field(config): str(size)})
        configs[(name, size)] = (spec, config)
    return configs


@dataclasses.dataclass
class Comparison:
    """A comparison whose runs are all checked, loaded and built.

    Attributes:
        runs: ``{(model_name, code_size): tfgen.training.PreparedRun}``.
        code_dim: code size of the main comparison.
        codes_2d: whether the 2-D runs are part of it.
        num_queries: query images shown in ``retrieval.png``.
        num_neighbours: k of the retrieval.
        workdir: the output folder.
        test_images: (N, H, W, C) test images in [0, 1], for the figures.
        pretraining_runs: PreparedRuns of deep_ae's other pretrainings
            (``--compare_pretraining``).
    """

    runs: dict
    code_dim: int
    codes_2d: bool
    num_queries: int
    num_neighbours: int
    workdir: pathlib.Path
    test_images: np.ndarray
    pretraining_runs: list = dataclasses.field(default_factory=list)


def prepare(*, workdir=None, preset=None, dataset=None, code_dim=None,
            hidden_units=None, pretraining=None, epochs=None, seed=None,
            overrides=None, variant=None, codes_2d=True, num_queries=5,
            num_neighbours=10, data_dir=None, manual_dir=None,
            compare_pretraining=False):
    """Checks the request, loads the data and builds every model.

    Writes nothing: whatever is wrong with the request fails here.

    Args:
        workdir: output folder (default ``runs/compare_autoencoders``).
        preset: ``None`` or a name of ``PRESETS``, whose values fill the
            arguments left ``None``.
        dataset, code_dim, hidden_units, pretraining, epochs, seed,
            overrides, variant, codes_2d: as for ``make_configs``.
        num_queries: query images shown in ``retrieval.png``.
        num_neighbours: k of the retrieval, less than the test set's size.
        data_dir: TFDS folder of prepared datasets.
        manual_dir: folder of the standard dataset files, for offline use.
        compare_pretraining: also deep_ae with each other pretraining, and
            without any for as many epochs as a pretrained run's in all.

    Returns:
        A ``Comparison`` for ``execute``.

    Raises:
        UsageError: anything wrong with the request.
    """
    from tfgen import data
    from tfgen import training

    if preset is not None and preset not in PRESETS:
        raise errors.UsageError(f"unknown preset {preset!r}; valid: "
                                f"{', '.join(PRESETS)}")
    defaults = PRESETS.get(preset, {})
    dataset = dataset if dataset is not None else defaults.get("dataset")
    code_dim = code_dim if code_dim is not None else defaults.get("code_dim")
    if hidden_units is None:
        hidden_units = defaults.get("hidden_units")
    for name, value in (("num_queries", num_queries),
                        ("num_neighbours", num_neighbours),
                        ("code_dim", code_dim)):
        if value is not None and value < 1:
            raise errors.UsageError(f"--{name}={value} must be positive")
    configs = make_configs(
        variant=variant, dataset=dataset, code_dim=code_dim,
        hidden_units=hidden_units, pretraining=pretraining, epochs=epochs,
        seed=seed, overrides=overrides, codes_2d=codes_2d)
    workdir = pathlib.Path(workdir or DEFAULT_WORKDIR)
    runs = {}
    for (name, size), (spec, config) in configs.items():
        runs[(name, size)] = training.prepare(
            spec, config, workdir / f"{name}_code{size}", data_dir=data_dir,
            manual_dir=manual_dir)
    first = next(iter(runs.values()))
    num_test = first.info.split_sizes["test"]
    if num_neighbours >= num_test:
        raise errors.UsageError(
            f"--num_neighbours={num_neighbours} must be less than the "
            f"{num_test} test images")
    test_images, _ = data.dataset_arrays(data.load(
        first.config.dataset, "test", preprocessing="unit", seed=0,
        data_dir=data_dir, manual_dir=manual_dir).batch(1024))
    code_dim = next(iter(configs))[1]
    spec, deep_config = configs[("deep_ae", code_dim)]
    pretraining_runs = [
        training.prepare(spec, config,
                         workdir / f"deep_ae_code{code_dim}_{suffix}",
                         data_dir=data_dir, manual_dir=manual_dir)
        for suffix, config in _pretraining_configs(
            deep_config, runs[("deep_ae", code_dim)].model.num_layers
        ).items()] if compare_pretraining else []
    return Comparison(runs=runs, code_dim=code_dim,
                      codes_2d=codes_2d, num_queries=num_queries,
                      num_neighbours=num_neighbours, workdir=workdir,
                      test_images=test_images,
                      pretraining_runs=pretraining_runs)


def _pretraining_configs(deep_config, num_layers):
    """deep_ae's config with each other pretraining, and with none for as
    many epochs as a pretrained run's stages in all: ``{folder suffix:
    config}``."""
    from tfgen import config as config_lib
    from tfgen import model as model_lib

    epochs = sum(epochs for _, epochs in model_lib.layerwise_stages(
        num_layers, deep_config.pretrain_epochs, deep_config.epochs))
    wanted = {name: {"pretraining": name} for name in PRETRAININGS
              if name != deep_config.pretraining}
    if epochs > deep_config.epochs:
        wanted[f"none_{epochs}epochs"] = {"pretraining": "none",
                                          "epochs": str(epochs)}
    return {suffix: config_lib.apply_overrides(copy.deepcopy(deep_config),
                                               overrides)
            for suffix, overrides in wanted.items()}


def _reconstructions(model, batch):
    """The reconstructions whose squared error the papers compare, (B, ...).

    A deterministic autoencoder's own decoder output, unclipped
    (``decoded_images``): PCA's linear map overshoots [0, 1] a little, and
    the clipped images its ``reconstruct`` serves would flatter it. Other
    models (the VAE): their ``reconstruct`` capability.
    """
    from tfgen import evaluation

    decoded_images = getattr(model, "decoded_images", None)
    if decoded_images is not None:
        codes = model.encode(**evaluation.capability_arguments(
            model, "encode", batch))["codes"]
        return np.asarray(decoded_images(codes))
    return np.asarray(model.reconstruct(**evaluation.capability_arguments(
        model, "reconstruct", batch))["images"])


def _pass_over(model, batches, *, keep_codes):
    """Encodes and reconstructs a batched split with the model's capabilities.

    Returns:
        ``{"squared_errors": (N,), "labels": (N,)}`` and, with
        ``keep_codes``, ``"codes"`` (N, code size) and ``"reconstructions"``
        (N, H, W, C) as well.
    """
    from tfgen import evaluation

    parts = {"squared_errors": [], "labels": [], "codes": [],
             "reconstructions": []}
    for batch in batches:
        images = np.asarray(batch["image"], np.float32)
        reconstructions = _reconstructions(model, batch)
        parts["squared_errors"].append(
            evaluation.squared_errors(images, reconstructions))
        parts["labels"].append(np.asarray(batch["label"]))
        if keep_codes:
            parts["codes"].append(np.asarray(model.encode(
                **evaluation.capability_arguments(model, "encode", batch))[
                    "codes"]))
            parts["reconstructions"].append(reconstructions)
    return {key: np.concatenate(values)
            for key, values in parts.items() if values}


def _widths(name, config, info, size):
    """The model's layer widths, e.g. ``784-1000-500-250-30``."""
    widths = [info.num_pixels]
    if "hidden_units" in config and name != "pca":
        widths += [int(units) for units in config.hidden_units]
    return "-".join(str(width) for width in widths + [size])


def _train_and_measure(run, verbose, keep_codes):
    """Trains a run (or resumes it) and measures its squared errors.

    Returns:
        ``(model, row, test)``: the trained model; its row of
        ``comparison.json`` (epochs, stages, training seconds, whether it
        resumed, test and training squared error per image); the test
        split's ``_pass_over``.
    """
    from tfgen import training

    saved = run.workdir / "checkpoints"
    resumed = saved.is_dir() and any(saved.iterdir())
    model, trained = training.execute(run, verbose=verbose)
    batch_size = max(int(run.config.batch_size), 256)
    test = _pass_over(model, run.splits["test"].batch(batch_size),
                      keep_codes=keep_codes)
    train = _pass_over(
        model, run.splits["train_for_evaluation"].batch(batch_size),
        keep_codes=False)
    return model, {
        "pretraining": (run.config.pretraining
                        if "pretraining" in run.config else None),
        "preprocessing": run.config.preprocessing,
        "epochs": trained["epochs"],
        "stages": [[stage, int(epochs)]
                   for stage, epochs in model.training_stages()],
        "train_seconds": trained["train_seconds"],
        "resumed": resumed,
        "test_squared_error": float(test["squared_errors"].mean()),
        "train_squared_error": float(train["squared_errors"].mean()),
        "workdir": str(run.workdir),
    }, test


def _first_of_each_class(labels):
    """Index of the first image of each class, by class."""
    return np.array([np.flatnonzero(labels == label)[0]
                     for label in np.unique(labels)], np.int64)


def execute(comparison, *, verbose=1):
    """Trains every run, then measures and writes the tables and figures.

    Args:
        comparison: a ``Comparison`` from ``prepare``.
        verbose: Keras verbosity (1: progress bars).

    Returns:
        The table written to ``<workdir>/comparison.json``.

    Raises:
        TrainingDiverged: a model's metric became NaN or infinite.
    """
    from tfgen import evaluation
    from tfgen import plots

    start = time.time()
    # Recorded before training: the commit that is measured, even if the
    # checkout moves on during a long run.
    origin = results.provenance()
    workdir, k = comparison.workdir, comparison.num_neighbours
    measured = {}
    count = len(comparison.runs) + len(comparison.pretraining_runs)
    for index, ((name, size), run) in enumerate(comparison.runs.items(), 1):
        print(f"[{index}/{count}] Training {name} with {size}-D codes in "
              f"{run.workdir}", flush=True)
        model, row, test = _train_and_measure(run, verbose, True)
        neighbours, _ = evaluation.nearest_neighbours(
            test["codes"], test["codes"], k,
            query_indices=np.arange(len(test["labels"])))
        widths = _widths(name, run.config, run.info, size)
        layers = widths + (f", pretraining {row['pretraining']}"
                           if row["pretraining"] else "")
        row = {"model": name, "code_dim": size, "widths": widths,
               "layers": layers, **row,
               "retrieval_precision": evaluation.retrieval_precision(
                   test["labels"][neighbours], test["labels"])}
        measured[(name, size)] = {"test": test, "neighbours": neighbours,
                                  "row": row}
    pretraining_rows = []
    for index, run in enumerate(comparison.pretraining_runs,
                                len(comparison.runs) + 1):
        print(f"[{index}/{count}] Training deep_ae with pretraining "
              f"{run.config.pretraining} in {run.workdir}", flush=True)
        pretraining_rows.append(_train_and_measure(run, verbose, False)[1])
    print("Writing the tables and figures.", flush=True)
    first = next(iter(comparison.runs.values()))
    labels = measured[next(iter(measured))]["test"]["labels"]
    images = comparison.test_images
    pixels = images.reshape(len(images), -1)
    pixel_neighbours, _ = evaluation.nearest_neighbours(
        pixels, pixels, k, query_indices=np.arange(len(pixels)))
    main_keys = [(name, comparison.code_dim) for name in MAIN_MODELS]
    table = {
        "benchmark": "compare_autoencoders", **origin,
        "dataset": first.config.dataset,
        "num_train_images": first.info.split_sizes["train"],
        "num_test_images": len(images),
        "code_dim": comparison.code_dim,
        "num_neighbours": k,
        "models": [measured[key]["row"] for key in main_keys],
        "pixels": {"retrieval_precision": evaluation.retrieval_precision(
            labels[pixel_neighbours], labels), "num_pixels": pixels.shape[1]},
    }
    if pretraining_rows:
        order = list(PRETRAININGS)
        table["pretraining"] = sorted(
            [measured[main_keys[0]]["row"], *pretraining_rows],
            key=lambda row: (order.index(row["pretraining"]), row["epochs"]))
    if table["dataset"] == "mnist" and comparison.code_dim == 30:
        table["paper"] = {"test_squared_error": dict(PAPER_MNIST_30),
                          "setting": _PAPER_SETTING}

    shown = _first_of_each_class(labels)
    figures = {}
    # Clipped for display only: PCA's reconstructions leave [0, 1], which
    # image_grid would read as [-1, 1] images.
    rows = [images[shown]] + [
        np.clip(measured[key]["test"]["reconstructions"][shown], 0.0, 1.0)
        for key in main_keys]
    row_labels = ["original"] + [
        f"{name} ({measured[(name, size)]['row']['test_squared_error']:.2f})"
        for name, size in main_keys]
    figures["reconstructions"] = plots.plot_image_rows(
        rows, workdir / "reconstructions.png", row_labels=row_labels,
        title=(f"{table['dataset']} test images and their reconstructions "
               f"from {comparison.code_dim}-D codes (squared error per "
               "image)"))

    queries = shown[:comparison.num_queries]
    retrieval_rows, retrieval_labels = [], []
    for number, query in enumerate(queries, 1):
        for key in main_keys + ["pixels"]:
            found = (pixel_neighbours if key == "pixels"
                     else measured[key]["neighbours"])[query]
            retrieval_rows.append(images[np.concatenate([[query], found])])
            retrieval_labels.append(
                f"query {number}: {key if key == 'pixels' else key[0]}")
    figures["retrieval"] = plots.plot_image_rows(
        retrieval_rows, workdir / "retrieval.png",
        row_labels=retrieval_labels,
        title=(f"first column: a test image; then its {k} nearest test "
               f"images, {comparison.code_dim}-D codes or pixels"))

    if comparison.codes_2d:
        keys_2d = [(name, 2) for name in CODES_2D_MODELS]
        table["codes_2d"] = [measured[key]["row"] for key in keys_2d]
        figures["codes_2d"] = plots.plot_latent_codes_side_by_side(
            [(name, measured[(name, size)]["test"]["codes"],
              measured[(name, size)]["test"]["labels"])
             for name, size in keys_2d],
            workdir / "codes_2d.png",
            title=f"2-D codes of the {table['dataset']} test images")
    table["figures"] = {name: str(path) for name, path in figures.items()}
    table["seconds"] = round(time.time() - start, 1)
    _write_atomically(workdir / "comparison.json",
                      json.dumps(table, indent=2, sort_keys=True) + "\n")
    _write_atomically(workdir / "comparison.md", format_markdown(table))
    return table


def _write_atomically(path, text):
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _model_table(rows, num_neighbours):
    header = ("| model | layers | pixels | test squared error "
              f"| train squared error | precision@{num_neighbours} "
              "| epochs | train time |")
    lines = [header, "|---|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| `{row['model']}` | {row['layers']} | {row['preprocessing']} "
            f"| {row['test_squared_error']:.2f} "
            f"| {row['train_squared_error']:.2f} "
            f"| {row['retrieval_precision']:.3f} | {row['epochs']} "
            f"| {row['train_seconds']:.0f} s |")
    return lines


def format_markdown(table):
    """The comparison table of ``execute`` as markdown."""
    k = table["num_neighbours"]
    title = (f"# Deep autoencoder vs PCA on `{table['dataset']}`, "
             f"{table['code_dim']}-D codes")
    legend = (
        "Average squared reconstruction error per image (sum over pixels "
        f"in [0, 1]) on the {table['num_test_images']:,} test and "
        f"{table['num_train_images']:,} training images; precision@{k}: the "
        f"fraction of a test image's {k} nearest other test images in code "
        "space (Euclidean) that share its label, averaged over every test "
        "image. Figures: `reconstructions.png`, `retrieval.png`.")
    pixels = (f"In pixel space ({table['pixels']['num_pixels']} numbers), "
              f"precision@{k} is "
              f"{table['pixels']['retrieval_precision']:.3f}.")
    lines = [title, "", legend, "", *_model_table(table["models"], k), "",
             pixels]
    if "paper" in table:
        paper = table["paper"]["test_squared_error"]
        deep = next(row for row in table["models"]
                    if row["model"] == "deep_ae")
        stages = ", ".join(f"{name} {epochs}" for name, epochs in
                           deep["stages"])
        lines += ["", (
            f"The paper reports {paper['deep_ae']:.2f} (deep autoencoder) "
            f"and {paper['pca']:.2f} (PCA); {table['paper']['setting']}. "
            f"Here: {table['num_train_images']:,} training images (the last "
            "tenth of the training file is the validation split); "
            f"deep_ae's epochs per stage: {stages}; fine-tuning with Adam.")]
    if "codes_2d" in table:
        note = ("The VAE's codes are its posterior means; it models "
                "binarized pixels, so its errors are against binarized test "
                "images.")
        lines += ["", "## 2-D codes (`codes_2d.png`)", "",
                  *_model_table(table["codes_2d"], k), "", note]
    if "pretraining" in table:
        lines += ["", "## What pretraining buys (`deep_ae`)", "",
                  "| pretraining | epochs | test squared error "
                  "| train squared error | train time |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {row['pretraining']} | {row['epochs']} "
                  f"| {row['test_squared_error']:.3f} "
                  f"| {row['train_squared_error']:.3f} "
                  f"| {row['train_seconds']:.0f} s |"
                  for row in table["pretraining"]]
    lines.append("")
    return "\n".join(lines)


# --- The README's tables (tfgen.results). ----------------------------------

_PRETRAINED = {"rbm": "RBM-pretrained", "autoencoders":
               "pretrained as autoencoders", "none": "not pretrained"}
_CODE_NOTES = {"vae": "posterior means; binarized pixels"}


def results_tables(table):
    """The README's tables of a ``comparison.json`` document.

    ``comparison``: the main rows, then the 2-D ones (in the paper's
    setting, the main rows beside the paper's numbers and the 2-D rows in
    ``codes_2d``); ``pretraining`` with ``--compare_pretraining``.
    """
    precision = f"precision@{table['num_neighbours']}"
    scores = {"test squared error": "test_squared_error",
              "train squared error": "train_squared_error",
              precision: "retrieval_precision"}
    options = {"formats": {"test squared error": ".2f", precision: ".3f",
                           "train squared error": ".2f"},
               "align": {column: "right" for column in scores},
               "notes": (
                   f"{table['dataset']}: average squared reconstruction "
                   "error per image (sum over pixels in [0, 1]) on the "
                   f"{table['num_test_images']:,} test and "
                   f"{table['num_train_images']:,} training images; "
                   f"{precision}: the share of a test image's "
                   f"{table['num_neighbours']} nearest other test images in "
                   "code space that share its label (in pixel space: "
                   f"{table['pixels']['retrieval_precision']:.3f}).")}

    def main_label(row):
        return f"`{row['model']}`" + (
            f" ({_PRETRAINED[row['pretraining']]})"
            if row.get("pretraining") else "")

    def label_2d(row):
        return f"`{row['model']}`, 2-D" + (
            f" ({_CODE_NOTES[row['model']]})"
            if row["model"] in _CODE_NOTES else "")

    main, codes_2d = table["models"], table.get("codes_2d", [])
    tables = {}
    if "paper" in table:
        paper = table["paper"]["test_squared_error"]
        tables["comparison"] = results.records_table(main, {
            "model": lambda row: (
                f"`pca`, {row['code_dim']} components"
                if row["model"] == "pca"
                else f"`{row['model']}` {row['widths']}"),
            **scores, "paper": lambda row: paper.get(row["model"])},
            **{**options, "formats": {**options["formats"], "paper": ".2f"},
               "align": {**options["align"], "paper": "right"}})
        if codes_2d:
            tables["codes_2d"] = results.records_table(codes_2d, {
                "model": label_2d, "layers": "widths", **scores}, **options)
    else:
        shown = {(row["model"], row["code_dim"]) for row in main}
        tables["comparison"] = results.records_table(
            [dict(row, label=main_label(row)) for row in main]
            + [dict(row, label=label_2d(row)) for row in codes_2d
               if (row["model"], row["code_dim"]) not in shown],
            {"model": "label", "layers": "widths", **scores}, **options)
    if "pretraining" in table:
        tables["pretraining"] = _pretraining_table(table)
    return tables


def _pretraining_table(table):
    rows, deep = table["pretraining"], table["models"][0]
    pretrained = {row["epochs"] for row in rows
                  if row["pretraining"] != "none"}

    def label(row):
        name = row["pretraining"]
        if name == "none" and row["epochs"] in pretrained:
            return (f"`none`, {row['epochs']} epochs (the pretrained runs' "
                    "total)")
        return f"`{name}` ({PRETRAININGS[name]})"

    def seconds(row):
        return results.cell(row["train_seconds"], "{:.0f} s (resumed)"
                            if row["resumed"] else "{:.0f} s")

    time_column = f"training time ({table['cpu_count']} CPU cores)"
    return results.records_table(
        rows, {"`pretraining`": label,
               "test squared error": "test_squared_error",
               time_column: seconds},
        formats={"test squared error": ".3f"},
        align={"test squared error": "right", time_column: "right"},
        notes=(f"deep_ae {deep['widths']} on {table['dataset']}, "
               f"{deep['stages'][-1][1]} epochs of fine-tuning after its "
               "pretraining; "
               "average squared reconstruction error per test image; "
               "training time of each run (a resumed run's: of what it "
               "trained)."))


def _hidden_units(texts):
    try:
        return tuple(int(text) for text in texts)
    except ValueError:
        raise errors.UsageError(
            f"--hidden_units={','.join(texts)}: expected integers such as "
            "1000,500,250") from None


def main(argv):
    del argv  # Checked by cli.parse_flags.
    logging.set_verbosity(logging.WARNING)
    if FLAGS.from_output:
        try:
            table = results.read_output(FLAGS.from_output,
                                        "compare_autoencoders")
        except results.ResultsError as error:
            cli.fail(f"--from_output={error}", 2)
        if FLAGS.results:
            results.write_measured(FLAGS.results, results_tables(table),
                                   table)
        print(format_markdown(table))
        return
    try:
        with cli.native_stderr_held():
            for name in ("model", "list_models", "export_base"):
                if FLAGS[name].present:
                    raise errors.UsageError(
                        f"--{name} is a flag of tfgen.train, not of "
                        "benchmarks.compare_autoencoders")
            comparison = prepare(
                workdir=FLAGS.workdir, preset=FLAGS.preset,
                dataset=FLAGS.dataset, code_dim=FLAGS.code_dim,
                hidden_units=(None if FLAGS.hidden_units is None
                              else _hidden_units(FLAGS.hidden_units)),
                pretraining=FLAGS.pretraining, epochs=FLAGS.epochs,
                seed=FLAGS.seed,
                overrides=cli.CONFIG_OVERRIDES,
                variant=FLAGS.config_variant, codes_2d=FLAGS.codes_2d,
                num_queries=FLAGS.num_queries,
                num_neighbours=FLAGS.num_neighbours,
                data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir,
                compare_pretraining=FLAGS.compare_pretraining)
    except errors.UsageError as error:
        cli.fail(str(error), 2)

    from tfgen import training

    try:
        table = execute(comparison)
    except training.TrainingDiverged as error:
        cli.fail(str(error), 1)
    if FLAGS.results:
        results.write_measured(FLAGS.results, results_tables(table), table)
    print(format_markdown(table))
    print(f"Written to {comparison.workdir} in {table['seconds']:.0f} s.")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
