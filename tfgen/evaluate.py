"""Command line: a trained model's test numbers, from its workdir or export.

    python -m tfgen.evaluate --workdir=runs/vae
    python -m tfgen.evaluate --export_dir=runs/vae/export/vae/1
    python -m tfgen.evaluate --export_dir=runs/vae-mnist/export/vae/1 \\
        --manual_dir=../shared/data/mnist

Both compute ``tfgen.evaluation.evaluate``'s numbers, the computation the
training loop runs after training, and print them in the lines
``python -m tfgen.train`` prints.

``--workdir``: a folder ``tfgen.train`` trained in. The registered model is
rebuilt from ``config.json`` (its name and data folders are in
``run.json``), the last checkpoint is restored (the trained model exactly:
training checkpoints it once more after ``after_training``) and the test
split is loaded as training loads it, so the numbers are those training
printed. They are written to ``<workdir>/evaluation.json`` and merged into
``<workdir>/metrics.json``, both atomically.

``--export_dir``: one exported version, ``<export_base>/<model>/<version>``.
The SavedModel is loaded with ``tf.saved_model.load`` and its signatures
(``log_prob``, ``reconstruct``) are called on the test split of the dataset
named in the record ``tfgen.train`` writes beside it
(``assets.extra/tfgen_model.json``: the model's name and config, and what
its ``log_prob`` is). A SavedModel has no ``test_step``, so the model's
training metrics are not among these numbers. Nothing is written into the
exported version; ``--output=FILE`` writes the numbers as JSON.

``--data_dir`` and ``--manual_dir`` say where the data are, as for
``tfgen.train``; for a workdir they default to the folders its training
used. Bad input (a missing folder, a folder that holds no run or no
checkpoint, an unknown model, a run that stopped before it finished)
prints one line on stderr and exits with status 2, having written nothing.
"""

import dataclasses
import json
import pathlib

from absl import app
from absl import flags
from absl import logging

from tfgen import cli
from tfgen import errors

FLAGS = flags.FLAGS

cli.define_shared_flag(flags.DEFINE_string, "workdir", None,
                       "A folder tfgen.train trained in: evaluate its last "
                       "checkpoint.")
cli.define_shared_flag(flags.DEFINE_string, "export_dir", None,
                       "An exported SavedModel version, "
                       "<export_base>/<model>/<version>: evaluate its "
                       "signatures.")
cli.define_shared_flag(flags.DEFINE_string, "data_dir", None,
                       "TFDS folder where prepared datasets are cached "
                       "(default: the workdir's training's).")
cli.define_shared_flag(flags.DEFINE_string, "manual_dir", None,
                       "Folder with the standard dataset files, for offline "
                       "use (default: the workdir's training's).")
flags.DEFINE_string("output", None,
                    "Also write the numbers to this JSON file.")


@dataclasses.dataclass
class PreparedEvaluation:
    """A trained model and its data, loaded and checked; nothing written.

    Attributes:
        model: the restored ``GenerativeModel``, or an ``ExportedModel``.
        splits: the splits as ``tfgen.training.load_datasets`` gives them.
        provenance: what is evaluated (model name, checkpoint or export).
        workdir: the workdir to write into, or None for an export.
        data_dir: the TFDS folder the data came from (None: TFDS's).
        manual_dir: the folder of the dataset's standard files, or None.
    """

    model: object
    splits: dict
    provenance: dict
    workdir: pathlib.Path = None
    data_dir: str = None
    manual_dir: str = None


def _existing(folder):
    """A recorded folder that still exists, else None (TFDS's default)."""
    return folder if folder and pathlib.Path(folder).is_dir() else None


def _model_name(workdir):
    from tfgen import evaluation
    from tfgen import training

    run = training.read_run(workdir) or {}
    if "model" in run:
        return run["model"], run
    metrics = workdir / evaluation.METRICS_FILE
    if metrics.is_file():
        name = json.loads(metrics.read_text()).get("model")
        if name:
            return name, run
    raise errors.UsageError(
        f"workdir {workdir} holds no tfgen run (no {training.RUN_FILE}); "
        "train one with python -m tfgen.train --workdir=...")


