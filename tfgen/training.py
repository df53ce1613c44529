"""The one training loop: ``model.fit`` with shared callbacks, for every model.

``train_and_evaluate`` is what ``python -m tfgen.train`` runs and what tests
call: it loads the dataset the config names, builds the registered model,
restores the workdir's last checkpoint if there is one, trains with
``model.fit``, checkpoints the trained model and hands it to the one
evaluation (``tfgen.evaluation.evaluate``, which ``python -m tfgen.evaluate``
runs on the same checkpoint later), then draws the pictures the model's
declarations call for (``tfgen.plots.write_model_plots``). The workdir gets
``config.json`` and ``run.json`` (what ``tfgen.evaluate`` needs to rebuild
the run), checkpoints, TensorBoard logs, ``metrics.json``,
``evaluation.json`` and the pictures. Families that need more than one
optimizer step per batch do it inside their ``train_step``.
"""

import contextlib
import dataclasses
import json
import pathlib
import shutil
import time
import zlib

import keras

from tfgen import callbacks as callbacks_lib
from tfgen import checkpoints
from tfgen import config as config_lib
from tfgen import data
from tfgen import distribute
from tfgen import errors
from tfgen import evaluation
from tfgen import plots


class TrainingDiverged(RuntimeError):
    """A metric became NaN or infinite; the last good checkpoint was kept."""


def _eval_preprocessing(preprocessing):
    # Evaluation must see the same binary images every time.
    return "binarize_static" if preprocessing == "binarize_dynamic" else preprocessing


def load_datasets(config, *, data_dir=None, manual_dir=None):
    """Loads the train, validation and test splits the config names.

    Returns:
        ``(info, splits)`` where ``splits`` maps split names to unbatched
        datasets of ``{"image", "label"}``; validation and test are binarized
        once (statically) when training binarizes dynamically, and
        ``train_for_evaluation`` is the training split preprocessed as they
        are.
    """
    info = data.get_info(config.dataset, data_dir=data_dir,
                         manual_dir=manual_dir)
    splits = {}
    for split in ("train", "validation", "test"):
        preprocessing = (config.preprocessing if split == "train" else
                         _eval_preprocessing(config.preprocessing))
        splits[split] = data.load(config.dataset, split,
                                  preprocessing=preprocessing, seed=config.seed,
                                  data_dir=data_dir, manual_dir=manual_dir)
    splits["train_for_evaluation"] = data.load(
        config.dataset, "train",
        preprocessing=_eval_preprocessing(config.preprocessing),
        seed=config.seed, data_dir=data_dir, manual_dir=manual_dir)
    return info, splits


# Beside config.json: the registered model's name and where its data were
# read from, so that the run can be rebuilt without the command line.
RUN_FILE = "run.json"
CONFIG_FILE = "config.json"


def _check_resumable(workdir, config, model_name):
    """Refuses to resume a workdir trained with another model or config.

    A field missing from the saved ``config.json`` was added to the model's
    config after the run was written; it takes its value now, with a
    line on stdout naming it. Any other difference but ``epochs`` is refused.
    """
    run_path = pathlib.Path(workdir) / RUN_FILE
    if run_path.exists():
        saved_name = json.loads(run_path.read_text()).get("model")
        if saved_name != model_name:
            raise errors.UsageError(
                f"workdir {workdir} holds a run of the model {saved_name!r}, "
                f"not {model_name!r}; use another --workdir")
    path = pathlib.Path(workdir) / CONFIG_FILE
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    current = json.loads(config_lib.to_json(config))
    added = sorted(set(current) - set(saved))
    if added:
        print(f"{path} was written before the config had "
              f"{', '.join(added)}; resuming with "
              + ", ".join(f"{key}={current[key]!r}" for key in added))
    differing = sorted(key for key in set(saved) | set(current)
                       if key not in ("epochs", *added)
                       and saved.get(key) != current.get(key))
    if differing:
        key = differing[0]
        raise errors.UsageError(
            f"workdir {workdir} holds a run with a different config "
            f"({key}: {saved.get(key)!r} there, {current.get(key)!r} now); "
            "use another --workdir")


def write_results(workdir, results):
    """Writes ``results`` to ``<workdir>/metrics.json`` (atomically)."""
    evaluation.write_json_atomically(
        pathlib.Path(workdir) / evaluation.METRICS_FILE, results)


