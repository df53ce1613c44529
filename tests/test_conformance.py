"""The conformance suite: every registered model goes through the same checks.

A model is excused from a check only by an entry in ``EXCUSED`` that gives
the reason. Each model:

- runs the real path end to end in its tiny config on the embedded
  ``digits`` dataset, through the calls the command line makes
  (``tfgen.train.prepare`` then ``tfgen.train.execute``, which is
  ``tfgen.train.run``): adapt, every training stage, after_training,
  evaluation, export; ``metrics.json`` holds finite numbers only;
- takes one finite ``train_step`` in every training stage and a finite
  ``test_step``;
- runs each declared capability on a batch (a conditional model's requests
  carry labels), with outputs ``images`` in the data's range, and
  ``reconstruct`` equal to ``decode`` of ``encode``'s codes;
- samples the same for the same seed, differently for another, and row ``i``
  of a sample depends on ``seed[i]`` alone;
- round-trips its config through JSON;
- has a checkpoint holding every variable, trainable or not, and every
  optimizer's: a fresh model whose variables are all scrambled becomes the
  trained one, variable for variable and output for output, on restore;
- has a ``log_prob`` that is a distribution: summed over every image of a
  tiny space it gives 1 (exact), at most 1 (a lower bound) or 1 within its
  stated error (an estimate);
- exports a SavedModel that runs in a fresh process that cannot import this
  project (one for the whole suite, which imports TensorFlow once), with the
  in-memory outputs, and holds no file-I/O or Python ops.
"""

import dataclasses
import itertools
import json
import math
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import serving_helpers
import tfgen  # noqa: F401
from tfgen import checkpoints
from tfgen import config as config_lib
from tfgen import registry
from tfgen import train
from tfgen import training
from tfgen.data import DataInfo
import export
import zoo  # noqa: F401

# (model name, check) -> reason. Empty: every model passes every check.
EXCUSED = {}

MODEL_NAMES = registry.names()
BATCH = 4
MOCK_INFO = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                     num_classes=10,
                     split_sizes={"train": 32, "validation": 8, "test": 8})

_BINARIZED = ("binarize_static", "binarize_dynamic")
_CONTINUOUS = ("unit", "symmetric", "identity")
# Floats of a capability's output may round just past a range's ends.
_RANGE_SLACK = 1e-6


def _skip_if_excused(name, check):
    reason = EXCUSED.get((name, check))
    if reason:
        pytest.skip(f"{name} excused from {check}: {reason}")


def _data_range(model):
    """``(low, high)`` of the data a model's ``images`` outputs live in.

    The contract (tfgen.model): intensities in [0, 1], an expected level
    divided by num_levels - 1 for integer levels; [-1, 1] for symmetric
    data; points anywhere.
    """
    preprocessing = model.config.preprocessing
    if preprocessing == "symmetric":
        return -1.0, 1.0
    if preprocessing == "identity":
        return -np.inf, np.inf
    return 0.0, 1.0


def _random_images(preprocessing, info, size, rng):
    """Random examples as the ``preprocessing`` pipeline gives them."""
    shape = (size,) + info.event_shape
    if preprocessing == "levels":
        return rng.integers(0, info.num_levels, size=shape).astype(np.int32)
    # Pixel means from 0.2 to 0.8, so a trained model is not uniform.
    means = np.linspace(0.2, 0.8, info.event_size).reshape(info.event_shape)
    if preprocessing in _BINARIZED:
        return (rng.random(shape) < means).astype(np.float32)
    images = np.clip(means + 0.2 * rng.standard_normal(shape), 0.0, 1.0)
    if preprocessing == "symmetric":
        images = 2.0 * images - 1.0
    return images.astype(np.float32)


def _random_batches(config, info, num_batches, batch_size, seed=0):
    """A batched ``tf.data.Dataset`` of random ``{"image", "label"}``."""
    rng = np.random.default_rng(seed)
    size = num_batches * batch_size
    images = _random_images(config.preprocessing, info, size, rng)
    labels = rng.integers(0, max(info.num_classes, 1), size=size)
    return tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels.astype(np.int64)}).batch(batch_size)


