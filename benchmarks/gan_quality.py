"""Sample quality of the adversarial family, beside the keras-io recipes.

From the repository root (``python benchmarks/gan_quality.py`` works as
well), the README's two tables: ``results/gan_quality_digits.json``
(about 30 minutes on 2 cores, the README's runs having trained for 29 in
all) and ``results/gan_quality_mnist.json`` (about 10, 8 of them
training). Each command has a workdir root of its own: a root holding
another config's run of a model is refused.

    python -m benchmarks.gan_quality --bench_peers \\
        --bench_workdir_root=runs/gan_quality_digits \\
        --results=results/gan_quality_digits.json
    python -m benchmarks.gan_quality --bench_dataset=mnist \\
        --bench_manual_dir=../shared/data/mnist --bench_models=dcgan \\
        --bench_epochs=8 --config.filters=64 \\
        --bench_workdir_root=runs/gan_quality_mnist \\
        --results=results/gan_quality_mnist.json

Every adversarial model (``--bench_models``, default all the registered
ones) is trained with its default config by ``tfgen.training``'s
``train_and_evaluate``, the loop ``python -m tfgen.train`` runs, in
``<--bench_workdir_root>/<model>``, and its samples are measured by
``tfgen.frechet.evaluate_samples`` in the features of the dataset's small
classifier (trained once and cached): the Fréchet distance of as many
samples as there are test images against the test set, beside as many
training images against it; the same at half size beside one random half
of the test set against the other (both floors the score of a generator
that draws the data themselves); and how the samples' predicted labels
spread over the classes (entropy, classes covered, largest class's
share), which exposes collapse onto a few digits. A finished run is not
trained again: a workdir under ``--bench_workdir_root`` or
``--bench_reuse_root`` (only read) whose ``metrics.json`` exists and whose
config is the one asked for is restored from its last checkpoint, its
training time read from ``metrics.json``; this is asked when the run's
turn comes, so a run another process finishes meanwhile is reused, not
trained twice. ``--bench_epochs`` overrides every run's epochs and
``--config.NAME=VALUE`` any config field of every run
(``--config.filters=64`` for MNIST's DCGANs).

``--bench_peers`` also trains, in the same process and for the same
epochs, our models with the recipes of the keras-io examples users would
pick, expressed as config overrides (``PEER_RECIPES``; the run is
``<model>_keras_io``):

- ``examples/generative/dcgan_overriding_train_step.py`` (a DCGAN on 64x64
  CelebA faces): pixels scaled to [0, 1] with a sigmoid at the generator's
  output; neither player normalized; both players trained by Adam at a
  learning rate of 1e-4 with Keras's default moments (0.9, 0.999);
  batches of 32; 128 code dimensions; a discriminator of 4x4 stride-2
  convolutions from 64 filters, doubling; binary cross-entropy with the
  generator trained to have its samples called real; and uniform noise of
  width 0.05 added to every target, pushing each away from the other
  class. On our ``dcgan``: ``preprocessing=unit``, both normalizations
  ``none``, the optimizers, ``batch_size=32``, ``latent_dim=128``,
  ``filters=64``, and ``real_label=0.975``: the cross-entropy's gradient is
  linear in the target, so the noise's mean on the real side gives the
  expected gradient of its noisy targets.
- ``examples/generative/wgan_gp.py`` (Fashion-MNIST): a Wasserstein critic
  without normalization and a gradient penalty of weight 10; three critic
  updates per generator update; both trained by Adam at 2e-4 with moments
  (0.5, 0.9); batches of 512; 128 code dimensions; a critic from 64
  filters, doubling; a generator with batch norm and tanh output on
  [-1, 1] pixels. On our ``wgan_gp``: ``discriminator_normalization=none``,
  ``discriminator_steps=3``, the optimizers, ``batch_size=512``,
  ``latent_dim=128``, ``filters=64``.

What our configs cannot express of them is listed in each recipe's
``not_expressed`` and printed under the table. One difference changes the
number of updates per epoch: their critic's extra updates reuse the step's
real batch and every step moves the generator, where ours take a batch
each and the generator moves on every k-th step; the table gives the
generator updates of each run.

Output: one JSON line (the command, commit, core count, date, the
classifier's accuracy, the floor, a row per run, each recipe's run beside
our default's) and a markdown table, both also written to
``gan_quality.json`` and ``gan_quality.md`` in ``--bench_output_dir``
(default: the workdir root), beside ``gan_quality.png``: a row of samples
of every run under a row of real test images. ``--results=PATH`` also
writes the tables as a ``tfgen.results`` file, the JSON document as its
raw (``benchmarks/gan_quality_tables.py``): ``<dataset>``, every run under
the real images' floor (the README's digits table); ``<dataset>_commands``,
a row per run and this command (the README's MNIST table); with recipes,
``<dataset>_peers``, our default beside each, both sides' numbers and the
ratio of their Fréchet distances. A run reused from an earlier command
shows its training time followed by "(reused)": give a fresh
``--bench_workdir_root`` to measure every run. ``--from_output=FILE``
trains nothing: it reads an earlier run's ``gan_quality.json``, prints its
table and writes ``--results`` with that run's provenance.
``--bench_variant=tiny`` uses the models' tiny configs (a test run of
seconds). Bad flags print one line on stderr and exit with status 2, having
trained nothing.
"""

