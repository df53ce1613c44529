"""The PixelCNN++-vs-TFP benchmark runs end to end and reports consistently.

A tiny run on ``digits`` (64 training images, one epoch, 4 filters, 2
samples): one JSON document whose row's bits/dim are its nats over 64 ln 2,
whose ratios and difference are its measurements' quotients and difference,
a markdown table with both libraries, and the README's table as a results
file, rebuilt alike by ``--from_output``; with ``--norun_tfp``, a row of
ours alone and no table. The timings themselves are the benchmark's
business, never a test's.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np

from tfgen import results

REPO = pathlib.Path(__file__).resolve().parents[2]


TINY = ["--epochs=1", "--train_examples=64", "--test_examples=32",
        "--num_filters=4", "--num_components=2", "--num_samples=2"]


def _run(*flags):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.pixelcnn_pp_vs_tfp", *TINY,
         *flags], capture_output=True, text=True, timeout=600, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)))


def _document(stdout):
    documents = [json.loads(line) for line in stdout.splitlines()
                 if line.startswith("{")]
    assert len(documents) == 1
    return documents[0]


def test_tiny_run_reports_one_consistent_row(tmp_path):
    completed = _run(f"--results={tmp_path / 'results.json'}")
    assert completed.returncode == 0, completed.stderr[-3000:]
    document = _document(completed.stdout)
    assert document["benchmark"] == "pixelcnn_pp_vs_tfp"
    assert len(document["rows"]) == 1
    row = document["rows"][0]
    assert (row["dataset"], row["num_levels"], row["train_examples"],
            row["test_examples"], row["epochs"]) == ("digits", 17, 64, 32, 1)
    for library in ("tfgen", "tfp"):
        nats = row[f"{library}_test_nats"]
        # Between a perfect model and far worse than uniform levels.
        assert 0 < nats < 3 * 64 * math.log(17)
        np.testing.assert_allclose(row[f"{library}_test_bits_per_dim"],
                                   nats / (64 * math.log(2)))
        assert row[f"{library}_seconds_per_epoch"] > 0
        assert row[f"{library}_sample_seconds"] > 0
    np.testing.assert_allclose(
        row["bits_per_dim_tfgen_minus_tfp"],
        row["tfgen_test_bits_per_dim"] - row["tfp_test_bits_per_dim"])
    np.testing.assert_allclose(
        row["epoch_ratio_tfgen_over_tfp"],
        row["tfgen_seconds_per_epoch"] / row["tfp_seconds_per_epoch"])
    np.testing.assert_allclose(
        row["sample_ratio_tfgen_over_tfp"],
        row["tfgen_sample_seconds"] / row["tfp_sample_seconds"])
    assert row["fast_sampling"] and not row["weight_norm"]  # Defaults.
    assert "| tfgen pixelcnn_pp |" in completed.stdout
    assert "| TFP tfd.PixelCNN |" in completed.stdout

    # The results file: the README's columns, the row's numbers, the run's
    # provenance; --from_output rebuilds it from the printed document.
    written = results.read(tmp_path / "results.json")
    assert written["raw"] == document
    command = written["provenance"]["command"]
    assert command == document["command"]
    assert command.startswith("python -m benchmarks.pixelcnn_pp_vs_tfp "
                              + " ".join(TINY))
    table = written["tables"]["digits"]
    header = results.render_lines(table)[0]
    assert header == ("| command | ours: bits/dim | TFP: bits/dim "
                      "| s/epoch ratio | sampling-time ratio |")
    assert header in (REPO / "README.md").read_text().splitlines()
    (cells,) = table["rows"]
    # The command that measures the row: the run's, without --results.
    assert cells[0] == (f"`python -m benchmarks.pixelcnn_pp_vs_tfp "
                        f"{' '.join(TINY)}` (17 levels, 8x8, 2 samples)")
    assert cells[1:3] == [row["tfgen_test_bits_per_dim"],
                          row["tfp_test_bits_per_dim"]]
    # One epoch: its seconds are shown beside the ratio.
    assert cells[3]["value"] == [row["epoch_ratio_tfgen_over_tfp"],
                                 row["tfgen_seconds_per_epoch"],
                                 row["tfp_seconds_per_epoch"]]
    assert cells[4]["value"] == [row["sample_ratio_tfgen_over_tfp"],
                                 row["tfgen_sample_seconds"],
                                 row["tfp_sample_seconds"]]
    (tmp_path / "out.txt").write_text(completed.stdout)
    again = subprocess.run(
        [sys.executable, "-m", "benchmarks.pixelcnn_pp_vs_tfp",
         f"--from_output={tmp_path / 'out.txt'}",
         f"--results={tmp_path / 'again.json'}"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert again.returncode == 0, again.stderr[-3000:]
    assert results.read(tmp_path / "again.json") == written


def test_without_tfp_only_ours_is_reported():
    completed = _run("--norun_tfp", "--seed=3")
    assert completed.returncode == 0, completed.stderr[-3000:]
    (row,) = _document(completed.stdout)["rows"]
    assert row["seed"] == 3
    assert not [key for key in row if "tfp_" in key]
    nats = row["tfgen_test_nats"]
    np.testing.assert_allclose(row["tfgen_test_bits_per_dim"],
                               nats / (64 * math.log(2)))
    assert "| TFP tfd.PixelCNN |" not in completed.stdout


def test_each_row_names_the_command_that_measures_it_alone():
    # Imported in a subprocess: the benchmark's flags (--dataset, --seed)
    # are tfgen.train's too, which other test modules import.
    code = (
        "from benchmarks import pixelcnn_pp_vs_tfp as b\n"
        "c = 'python -m benchmarks.pixelcnn_pp_vs_tfp --seeds=0,1 "
        "--results results/x.json --epochs=3'\n"
        "print(b.row_command(c, 1, 2))\n"
        "print(b.row_command(c.replace('--seeds=0,1', '--seed=4'), 4, 1))\n")
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        timeout=300, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.splitlines() == [
        "python -m benchmarks.pixelcnn_pp_vs_tfp --epochs=3 --seed=1",
        "python -m benchmarks.pixelcnn_pp_vs_tfp --seed=4 --epochs=3"]
