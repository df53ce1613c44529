"""The README's tables of single runs: every command valid, every cell the
run's own number, finished runs reused, a failure kept in its row."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from benchmarks import train_runs
from tfgen import errors
from tfgen import results
from tfgen import training
import model_helpers

REPO = pathlib.Path(__file__).resolve().parents[2]

TABLE = train_runs.Table(
    runs=(train_runs.Run("vae", seed=3),
          train_runs.Run("rbm", overrides=(("training", "pcd"),),
                         note="persistent CD"),
          train_runs.Run("dbn", seed=1)),
    columns=(train_runs.TRAIN_TIME, train_runs.NEGATIVE_ELBO,
             train_runs.NLL, train_runs.TEST_ERROR),
    notes="tiny runs")


@pytest.fixture(scope="module")
def measured(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("train_runs")
    # A manual folder is given, as the command gives --manual_dir to every
    # table: the digits runs must not get it (digits refuses one).
    kwargs = dict(workdir_base=root / "runs", variant="tiny",
                  data_dir=data_dir, manual_dir=str(root / "mnist-files"),
                  verbose=0)
    with pytest.MonkeyPatch.context() as patch:
        model_helpers.failing_builds(patch, "dbn", "no belief left")
        document = train_runs.measure_table("tiny", TABLE, **kwargs)
    path = train_runs.write_table("tiny", document, root / "results", TABLE)
    return document, path, kwargs


def _metrics(row):
    return json.loads((pathlib.Path(row["workdir"]) / "metrics.json")
                      .read_text())


def test_every_cell_is_the_runs_own_number(measured):
    document, path, _ = measured
    written = results.read(path)
    assert written["raw"] == document
    assert written["provenance"] == results.provenance_of(document)
    table = written["tables"]["tiny"]
    assert table["columns"] == ["command", "train time (2 CPU cores)",
                                "test negative ELBO", "test NLL (nats)",
                                "test error %"]
    vae, rbm, dbn = document["rows"]
    metrics = _metrics(vae)
    assert table["rows"][0] == [
        "`python -m tfgen.train --model=vae --seed=3`",
        metrics["train_seconds"], -metrics["test"]["elbo"],
        metrics["test_nll"], None]
    # The run is the command's: its config has the seed and the override.
    saved = json.loads((pathlib.Path(vae["workdir"]) / training.CONFIG_FILE)
                       .read_text())
    assert saved["seed"] == 3
    saved = json.loads((pathlib.Path(rbm["workdir"]) / training.CONFIG_FILE)
                       .read_text())
    assert saved["training"] == "pcd"
    assert table["rows"][1][0] == ("`python -m tfgen.train --model=rbm "
                                   "--config.training=pcd` (persistent CD)")
    assert table["rows"][1][3] == _metrics(rbm)["test_nll"]
    rendered = results.render_table(table)
    assert f"{-metrics['test']['elbo']:.2f}" in rendered
    assert f"{metrics['train_seconds']:.0f} s |" in rendered


def test_a_failing_run_is_reported_and_the_others_go_on(measured):
    document, path, _ = measured
    assert document["num_failed"] == 1
    assert document["rows"][2]["error"] == "RuntimeError: no belief left"
    row = results.read(path)["tables"]["tiny"]["rows"][2]
    assert row[1] == "failed: RuntimeError: no belief left"
    assert [row["status"] for row in document["rows"][:2]] == [
        "trained", "trained"]


def test_a_second_call_reuses_finished_runs(measured, monkeypatch):
    document, _, kwargs = measured

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(training, "train_and_evaluate", no_training)
    table = train_runs.Table(runs=TABLE.runs[:2], columns=TABLE.columns,
                             notes="")
    again = train_runs.measure_table("tiny", table, **kwargs)
    assert [row["status"] for row in again["rows"]] == ["reused", "reused"]
    assert again["rows"][0]["test_nll"] == document["rows"][0]["test_nll"]
    cells = train_runs.results_tables("tiny", again, table)["tiny"]["rows"]
    assert results.format_cell(cells[0][1]) == (
        f"{document['rows'][0]['train_seconds']:.0f} s (reused)")


def test_every_readme_command_is_a_valid_run(tmp_path):
    # Checks each run's model, dataset, epochs, seed and overrides against
    # its default config, as tfgen.train would, training nothing.
    for name, table in train_runs.TABLES.items():
        planned = train_runs.plan(table, workdir_base=tmp_path / name)
        assert len(planned) == len(table.runs)
        for run, planned_run in zip(table.runs, planned):
            if run.epochs is not None:
                assert planned_run.config.epochs == run.epochs
            for field, value in run.overrides:
                assert str(planned_run.config[field]).replace(
                    " ", "") == value.replace(" ", ""), (name, field)
        names = [run.name for run in table.runs]
        assert len(set(names)) == len(names), name  # A folder each.


def test_a_bad_override_is_refused_before_training(tmp_path):
    table = train_runs.Table(
        runs=(train_runs.Run("vae", overrides=(("nope", "1"),)),),
        columns=(), notes="")
    with pytest.raises(errors.UsageError, match="unknown config field"):
        train_runs.plan(table, workdir_base=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--tables=nope"], "--tables: unknown table 'nope'; valid tables:"),
    (["--tables=gan_mnist"], "--manual_dir: the MNIST tables read"),
    # cli.parse_flags_without_tensorflow, which the benchmarks share.
    (["stray"], "unexpected arguments: stray"),
    (["--nope=1"], "Unknown command line flag 'nope'"),
])
def test_the_command_refuses_bad_flags_in_one_line(tmp_path, args, message):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "train_runs.py"), *args,
         f"--results_dir={tmp_path / 'results'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []
