"""The mode-coverage benchmark runs end to end and reports consistently.

A tiny run (small networks, 10 steps an epoch, 20 steps, one seed, ring8,
the unrolled GAN alone: the plain GAN's run is the same code without the
``unrolling_steps`` override) of ``python -m benchmarks.mode_coverage``: its JSON holds every run's
numbers in range, its summary agrees with the runs, and the figure is
written. The properties of the numbers themselves are
``tests/tfgen/test_mode_coverage.py``'s.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np

from tfgen import results

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_tiny_run_reports_a_consistent_document(tmp_path, data_dir):
    output, figure = tmp_path / "out.json", tmp_path / "figure.png"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.mode_coverage",
         "--datasets=ring8", "--models=unrolled_gan",
         "--unrolling_steps=1", "--seeds=3", "--steps=20",
         "--snapshot_steps=10", f"--data_dir={data_dir}",
         f"--output={output}", f"--figure={figure}",
         f"--results={tmp_path / 'results.json'}",
         # Tiny players and 10 steps of 2,000 points an epoch.
         "--config.latent_dim=4", "--config.generator_units=8",
         "--config.discriminator_units=8", "--config.batch_size=2000",
         "--config.steps_per_execution=10"],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-3000:]
    document = json.loads(output.read_text())
    printed = json.loads(next(line for line in completed.stdout.splitlines()
                              if line.startswith("{")))
    assert printed == document
    assert document["steps"] == 20 and document["steps_per_epoch"] == 10
    assert document["cpu_count"] >= 1 and document["num_samples"] == 2500
    assert len(document["commit"] or "0" * 40) == 40
    assert document["config_overrides"]["loss"] == "minimax"
    assert document["config_overrides"]["batch_size"] == "2000"
    runs = document["runs"]
    assert [(r["label"], r["seed"]) for r in runs] == [
        ("unrolled_gan k=1", 3)]
    for run in runs:
        assert run["num_modes"] == 8
        assert 0 <= run["modes_covered"] <= 8
        assert 0.0 <= run["high_quality_share"] <= 1.0
        assert len(run["mode_counts"]) == 8
        # Each high-quality sample is counted at one mode.
        assert sum(run["mode_counts"]) == round(
            run["high_quality_share"] * 2500)
        assert run["modes_covered"] == np.count_nonzero(run["mode_counts"])
        # The figure's runs train in two chunks; the last is the run's.
        assert [s["steps"] for s in run["snapshots"]] == [10, 20]
        assert run["snapshots"][-1]["modes_covered"] == run["modes_covered"]
    for row, run in zip(document["summary"], runs):
        assert row["seeds"] == [3]
        assert row["modes_covered_mean"] == run["modes_covered"]
        assert row["modes_covered_std"] == 0.0
    assert figure.stat().st_size > 5000
    assert document["figure"] == str(figure)
    assert "| ring8 | unrolled_gan k=1 | 3 |" in completed.stdout


    # The results file: the summary's numbers, the run's own provenance;
    # --from_output rebuilds the same file from the document alone.
    written = results.read(tmp_path / "results.json")
    assert written["provenance"]["command"] == document["command"]
    assert written["provenance"]["commit"] == document["commit"]
    assert written["raw"] == document
    (row,) = written["tables"]["ring8"]["rows"]
    summary = document["summary"][0]
    assert row[0] == "unrolled_gan k=1" and row[1] == "3"
    assert row[2] == summary["modes_covered"]
    assert row[5] == [100 * share for share in summary["high_quality_share"]]
    again = subprocess.run(
        [sys.executable, "-m", "benchmarks.mode_coverage",
         f"--from_output={output}", f"--results={tmp_path / 'again.json'}"],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert again.returncode == 0, again.stderr[-3000:]
    assert results.read(tmp_path / "again.json") == written