def prepare_workdir(workdir, *, data_dir=None, manual_dir=None):
    """Rebuilds a workdir's model, restores its last checkpoint, loads data.

    Args:
        workdir: a folder ``tfgen.train`` trained in.
        data_dir: TFDS data folder (default: the one training used).
        manual_dir: folder of the standard dataset files (default: the
            one training used).

    Returns:
        A ``PreparedEvaluation``.

    Raises:
        UsageError: the folder is missing, holds no run, no checkpoint, a
            run of a model that is not registered, or a run that stopped
            before training finished.
    """
    import keras
    import tensorflow as tf

    from tfgen import checkpoints
    from tfgen import config as config_lib
    from tfgen import registry
    from tfgen import training
    import zoo  # noqa: F401  (fills the registry)

    workdir = pathlib.Path(workdir)
    if not workdir.is_dir():
        raise errors.UsageError(f"workdir {workdir} does not exist")
    name, run = _model_name(workdir)
    spec = registry.get(name)
    config_path = workdir / training.CONFIG_FILE
    if not config_path.is_file():
        raise errors.UsageError(f"workdir {workdir} has no "
                                f"{training.CONFIG_FILE}")
    try:
        config = config_lib.from_json(config_path.read_text(),
                                      like=spec.get_config())
    except (KeyError, TypeError, ValueError) as error:
        raise errors.UsageError(
            f"{config_path} is not a config of the model {name!r}: "
            f"{error}") from None
    config_lib.validate(config)
    # As training.prepare: the data pipeline's random ops mix in the seed.
    keras.utils.set_random_seed(config.seed)
    data_dir = data_dir or _existing(run.get("data_dir"))
    manual_dir = manual_dir or _existing(run.get("manual_dir"))
    info, splits = training.load_datasets(config, data_dir=data_dir,
                                          manual_dir=manual_dir)
    model = training.build_model(spec, config, info)
    model.build_for_training()
    checkpoint = checkpoints.TrainingCheckpoint(model, workdir / "checkpoints")
    if not checkpoint.on_disk():
        raise errors.UsageError(f"workdir {workdir} has no checkpoint in "
                                f"{workdir / 'checkpoints'}")
    try:
        epochs = checkpoint.restore()
    except checkpoints.CheckpointError as error:
        raise errors.UsageError(str(error)) from None
    except (AssertionError, tf.errors.OpError, ValueError) as error:
        raise errors.UsageError(
            f"checkpoint {checkpoint.latest} does not fit the model "
            f"{name!r}: {str(error).splitlines()[0]}") from None
    if not checkpoint.finished:
        # after_training has not run: an RBM's log Z would still be zero.
        raise errors.UsageError(
            f"training in workdir {workdir} stopped after {epochs} epochs, "
            "before it finished; run python -m tfgen.train again with "
            f"--workdir={workdir} to finish it")
    return PreparedEvaluation(
        model=model, splits=splits, workdir=workdir, data_dir=data_dir,
        manual_dir=manual_dir,
        provenance={"model": name, "checkpoint": checkpoint.latest,
                    "epochs": epochs})


class ExportedModel:
    """An exported SavedModel seen as ``evaluation.evaluate`` sees a model.

    Its capabilities are the SavedModel's signatures (but
    ``serving_default``), called by name with the inputs the signatures
    declare; its config, and what its ``log_prob`` is, come from the record
    ``tfgen.train`` wrote beside it.

    Args:
        saved_model: what ``tf.saved_model.load`` returned.
        config: the run's config, a ``ConfigDict``.
        data_info: ``tfgen.data.DataInfo`` of the dataset it models.
        record: ``tfgen.evaluation.read_export_record``'s dict.
    """

    def __init__(self, saved_model, config, data_info, record):
        self._signatures = saved_model.signatures
        self.config = config
        self.data_info = data_info
        self.name = record["model"]
        self.capabilities = tuple(name for name in self._signatures
                                  if name != "serving_default")
        self.log_prob_kind = record.get("log_prob_kind")
        self._log_prob_stderr = float(record.get("log_prob_stderr", 0.0))
        self._report = dict(record.get("model_report", {}))

    def capability_inputs(self, capability):
        """``{input name: CapabilityInput}`` of a signature's inputs."""
        from tfgen import model as model_lib

        _, inputs = self._signatures[capability].structured_input_signature
        return {name: model_lib.CapabilityInput(spec)
                for name, spec in inputs.items()}

    def log_prob_stderr(self):
        return self._log_prob_stderr

    def report(self):
        return dict(self._report)

    def log_prob(self, **inputs):
        return self._signatures["log_prob"](**inputs)

    def reconstruct(self, **inputs):
        return self._signatures["reconstruct"](**inputs)

    def sample(self, seed, labels=None):
        """The ``sample`` signature: the samples of the sample quality and
        the Parzen likelihood are drawn from the export itself. A model
        that takes labels and gets none draws them as the model does
        (``tfgen.model.draw_labels``)."""
        import tensorflow as tf

        from tfgen import model as model_lib

        inputs = {"seed": tf.cast(seed, tf.int64)}
        if "labels" in self.capability_inputs("sample"):
            if labels is None:
                labels = model_lib.draw_labels(
                    self.config.seed, inputs["seed"],
                    self.data_info.num_classes)
            inputs["labels"] = tf.cast(labels, tf.int64)
        return self._signatures["sample"](**inputs)