def _capability_request(model, capability, batch, seed=0):
    """Valid inputs of one capability, numpy, batched by BATCH.

    Data and labels come from ``batch``; seeds are distinct integers; a mask
    is a random 0/1 pattern (1: known pixel); codes and other floats are
    standard normal, clipped to a declared range; other integers cycle
    through their declared range (a conditional sample's labels).
    """
    rng = np.random.default_rng(seed)
    request = {}
    for name, spec_input in model.capability_inputs(capability).items():
        spec = spec_input.spec
        dtype = spec.dtype.as_numpy_dtype
        shape = [BATCH] + spec.shape.as_list()[1:]
        if name == "images":
            request[name] = np.asarray(batch["image"][:BATCH]).astype(dtype)
        elif name == "labels" and capability != "sample":
            request[name] = np.asarray(batch["label"][:BATCH]).astype(dtype)
        elif name == "mask":
            request[name] = (rng.random(shape) < 0.5).astype(dtype)
        elif spec.dtype.is_integer:
            values = np.arange(BATCH) + seed
            low, high = spec_input.minimum, spec_input.maximum
            if low is not None and high is not None:
                # Rounded inward, as the signatures round an integer range.
                low, high = int(np.ceil(low)), int(np.floor(high))
                values = low + values % (high - low + 1)
            elif low is not None or high is not None:
                values = np.clip(values, low, high)
            request[name] = values.astype(dtype)
        else:
            values = rng.standard_normal(shape)
            low = -np.inf if spec_input.minimum is None else spec_input.minimum
            high = np.inf if spec_input.maximum is None else spec_input.maximum
            request[name] = np.clip(values, low, high).astype(dtype)
    return request


def _run_capability(model, capability, request):
    outputs = getattr(model, capability)(
        **{name: tf.constant(value) for name, value in request.items()})
    return {key: np.asarray(value) for key, value in outputs.items()}


def _run_capabilities(model, requests):
    return {capability: _run_capability(model, capability, request)
            for capability, request in requests.items()}


