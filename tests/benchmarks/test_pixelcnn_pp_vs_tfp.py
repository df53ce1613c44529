"""The PixelCNN++-vs-TFP benchmark runs end to end and reports consistently.

A tiny run on ``digits`` (64 training images, one epoch, 4 filters, 2
samples): one JSON row whose bits/dim are its nats over 64 ln 2, whose
ratios and difference are its measurements' quotients and difference, and a
markdown table with both libraries; with ``--norun_tfp``, a row of ours
alone and no table. The timings themselves are the
benchmark's business, never a test's.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]


TINY = ["--epochs=1", "--train_examples=64", "--test_examples=32",
        "--num_filters=4", "--num_components=2", "--num_samples=2"]


def _run(*flags):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.pixelcnn_pp_vs_tfp", *TINY,
         *flags], capture_output=True, text=True, timeout=600, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)))


def test_tiny_run_reports_one_consistent_row(tmp_path):
    completed = _run()
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [json.loads(line) for line in completed.stdout.splitlines()
            if line.startswith("{")]
    assert len(rows) == 1
    row = rows[0]
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


def test_without_tfp_only_ours_is_reported():
    completed = _run("--norun_tfp", "--seed=3")
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [json.loads(line) for line in completed.stdout.splitlines()
            if line.startswith("{")]
    assert len(rows) == 1 and rows[0]["seed"] == 3
    assert not [key for key in rows[0] if "tfp_" in key]
    nats = rows[0]["tfgen_test_nats"]
    np.testing.assert_allclose(rows[0]["tfgen_test_bits_per_dim"],
                               nats / (64 * math.log(2)))
    assert "| TFP tfd.PixelCNN |" not in completed.stdout