import dataclasses
import json
import math
import os
import pathlib
import sys

from absl import app
from absl import flags
from absl import logging

REPO = pathlib.Path(__file__).resolve().parents[1]
# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(REPO))

from benchmarks.gan_quality_tables import format_markdown  # noqa: E402
from benchmarks.gan_quality_tables import peer_comparisons  # noqa: E402
from benchmarks.gan_quality_tables import results_tables  # noqa: E402
from tfgen import cli  # noqa: E402
from tfgen import errors  # noqa: E402
from tfgen import plots  # noqa: E402
from tfgen import results  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_list("bench_models", None,
                  "Adversarial models to measure (default: every registered "
                  "one).")
flags.DEFINE_string("bench_dataset", "digits", "The image dataset.")
flags.DEFINE_string("bench_data_dir", None,
                    "TFDS folder of prepared datasets (TFDS's default if "
                    "unset); the classifiers are cached under it.")
flags.DEFINE_string("bench_manual_dir", None,
                    "Folder of the dataset's standard files, for offline "
                    "use (MNIST).")
flags.DEFINE_string("bench_workdir_root", "runs/gan_quality",
                    "Runs are trained (or their finished runs reused) in "
                    "<root>/<model>.")
flags.DEFINE_string("bench_reuse_root", None,
                    "Another root whose finished runs of the same config are "
                    "reused; nothing is written there.")
flags.DEFINE_string("bench_output_dir", None,
                    "Where gan_quality.json and gan_quality.md go (default: "
                    "the workdir root).")
flags.DEFINE_integer("bench_epochs", None,
                     "Epochs of every run (default: each config's).",
                     lower_bound=1)
flags.DEFINE_bool("bench_peers", False,
                  "Also train the keras-io recipes on the models that have "
                  "one (dcgan, wgan_gp).")
flags.DEFINE_enum("bench_variant", None, ["tiny"],
                  "tiny: the models' tiny configs (a test run).")
flags.DEFINE_integer("bench_classifier_steps", None,
                     "Training steps of the feature classifier (default: "
                     "tfgen.frechet's).", lower_bound=1)
flags.DEFINE_integer("bench_seed", 0,
                     "Picks the samples' seeds and the real halves.")
flags.DEFINE_integer("bench_verbose", 2,
                     "Keras verbosity while training (2: a line per epoch).")
cli.define_results_flags()

OUTPUT_NAME = "gan_quality"

# Samples per run in the figure (gan_quality.png): one row each.
FIGURE_SAMPLES = 12


