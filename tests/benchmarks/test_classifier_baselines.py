"""The logistic-regression baselines are what scikit-learn measures on our splits.

The benchmark runs on ``digits``: each row's test error is that of a
logistic regression the test fits itself on tfgen's own train and test
splits, under the row's preprocessing; the binarized pixels are binary and
the gray levels are not; the solver's cap is reported when it stops a fit;
the results file holds the document's numbers, and ``--from_output``
rebuilds the same file.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tfgen import data
from tfgen import results

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "classifier_baselines.py"


def _run(cwd, *flags):
    return subprocess.run([sys.executable, str(SCRIPT), *flags],
                          capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def _document(completed):
    assert completed.returncode == 0, completed.stderr[-3000:]
    (document,) = [json.loads(line) for line in completed.stdout.splitlines()
                   if line.startswith("{")]
    return document


def _split(data_dir, split, preprocessing):
    images, labels = data.dataset_arrays(data.load(
        "digits", split, preprocessing=preprocessing, seed=0,
        data_dir=data_dir))
    return images.reshape(len(images), -1), labels


def test_digits_rows_are_logistic_regression_on_our_splits(tmp_path,
                                                           data_dir):
    completed = _run(tmp_path, f"--data_dir={data_dir}",
                     f"--results={tmp_path / 'results.json'}")
    document = _document(completed)
    rows = {row["pixels"]: row for row in document["rows"]}
    assert sorted(rows) == ["binarized", "gray levels"]
    for pixels, preprocessing in (("gray levels", "unit"),
                                  ("binarized", "binarize_static")):
        row = rows[pixels]
        train_x, train_y = _split(data_dir, "train", preprocessing)
        test_x, test_y = _split(data_dir, "test", preprocessing)
        assert (row["train_images"], row["test_images"]) == (1257, 360)
        binary = set(np.unique(train_x)) <= {0.0, 1.0}
        assert binary == (pixels == "binarized")
        fitted = LogisticRegression(max_iter=1000).fit(
            train_x.astype(np.float64), train_y)
        errors = int((fitted.predict(test_x.astype(np.float64))
                      != test_y).sum())
        assert row["test_errors"] == errors
        np.testing.assert_allclose(row["test_error"], errors / 360)
        assert row["converged"] and row["iterations"] < 1000
    # Binarizing 8x8 digits loses much of what tells them apart.
    assert rows["binarized"]["test_error"] > 3 * rows["gray levels"][
        "test_error"]

    written = results.read(tmp_path / "results.json")
    assert written["raw"] == document
    assert "benchmarks.classifier_baselines" in document["command"]
    table = written["tables"]["logistic_regression"]
    assert results.render_table(table).splitlines()[0] == (
        "| dataset | pixels | train images | test images | solver "
        "iterations | converged | test error |")
    for cells, row in zip(table["rows"], document["rows"], strict=True):
        assert cells == [row["dataset"], row["pixels"], row["train_images"],
                         row["test_images"], row["iterations"],
                         row["converged"], row["test_error"]]
    output = tmp_path / "output.txt"
    output.write_text(completed.stdout)
    again = _run(tmp_path, f"--from_output={output}",
                 f"--results={tmp_path / 'again.json'}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert results.read(tmp_path / "again.json") == written


def test_a_fit_stopped_by_the_cap_says_so(tmp_path, data_dir):
    document = _document(_run(tmp_path, f"--data_dir={data_dir}",
                              "--max_iter=3"))
    for row in document["rows"]:
        assert row["iterations"] == 3 and not row["converged"]


@pytest.mark.parametrize("flag, words", [
    ("--datasets=cifar10", "--datasets"),
    ("--max_iter=0", "--max_iter"),
    ("--from_output=absent.txt", "absent.txt: no such file"),
])
def test_bad_flags_fail_in_one_line(tmp_path, flag, words):
    completed = _run(tmp_path, flag)
    assert completed.returncode == 2
    assert words in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr
