"""The leaderboard: one table of every family's numbers, reused runs, failures.

One leaderboard of three tiny runs on ``digits`` is built once for the
module: ``pca`` (reconstructs), ``wgan`` (samples) and ``lsgan``, whose
build is made to raise. Its files must hold the runs' own numbers, the
failure must sit in its row while the others are reported, and a second
call must reuse the finished workdirs without training. The markdown's
parts that a tiny run cannot reach (AIS estimates, Parzen and Fréchet
numbers, the published MNIST numbers) are checked on tables written by
hand in ``test_leaderboard_tables.py``.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from tfgen import config as config_lib
from tfgen import errors
from tfgen import leaderboard
from tfgen import leaderboard_tables
from tfgen import registry
from tfgen import results
from tfgen import training
import model_helpers

REPO = pathlib.Path(__file__).resolve().parents[2]

MODELS = ["pca", "wgan", "lsgan"]
BROKEN = "lsgan"


@pytest.fixture(scope="module")
def first(tmp_path_factory, data_dir):
    """The first leaderboard of MODELS, ``lsgan``'s build raising."""
    root = tmp_path_factory.mktemp("leaderboard")
    kwargs = dict(variant="tiny", workdir_base=root / "runs",
                  output_dir=root / "out", data_dir=data_dir, verbose=0)
    with pytest.MonkeyPatch.context() as patch:
        model_helpers.failing_builds(patch, BROKEN,
                                     "weights out of stock\nsecond line")
        table = leaderboard.run(MODELS, **kwargs)
    return table, kwargs


def _rows(table):
    return {row["model"]: row for row in table["rows"]}


def _metrics(row):
    return json.loads((pathlib.Path(row["workdir"]) / "metrics.json")
                      .read_text())


def _md_line(output_dir, model):
    text = (pathlib.Path(output_dir) / "leaderboard.md").read_text()
    lines = [line for line in text.splitlines()
             if line.startswith("| ") and f"`{model}`" in line]
    assert len(lines) == 1, lines
    return [cell.strip() for cell in lines[0].strip("|").split(" | ")]


