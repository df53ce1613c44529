"""The conformance suite: every registered model goes through the same checks.

A model is excused from a check only by an entry in ``EXCUSED`` that gives
the reason. The checks: it builds from its tiny config; one ``train_step``
gives finite metrics; each declared capability runs on a batch; ``sample`` is
the same for the same seed and differs for another; a checkpoint restored
into a fresh model gives identical outputs; the config round-trips through
JSON; the export, loaded in a fresh process that cannot import this project,
gives the same outputs and holds no file-I/O or Python ops.
"""

import numpy as np
import pytest
import tensorflow as tf

import serving_helpers
import tfgen  # noqa: F401
from tfgen import checkpoints
from tfgen import config as config_lib
from tfgen import registry
from tfgen import training
from tfgen.data import DataInfo
import export
import zoo  # noqa: F401

# (model name, check) -> reason. Empty: every model passes every check.
EXCUSED = {}

MODEL_NAMES = registry.names()
BATCH = 4
DATA_INFO = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                     num_classes=10,
                     split_sizes={"train": 32, "validation": 8, "test": 8})


def _skip_if_excused(name, check):
    reason = EXCUSED.get((name, check))
    if reason:
        pytest.skip(f"{name} excused from {check}: {reason}")


def _mock_images(config, rng):
    shape = (BATCH,) + DATA_INFO.image_shape
    preprocessing = config.preprocessing
    if preprocessing == "levels":
        return rng.integers(0, DATA_INFO.num_levels, size=shape).astype(np.int32)
    if preprocessing.startswith("binarize"):
        return (rng.random(shape) < 0.5).astype(np.float32)
    images = rng.random(shape).astype(np.float32)
    return images * 2 - 1 if preprocessing == "symmetric" else images


def _mock_batch(config, seed=0):
    rng = np.random.default_rng(seed)
    return {"image": tf.constant(_mock_images(config, rng)),
            "label": tf.constant(rng.integers(0, 10, size=BATCH), tf.int64)}


def _capability_request(model, capability, batch, seed=0):
    """Valid inputs of one capability, numpy, batched by BATCH."""
    rng = np.random.default_rng(seed)
    request = {}
    for name, spec_input in model.capability_inputs(capability).items():
        spec = spec_input.spec
        if name == "images":
            request[name] = np.asarray(batch["image"])
        elif spec.dtype.is_integer:
            values = np.arange(BATCH) + seed
            low, high = spec_input.minimum, spec_input.maximum
            if low is not None and high is not None:
                # Cycle through a declared range (a conditional model's
                # labels), rounded inward as the signatures round it.
                low, high = int(np.ceil(low)), int(np.floor(high))
                values = low + values % (high - low + 1)
            elif low is not None or high is not None:
                values = np.clip(values, low, high)
            request[name] = values.astype(spec.dtype.as_numpy_dtype)
        else:
            shape = [BATCH] + spec.shape.as_list()[1:]
            values = rng.standard_normal(shape)
            low = -np.inf if spec_input.minimum is None else spec_input.minimum
            high = np.inf if spec_input.maximum is None else spec_input.maximum
            request[name] = np.clip(values, low, high).astype(
                spec.dtype.as_numpy_dtype)
    return request


def _run_capabilities(model, requests):
    return {cap: {k: np.asarray(v) for k, v in
                  getattr(model, cap)(**{n: tf.constant(a) for n, a in
                                         request.items()}).items()}
            for cap, request in requests.items()}


def _built_model(name):
    spec = registry.get(name)
    config = spec.get_config("tiny")
    model = training.build_model(spec, config, DATA_INFO)
    batch = _mock_batch(config)
    model.build_for_training(batch)
    return model, config, batch


@pytest.fixture(scope="module", params=MODEL_NAMES)
def trained(request):
    """A model after one train_step, with its config, batch and requests."""
    name = request.param
    model, config, batch = _built_model(name)
    logs = model.train_step(batch)
    requests = {cap: _capability_request(model, cap, batch)
                for cap in model.capabilities}
    return name, model, config, batch, logs, requests


def test_registry_lists_models():
    assert "vae" in MODEL_NAMES
    for spec in registry.specs():
        assert spec.family in registry.FAMILIES
        assert spec.capabilities, f"{spec.name} declares no capability"


