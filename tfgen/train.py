"""Command line: train a registered model, evaluate it and export it.

    python -m tfgen.train --model=vae
    python -m tfgen.train --model=vae --dataset=mnist \\
        --manual_dir=../shared/data/mnist --config.latent_dim=2
    python -m tfgen.train --list_models

With no other flag it trains on the embedded ``digits`` dataset with the
model's default config, shows a progress bar, prints the test numbers of
``tfgen.evaluation.evaluate`` (those ``python -m tfgen.evaluate
--workdir=DIR`` prints for the same workdir) and leaves in the workdir
(``runs/<model>`` by default) checkpoints, TensorBoard logs, ``metrics.json``,
``evaluation.json``, ``samples.png`` and a SavedModel under
``<export_base>/<model>/<version>/`` ready for TensorFlow Serving. Re-running
with the same workdir resumes from its last checkpoint; every epoch's
shuffle and random draws are keyed on the seed and the epoch's number, so
with ``--deterministic`` a run killed at any moment and started again ends
with the parameters of an uninterrupted one. Config values are overridden
with ``--config.NAME=VALUE``. ``--strategy`` trains on several devices, or
on several machines (``multi_worker``: the same command in every process of
the cluster ``TF_CONFIG`` names; see ``tfgen.distribute``).

Bad input (unknown model or dataset, a bad flag or config value, a missing
``--manual_dir``) prints one line on stderr and exits with status 2, having
written nothing.
"""

import contextlib
import pathlib

from absl import app
from absl import flags
from absl import logging

from tfgen import cli
from tfgen import errors

FLAGS = flags.FLAGS

flags.DEFINE_string("model", None,
                    "Registered model to train (see --list_models).")
flags.DEFINE_bool("list_models", False,
                  "Print every registered model: name, family, capabilities, "
                  "paper.")
cli.define_shared_flag(flags.DEFINE_string, "config_variant", None,
                       'Config variant, e.g. "tiny" for the test-sized '
                       "config.")
flags.DEFINE_string("dataset", None,
                    "Dataset: digits, mnist, fashion_mnist, cifar10, ring8 or "
                    "grid25 "
                    "(default: the model config's).")
cli.define_shared_flag(flags.DEFINE_string, "data_dir", None,
                       "TFDS folder where prepared datasets are cached.")
cli.define_shared_flag(flags.DEFINE_string, "manual_dir", None,
                       "Folder with the standard dataset files, for offline "
                       "use.")
cli.define_shared_flag(flags.DEFINE_string, "workdir", None,
                       "Output folder (default: runs/<model>).")
flags.DEFINE_string("export_base", None,
                    "TF Serving model base path (default: <workdir>/export).")
flags.DEFINE_integer("epochs", None, "Epochs (default: the model config's).",
                     lower_bound=0)
flags.DEFINE_integer("seed", None, "Seed (default: the model config's).")
flags.DEFINE_enum("strategy", "default",
                  ["default", "mirrored", "multi_worker"],
                  "Distribution strategy (tfgen.distribute): default (one "
                  "device), mirrored (every local GPU, or the CPU's "
                  "--cpu_devices) or multi_worker (the processes TF_CONFIG "
                  "names, one command in each); config.batch_size is the "
                  "global batch.")
flags.DEFINE_integer("cpu_devices", 1,
                     "Logical devices the CPU is split into (for "
                     "--strategy=mirrored without GPUs).", lower_bound=1)
flags.DEFINE_bool("deterministic", False,
                  "Deterministic ops (tf.config.experimental."
                  "enable_op_determinism): the same seed gives the same "
                  "parameters bit for bit, and a run killed and resumed ends "
                  "as an uninterrupted one. Slower on GPUs.")

def make_config(model_name, *, variant=None, overrides=None, dataset=None,
                epochs=None, seed=None):
    """The model's config with the command line's values applied.

    Returns:
        ``(spec, config)``: the registry entry and its locked config.

    Raises:
        UsageError: unknown model, variant, dataset or config field, or a
            value of the wrong type.
    """
    from tfgen import config as config_lib
    from tfgen import data
    from tfgen import registry
    import zoo  # noqa: F401  (fills the registry)

    spec = registry.get(model_name)
    try:
        config = spec.get_config(variant) if variant else spec.get_config()
    except ValueError as error:
        raise errors.UsageError(
            f"--config_variant={variant!r}: {error}") from None
    config_lib.apply_overrides(config, overrides or {})
    with config.unlocked():
        if dataset is not None:
            config.dataset = dataset
        if epochs is not None:
            config.epochs = epochs
        if seed is not None:
            config.seed = seed
    if config.dataset not in data.DATASETS:
        raise errors.UsageError(f"unknown dataset {config.dataset!r}; valid "
                                f"datasets: {', '.join(data.DATASETS)}")
    config_lib.validate(config)
    return spec, config


