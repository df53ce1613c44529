"""The one training loop: ``model.fit`` with shared callbacks, for every model.

``train_and_evaluate`` is what ``python -m tfgen.train`` runs and what tests
call: it loads the dataset the config names, builds the registered model,
restores the workdir's last checkpoint if there is one, trains with
``model.fit``, evaluates on the test split and writes ``metrics.json``,
``samples.png`` and TensorBoard logs into the workdir. Families that need
more than one optimizer step per batch do it inside their ``train_step``.
"""

import dataclasses
import json
import os
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from tfgen import callbacks as callbacks_lib
from tfgen import checkpoints
from tfgen import config as config_lib
from tfgen import data
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


def _check_resumable(workdir, config):
    """Refuses to resume a workdir trained with a different config."""
    path = pathlib.Path(workdir) / "config.json"
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    current = json.loads(config_lib.to_json(config))
    differing = sorted(key for key in set(saved) | set(current)
                       if key != "epochs" and saved.get(key) != current.get(key))
    if differing:
        key = differing[0]
        raise errors.UsageError(
            f"workdir {workdir} holds a run with a different config "
            f"({key}: {saved.get(key)!r} there, {current.get(key)!r} now); "
            "use another --workdir")


def _write_json_atomically(path, payload):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_results(workdir, results):
    """Writes ``results`` to ``<workdir>/metrics.json`` (atomically)."""
    _write_json_atomically(pathlib.Path(workdir) / "metrics.json", results)


def build_model(spec, config, info):
    """Builds, compiles and creates every variable of a registered model."""
    keras.utils.set_random_seed(config.seed)
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


def prepare(spec, config, workdir, *, data_dir=None, manual_dir=None):
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

    Returns:
        A ``PreparedRun`` for ``execute``.

    Raises:
        UsageError: bad config, dataset or folder, or an incompatible workdir.
    """
    config_lib.validate(config)
    # Before the data pipeline: its random ops mix in the global seed.
    keras.utils.set_random_seed(config.seed)
    info, splits = load_datasets(config, data_dir=data_dir,
                                 manual_dir=manual_dir)
    model = build_model(spec, config, info)
    workdir = pathlib.Path(workdir)
    _check_resumable(workdir, config)
    return PreparedRun(spec, config, info, splits, model, workdir)


def execute(run, *, verbose=1):
    """Trains a prepared run with ``model.fit``, then evaluates it.

    A workdir holding a checkpoint of the same config is resumed.

    Args:
        run: a ``PreparedRun`` from ``prepare``.
        verbose: Keras verbosity (1: progress bar).

    Returns:
        ``(model, results)``: the trained model and the dict written to
        ``metrics.json``.

    Raises:
        TrainingDiverged: a metric became NaN or infinite.
    """
    spec, config, info, splits, model, workdir = (
        run.spec, run.config, run.info, run.splits, run.model, run.workdir)
    batch_size = config.batch_size
    train_batches = (splits["train"]
                     .shuffle(info.split_sizes["train"], seed=config.seed,
                              reshuffle_each_iteration=True)
                     .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    validation_batches = splits["validation"].batch(batch_size).cache()
    test_batches = splits["test"].batch(batch_size).cache()
    model.build_for_training()

    workdir.mkdir(parents=True, exist_ok=True)
    _write_json_atomically(workdir / "config.json",
                           json.loads(config_lib.to_json(config)))
    model.adapt(train_batches)
    checkpoint = checkpoints.TrainingCheckpoint(model, workdir / "checkpoints")
    initial_epoch = checkpoint.restore()
    if initial_epoch and verbose:
        print(f"Resuming from {checkpoint.latest} "
              f"({initial_epoch} epochs done).")

    guard = callbacks_lib.NonFiniteGuard()
    fit_callbacks = [
        guard,
        callbacks_lib.EpochCheckpoint(checkpoint, guard),
        keras.callbacks.TensorBoard(log_dir=str(workdir / "logs")),
    ]
    if "sample" in model.capabilities:
        fit_callbacks.append(callbacks_lib.SampleGridSummary(
            workdir / "logs" / "samples", config.num_grid_samples,
            every_epochs=config.sample_every_epochs,
            last_epoch=sum(int(e) for _, e in model.training_stages())))
    start = time.time()
    history = _fit_stages(model, train_batches, validation_batches,
                          initial_epoch, fit_callbacks, guard, verbose)
    train_seconds = time.time() - start
    if guard.failure is not None:
        raise TrainingDiverged(
            f"training stopped: {guard.failure}; the last good checkpoint is "
            f"{checkpoint.latest or '(none: no epoch completed)'}")
    model.after_training(train_batches)

    results = {
        "model": spec.name,
        "dataset": config.dataset,
        "epochs": sum(int(e) for _, e in model.training_stages()),
        "train_seconds": round(train_seconds, 2),
        "history": history,
        "test": {k: float(v) for k, v in model.evaluate(
            test_batches, return_dict=True, verbose=0).items()},
    }
    results.update(_likelihood_results(model, info, config, splits,
                                       test_batches))
    report = {key: float(value) for key, value in model.report().items()}
    if report:
        results["model_report"] = report
    results["plots"] = _write_plots(model, workdir, config, test_batches)
    write_results(workdir, results)
    return model, results


def _fit_stages(model, train_batches, validation_batches, initial_epoch,
                callbacks, guard, verbose):
    """Runs each training stage not yet done with ``model.fit``.

    Epochs are numbered across stages, so a run resumed from a checkpoint
    continues inside the stage where it stopped.

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
                train_batches, validation_data=validation_batches,
                epochs=stage_end, initial_epoch=first, callbacks=callbacks,
                verbose=verbose, shuffle=False)  # The pipeline shuffles.
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