def read_run(workdir):
    """What ``execute`` recorded of a workdir's run, or None.

    Returns:
        ``{"model": registered name, "data_dir": ..., "manual_dir": ...}``
        (the folders absolute, or None), read from ``run.json``.
    """
    path = pathlib.Path(workdir) / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _absolute(folder):
    return None if folder is None else str(pathlib.Path(folder).resolve())


def build_model(spec, config, info, strategy=None):
    """Builds, compiles and creates every variable of a registered model
    (in ``strategy``'s scope, if given)."""
    keras.utils.set_random_seed(config.seed)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = spec.build(config, info)
        model.compile_for_training()
    return model


@dataclasses.dataclass
class PreparedRun:
    """A run whose inputs are all checked and loaded; nothing written yet."""

    spec: object
    config: object
    info: data.DataInfo
    splits: dict
    model: keras.Model
    workdir: pathlib.Path
    data_dir: str = None
    manual_dir: str = None
    # epoch -> the training split with that epoch's draws
    # (``data.load_by_epoch``); None: ``splits["train"]`` every epoch.
    train_by_epoch: object = None
    # The tf.distribute strategy the model was built in (None: default).
    strategy: object = None


def prepare(spec, config, workdir, *, data_dir=None, manual_dir=None,
            strategy=None):
    """Checks and loads everything a run needs, writing nothing in ``workdir``.

    Everything that can be wrong with a user's request fails here (bad config,
    dataset, folder, or a workdir trained with another config), before the
    workdir is created, so a failed command leaves nothing behind.

    Args:
        spec: the model's ``registry.ModelSpec``.
        config: its locked config (overrides applied).
        workdir: folder for checkpoints, logs, metrics and plots.
        data_dir: TFDS folder of prepared datasets (TFDS's default if None).
        manual_dir: folder of the standard dataset files for offline use.
        strategy: a ``tf.distribute.Strategy`` to train under
            (``tfgen.distribute.get_strategy``); None: the default.

    Returns:
        A ``PreparedRun`` for ``execute``.

    Raises:
        UsageError: bad config, dataset or folder, an incompatible workdir,
            or a model that cannot train on the strategy's replicas.
    """
    config_lib.validate(config)
    # Before the data pipeline: its random ops mix in the global seed.
    keras.utils.set_random_seed(config.seed)
    cluster = distribute.cluster_of(strategy)
    # What every task of a cluster must train: the same model and config.
    fingerprint = zlib.crc32(json.dumps(
        {"model": spec.name, "config": json.loads(config_lib.to_json(config))},
        sort_keys=True).encode())
    if cluster is not None and not cluster.is_chief:
        # The chief prepares the dataset first: two processes preparing it
        # in one data_dir at once would clash.
        if distribute.from_chief(strategy, 0) != fingerprint:
            raise errors.UsageError(
                f"{cluster.name} was started with another model or config "
                "than the chief; start every task of the cluster with the "
                "same flags")
    info, splits = load_datasets(config, data_dir=data_dir,
                                 manual_dir=manual_dir)
    train_by_epoch = data.load_by_epoch(
        config.dataset, "train", preprocessing=config.preprocessing,
        seed=config.seed, data_dir=data_dir, manual_dir=manual_dir)
    if cluster is not None and cluster.is_chief:
        distribute.from_chief(strategy, fingerprint)
    model = build_model(spec, config, info, strategy)
    replicas = strategy.num_replicas_in_sync if strategy else 1
    problem = model.distribution_problem() if replicas > 1 else None
    if problem:
        raise errors.UsageError(
            f"{spec.name} cannot train on {replicas} replicas: {problem}")
    workdir = pathlib.Path(workdir)
    _check_resumable(workdir, config, spec.name)
    return PreparedRun(spec, config, info, splits, model, workdir,
                       data_dir=_absolute(data_dir),
                       manual_dir=_absolute(manual_dir),
                       train_by_epoch=train_by_epoch, strategy=strategy)