def prepare(model_name, *, variant=None, overrides=None, dataset=None,
            epochs=None, seed=None, workdir=None, data_dir=None,
            manual_dir=None, strategy="default"):
    """Checks the request and loads data and model; writes no output.

    ``strategy`` names a ``tfgen.distribute`` strategy, or is one made
    already (``multi_worker`` must be made before TensorFlow's first op).

    Returns:
        A ``tfgen.training.PreparedRun``.

    Raises:
        UsageError: anything wrong with the request.
    """
    from tfgen import training

    spec, config = make_config(model_name, variant=variant,
                               overrides=overrides, dataset=dataset,
                               epochs=epochs, seed=seed)
    from tfgen import distribute

    workdir = pathlib.Path(workdir or pathlib.Path("runs") / model_name)
    return training.prepare(spec, config, workdir, data_dir=data_dir,
                            manual_dir=manual_dir,
                            strategy=(distribute.get_strategy(strategy)
                                      if isinstance(strategy, str)
                                      else strategy))


def execute(run, *, export_base=None, verbose=1):
    """Trains and evaluates a prepared run, then exports it for TF Serving.

    Returns:
        The results dict written to ``<workdir>/metrics.json``, with the
        exported SavedModel's path under ``"export"``; None in a task of a
        multi-worker run other than the chief, which trains alone.
    """
    import export
    from tfgen import checkpoints
    from tfgen import distribute
    from tfgen import training

    cluster = distribute.cluster_of(run.strategy)
    if cluster is not None and not cluster.is_chief:
        training.execute(run, verbose=verbose)
        return None

    # One lock over training and export: a second run on the workdir is
    # refused until both are done.
    with checkpoints.workdir_lock(run.workdir):
        model, results = training.execute(run, verbose=verbose)
        export_base = pathlib.Path(export_base or run.workdir / "export")
        path = export.publish_trained(model, export_base, run.spec.name)
        results["export"] = str(path)
        training.write_results(run.workdir, results)
    return results


def run(model_name, *, export_base=None, verbose=1, **kwargs):
    """``prepare`` then ``execute``: what the command line does, as a call.

    Args:
        model_name: a registered model name.
        export_base: TF Serving model base path (default ``<workdir>/export``).
        verbose: Keras verbosity.
        **kwargs: the keyword arguments of ``prepare``.

    Returns:
        The results dict of ``execute``.
    """
    prepared = prepare(model_name, **kwargs)
    return execute(prepared, export_base=export_base, verbose=verbose)


def _report(results):
    from tfgen import evaluation

    print("\n".join(evaluation.report_lines(results)
                    + [f"SavedModel: {results['export']}"]))


class LostTask(RuntimeError):
    """A task of a multi-worker cluster was lost, which aborts every
    collective of the others."""


@contextlib.contextmanager
def _lost_task_reported(strategy):
    """Turns the error of a collective that a lost task aborted into a
    ``LostTask`` naming it."""
    import tensorflow as tf

    from tfgen import distribute

    try:
        yield
    except tf.errors.UnavailableError as error:
        cluster = distribute.cluster_of(strategy)
        if cluster is None:
            raise
        raise LostTask(
            f"{cluster.name}: {distribute.lost_task(error)}; start every "
            "task again, with the same flags, to resume from the chief's "
            "last checkpoint") from None


def main(argv):
    del argv  # Checked by cli.parse_flags.
    # TensorFlow's Python side logs each saved function at INFO level.
    logging.set_verbosity(logging.WARNING)
    try:
        with cli.native_stderr_held():
            if FLAGS.list_models:
                from tfgen import registry
                import zoo  # noqa: F401

                for spec in registry.specs():
                    print(f"{spec.name}\t{spec.family}\t"
                          f"{','.join(spec.capabilities)}\t{spec.paper}")
                return
            if not FLAGS.model:
                raise errors.UsageError("--model is required (see --list_models)")
            from tfgen import distribute

            distribute.split_cpu(FLAGS.cpu_devices)
            if FLAGS.deterministic:
                import tensorflow as tf

                tf.config.experimental.enable_op_determinism()
            # Before anything runs an op (multi_worker needs that).
            strategy = distribute.get_strategy(FLAGS.strategy)
            with _lost_task_reported(strategy):
                prepared = prepare(
                    FLAGS.model, variant=FLAGS.config_variant,
                    overrides=cli.CONFIG_OVERRIDES, dataset=FLAGS.dataset,
                    epochs=FLAGS.epochs, seed=FLAGS.seed,
                    workdir=FLAGS.workdir, data_dir=FLAGS.data_dir,
                    manual_dir=FLAGS.manual_dir, strategy=strategy)
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    except LostTask as error:
        cli.fail(str(error), 1)

    import export
    from tfgen import checkpoints
    from tfgen import distribute
    from tfgen import training

    try:
        with _lost_task_reported(prepared.strategy):
            results = execute(prepared, export_base=FLAGS.export_base)
    except errors.UsageError as error:  # The workdir is another run's.
        cli.fail(str(error), 2)
    except (training.TrainingDiverged, checkpoints.CheckpointError,
            export.ExportError, LostTask) as error:
        cli.fail(str(error), 1)
    if results is None:
        cluster = distribute.cluster_of(prepared.strategy)
        print(f"{cluster.name}: training done; the chief evaluates and "
              f"exports the run in {prepared.workdir}.")
        return
    _report(results)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
