"""The fast-sampling benchmark, in seconds: tiny configs at 8x8."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf

from benchmarks import fast_sampling
from tfgen import errors
from tfgen import registry
from zoo.autoregressive import base

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_models_with_a_fast_sampler_are_found_in_the_registry():
    names = fast_sampling.fast_sampler_names()
    assert {"fvbn", "pixelcnn"} <= set(names)
    for spec in registry.specs():
        # A class between the model's and the base that defines the hook.
        overrides = spec.family == "autoregressive" and any(
            "fast_sampler_logits" in vars(cls)
            for cls in spec.model_class.__mro__
            if cls is not base.AutoregressiveModel
            and issubclass(cls, base.AutoregressiveModel))
        assert (spec.name in names) == overrides, spec.name
    assert names == sorted(names)


def test_naive_sampler_runs_full_passes_and_leaves_the_model_as_it_was():
    model = fast_sampling.build("pixelcnn", "8x8", "tiny")
    calls = []
    logits = model.logits
    object.__setattr__(model, "logits",
                       lambda inputs: calls.append(1) or logits(inputs))
    shape = (1,) + model.image_shape
    arguments = (tf.zeros(shape, tf.int32), tf.zeros(shape, tf.bool),
                 tf.zeros([1], tf.int64))
    fast_sampling.compiled_draw(model, True)(*arguments)
    assert not calls
    fast_sampling.compiled_draw(model, False)(*arguments)
    assert calls
    assert model.fast_sampling  # the switch was restored


@pytest.fixture(scope="module")
def run():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fast_sampling",
         "--variant=tiny", "--sizes=8x8", "--num_images=2",
         "--models=fvbn,pixelcnn"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_prints_json_and_a_table_of_the_same_numbers(run):
    lines = run.strip().splitlines()
    table = json.loads(lines[0])
    assert table["benchmark"] == "fast_sampling"
    rows = table["rows"]
    assert [row["model"] for row in rows] == ["fvbn", "pixelcnn"]
    for row in rows:
        assert row["image_shape"] == [8, 8, 1] and row["num_levels"] == 17
        assert row["same_images"] is True
        assert row["fast_seconds_per_image"] > 0
        assert row["ratio"] == pytest.approx(
            row["naive_seconds_per_image"] / row["fast_seconds_per_image"])
        line = next(line for line in lines
                    if line.startswith(f"| `{row['model']}` |"))
        cells = [cell.strip() for cell in line.split("|")]
        assert float(cells[7]) == pytest.approx(row["ratio"], abs=0.05)
        assert cells[8] == "yes"


def test_bad_flags_name_themselves():
    available = ["fvbn", "pixelcnn"]
    assert fast_sampling.check_flags(None, ["8x8"], available) == available
    assert fast_sampling.check_flags(["pixelcnn"], [], available) == [
        "pixelcnn"]
    with pytest.raises(errors.UsageError,
                       match="--models: 'vae' has no fast sampler"):
        fast_sampling.check_flags(["vae"], ["8x8"], available)
    with pytest.raises(errors.UsageError,
                       match="--sizes: '9x9' is not one of 8x8, 28x28"):
        fast_sampling.check_flags(None, ["9x9"], available)


def test_a_bad_flag_is_one_line_and_exit_2():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fast_sampling", "--models=vae"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "--models: 'vae' has no fast sampler" in lines[0]