@dataclasses.dataclass(frozen=True)
class PeerRecipe:
    """A public example's training recipe as overrides of our config.

    Attributes:
        name: what the table calls it.
        source: the example's path in the keras-io repository.
        fields: config fields and their values.
        optimizer: the one optimizer entry both players get.
        not_expressed: what of the recipe our configs cannot say.
    """

    name: str
    source: str
    fields: dict
    optimizer: dict
    not_expressed: tuple


PEER_RECIPES = {
    "dcgan": PeerRecipe(
        name="keras-io DCGAN",
        source="examples/generative/dcgan_overriding_train_step.py",
        fields={"preprocessing": "unit", "generator_normalization": "none",
                "discriminator_normalization": "none", "batch_size": 32,
                "latent_dim": 128, "filters": 64, "real_label": 0.975},
        # beta_2 keeps Keras's default, 0.999, as theirs does.
        optimizer={"algorithm": "adam", "learning_rate": 1e-4,
                   "beta_1": 0.9},
        not_expressed=(
            "dropout (0.2) before the discriminator's output",
            "LeakyReLU (0.2) in the generator (ours: ReLU)",
            "a generator whose widths grow towards the output (128, 256, "
            "512) and end in a 5x5 stride-1 convolution (ours: widths "
            "halving from the projection, ending in a transposed "
            "convolution)",
            "three resolution levels of 64x64 faces (ours: "
            "config.num_upsamplings=2 for 8x8 digits and 28x28 MNIST)",
            "noise drawn per target: only its mean on the real side "
            "(real_label=0.975); the fake side's targets beyond the label "
            "(in [-0.05, 0] in our convention) cannot be set "
            "(fake_label >= 0)",
            "Keras's default Glorot-uniform weights (ours: N(0, 0.02))",
        )),
    "wgan_gp": PeerRecipe(
        name="keras-io WGAN-GP",
        source="examples/generative/wgan_gp.py",
        fields={"discriminator_normalization": "none",
                "discriminator_steps": 3, "gradient_penalty": 10.0,
                "batch_size": 512, "latent_dim": 128, "filters": 64},
        optimizer={"algorithm": "adam", "learning_rate": 2e-4,
                   "beta_1": 0.5, "beta_2": 0.9},
        not_expressed=(
            "dropout in the critic (0.3 after its 2nd and 3rd "
            "convolutions, 0.2 before its output)",
            "zero-padding 28x28 images to 32x32 and cropping the "
            "generator's output back (ours: 28 = 7 x 2^2, no padding)",
            "5x5 kernels and four levels in the critic (ours: 4x4, "
            "config.num_upsamplings levels)",
            "a generator upsampling by nearest neighbours and 3x3 "
            "convolutions without biases, LeakyReLU (0.2), batch norm "
            "before the tanh (ours: transposed convolutions, ReLU, none at "
            "the output)",
            "the penalty's interpolation weight drawn from N(0, 1) (ours: "
            "U[0, 1], as in Gulrajani et al.)",
            "every critic update of a step on the same real batch, and a "
            "generator update every step (ours: a batch per critic update, "
            "the generator on every 3rd step: a third of their generator "
            "updates per epoch)",
            "Keras's default Glorot-uniform weights (ours: N(0, 0.02))",
        )),
}


@dataclasses.dataclass
class PlannedRun:
    """One training run to measure, checked; nothing trained yet.

    Attributes:
        label: the run's name and folder, ``<model>`` or ``<model>_keras_io``.
        spec: the model's ``registry.ModelSpec``.
        config: its locked config, every override applied.
        recipe: the ``PeerRecipe`` applied, or None for the default.
        workdir: where it is trained.
        reuse_from: folders whose finished run of this config is reused:
            ``workdir``, then the reuse root's.
    """

    label: str
    spec: object
    config: object
    recipe: PeerRecipe
    workdir: pathlib.Path
    reuse_from: tuple = ()

    def finished(self):
        """The first folder holding a finished run of this config, or None.

        Asked when the run's turn comes: a run another process finishes
        meanwhile is reused.
        """
        return next((folder for folder in self.reuse_from
                     if finished_run(folder, self.spec, self.config)), None)


