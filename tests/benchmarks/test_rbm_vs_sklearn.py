"""The RBM-vs-scikit-learn benchmark runs end to end and reports consistently.

A short run (one epoch, one repeat, settle pause off) on ``digits``: one
row per batch size in its JSON document whose ratio is its two timings'
quotient, whose pseudo-log-likelihoods are those of the trained parameters
(the benchmark keeps them) recomputed in numpy, pixel by pixel, and whose
logistic regressions beat chance; its results file holds the README's
columns, each cell the document's own number, and ``--from_output``
rebuilds the same file from the printed output. The timings themselves are
the benchmark's business, never a test's.
"""

import json
import pathlib
import statistics
import subprocess
import sys

import numpy as np

from tfgen import results

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "rbm_vs_sklearn.py"


def _run(tmp_path, *flags):
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--epochs=1", "--repeats=1",
         "--pll_images=20", "--settle_seconds=0",
         f"--parameters_dir={tmp_path}", *flags],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    (document,) = [json.loads(line) for line in completed.stdout.splitlines()
                   if line.startswith("{")]
    return completed, document


def _numpy_pseudo_log_likelihood(saved):
    """Mean over images of sum_i log p(v_i | v_-i) (Besag 1975), in numpy.

    Each conditional from the two free energies with pixel i off and on:
    log p(v_i | v_-i) = -F(v) - log(exp(-F(v_i = 0)) + exp(-F(v_i = 1))).
    """
    weights, visible_bias, hidden_bias, images = (
        saved[name].astype(np.float64) for name in (
            "weights", "visible_bias", "hidden_bias", "test_images"))

    def minus_free_energy(visible):
        return visible @ visible_bias + np.logaddexp(
            0, visible @ weights + hidden_bias).sum(axis=-1)

    total = np.zeros(len(images))
    for pixel in range(images.shape[1]):
        off, on = images.copy(), images.copy()
        off[:, pixel], on[:, pixel] = 0.0, 1.0
        total += minus_free_energy(images) - np.logaddexp(
            minus_free_energy(off), minus_free_energy(on))
    return total.mean()


def test_short_run_reports_one_consistent_row_per_batch_size(tmp_path):
    completed, document = _run(tmp_path, "--batch_sizes=50,200",
                               f"--results={tmp_path / 'results.json'}")
    rows = document["rows"]
    assert [row["batch_size"] for row in rows] == [50, 200]
    assert document["train_images"] == 1257 and document["pll_images"] == 20
    for row in rows:
        assert row["dataset"] == "digits" and row["epochs"] == 1
        for library in ("tfgen", "sklearn"):
            assert row[f"{library}_seconds_per_epoch"] == statistics.median(
                row[f"{library}_seconds_per_epoch_repeats"])
        np.testing.assert_allclose(
            row["ratio_tfgen_over_sklearn"],
            row["tfgen_seconds_per_epoch"] / row["sklearn_seconds_per_epoch"])
        for library in ("tfgen", "sklearn"):
            saved = np.load(tmp_path / f"{library}_batch{row['batch_size']}"
                            ".npz")
            assert saved["test_images"].shape == (20, 64)
            np.testing.assert_allclose(
                row[f"{library}_test_pseudo_log_likelihood"],
                _numpy_pseudo_log_likelihood(saved), rtol=1e-4)
            # Ten classes: codes that carry something of the digit beat
            # chance (0.1; 0.15 is 3 standard deviations above it on the
            # 360 test images). After one epoch scikit-learn's codes score
            # about 0.25, tfgen's higher.
            assert row[f"{library}_logistic_accuracy"] > 0.15
        # Logistic regression on binarized digits' raw pixels.
        assert row["raw_pixels_logistic_accuracy"] > 0.8
    assert "| | 200 |" in completed.stdout

    # The results file: the README's columns, each cell the document's
    # number under its own key, the run's own provenance.
    written = results.read(tmp_path / "results.json")
    assert written["raw"] == document
    assert written["provenance"]["command"] == document["command"]
    assert "benchmarks.rbm_vs_sklearn" in document["command"]
    assert "--batch_sizes=50,200" in document["command"]
    table = written["tables"]["digits"]
    assert results.render_table(table).splitlines()[0] == (
        "| data | batch | tfgen s/epoch | scikit-learn s/epoch | ratio | "
        "tfgen PLL | scikit-learn PLL | tfgen LR acc | scikit-learn LR acc | "
        "raw pixels LR acc |")
    keys = ["batch_size", "tfgen_seconds_per_epoch",
            "sklearn_seconds_per_epoch", "ratio_tfgen_over_sklearn",
            "tfgen_test_pseudo_log_likelihood",
            "sklearn_test_pseudo_log_likelihood", "tfgen_logistic_accuracy",
            "sklearn_logistic_accuracy", "raw_pixels_logistic_accuracy"]
    assert [cells[0] for cells in table["rows"]] == [
        "`digits`, 1,257 images (default)", ""]
    for cells, row in zip(table["rows"], rows, strict=True):
        assert cells[1:] == [row[key] for key in keys]
    output = tmp_path / "output.txt"
    output.write_text(completed.stdout)
    again = subprocess.run(
        [sys.executable, str(SCRIPT), f"--from_output={output}",
         f"--results={tmp_path / 'again.json'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert results.read(tmp_path / "again.json") == written


def test_several_steps_per_epoch_run(tmp_path):
    # 3 updates of 50 images per train_step: 9 steps make the epoch.
    _, document = _run(tmp_path, "--batch_sizes=50",
                       "--minibatches_per_step=3")
    rows = document["rows"]
    assert len(rows) == 1 and rows[0]["minibatches_per_step"] == 3
    assert rows[0]["tfgen_seconds_per_epoch"] > 0