def execute(run, *, verbose=1):
    """Trains a prepared run with ``model.fit``, then evaluates it.

    A workdir holding a checkpoint of the same config is resumed. After
    training (and ``model.after_training``) the model is checkpointed
    once more, so the last checkpoint holds exactly the model evaluated
    here, which ``tfgen.evaluate`` restores.

    In a multi-worker run (``tfgen.distribute``) every task trains; the
    chief alone writes the workdir, and evaluates a single-device copy of
    the model restored from the final checkpoint. The other tasks resume
    from the checkpoint the chief resumed from, write what they must
    (their part of each save, logs) in ``<workdir>/workers/<task>/``,
    remove it when training ends, and return no results.

    Args:
        run: a ``PreparedRun`` from ``prepare``.
        verbose: Keras verbosity (1: progress bar).

    Returns:
        ``(model, results)``: the trained model and the dict written to
        ``metrics.json`` (None for a task other than the chief).

    Raises:
        TrainingDiverged: a metric became NaN or infinite.
        UsageError: another run holds the workdir (``checkpoints.
            workdir_lock``).
        CheckpointError: a checkpoint could not be written, or none of
            the workdir's can be read.
    """
    cluster = distribute.cluster_of(run.strategy)
    if cluster is not None and not cluster.is_chief:
        scratch = run.workdir / WORKERS_DIR / cluster.name
        try:
            with checkpoints.workdir_lock(scratch):
                model, _ = _train(run, scratch, verbose=verbose)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            with contextlib.suppress(OSError):
                (run.workdir / WORKERS_DIR).rmdir()
        return model, None
    with checkpoints.workdir_lock(run.workdir):
        model, trained = _train(run, run.workdir, verbose=verbose)
        if cluster is not None:
            # Keras's evaluate is a collective under the strategy, which
            # the other tasks have left.
            model = _restored_copy(run)
        return model, _evaluate(run, model, trained)


# Where the tasks of a multi-worker run other than the chief write, inside
# the workdir (see ``execute``).
WORKERS_DIR = "workers"


@dataclasses.dataclass
class _Trained:
    checkpoint: checkpoints.TrainingCheckpoint
    epochs_done: int
    history: dict
    train_seconds: float


def _train(run, output, *, verbose):
    """Trains ``run`` under its strategy, writing in ``output``.

    Returns:
        ``(model, _Trained)``.
    """
    spec, config, info, splits, model = (
        run.spec, run.config, run.info, run.splits, run.model)
    cluster = distribute.cluster_of(run.strategy)
    chief = cluster is None or cluster.is_chief
    batch_size = config.batch_size
    train_by_epoch = run.train_by_epoch or (lambda epoch: splits["train"])

    def train_epochs(epochs):
        # Each epoch's shuffle and draws are keyed on its number, so a run
        # resumed in a new process trains on the batches an uninterrupted
        # one would have.
        return data.shuffled_epochs(
            train_by_epoch, size=info.split_sizes["train"], seed=config.seed,
            batch_size=batch_size, epochs=epochs)

    with (run.strategy.scope() if run.strategy
          else contextlib.nullcontext()):
        # What adapt and after_training read: epoch 0's batches.
        train_batches = train_epochs(range(1))
        validation_batches = data.split_by_batch(
            splits["validation"].batch(batch_size).cache())
        model.build_for_training()

        output.mkdir(parents=True, exist_ok=True)
        evaluation.write_json_atomically(
            output / CONFIG_FILE, json.loads(config_lib.to_json(config)))
        evaluation.write_json_atomically(output / RUN_FILE, {
            "model": spec.name, "data_dir": run.data_dir,
            "manual_dir": run.manual_dir})
        model.adapt(train_batches)
        if chief:
            checkpoint = checkpoints.TrainingCheckpoint(
                model, output / "checkpoints")
            initial_epoch = checkpoint.restore()
        else:
            checkpoint = checkpoints.TrainingCheckpoint(
                model, run.workdir / "checkpoints",
                scratch=output / "checkpoints")
        # Every task resumes where the chief did, once the chief has.
        epoch = distribute.from_chief(run.strategy, initial_epoch if chief
                                      else 0)
        if not chief:
            initial_epoch = checkpoint.restore_epoch(epoch)
        if initial_epoch and verbose:
            print(f"Resuming from {checkpoint.latest} "
                  f"({initial_epoch} epochs done).")

        guard = callbacks_lib.NonFiniteGuard()
        fit_callbacks = [
            guard,
            callbacks_lib.EpochCheckpoint(checkpoint, guard),
            keras.callbacks.TensorBoard(log_dir=str(output / "logs")),
        ]
        if "sample" in model.capabilities and info.is_image:
            fit_callbacks.append(callbacks_lib.SampleGridSummary(
                output / "logs" / "samples", config.num_grid_samples,
                every_epochs=config.sample_every_epochs,
                last_epoch=sum(int(e) for _, e in model.training_stages())))
        start = time.time()
        history = _fit_stages(
            model, train_epochs, validation_batches, initial_epoch,
            fit_callbacks, guard, verbose,
            steps_per_epoch=data.num_batches(info.split_sizes["train"],
                                             batch_size))
        train_seconds = time.time() - start
        if guard.failure is not None:
            raise TrainingDiverged(
                f"training stopped: {guard.failure}; the last good "
                "checkpoint is "
                f"{checkpoint.latest or '(none: no epoch completed)'}")
        model.after_training(train_batches)
        epochs_done = int(checkpoint.epoch.numpy())
        checkpoint.save(epochs_done, finished=True)
    return model, _Trained(checkpoint, epochs_done, history, train_seconds)