def adversarial_models():
    """Registered adversarial models, sorted by name."""
    from tfgen import registry
    import zoo  # noqa: F401  (fills the registry)

    return [spec.name for spec in registry.specs()
            if spec.family == "adversarial"]


def make_config(spec, *, dataset, variant=None, recipe=None, overrides=None,
                epochs=None):
    """A model's config: default (or variant), recipe, then overrides.

    Raises:
        UsageError: an unknown field or a bad value, naming it.
    """
    import ml_collections

    from tfgen import config as config_lib

    config = spec.get_config(variant)
    with config.unlocked():
        config.dataset = dataset
        if recipe is not None:
            config.update(recipe.fields)
            config.optimizers = ml_collections.ConfigDict({
                name: dict(recipe.optimizer) for name in config.optimizers})
        if epochs is not None:
            config.epochs = int(epochs)
    config.lock()
    config_lib.apply_overrides(config, overrides or {})
    config_lib.validate(config)
    return config


def finished_run(folder, spec, config):
    """Whether ``folder`` holds a finished run of ``spec`` with ``config``.

    Finished: ``metrics.json`` exists (training writes it last). The saved
    config must equal ``config`` in every field it has (a field added to
    the config since takes its current value, as on resuming).
    """
    from tfgen import config as config_lib
    from tfgen import evaluation
    from tfgen import training

    folder = pathlib.Path(folder)
    if not (folder / evaluation.METRICS_FILE).is_file():
        return False
    run = training.read_run(folder) or {}
    if run.get("model") != spec.name:
        return False
    saved_path = folder / training.CONFIG_FILE
    if not saved_path.is_file():
        return False
    saved = json.loads(saved_path.read_text())
    current = json.loads(config_lib.to_json(config))
    return all(current.get(key) == value for key, value in saved.items())


def plan(models, *, dataset, workdir_root, reuse_root=None, peers=False,
         variant=None, overrides=None, epochs=None):
    """Checks the request and lists the runs, writing nothing.

    Raises:
        UsageError: an unknown or non-adversarial model, a bad config
            field, or a workdir holding a run of another config.
    """
    from tfgen import config as config_lib
    from tfgen import data
    from tfgen import registry
    from tfgen import training

    available = adversarial_models()
    for name in models:
        if name not in available:
            raise errors.UsageError(
                f"--bench_models: {name!r} is not an adversarial model; "
                f"they are {', '.join(available)}")
    if dataset not in data.DATASETS:
        raise errors.UsageError(f"--bench_dataset: unknown dataset "
                                f"{dataset!r}; valid: "
                                f"{', '.join(data.DATASETS)}")
    runs = []
    for name in models:
        recipes = [None] + ([PEER_RECIPES[name]]
                            if peers and name in PEER_RECIPES else [])
        for recipe in recipes:
            spec = registry.get(name)
            config = make_config(spec, dataset=dataset, variant=variant,
                                 recipe=recipe, overrides=overrides,
                                 epochs=epochs)
            label = name if recipe is None else f"{name}_keras_io"
            workdir = pathlib.Path(workdir_root) / label
            reuse_from = (workdir,) + ((pathlib.Path(reuse_root) / label,)
                                       if reuse_root else ())
            run = PlannedRun(label, spec, config, recipe, workdir, reuse_from)
            saved = workdir / training.CONFIG_FILE
            if run.finished() is None and saved.is_file() and json.loads(
                    saved.read_text()) != json.loads(
                        config_lib.to_json(config)):
                raise errors.UsageError(
                    f"{workdir} holds a run of another config; remove it or "
                    "choose another --bench_workdir_root")
            runs.append(run)
    return runs


def _updates(config, train_size):
    """Discriminator and generator updates of a run: a discriminator update
    per batch, the generator on every k-th."""
    steps = int(config.epochs) * math.ceil(train_size / int(config.batch_size))
    return steps, steps // int(config.discriminator_steps)


