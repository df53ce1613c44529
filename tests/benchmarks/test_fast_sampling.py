"""The fast-sampling benchmark, in seconds: tiny configs at 8x8.

One run writes its JSON, its table and its results file; the file is
rebuilt from the printed JSON by ``--from_output``.
"""

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
from tfgen import results
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
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fast_sampling")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fast_sampling",
         "--variant=tiny", "--sizes=8x8", "--num_images=2",
         "--models=fvbn,pixelcnn", f"--results={folder / 'results.json'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"stdout": result.stdout, "folder": folder}


def test_prints_json_and_a_table_of_the_same_numbers(run):
    lines = run["stdout"].strip().splitlines()
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


def test_results_file_holds_the_ratios_and_the_run(run):
    document = json.loads(run["stdout"].splitlines()[0])
    written = results.read(run["folder"] / "results.json")
    assert written["raw"] == document
    assert written["provenance"]["command"] == document["command"]
    assert written["provenance"]["command"].startswith(
        "python -m benchmarks.fast_sampling --variant=tiny")
    assert len(written["provenance"]["commit"] or "0" * 40) == 40
    table = written["tables"]["ratios"]
    assert table["columns"] == ["model", "8x8: full pass / fast"]
    assert table["rows"] == [[f"`{row['model']}`", row["ratio"]]
                             for row in document["rows"]]
    # --from_output's path: the printed document alone gives the same file.
    (run["folder"] / "out.json").write_text(run["stdout"])
    again = results.read_output(run["folder"] / "out.json", "fast_sampling",
                                required=("rows",))
    results.write_measured(run["folder"] / "again.json",
                           fast_sampling.results_tables(again), again)
    assert results.read(run["folder"] / "again.json") == written
    (run["folder"] / "other.json").write_text('{"benchmark": "other"}')
    with pytest.raises(results.ResultsError, match="not a fast_sampling"):
        results.read_output(run["folder"] / "other.json", "fast_sampling")


def test_the_table_has_the_readmes_columns_one_row_per_model():
    row = {"num_images": 4, "repeats": 2, "same_images": True}
    document = {"variant": None, "weights": "untrained (initial)", "rows": [
        dict(row, model="fvbn", size="8x8", ratio=2.44),
        dict(row, model="pixelcnn", size="8x8", ratio=6.9),
        dict(row, model="fvbn", size="28x28", ratio=24.66),
        dict(row, model="pixelcnn", size="28x28", ratio=13.5,
             same_images=False)]}
    lines = results.render_table(
        fast_sampling.results_tables(document)["ratios"]).splitlines()
    assert lines[0] in (REPO / "README.md").read_text()
    assert lines[0] == ("| model | 8x8: full pass / fast "
                        "| 28x28: full pass / fast |")
    assert lines[2:] == ["| `fvbn` | 2.4 | 24.7 |",
                         "| `pixelcnn` | 6.9 | 13.5 (different images) |"]


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