def test_files_are_written_with_every_model(first):
    table, kwargs = first
    out = kwargs["output_dir"]
    document = results.read(out / "leaderboard.json")
    written = document["raw"]
    assert written["rows"] == table["rows"]
    assert results.provenance_of(written) == document["provenance"]
    # The README renders the file's table: the markdown's, line for line.
    markdown_lines = (out / "leaderboard.md").read_text().splitlines()
    rendered = results.render_lines(document["tables"]["leaderboard"])
    start = markdown_lines.index(rendered[0])
    rows = markdown_lines[start + 2:start + len(rendered)]
    assert rows == rendered[2:]  # The separators' dashes differ.
    # A table per family: its rows, the columns it fills.
    adversarial = document["tables"]["adversarial"]
    assert [row[0] for row in adversarial["rows"]] == ["`lsgan`", "`wgan`"]
    # Tiny configs measure no sample quality: those columns are dropped.
    assert adversarial["columns"] == ["model", "pixels", "weights", "epochs",
                                      "train s", "sample ms/image", "status"]
    autoencoders = document["tables"]["autoencoders"]
    assert autoencoders["rows"] == [[
        cell for column, cell in zip(
            leaderboard_tables.COLUMNS, leaderboard_tables.cells(written["rows"][2]))
        if column in autoencoders["columns"]]]
    assert "recon. error" in autoencoders["columns"]
    assert "sample ms/image" not in autoencoders["columns"]
    assert [row["model"] for row in written["rows"]] == ["lsgan", "wgan",
                                                         "pca"]
    for key in ("command", "commit", "cpu_count", "date", "budget",
                "wall_seconds"):
        assert written[key] is not None, key
    assert written["budget"] == "each model's default epochs, tiny configs"
    assert (out / "leaderboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written["figure"] == str(out / "leaderboard.png")
    markdown = (out / "leaderboard.md").read_text()
    assert "not comparable to the discrete NLLs" in markdown
    assert "AIS numbers are estimates" in markdown
    assert "Published binarized-MNIST" not in markdown  # Not on digits.


def test_the_models_table_says_each_runs_result(first):
    table, kwargs = first
    document = results.read(kwargs["output_dir"] / "leaderboard.json")
    models = {row[0]: row for row in document["tables"]["models"]["rows"]}
    assert list(models) == ["`lsgan`", "`wgan`", "`pca`"]
    pca = _rows(table)["pca"]
    assert models["`pca`"] == [
        "`pca`", "autoencoders", "encode, decode, reconstruct",
        registry.get("pca").paper,
        f"squared error {pca['test_squared_error']:.3f} per test image"]
    assert models["`lsgan`"][-1] == (
        "failed: RuntimeError: weights out of stock")


def test_a_finished_leaderboard_is_rendered_again_without_training(
        first, tmp_path, monkeypatch):
    table, kwargs = first
    source = kwargs["output_dir"] / "leaderboard.json"
    before = results.read(source)

    def no_measuring(*args, **kwargs):
        raise AssertionError("--from_output measured a model")

    monkeypatch.setattr(leaderboard, "measure", no_measuring)
    again = leaderboard.render_again(source, tmp_path / "again")
    after = results.read(tmp_path / "again" / "leaderboard.json")
    # The run's rows and provenance, not this call's.
    assert after["raw"]["rows"] == before["raw"]["rows"] == again["rows"]
    assert after["provenance"] == before["provenance"]
    assert after["tables"] == before["tables"]
    assert (tmp_path / "again" / "leaderboard.md").read_text() == (
        kwargs["output_dir"] / "leaderboard.md").read_text()
    assert (tmp_path / "again" / "leaderboard.png").read_bytes() == (
        kwargs["output_dir"] / "leaderboard.png").read_bytes()
    # A results file of another command is refused by name.
    other = tmp_path / "other.json"
    results.write(other, {"t": results.table(["a"], [[1]])}, raw={"x": 1},
                  command="c")
    with pytest.raises(errors.UsageError, match="not a leaderboard"):
        leaderboard.render_again(other)
    with pytest.raises(errors.UsageError, match="no such results file"):
        leaderboard.render_again(tmp_path / "missing.json")


def test_from_output_refuses_the_flags_of_a_new_run(first, tmp_path):
    table, kwargs = first
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "tfgen.leaderboard",
         f"--from_output={kwargs['output_dir'] / 'leaderboard.json'}",
         "--models=vae", f"--output_dir={tmp_path / 'out'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "--from_output renders a finished run; --models asks for a " \
           "new one" in result.stderr
    assert not (tmp_path / "out").exists()


def test_markdown_and_json_hold_the_runs_numbers(first):
    table, kwargs = first
    rows = _rows(table)
    columns = list(leaderboard_tables.COLUMNS)
    pca, sampler = rows["pca"], rows["wgan"]
    for row in (pca, sampler):
        metrics = _metrics(row)
        assert row["status"] == "trained"
        assert row["train_seconds"] == metrics["train_seconds"]
        cells = _md_line(kwargs["output_dir"], row["model"])
        assert cells[columns.index("train s")] == (
            f"{metrics['train_seconds']:.1f}")
        assert cells[columns.index("epochs")] == str(metrics["epochs"])
    pca_cells = _md_line(kwargs["output_dir"], "pca")
    assert pca["test_squared_error"] == _metrics(pca)["test_squared_error"]
    assert pca_cells[columns.index("recon. error")] == (
        f"{_metrics(pca)['test_squared_error']:.3f}")
    # Tiny PCA: 3 components of 64 pixels are its trainable weights.
    assert pca["num_parameters"] == 3 * 64
    assert pca_cells[columns.index("sample ms/image")] == "—"  # No sample.
    assert sampler["sample_images_timed"] == leaderboard_tables.SAMPLE_IMAGES
    assert sampler["sample_seconds_per_image"] > 0
    assert _md_line(kwargs["output_dir"], "wgan")[
        columns.index("sample ms/image")] == (
            f"{1000 * sampler['sample_seconds_per_image']:.2f}")


def test_a_failing_model_is_reported_and_the_others_go_on(first):
    table, kwargs = first
    broken = _rows(table)[BROKEN]
    assert broken["status"] == "failed"
    assert broken["error"] == "RuntimeError: weights out of stock"
    assert table["num_failed"] == 1
    assert _md_line(kwargs["output_dir"], BROKEN)[-1] == (
        "failed: RuntimeError: weights out of stock")
    assert "1 of 3 models failed." in (
        kwargs["output_dir"] / "leaderboard.md").read_text()


def test_a_second_call_reuses_the_finished_runs(first, monkeypatch):
    table, kwargs = first
    before = {row["model"]: (row["train_seconds"], sorted(
        (path.name, path.stat().st_mtime_ns) for path in
        (pathlib.Path(row["workdir"]) / "checkpoints").iterdir()))
        for row in table["rows"] if row["status"] != "failed"}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(training, "train_and_evaluate", no_training)
    again = leaderboard.run(["pca", "wgan"], **kwargs)
    after = {row["model"]: (row["train_seconds"], sorted(
        (path.name, path.stat().st_mtime_ns) for path in
        (pathlib.Path(row["workdir"]) / "checkpoints").iterdir()))
        for row in again["rows"]}
    assert [row["status"] for row in again["rows"]] == ["reused", "reused"]
    assert after == before
    assert again["num_failed"] == 0


def test_a_run_older_than_its_config_is_evaluated_again(first, tmp_path):
    table, kwargs = first
    row = _rows(table)["pca"]
    workdir = tmp_path / "digits" / "pca"
    shutil.copytree(row["workdir"], workdir)
    kwargs = {**kwargs, "workdir_base": tmp_path,
              "output_dir": tmp_path / "out"}
    saved = json.loads((workdir / training.CONFIG_FILE).read_text())
    # A finished run of more epochs than asked cannot be cut back.
    (workdir / training.CONFIG_FILE).write_text(
        json.dumps({**saved, "epochs": 5}))
    with pytest.raises(errors.UsageError, match="more than the 1 asked"):
        leaderboard.plan(["pca"], variant="tiny", workdir_base=tmp_path)
    # Written before the config had a field: evaluated, not trained, again.
    del saved["sample_every_epochs"]
    (workdir / training.CONFIG_FILE).write_text(json.dumps(saved))
    again = leaderboard.run(["pca"], **kwargs)["rows"][0]
    assert again["status"] == "evaluated again", again
    assert _metrics(again)["history"] == {}
    assert again["train_seconds"] == row["train_seconds"]
    assert _metrics(again)["train_seconds"] == row["train_seconds"]
    assert leaderboard.run(["pca"], **kwargs)["rows"][0]["status"] == "reused"


def test_the_budget_is_stated_and_pca_keeps_its_epochs():
    runs = leaderboard.plan(["pca", "vae"], epochs=7, workdir_base="absent")
    assert [run.config.epochs for run in runs] == [1, 7]
    assert leaderboard.budget_text(7, None, [run.spec for run in runs]) == (
        "config.epochs=7 for every model but pca (fitted in closed form, "
        "its own epochs), default configs")


def test_a_fraction_scales_every_models_own_epochs_and_stages():
    runs = leaderboard.plan(["pca", "vae", "dbn", "pixelcnn_pp"],
                            epochs_fraction=0.4, workdir_base="absent")
    defaults = [run.spec.get_config() for run in runs]
    assert [config.epochs for config in defaults] == [1, 200, 60, 30]
    # ceil(0.4 E), PCA's one closed-form pass kept, DBN's stages scaled.
    assert [run.config.epochs for run in runs] == [1, 80, 24, 12]
    assert defaults[2].pretrain_epochs == 20
    assert runs[2].config.pretrain_epochs == 8
    # Rounded up, never to 0 epochs.
    tiny = leaderboard.plan(["vae"], epochs_fraction=0.001,
                            workdir_base="absent")
    assert tiny[0].config.epochs == 1
    assert leaderboard.budget_text(None, None, [run.spec for run in runs],
                                   0.4) == (
        "0.4 of each model's default epochs, rounded up (pretraining stages "
        "too); pca fitted in closed form, its own epochs, default configs")
    for fraction in (0.0, -1.0, float("nan")):
        with pytest.raises(errors.UsageError, match="--epochs_fraction"):
            leaderboard.plan(["vae"], epochs_fraction=fraction)
    with pytest.raises(errors.UsageError, match="two budgets"):
        leaderboard.plan(["vae"], epochs=3, epochs_fraction=0.5)


def test_binarize_turns_gray_levels_alone_into_binary_pixels():
    names = ["pixelcnn", "vae", "gan"]
    defaults = [registry.get(name).get_config().preprocessing
                for name in names]
    assert defaults == ["levels", "binarize_dynamic", "symmetric"]
    runs = leaderboard.plan(names, binarize=True, workdir_base="absent")
    assert [run.config.preprocessing for run in runs] == [
        "binarize_dynamic", "binarize_dynamic", "symmetric"]
    assert [run.config.preprocessing for run in leaderboard.plan(
        names, workdir_base="absent")] == defaults
    assert leaderboard.budget_text(None, None, binarize=True).endswith(
        "default configs (gray levels binarized: binarize_dynamic)")


def test_unknown_models_are_refused_by_name():
    with pytest.raises(errors.UsageError) as raised:
        leaderboard.plan(["vae", "nope", "zilch"])
    message = str(raised.value)
    assert "unknown models 'nope', 'zilch'" in message
    assert "valid models: " in message and "pixelcnn" in message


def test_a_workdir_of_another_config_is_refused(tmp_path):
    spec, config = leaderboard.train_cli.make_config("pca", variant="tiny")
    workdir = tmp_path / "digits" / "pca"
    workdir.mkdir(parents=True)
    with config.unlocked():
        config.batch_size += 1
    (workdir / training.CONFIG_FILE).write_text(config_lib.to_json(config))
    (workdir / training.RUN_FILE).write_text(json.dumps({"model": "pca"}))
    with pytest.raises(errors.UsageError, match="batch_size.*--retrain"):
        leaderboard.plan(["pca"], variant="tiny", workdir_base=tmp_path)
    leaderboard.plan(["pca"], variant="tiny", workdir_base=tmp_path,
                     retrain=True)


def test_the_command_refuses_unknown_models_in_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "tfgen.leaderboard", "--models=vae,nope"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(
        "error: --models: unknown model 'nope'; valid models:"), lines
    assert list(tmp_path.iterdir()) == []  # Nothing written.


def test_the_dbn_error_is_read_from_its_test_metrics():
    numbers = leaderboard.row_numbers({
        "test_nll": 27.5, "train_seconds": 3.0, "parzen_nll": -1.0,
        "test": {"classification_error": 0.094, "cross_entropy": 0.3}})
    assert numbers["classification_error"] == 0.094
    assert (numbers["test_nll"], numbers["parzen_nll"]) == (27.5, -1.0)
    assert numbers["frechet_distance"] is None
    no_error = leaderboard.row_numbers({"test": {}})
    assert no_error["classification_error"] is None


def test_count_parameters_sums_the_trainable_weights():
    class Variable:
        def __init__(self, *shape):
            self.shape = shape

    class Model:
        trainable_variables = [Variable(64, 3), Variable(3), Variable()]

    assert leaderboard.count_parameters(Model()) == 64 * 3 + 3 + 1


_FAILING_RUN = """
import sys
from absl import app
from tfgen import cli, leaderboard, registry

def build(spec, config, data_info):
    raise RuntimeError("weights out of stock")

registry.ModelSpec.build = build
leaderboard._define_flags()
app.run(leaderboard.main, argv=sys.argv, flags_parser=cli.parse_flags)
"""


def test_the_command_exits_1_when_a_model_failed(tmp_path, data_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", _FAILING_RUN, "--models=pca",
         "--config_variant=tiny", f"--data_dir={data_dir}",
         f"--workdir_base={tmp_path / 'runs'}",
         f"--output_dir={tmp_path / 'out'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    # The files are written all the same, the failure in its row.
    document = results.read(tmp_path / "out" / "leaderboard.json")
    assert document["raw"]["num_failed"] == 1
    assert document["raw"]["rows"][0]["error"] == (
        "RuntimeError: weights out of stock")
