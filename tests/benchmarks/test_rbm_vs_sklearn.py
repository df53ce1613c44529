"""The RBM-vs-scikit-learn benchmark runs end to end and reports consistently.

A short run (one epoch, one repeat, settle pause off) on ``digits``: one
JSON row per batch size whose ratio is its two timings' quotient, finite
negative pseudo-likelihoods and logistic-regression accuracies. The timings
themselves are the benchmark's business, never a test's.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "rbm_vs_sklearn.py"


def _run(tmp_path, *flags):
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--epochs=1", "--repeats=1",
         "--pll_images=20", "--settle_seconds=0", *flags],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [json.loads(line) for line in completed.stdout.splitlines()
            if line.startswith("{")]
    return completed, rows


def test_short_run_reports_one_consistent_row_per_batch_size(tmp_path):
    completed, rows = _run(tmp_path, "--batch_sizes=50,200")
    assert [row["batch_size"] for row in rows] == [50, 200]
    for row in rows:
        assert row["dataset"] == "digits" and row["epochs"] == 1
        np.testing.assert_allclose(
            row["ratio_tfgen_over_sklearn"],
            row["tfgen_seconds_per_epoch"] / row["sklearn_seconds_per_epoch"])
        # 64 binary pixels: each conditional's log lies in (-inf, 0).
        for library in ("tfgen", "sklearn"):
            assert -1000 < row[f"{library}_test_pseudo_log_likelihood"] < 0
            assert 0.0 <= row[f"{library}_logistic_accuracy"] <= 1.0
        # Logistic regression on binarized digits' raw pixels.
        assert row["raw_pixels_logistic_accuracy"] > 0.8
    assert "| 50 |" in completed.stdout and "| 200 |" in completed.stdout


def test_several_steps_per_epoch_run(tmp_path):
    # 3 updates of 50 images per train_step: 9 steps make the epoch.
    _, rows = _run(tmp_path, "--batch_sizes=50", "--minibatches_per_step=3")
    assert len(rows) == 1 and rows[0]["minibatches_per_step"] == 3
    assert rows[0]["tfgen_seconds_per_epoch"] > 0