def _likelihood_results(model, info, config, splits, test_batches):
    """The harness's likelihood numbers, with the input-ignoring baseline."""
    results = {}
    train_images, _ = evaluation.dataset_arrays(
        splits["train_for_evaluation"].batch(1024))
    test_images, _ = evaluation.dataset_arrays(test_batches)
    baseline = evaluation.independent_pixel_nll(
        train_images, test_images, preprocessing=config.preprocessing,
        num_levels=info.num_levels)
    if baseline is not None:
        results["baseline_independent_pixels_nll"] = baseline
    if "log_prob" in model.capabilities:
        nll = -evaluation.mean_log_prob(model, test_batches)
        results["test_nll"] = nll
        if config.preprocessing == "levels":
            results["test_bits_per_dim"] = evaluation.bits_per_dim(
                nll, info.event_size)
    return results


def _write_plots(model, workdir, config, test_batches):
    """Writes the sample grid, reconstructions and, for 2-D codes, the
    latent-space plots."""
    written = {}
    if "sample" in model.capabilities:
        arguments, columns = plots.grid_sample_arguments(
            model, config.num_grid_samples)
        title = ("samples, one class per column" if columns else "samples")
        images = np.asarray(model.sample(**arguments)["images"])
        written["samples"] = str(plots.save_image_grid(
            images, workdir / "samples.png", num_columns=columns,
            title=f"{model.name} {title}"))
    if "reconstruct" in model.capabilities:
        count = min(config.num_grid_samples, 32)
        columns = min(count, 8)
        batch = next(iter(test_batches.unbatch().batch(
            count // columns * columns)))
        reconstructions = model.reconstruct(
            **evaluation.capability_arguments(model, "reconstruct", batch))
        rows = plots.interleave_rows(
            _display_units(batch["image"], config.preprocessing,
                           model.data_info.num_levels),
            _display_units(reconstructions["images"], config.preprocessing),
            columns)
        written["reconstructions"] = str(plots.save_image_grid(
            rows, workdir / "reconstructions.png", num_columns=columns,
            title=f"{model.name}: test images (odd rows), reconstructions"))
    if "encode" in model.capabilities and model.code_size == 2:
        # What the model declares decides: a 2-D code is drawn; a prior over
        # it adds the decoder's manifold over the prior's quantiles.
        prior = model.code_prior()
        if (prior is not None and "decode" in model.capabilities
                and set(model.capability_inputs("decode")) == {"codes"}):
            written["latent_manifold"] = str(plots.plot_latent_manifold(
                lambda codes: np.asarray(model.decode(codes=codes)["images"]),
                workdir / "latent_manifold.png"))
        codes, labels = [], []
        for batch in test_batches:
            codes.append(np.asarray(model.encode(
                **evaluation.capability_arguments(model, "encode", batch))[
                    "codes"]))
            labels.append(batch["label"].numpy())
        written["latent_codes"] = str(plots.plot_latent_codes(
            np.concatenate(codes), np.concatenate(labels),
            workdir / "latent_codes.png"))
    return written


def _display_units(images, preprocessing, num_levels=None):
    """Images as [0, 1] intensities for a picture, clipped.

    Args:
        images: as the dataset gives them (``num_levels`` given: integer
            levels are divided by ``num_levels - 1``), or a capability's
            output in [0, 1] (``num_levels`` None), both in [-1, 1] for the
            ``symmetric`` preprocessing. Linear decoders may overshoot.
        preprocessing: the config's preprocessing.
        num_levels: the dataset's gray levels, for dataset images.
    """
    images = np.asarray(images, np.float32)
    if preprocessing == "levels" and num_levels is not None:
        images = images / (num_levels - 1)
    elif preprocessing == "symmetric":
        images = (images + 1.0) / 2.0
    return np.clip(images, 0.0, 1.0)
