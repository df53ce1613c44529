"""The training-loop overhead benchmark runs end to end, reports consistently.

One repeat of one epoch of the tiny ``linear_ae`` (the smallest model that
trains through ``model.fit``: the benchmark is the same code for every
model, and the VAE's run takes twice as long): its JSON document's medians
are those of its repeats and its ratio their quotient; its results file
holds the README's columns, each cell the document's own number, with the
run's provenance; ``--from_output`` rebuilds the same file from the printed
output. The timings themselves are the benchmark's business, never a
test's.
"""

import json
import pathlib
import statistics
import subprocess
import sys

import numpy as np

from tfgen import results

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "training_loop_overhead.py"


def test_tiny_run_writes_its_table_and_rebuilds_it(tmp_path, data_dir):
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--model=linear_ae", "--variant=tiny",
         "--epochs=1", "--repeats=1", f"--data_dir={data_dir}",
         f"--results={tmp_path / 'results.json'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    (document,) = [json.loads(line) for line in completed.stdout.splitlines()
                   if line.startswith("{")]
    assert document["model"] == "linear_ae" and document["epochs"] == 1
    assert document["dataset"] == "digits" and document["variant"] == "tiny"
    for side in ("tfgen", "bare_fit"):
        (repeat,) = document[f"{side}_seconds_per_epoch_repeats"]
        assert document[f"{side}_seconds_per_epoch"] == statistics.median(
            [repeat]) > 0
    np.testing.assert_allclose(
        document["ratio_tfgen_over_bare"],
        document["tfgen_seconds_per_epoch"]
        / document["bare_fit_seconds_per_epoch"])
    assert "| bare model.fit |" in completed.stdout

    written = results.read(tmp_path / "results.json")
    assert written["raw"] == document
    assert written["provenance"]["command"] == document["command"]
    assert "benchmarks.training_loop_overhead" in document["command"]
    assert "--model=linear_ae" in document["command"]
    table = written["tables"]["overhead"]
    assert results.render_table(table).splitlines()[0] == (
        "| model | data | shared loop s/epoch | bare model.fit s/epoch | "
        "ratio |")
    assert table["rows"] == [[
        "`linear_ae`", "`digits`", document["tfgen_seconds_per_epoch"],
        document["bare_fit_seconds_per_epoch"],
        document["ratio_tfgen_over_bare"]]]

    output = tmp_path / "output.txt"
    output.write_text(completed.stdout)
    again = subprocess.run(
        [sys.executable, str(SCRIPT), f"--from_output={output}",
         f"--results={tmp_path / 'again.json'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert results.read(tmp_path / "again.json") == written