def test_train_step_gives_finite_metrics(trained):
    name, _, _, _, logs, _ = trained
    _skip_if_excused(name, "train_step")
    assert logs, f"{name}.train_step returned no metrics"
    for key, value in logs.items():
        assert np.all(np.isfinite(np.asarray(value))), (name, key, value)


def test_test_step_gives_finite_metrics(trained):
    name, model, _, batch, _, _ = trained
    _skip_if_excused(name, "test_step")
    logs = model.test_step(batch)
    assert logs
    for key, value in logs.items():
        assert np.all(np.isfinite(np.asarray(value))), (name, key, value)


def test_every_capability_runs_on_a_batch(trained):
    name, model, _, _, _, requests = trained
    _skip_if_excused(name, "capabilities")
    outputs = _run_capabilities(model, requests)
    for capability, named in outputs.items():
        assert named, f"{name}.{capability} returned no outputs"
        for key, value in named.items():
            assert value.shape[0] == BATCH, (capability, key, value.shape)
            assert np.all(np.isfinite(value)), (capability, key)


def test_sample_is_seeded(trained):
    name, model, _, _, _, _ = trained
    _skip_if_excused(name, "sample_seeded")
    if "sample" not in model.capabilities:
        pytest.skip(f"{name} has no sample capability")
    seeds = tf.constant([3, 5, 7], tf.int64)
    first = np.asarray(model.sample(seed=seeds)["images"])
    again = np.asarray(model.sample(seed=seeds)["images"])
    other = np.asarray(model.sample(seed=seeds + 100)["images"])
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other), f"{name}: seed does not matter"
    # Row i depends on seed i alone, not on the rest of the request.
    alone = np.asarray(model.sample(seed=seeds[1:2])["images"])
    np.testing.assert_array_equal(first[1:2], alone)


def test_config_round_trips(trained):
    name, _, config, _, _, _ = trained
    _skip_if_excused(name, "config_round_trip")
    default = registry.get(name).get_config()
    restored = config_lib.from_json(config_lib.to_json(config), default)
    assert restored == config
    assert restored.is_locked


def test_checkpoint_restore_gives_identical_outputs(trained, tmp_path):
    name, model, _, _, _, requests = trained
    _skip_if_excused(name, "checkpoint")
    checkpoints.TrainingCheckpoint(model, tmp_path).save(1)
    fresh, _, _ = _built_model(name)
    for variable in fresh.trainable_variables:  # Not the trained weights.
        variable.assign(variable + 0.5)
    expected = _run_capabilities(model, requests)
    before = _run_capabilities(fresh, requests)
    assert any(not np.array_equal(before[c][k], expected[c][k])
               for c in expected for k in expected[c]), "scrambling did nothing"
    assert checkpoints.TrainingCheckpoint(fresh, tmp_path).restore() == 1
    restored = _run_capabilities(fresh, requests)
    for capability in expected:
        for key in expected[capability]:
            np.testing.assert_array_equal(
                restored[capability][key], expected[capability][key],
                err_msg=f"{name}.{capability}[{key}] after restore")


def test_export_reloads_in_fresh_process_with_same_outputs(trained, tmp_path):
    name, model, _, _, _, requests = trained
    _skip_if_excused(name, "export")
    path = export.publish(model, tmp_path, name)
    assert path == tmp_path / name / "1"
    served = serving_helpers.run_all_signatures_fresh(path, requests)
    expected = _run_capabilities(model, requests)
    for capability in expected:
        for key, value in expected[capability].items():
            np.testing.assert_allclose(
                served[capability][key], value, rtol=1e-5, atol=1e-5,
                err_msg=f"{name}.{capability}[{key}] served vs in memory")
    # serving_default through saved_model_cli itself, as a user would run it.
    default = export.default_capability(model.capabilities)
    by_cli = serving_helpers.run_saved_model_cli(
        path, "serving_default", requests[default])
    for key, value in expected[default].items():
        np.testing.assert_allclose(by_cli[key], value, rtol=1e-5, atol=1e-5,
                                   err_msg=f"{name} serving_default[{key}]")
    scan = serving_helpers.scan_for_denylisted_ops(path)
    assert "does not contain" in scan, scan