def prepare_export(export_dir, *, data_dir=None, manual_dir=None):
    """Loads an exported version and the test split of its dataset.

    Args:
        export_dir: ``<export_base>/<model>/<version>``.
        data_dir: TFDS data folder.
        manual_dir: folder of the standard dataset files.

    Returns:
        A ``PreparedEvaluation`` (no workdir).

    Raises:
        UsageError: the folder is missing, holds no SavedModel, or no record
            of the run that exported it.
    """
    import ml_collections
    import tensorflow as tf

    from tfgen import checkpoints
    from tfgen import evaluation
    from tfgen import training

    export_dir = pathlib.Path(export_dir)
    if not (export_dir / "saved_model.pb").is_file():
        raise errors.UsageError(f"--export_dir={export_dir} holds no "
                                "SavedModel (saved_model.pb)")
    unreadable = checkpoints.saved_model_unreadable(export_dir)
    if unreadable is not None:
        raise errors.UsageError(f"--export_dir={export_dir} cannot be read "
                                f"whole: {unreadable}")
    record = evaluation.read_export_record(export_dir)
    if record is None:
        raise errors.UsageError(
            f"{export_dir} has no {evaluation.EXPORT_RECORD}, which "
            "tfgen.train writes beside every export: its dataset and "
            "preprocessing are unknown")
    config = ml_collections.ConfigDict(record["config"])
    info, splits = training.load_datasets(config, data_dir=data_dir,
                                          manual_dir=manual_dir)
    model = ExportedModel(tf.saved_model.load(str(export_dir)), config, info,
                          record)
    return PreparedEvaluation(
        model=model, splits=splits, data_dir=data_dir, manual_dir=manual_dir,
        provenance={"model": record["model"],
                    "export_dir": str(export_dir.resolve())})


def execute(prepared, *, output=None):
    """Evaluates a prepared model and writes its numbers.

    Args:
        prepared: a ``PreparedEvaluation``.
        output: a JSON file to write the numbers to as well.

    Returns:
        ``tfgen.evaluation.evaluate``'s dict.
    """
    from tfgen import evaluation

    results = evaluation.evaluate(prepared.model, prepared.splits,
                                  data_dir=prepared.data_dir,
                                  manual_dir=prepared.manual_dir)
    if prepared.workdir is not None:
        evaluation.record_evaluation(prepared.workdir, results,
                                     **prepared.provenance)
    if output:
        evaluation.write_json_atomically(output,
                                         {**prepared.provenance, **results})
    return results


def main(argv):
    del argv  # Checked by cli.parse_flags.
    logging.set_verbosity(logging.WARNING)
    try:
        with cli.native_stderr_held():
            cli.refuse_config_overrides(
                "tfgen.evaluate", "the trained run's config is evaluated")
            if bool(FLAGS.workdir) == bool(FLAGS.export_dir):
                raise errors.UsageError(
                    "give one of --workdir and --export_dir")
            if FLAGS.output and pathlib.Path(FLAGS.output).is_dir():
                raise errors.UsageError(
                    f"--output={FLAGS.output} is a folder, not a file")
            if FLAGS.workdir:
                prepared = prepare_workdir(FLAGS.workdir,
                                           data_dir=FLAGS.data_dir,
                                           manual_dir=FLAGS.manual_dir)
            else:
                prepared = prepare_export(FLAGS.export_dir,
                                          data_dir=FLAGS.data_dir,
                                          manual_dir=FLAGS.manual_dir)
    except errors.UsageError as error:
        cli.fail(str(error), 2)

    from tfgen import evaluation

    results = execute(prepared, output=FLAGS.output)
    print("\n".join(evaluation.report_lines(results)))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
