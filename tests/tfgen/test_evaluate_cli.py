"""python -m tfgen.evaluate, end to end, in fresh processes as a user runs it.

A tiny VAE (and CVAE, whose capabilities take labels) is trained by the
command line; the evaluation of its workdir in another process must print
the very lines training printed and write the same numbers, and the
evaluation of its export, through the SavedModel's signatures, the same
likelihood and reconstruction numbers.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

# float32 sums over 360 test images, compared after a JSON round trip.
TOLERANCE = 1e-6


def _command(module, *args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd,
                          env=env, capture_output=True, text=True,
                          timeout=900)


def _number_lines(stdout):
    """The lines of printed numbers (training's progress bar left out)."""
    return [line for line in stdout.splitlines()
            if line.startswith(("test ", "baseline ", "model "))]


@pytest.fixture(scope="module", params=["vae", "cvae"])
def trained(request, tmp_path_factory, data_dir):
    """A tiny model trained by the command line, and what training wrote."""
    model = request.param
    root = tmp_path_factory.mktemp(f"evaluate_{model}")
    workdir = root / "work"
    result = _command("tfgen.train", f"--model={model}",
                      "--config_variant=tiny", "--epochs=2",
                      # A few samples: the Parzen likelihood is evaluated.
                      "--config.parzen_samples=100",
                      f"--workdir={workdir}", f"--data_dir={data_dir}",
                      cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"model": model, "root": root, "workdir": workdir,
            "stdout": result.stdout,
            "metrics": json.loads((workdir / "metrics.json").read_text())}


def _assert_same_numbers(got, expected, keys):
    for key in keys:
        if isinstance(expected[key], dict):
            assert sorted(got[key]) == sorted(expected[key]), key
            for name, value in expected[key].items():
                assert got[key][name] == pytest.approx(value,
                                                       abs=TOLERANCE), name
        elif isinstance(expected[key], float):
            assert got[key] == pytest.approx(expected[key],
                                             abs=TOLERANCE), key
        else:
            assert got[key] == expected[key], key


EVALUATED = ("num_test_examples", "test", "test_nll", "log_prob_kind",
             "log_prob_stderr", "log_prob_samples", "test_squared_error",
             "baseline_independent_pixels_nll", "parzen_nll",
             "parzen_stderr", "parzen_bandwidth", "parzen_num_samples")


def test_workdir_evaluation_in_a_fresh_process_equals_trainings(trained):
    workdir = trained["workdir"]
    # Without --data_dir: the folder training used, from run.json.
    result = _command("tfgen.evaluate", f"--workdir={workdir}",
                      cwd=trained["root"])
    assert result.returncode == 0, result.stderr[-3000:]
    printed = _number_lines(result.stdout)
    assert printed == _number_lines(trained["stdout"])
    assert any(line.startswith("test NLL: ") and "lower_bound, k=10" in line
               for line in printed), printed
    assert any(line.startswith("test squared error per example")
               for line in printed), printed

    evaluated = json.loads((workdir / "evaluation.json").read_text())
    expected = trained["metrics"]
    _assert_same_numbers(evaluated, expected, EVALUATED)
    assert evaluated["model"] == trained["model"]
    assert evaluated["epochs"] == 2
    assert evaluated["checkpoint"].endswith("ckpt-2")
    # metrics.json keeps what training wrote and gets the same numbers.
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["history"] == expected["history"]
    assert metrics["export"] == expected["export"]
    _assert_same_numbers(metrics, expected, EVALUATED)
    assert not list(workdir.glob(".*.tmp"))


def test_export_evaluation_through_the_signatures(trained, data_dir):
    export_dir = pathlib.Path(trained["metrics"]["export"])
    output = trained["root"] / "export_evaluation.json"
    before = sorted(path.relative_to(export_dir)
                    for path in export_dir.rglob("*"))
    result = _command("tfgen.evaluate", f"--export_dir={export_dir}",
                      f"--data_dir={data_dir}", f"--output={output}",
                      cwd=trained["root"])
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = json.loads(output.read_text())
    expected = trained["metrics"]
    # A SavedModel has no test_step: the other numbers, through its
    # signatures rather than the Python model (traced graphs: the sums may
    # round differently in the last float32 digits).
    assert "test" not in evaluated
    # The export's sample signature draws the Parzen window's samples.
    for key in ("test_nll", "test_squared_error", "parzen_nll"):
        assert evaluated[key] == pytest.approx(expected[key], rel=1e-5), key
    assert evaluated["parzen_bandwidth"] == expected["parzen_bandwidth"]
    _assert_same_numbers(evaluated, expected, (
        "num_test_examples", "log_prob_kind", "log_prob_stderr",
        "log_prob_samples", "baseline_independent_pixels_nll"))
    assert evaluated["model"] == trained["model"]
    assert evaluated["export_dir"] == str(export_dir.resolve())
    def labels(lines):
        return [line.partition(":")[0] for line in lines]

    assert labels(_number_lines(result.stdout)) == [
        label for label in labels(_number_lines(trained["stdout"]))
        if label in ("test NLL", "test squared error per example "
                     "(reconstruct)")
        or not label.startswith("test ")]
    # Nothing is written into the published version.
    assert sorted(path.relative_to(export_dir)
                  for path in export_dir.rglob("*")) == before


# Saves a workdir's last checkpoint again as an epoch's (not finished);
# prints the number of epochs.
_REWRITE_AS_UNFINISHED = """
import sys
from tfgen import checkpoints, evaluate
prepared = evaluate.prepare_workdir(sys.argv[1])
epochs = prepared.provenance["epochs"]
checkpoints.TrainingCheckpoint(
    prepared.model, prepared.workdir / "checkpoints").save(epochs)
print(epochs)
"""


def _bad_workdirs(root, trained_workdir):
    """Folders that are not evaluable runs, each with its expected error."""
    empty = root / "empty"
    empty.mkdir()
    no_checkpoint = root / "no_checkpoint"
    no_checkpoint.mkdir()
    for name in ("run.json", "config.json"):
        shutil.copy(trained_workdir / name, no_checkpoint / name)
    unknown = root / "unknown"
    unknown.mkdir()
    shutil.copy(trained_workdir / "config.json", unknown / "config.json")
    (unknown / "run.json").write_text(json.dumps({"model": "nope"}))
    # A run whose last checkpoint is an epoch's, as if it was stopped
    # before after_training ran.
    # In another process: tfgen.evaluate's flags would clash with
    # tfgen.train's in this one.
    unfinished = root / "unfinished"
    shutil.copytree(trained_workdir, unfinished)
    rewrite = subprocess.run(
        [sys.executable, "-c", _REWRITE_AS_UNFINISHED, str(unfinished)],
        env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
        text=True, timeout=600)
    assert rewrite.returncode == 0, rewrite.stderr[-3000:]
    epochs = int(rewrite.stdout.split()[-1])
    return [
        ([f"--workdir={unfinished}"],
         f"stopped after {epochs} epochs, before it finished; run "
         "python -m tfgen.train again"),
        ([f"--workdir={root / 'missing'}"], "does not exist"),
        ([f"--workdir={empty}"], "holds no tfgen run (no run.json)"),
        ([f"--workdir={no_checkpoint}"], "has no checkpoint in"),
        ([f"--workdir={unknown}"], "unknown model 'nope'; valid models:"),
        ([f"--export_dir={empty}"], "holds no SavedModel"),
        ([], "give one of --workdir and --export_dir"),
        ([f"--workdir={empty}", f"--export_dir={empty}"],
         "give one of --workdir and --export_dir"),
        ([f"--workdir={empty}", "--config.seed=1"], "no --config overrides"),
        ([f"--workdir={empty}", "--model=vae"], "Unknown command line flag"),
    ]


def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, trained):
    if trained["model"] != "vae":
        pytest.skip("the errors do not depend on the model: checked once")
    for args, expected in _bad_workdirs(tmp_path, trained["workdir"]):
        before = sorted(tmp_path.rglob("*"))
        result = _command("tfgen.evaluate", *args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr[-3000:])
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, (args, lines)
        assert lines[0].startswith("error: ") and expected in lines[0], (
            args, lines)
        assert sorted(tmp_path.rglob("*")) == before, args


def test_a_damaged_export_is_refused_naming_its_file(tmp_path):
    import tensorflow as tf

    from tfgen import errors
    from tfgen import evaluate

    module = tf.Module()
    module.weights = tf.Variable(tf.range(1000, dtype=tf.float32))
    tf.saved_model.save(module, str(tmp_path))
    (data,) = (tmp_path / "variables").glob("variables.data-*")
    os.truncate(data, data.stat().st_size // 2)
    with pytest.raises(errors.UsageError) as raised:
        evaluate.prepare_export(tmp_path)
    assert str(raised.value).startswith(
        f"--export_dir={tmp_path} cannot be read whole: "
        f"{tmp_path / 'variables' / 'variables'}: ")