def measure(run, *, real_images, train_images, classifier, train_size,
            data_dir=None, manual_dir=None, seed=0, verbose=2):
    """Trains (or restores) one run and measures its samples.

    Returns:
        ``(row, samples)``: the run's row (its setting, training time and
        ``evaluate_samples``'s numbers) and ``FIGURE_SAMPLES`` of its
        samples in [0, 1] (seeds 0, 1, ...), for the figure.
    """
    from tfgen import evaluate as evaluate_cli
    from tfgen import evaluation
    from tfgen import frechet
    from tfgen import training

    finished = run.finished()
    if finished is not None:
        model = evaluate_cli.prepare_workdir(
            finished, data_dir=data_dir, manual_dir=manual_dir).model
        metrics = json.loads((finished / evaluation.METRICS_FILE).read_text())
    else:
        model, metrics = training.train_and_evaluate(
            run.spec, run.config, run.workdir, data_dir=data_dir,
            manual_dir=manual_dir, verbose=verbose)
    steps, generator_steps = _updates(run.config, train_size)
    row = {
        "run": run.label, "model": run.spec.name,
        "recipe": "default" if run.recipe is None else run.recipe.name,
        "epochs": int(run.config.epochs),
        "batch_size": int(run.config.batch_size),
        "discriminator_steps": int(run.config.discriminator_steps),
        "discriminator_updates": steps, "generator_updates": generator_steps,
        "train_seconds": float(metrics["train_seconds"]),
        "reused": finished is not None,
        "workdir": str((finished or run.workdir).resolve()),
    }
    if "unrolling_steps" in run.config:
        row["unrolling_steps"] = int(run.config.unrolling_steps)
    if run.recipe is not None:
        row["recipe_fields"] = {**run.recipe.fields,
                                "optimizers": dict(run.recipe.optimizer)}
    row.update(frechet.evaluate_samples(model, real_images,
                                        classifier=classifier, seed=seed,
                                        train_split_or_images=train_images))
    return row, frechet.model_samples(model, FIGURE_SAMPLES)


def command_line():
    """The command as given: the flags set and the config overrides."""
    given = [FLAGS[name].serialize() for name in FLAGS
             if (name.startswith("bench_") or name == "results")
             and FLAGS[name].present]
    overrides = [f"--config.{key}={value}"
                 for key, value in cli.CONFIG_OVERRIDES.items()]
    return " ".join(["python -m benchmarks.gan_quality", *given, *overrides])


def provenance():
    """The command, commit, core count and date of this measurement."""
    origin = results.provenance(command_line())
    return {"command": origin["command"], "commit": origin["commit"],
            "dirty": origin["dirty"],
            "cpu_count": origin["cpu_count"], "date": origin["date"]}


def _write_atomically(path, text):
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def execute(runs, *, dataset, data_dir=None, manual_dir=None,
            classifier_steps=None, seed=0, verbose=2):
    """Measures the floor and every run.

    Returns:
        ``(figure_rows, table)``: ``{row label: [0, 1] images}`` of the real
        test images and every run's samples, and the table: the setting,
        the classifier, the floor and the rows.
    """
    from tfgen import data
    from tfgen import frechet

    steps = classifier_steps or frechet.TRAINING_STEPS
    classifier = frechet.classifier_for(
        dataset, data_dir=data_dir, manual_dir=manual_dir,
        training_steps=steps)
    real, _ = frechet.unit_images(dataset, "test", data_dir=data_dir,
                                  manual_dir=manual_dir)
    train, _ = frechet.unit_images(dataset, "train", data_dir=data_dir,
                                   manual_dir=manual_dir)
    info = data.get_info(dataset, data_dir=data_dir, manual_dir=manual_dir)
    floor = frechet.real_floor(classifier, real, seed=seed)
    spread = frechet.label_spread(classifier.predict_labels(real),
                                  classifier.num_classes)
    floor_train = (frechet.train_floor(classifier, train, real, seed=seed)
                   if len(train) >= len(real) else None)
    measured = [measure(run, real_images=real, train_images=train,
                        classifier=classifier,
                        train_size=info.split_sizes["train"],
                        data_dir=data_dir, manual_dir=manual_dir, seed=seed,
                        verbose=verbose) for run in runs]
    rows = [row for row, _ in measured]
    figure_rows = {"real test images": real[:FIGURE_SAMPLES],
                   **{row["run"]: samples for row, samples in measured}}
    return figure_rows, {
        "benchmark": OUTPUT_NAME, "dataset": dataset, "seed": seed,
        "num_test_images": len(real), "num_classes": classifier.num_classes,
        "feature_size": frechet.FEATURE_SIZE,
        "classifier_accuracy": classifier.test_accuracy,
        "classifier_training_steps": steps,
        "floor": {"frechet_floor_train": floor_train,
                  "frechet_floor_half": floor["real_floor"],
                  "half_size": floor["half_size"],
                  **{key: spread[key] for key in (
                      "label_entropy", "effective_classes",
                      "classes_covered", "largest_class_share")}},
        "peer_recipes": {model: dataclasses.asdict(recipe)
                         for model, recipe in PEER_RECIPES.items()
                         if any(run.recipe is recipe for run in runs)},
        "rows": rows,
        "peer_comparisons": peer_comparisons(rows),
    }