def _restored_copy(run):
    """A single-device copy of ``run``'s model, restored from the
    workdir's last checkpoint."""
    model = build_model(run.spec, run.config, run.info)
    model.build_for_training()
    checkpoints.TrainingCheckpoint(model, run.workdir / "checkpoints").restore()
    return model


def _evaluate(run, model, trained):
    """Evaluates the trained model; writes the results and pictures."""
    spec, config, splits, workdir = (run.spec, run.config, run.splits,
                                     run.workdir)
    evaluated = evaluation.evaluate(model, splits, data_dir=run.data_dir,
                                    manual_dir=run.manual_dir)
    results = {
        "model": spec.name,
        "dataset": config.dataset,
        "epochs": sum(int(e) for _, e in model.training_stages()),
        "train_seconds": round(trained.train_seconds, 2),
        "history": trained.history,
        **evaluated,
        "plots": plots.write_model_plots(
            model, workdir, splits["test"],
            num_samples=config.num_grid_samples, name=spec.name),
    }
    write_results(workdir, results)
    evaluation.record_evaluation(workdir, evaluated, model=spec.name,
                                 checkpoint=trained.checkpoint.latest,
                                 epochs=trained.epochs_done)
    return results


def _fit_stages(model, train_epochs, validation_batches, initial_epoch,
                callbacks, guard, verbose, *, steps_per_epoch):
    """Runs each training stage not yet done with ``model.fit``.

    Epochs are numbered across stages, so a run resumed from a checkpoint
    continues inside the stage where it stopped.

    Args:
        train_epochs: ``range of epoch numbers -> dataset`` of those
            epochs' batches (``tfgen.data.shuffled_epochs``), read by one
            iterator across a stage's epochs.
        steps_per_epoch: batches in each epoch.

    Returns:
        ``{metric: [value per epoch run]}`` over all stages run.
    """
    stages = model.training_stages()
    history, stage_start = {}, 0
    for name, epochs in stages:
        stage_end = stage_start + int(epochs)
        if stage_end > initial_epoch and guard.failure is None:
            first = max(stage_start, initial_epoch)
            if verbose and len(stages) > 1:
                print(f"Stage {name!r}: epochs {first + 1} to {stage_end}.")
            model.begin_stage(name)
            # What train_step does may change with the stage: trace anew.
            model.train_function = None
            model.test_function = None
            stage_history = model.fit(
                train_epochs(range(first, stage_end)),
                validation_data=validation_batches, epochs=stage_end,
                initial_epoch=first, steps_per_epoch=steps_per_epoch,
                callbacks=callbacks, verbose=verbose,
                shuffle=False)  # The pipeline shuffles.
            for key, values in stage_history.history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
        stage_start = stage_end
    return history


def train_and_evaluate(spec, config, workdir, *, data_dir=None,
                       manual_dir=None, verbose=1):
    """``prepare`` then ``execute``: one training run, start to end.

    Args and Raises are those of ``prepare`` and ``execute``.

    Returns:
        ``(model, results)`` as ``execute``.
    """
    run = prepare(spec, config, workdir, data_dir=data_dir,
                  manual_dir=manual_dir)
    return execute(run, verbose=verbose)