def _finite_numbers(value, where="metrics"):
    """Yields ``(where, number)`` for every non-finite number in JSON data."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _finite_numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _finite_numbers(item, f"{where}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            yield where, value


# --- The real path, end to end, once per model. ----------------------------


@dataclasses.dataclass
class EndToEnd:
    """A model trained, evaluated and exported as the command line does it."""

    name: str
    run: training.PreparedRun
    results: dict
    batch: dict
    requests: dict

    @property
    def model(self):
        return self.run.model


@pytest.fixture(scope="module", params=MODEL_NAMES)
def end_to_end(request, data_dir, tmp_path_factory):
    """Each model's tiny config, run on ``digits`` as ``tfgen.train`` runs it.

    ``tfgen.train.run`` is ``prepare`` then ``execute``, the two calls the
    command line's ``main`` makes; holding the prepared run keeps the
    trained model for the checks below.
    """
    name = request.param
    workdir = tmp_path_factory.mktemp(f"run_{name}")
    prepared = train.prepare(name, variant="tiny", workdir=workdir,
                             data_dir=data_dir)
    results = train.execute(prepared, verbose=0)
    batch = next(iter(prepared.splits["test"].batch(BATCH)))
    model = prepared.model
    requests = {capability: _capability_request(model, capability, batch)
                for capability in model.capabilities}
    return EndToEnd(name, prepared, results, batch, requests)


def test_end_to_end_run_writes_finite_metrics_and_an_export(end_to_end):
    name, model, results = end_to_end.name, end_to_end.model, end_to_end.results
    _skip_if_excused(name, "end_to_end")
    workdir = end_to_end.run.workdir
    written = json.loads((workdir / "metrics.json").read_text())
    assert written == json.loads(json.dumps(results)), (
        f"{name}: metrics.json is not the run's final results")
    bad = list(_finite_numbers(written))
    assert not bad, f"{name}: non-finite numbers in metrics.json: {bad}"
    epochs = sum(int(epochs) for _, epochs in model.training_stages())
    assert written["epochs"] == epochs >= 1, name
    assert written["history"] and all(written["history"].values()), (
        f"{name}: no training history")
    assert written["test"], f"{name}: no test metrics"
    if "log_prob" in model.capabilities:
        assert "test_nll" in written, f"{name}: log_prob but no test_nll"
    for key in model.report():
        assert key in written.get("model_report", {}), (
            f"{name}: report()[{key!r}] missing from metrics.json")
    saved_model = pathlib.Path(written["export"])
    assert (saved_model / "saved_model.pb").is_file(), saved_model
    assert saved_model.parent.parent == workdir / "export"
    latest = checkpoints.TrainingCheckpoint(
        model, workdir / "checkpoints").latest
    assert latest and latest.endswith(f"-{epochs}"), (
        f"{name}: last checkpoint {latest}, expected epoch {epochs}")


def test_every_capability_runs_on_a_batch(end_to_end):
    name, model = end_to_end.name, end_to_end.model
    _skip_if_excused(name, "capabilities")
    outputs = _run_capabilities(model, end_to_end.requests)
    assert set(outputs) == set(model.capabilities)
    for capability, named in outputs.items():
        assert named, f"{name}.{capability} returned no outputs"
        for key, value in named.items():
            assert value.shape[0] == BATCH, (name, capability, key, value.shape)
            assert np.all(np.isfinite(value)), (name, capability, key)


def test_output_images_lie_in_the_data_range(end_to_end):
    name, model = end_to_end.name, end_to_end.model
    _skip_if_excused(name, "image_range")
    low, high = _data_range(model)
    requests = dict(end_to_end.requests)
    if {"encode", "decode"} <= set(model.capabilities):
        # Codes of real data besides the standard-normal ones.
        codes = _run_capability(model, "encode", requests["encode"])["codes"]
        requests["decode of encoded data"] = dict(requests["decode"],
                                                  codes=codes)
    checked = []
    for what, request in requests.items():
        capability = what.split(" ")[0]
        outputs = _run_capability(model, capability, request)
        if "images" not in outputs:
            continue
        images = outputs["images"]
        checked.append(what)
        assert images.shape[1:] == model.data_info.event_shape, (
            name, what, images.shape)
        assert images.min() >= low - _RANGE_SLACK, (
            f"{name}.{what}: images down to {images.min()}, below {low}")
        assert images.max() <= high + _RANGE_SLACK, (
            f"{name}.{what}: images up to {images.max()}, above {high}")
    if not checked:
        pytest.skip(f"{name} has no capability that outputs images")


def test_reconstruct_is_decode_of_encode(end_to_end):
    name, model = end_to_end.name, end_to_end.model
    _skip_if_excused(name, "reconstruct_is_decode_of_encode")
    if not {"encode", "decode", "reconstruct"} <= set(model.capabilities):
        pytest.skip(f"{name} lacks encode, decode or reconstruct: "
                    f"{model.capabilities}")
    requests = end_to_end.requests
    codes = _run_capability(model, "encode", requests["encode"])["codes"]
    decoded = _run_capability(model, "decode",
                              dict(requests["decode"], codes=codes))
    reconstructed = _run_capability(model, "reconstruct",
                                    requests["reconstruct"])
    # The same ops in one graph or two: float rounding may differ.
    np.testing.assert_allclose(reconstructed["images"], decoded["images"],
                               rtol=1e-5, atol=1e-6,
                               err_msg=f"{name}: reconstruct != decode(encode)")


def test_sample_is_seeded_row_by_row(end_to_end):
    name, model = end_to_end.name, end_to_end.model
    _skip_if_excused(name, "sample_seeded")
    if "sample" not in model.capabilities:
        pytest.skip(f"{name} has no sample capability")
    seeds = tf.constant([3, 5, 7], tf.int64)
    first = np.asarray(model.sample(seed=seeds)["images"])
    again = np.asarray(model.sample(seed=seeds)["images"])
    other = np.asarray(model.sample(seed=seeds + 100)["images"])
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other), f"{name}: seed does not matter"
    # Row i depends on seed i alone, not on the rest of the request. Up to
    # float32 rounding: oneDNN picks its convolution kernels by batch size,
    # so a batch of one can round differently from a batch of three (about
    # 1e-7 relative for transposed convolutions); a real dependence, such
    # as batch statistics, moves a row by far more.
    alone = np.asarray(model.sample(seed=seeds[1:2])["images"])
    np.testing.assert_allclose(first[1:2], alone, rtol=1e-5, atol=1e-6)
    if "labels" in model.capability_inputs("sample"):
        labels = tf.constant([2, 0, 1], tf.int64)
        clamped = np.asarray(model.sample(seed=seeds, labels=labels)["images"])
        alone = np.asarray(model.sample(seed=seeds[1:2],
                                        labels=labels[1:2])["images"])
        np.testing.assert_allclose(clamped[1:2], alone, rtol=1e-5, atol=1e-6)


def _training_state(model):
    """``{group: [variables]}``: every variable a resumed run needs.

    The model's own variables, trainable or not (weights, data statistics,
    log Z, persistent chains, the noise seed's state), and each optimizer's
    (step count, learning rate, slots), as Keras tracks them: what
    ``checkpoint_variables`` must cover, whatever it lists.
    """
    state = {"model": list(model.variables)}
    state.update({f"optimizer {name}": list(optimizer.variables)
                  for name, optimizer in model.optimizers.items()})
    return state


def test_checkpoint_holds_every_variable_and_restores_outputs(end_to_end,
                                                              tmp_path):
    name, model = end_to_end.name, end_to_end.model
    _skip_if_excused(name, "checkpoint")
    checkpoints.TrainingCheckpoint(model, tmp_path).save(1)
    fresh = training.build_model(end_to_end.run.spec, end_to_end.run.config,
                                 end_to_end.run.info)
    fresh.build_for_training()
    state = _training_state(fresh)
    expected_state = _training_state(model)
    assert sorted(state) == sorted(expected_state), name

    # Every variable is in a group of checkpoint_variables().
    held = {id(variable) for variables in fresh.checkpoint_variables().values()
            for variable in variables}
    for group, variables in state.items():
        missing = [variable.path for variable in variables
                   if id(variable) not in held]
        assert not missing, (f"{name}: {group} variables missing from "
                             f"checkpoint_variables(): {missing}")

    # Scrambled, so that a variable the checkpoint lacks keeps a value no
    # training run would give it.
    rng = np.random.default_rng(0)
    for variables in state.values():
        for variable in variables:
            _scramble(variable, rng)
    assert checkpoints.TrainingCheckpoint(fresh, tmp_path).restore() == 1

    for group, variables in state.items():
        expected = expected_state[group]
        assert len(variables) == len(expected), (name, group)
        for restored, original in zip(variables, expected):
            np.testing.assert_array_equal(
                np.asarray(restored), np.asarray(original),
                err_msg=f"{name}: {group} variable {original.path} after "
                        f"restore")
    expected = _run_capabilities(model, end_to_end.requests)
    restored = _run_capabilities(fresh, end_to_end.requests)
    for capability in expected:
        for key in expected[capability]:
            np.testing.assert_array_equal(
                restored[capability][key], expected[capability][key],
                err_msg=f"{name}.{capability}[{key}] after restore")


def _scramble(variable, rng):
    """Assigns values no model would hold: far from every initialisation."""
    shape = tuple(variable.shape)
    dtype = tf.as_dtype(variable.dtype)
    if dtype.is_bool:
        value = rng.random(shape) < 0.5
    elif dtype.is_integer:
        value = rng.integers(1_000, 1_000_000, size=shape)
    else:
        value = 7.0 + rng.standard_normal(shape)
    variable.assign(np.asarray(value).astype(dtype.as_numpy_dtype))


@pytest.fixture(scope="module")
def fresh_server():
    """One interpreter that cannot import the project, for every export."""
    with serving_helpers.FreshServer() as server:
        yield server


def test_export_runs_in_a_fresh_process_with_the_same_outputs(end_to_end,
                                                              fresh_server):
    name, model = end_to_end.name, end_to_end.model
    _skip_if_excused(name, "export")
    path = pathlib.Path(end_to_end.results["export"])
    requests = end_to_end.requests
    default = export.default_capability(model.capabilities)
    # serving_default through saved_model_cli itself, as a user would run it.
    served, by_cli, scan = fresh_server.check(
        path, requests, "serving_default", requests[default])
    expected = _run_capabilities(model, requests)
    for capability in expected:
        for key, value in expected[capability].items():
            np.testing.assert_allclose(
                served[capability][key], value, rtol=1e-5, atol=1e-5,
                err_msg=f"{name}.{capability}[{key}] served vs in memory")
    assert set(by_cli) == set(expected[default]), (name, sorted(by_cli))
    for key, value in expected[default].items():
        np.testing.assert_allclose(by_cli[key], value, rtol=1e-5, atol=1e-5,
                                   err_msg=f"{name} serving_default[{key}]")
    assert "does not contain the default denylisted ops" in scan, scan


# --- Checks on a fresh model, without the dataset. -------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_stage_takes_a_finite_train_step_and_test_step(name):
    _skip_if_excused(name, "train_step")
    spec = registry.get(name)
    config = spec.get_config("tiny")
    model = training.build_model(spec, config, MOCK_INFO)
    model.build_for_training()
    batches = _random_batches(config, MOCK_INFO, num_batches=2,
                              batch_size=BATCH)
    model.adapt(batches)
    batch = next(iter(batches))
    for stage, _ in model.training_stages():
        model.begin_stage(stage)
        logs = model.train_step(batch)
        assert logs, f"{name}.train_step returned no metrics in {stage}"
        for key, value in logs.items():
            assert np.all(np.isfinite(np.asarray(value))), (
                name, stage, key, value)
    logs = model.test_step(batch)
    assert logs, f"{name}.test_step returned no metrics"
    for key, value in logs.items():
        assert np.all(np.isfinite(np.asarray(value))), (name, key, value)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_round_trips(name):
    _skip_if_excused(name, "config_round_trip")
    spec = registry.get(name)
    config = spec.get_config("tiny")
    restored = config_lib.from_json(config_lib.to_json(config),
                                    spec.get_config())
    assert restored == config
    assert restored.is_locked


# --- log_prob is a distribution. -------------------------------------------

# Standard errors allowed between the sum of the probabilities and 1.
_NUM_STDERRS = 4
# float32 log-probabilities of about 10 nats carry rounding of about 1e-6
# each; summed in float64 over the space, the log of the total stays within
# 1e-5 of its exact value. 1e-4 leaves room for reduction order.
_FLOAT_TOLERANCE = 1e-4
# Models with the same weights and other seeds: the spread of their
# log_prob is the Monte-Carlo error of a stochastic bound.
_NUM_REPLICAS = 16


# Config variants whose likelihood lives on another space than the tiny
# config's: {case id: (model name, command-line overrides)}.
LOG_PROB_VARIANTS = {
    "vae-levels": ("vae", {"likelihood": "categorical",
                           "preprocessing": "levels"}),
    "gated_pixelcnn-conditional": ("gated_pixelcnn", {"conditional": "True"}),
}


def _tiny_config(name, overrides=None):
    config = registry.get(name).get_config("tiny")
    return config_lib.apply_overrides(config, overrides or {})


def _discrete_log_prob_cases():
    cases = [pytest.param(name, {}, id=name) for name in MODEL_NAMES
             if "log_prob" in registry.get(name).capabilities
             and _tiny_config(name).preprocessing not in _CONTINUOUS]
    cases += [pytest.param(name, overrides, id=case)
              for case, (name, overrides) in LOG_PROB_VARIANTS.items()
              if name in MODEL_NAMES]
    return cases


def _tiny_space(preprocessing):
    """``(info, every image of the space)`` for a discrete preprocessing.

    Binary data: every 3x3 binary image (512). Levels: every 2x2 image of
    3 gray levels (81).
    """
    if preprocessing in _BINARIZED:
        info = DataInfo(name="tiny_binary", event_shape=(3, 3, 1),
                        num_levels=2, num_classes=3,
                        split_sizes={"train": 64})
        values = (0.0, 1.0)
        dtype = np.float32
    elif preprocessing == "levels":
        info = DataInfo(name="tiny_levels", event_shape=(2, 2, 1),
                        num_levels=3, num_classes=3,
                        split_sizes={"train": 64})
        values = (0, 1, 2)
        dtype = np.int32
    else:
        raise ValueError(f"no discrete space for {preprocessing!r}")
    images = np.array(list(itertools.product(values, repeat=info.event_size)),
                      dtype).reshape((-1,) + info.event_shape)
    return info, images


def _fitted_on_random_data(spec, config, info, steps_per_stage=3):
    """A model adapted, trained a few steps per stage and finished."""
    model = training.build_model(spec, config, info)
    model.build_for_training()
    batches = _random_batches(config, info, num_batches=4, batch_size=16)
    model.adapt(batches)
    for stage, _ in model.training_stages():
        model.begin_stage(stage)
        for batch in batches.take(steps_per_stage):
            model.train_step(batch)
    model.after_training(batches)
    return model


def _replicas(spec, config, info, model):
    """``model`` and copies of its variables in models of other seeds.

    Every named stream of a copy differs, so a stochastic ``log_prob`` (an
    importance-weighted bound, say) draws other noise, while the
    distribution it describes is the same.
    """
    copies = [model]
    for replica in range(1, _NUM_REPLICAS):
        other = config_lib.from_json(config_lib.to_json(config),
                                     spec.get_config())
        with other.unlocked():
            other.seed = config.seed + 1000 * replica
        copy = spec.build(other, info)  # Needs no optimizer: not trained.
        assert len(copy.variables) == len(model.variables)
        for target, source in zip(copy.variables, model.variables):
            target.assign(source)
        copies.append(copy)
    return copies


@pytest.mark.parametrize("name,overrides", _discrete_log_prob_cases())
def test_log_prob_sums_to_one_over_a_tiny_space(name, overrides):
    """Summed over every image of a tiny space, p(x) is 1, or at most 1.

    ``log_prob_kind`` "exact": the log of the sum is 0 within 1e-4.
    "lower_bound" (below log p(x) in expectation) and "estimate" (whose
    error ``log_prob_stderr`` states): the log of the sum of
    exp(E[log_prob]) is at most ``_NUM_STDERRS`` standard errors above 0.
    E[log_prob] is the mean over models with the same weights and other
    seeds; its error is that mean's standard error, weighted as the sum
    weighs each image (counted as if fully correlated across images, the
    larger error), plus the stated error of an estimate.
    """
    _skip_if_excused(name, "log_prob_normalized")
    spec = registry.get(name)
    config = _tiny_config(name, overrides)
    info, images = _tiny_space(config.preprocessing)
    model = _fitted_on_random_data(spec, config, info)
    kind = model.log_prob_kind
    assert kind in ("exact", "lower_bound", "estimate"), (name, kind)
    inputs = model.capability_inputs("log_prob")
    labels = ([None] if "labels" not in inputs
              else list(range(info.num_classes)))
    replicas = _replicas(spec, config, info, model)
    for label in labels:
        request = {"images": tf.constant(images)}
        if label is not None:
            # p(x|y) is a distribution over x for each y.
            request["labels"] = tf.fill([len(images)], tf.constant(
                label, tf.int64))
        log_probs = np.stack([
            np.asarray(replica.log_prob(**request)["log_prob"], np.float64)
            for replica in replicas])  # (replicas, images)
        assert np.all(np.isfinite(log_probs)), (name, label)
        where = f"{name} ({kind}{'' if label is None else f', y={label}'})"
        if kind == "exact":
            totals = [np.logaddexp.reduce(row) for row in log_probs]
            np.testing.assert_allclose(
                totals, 0.0, atol=_FLOAT_TOLERANCE,
                err_msg=f"{where}: log sum p(x) over the space")
            continue
        mean = log_probs.mean(axis=0)  # (images,)
        stderr = log_probs.std(axis=0, ddof=1) / np.sqrt(len(replicas))
        total = np.logaddexp.reduce(mean)
        weights = np.exp(mean - total)  # d total / d mean
        allowed = _NUM_STDERRS * (float(weights @ stderr)
                                  + model.log_prob_stderr())
        assert total <= allowed + _FLOAT_TOLERANCE, (
            f"{where}: log sum exp(E[log_prob]) over the space is {total:.5f}"
            f", above the {allowed:.5f} its errors allow")


# --- A density over continuous values integrates to 1. ----------------------

# Models whose log_prob is a density of per-pixel standardized values
# (x - mean) / std, with the training data's mean and std, rather than of
# the pixels themselves: it omits the Jacobian -sum log std (their
# docstrings say so). Over the pixels it then integrates to prod std.
STANDARDIZED_DENSITIES = {
    "gaussian_rbm": "GaussianRBM: a log density in standardized units",
}
# Quadrature on a uniform grid of this spacing, in units of the data's
# standard deviation: for a density smooth on that scale (Gaussian units of
# unit variance) the grid sum's error is far below 1e-6.
_GRID_SPACING = 0.05
# The box is wide enough when the density on its boundary is this small
# relative to its peak: the mass outside is then negligible.
_EDGE_RATIO = 1e-12
_QUADRATURE_TOLERANCE = 1e-4


def _continuous_log_prob_models():
    return [name for name in MODEL_NAMES
            if "log_prob" in registry.get(name).capabilities
            and registry.get(name).get_config("tiny").preprocessing
            in _CONTINUOUS]


@pytest.mark.parametrize("event_shape", [(1, 1, 1), (1, 2, 1)],
                         ids=["one_pixel", "two_pixels"])
@pytest.mark.parametrize("name", _continuous_log_prob_models())
def test_log_density_integrates_to_one(name, event_shape):
    """The integral of exp(log_prob) over one or two pixels is 1.

    On a uniform grid over a box around the training data, widened until
    the density on its edges is negligible. Pixels are integrated over the
    whole real line, beyond the [0, 1] a served request may hold: the
    density's support is the line. "exact": within the quadrature's
    tolerance; an estimate: within ``_NUM_STDERRS`` of its stated error too.
    """
    _skip_if_excused(name, "log_density_normalized")
    spec = registry.get(name)
    config = spec.get_config("tiny")
    info = DataInfo(name="tiny_continuous", event_shape=event_shape,
                    num_levels=17, num_classes=3, split_sizes={"train": 64})
    model = _fitted_on_random_data(spec, config, info)
    training_images = np.concatenate([
        np.asarray(batch["image"]) for batch in _random_batches(
            config, info, num_batches=4, batch_size=16)])
    pixels = training_images.reshape(len(training_images), -1)
    center = pixels.mean(axis=0)  # (D,)
    scale = pixels.std(axis=0)  # (D,) as the model standardizes
    half_width = 8.0
    while True:
        axis = np.arange(-half_width, half_width + _GRID_SPACING / 2,
                         _GRID_SPACING)
        grid = np.stack(np.meshgrid(*[axis] * info.event_size,
                                    indexing="ij"), axis=-1).reshape(
                                        -1, info.event_size)  # (N, D)
        images = (center + scale * grid).reshape((-1,) + event_shape)
        log_density = np.asarray(model.log_prob(
            images=tf.constant(images, tf.float32))["log_prob"], np.float64)
        assert np.all(np.isfinite(log_density)), name
        on_edge = np.any(np.abs(grid) >= axis[-1] - 1e-9, axis=1)
        if (log_density[on_edge].max() - log_density.max()
                < np.log(_EDGE_RATIO) or half_width >= 64):
            break
        half_width *= 2
    # The grid sum over standardized values; over the pixels it is divided
    # by prod(scale) unless the density is of standardized values.
    log_integral = (np.logaddexp.reduce(log_density)
                    + info.event_size * np.log(_GRID_SPACING))
    if name not in STANDARDIZED_DENSITIES:
        log_integral += np.sum(np.log(scale))
    allowed = (_NUM_STDERRS * model.log_prob_stderr()
               + _QUADRATURE_TOLERANCE)
    assert abs(log_integral) <= allowed, (
        f"{name} ({model.log_prob_kind}): log of the integral of "
        f"exp(log_prob) over {info.event_size} pixel(s) is "
        f"{log_integral:.5f}, beyond the {allowed:.5f} its errors allow")