def main(argv):
    del argv  # Checked by cli.parse_flags.
    logging.set_verbosity(logging.WARNING)
    if FLAGS.results and pathlib.Path(FLAGS.results).is_dir():
        cli.fail(f"--results={FLAGS.results} is a folder; name the file", 2)
    if FLAGS.from_output:
        try:
            table = results.read_output(FLAGS.from_output, OUTPUT_NAME)
        except results.ResultsError as error:
            cli.fail(f"--from_output={error}", 2)
        if FLAGS.results:
            results.write_measured(FLAGS.results, results_tables(table),
                                   table)
        print(json.dumps(table))
        print()
        print(format_markdown(table))
        return
    try:
        with cli.native_stderr_held():
            models = FLAGS.bench_models or adversarial_models()
            runs = plan(models, dataset=FLAGS.bench_dataset,
                        workdir_root=FLAGS.bench_workdir_root,
                        reuse_root=FLAGS.bench_reuse_root,
                        peers=FLAGS.bench_peers,
                        variant=FLAGS.bench_variant,
                        overrides=cli.CONFIG_OVERRIDES,
                        epochs=FLAGS.bench_epochs)
            output_dir = pathlib.Path(FLAGS.bench_output_dir
                                      or FLAGS.bench_workdir_root)
            if output_dir.exists() and not output_dir.is_dir():
                raise errors.UsageError(
                    f"--bench_output_dir={output_dir} is not a folder")
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    figure_rows, measured = execute(
        runs, dataset=FLAGS.bench_dataset, data_dir=FLAGS.bench_data_dir,
        manual_dir=FLAGS.bench_manual_dir,
        classifier_steps=FLAGS.bench_classifier_steps,
        seed=FLAGS.bench_seed, verbose=FLAGS.bench_verbose)
    table = {**provenance(), "overrides": dict(cli.CONFIG_OVERRIDES),
             "variant": FLAGS.bench_variant, **measured}
    markdown = format_markdown(table)
    output_dir.mkdir(parents=True, exist_ok=True)
    plots.plot_image_rows(
        list(figure_rows.values()), output_dir / f"{OUTPUT_NAME}.png",
        row_labels=list(figure_rows),
        title=f"samples (seeds 0-{FIGURE_SAMPLES - 1}) on "
              f"{FLAGS.bench_dataset}")
    # The document first: should the results file fail, --from_output
    # rebuilds it from this one without training again.
    _write_atomically(output_dir / f"{OUTPUT_NAME}.json",
                      json.dumps(table, indent=2) + "\n")
    _write_atomically(output_dir / f"{OUTPUT_NAME}.md", markdown + "\n")
    if FLAGS.results:
        results.write_measured(FLAGS.results, results_tables(table), table)
    print(json.dumps(table))
    print()
    print(markdown)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
