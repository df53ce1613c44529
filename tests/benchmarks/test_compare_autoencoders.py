"""The deep autoencoder vs PCA experiment, run end to end as a user runs it.

The command runs once (tiny configs, 3-D codes for the main comparison) in a
subprocess; its table is then checked against numbers recomputed here from
the checkpoints it left: each model restored into a fresh instance, its
reconstructions and codes measured with numpy, PCA's errors against
scikit-learn and against the discarded eigenvalues of the training set. A
second run resumes it and compares pretrainings; both write the README's
tables as results files, whose numbers are their comparison.json's.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial import distance
from sklearn import decomposition

from benchmarks import compare_autoencoders
from tfgen import checkpoints
from tfgen import config as config_lib
from tfgen import data
from tfgen import errors
from tfgen import registry
from tfgen import results
from tfgen import training
import zoo  # noqa: F401  (fills the registry)

REPO = pathlib.Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CODE_DIM = 3
K = 4


def _command(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.compare_autoencoders", *args],
        cwd=cwd,
        env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, data_dir):
    """Runs the command twice on one workdir: trains, then resumes."""
    workdir = tmp_path_factory.mktemp("compare") / "work"
    common = ["--config_variant=tiny", f"--workdir={workdir}",
              f"--data_dir={data_dir}", f"--code_dim={CODE_DIM}",
              f"--num_neighbours={K}", "--num_queries=3"]
    first = _command(*common, f"--results={workdir.parent / 'first.json'}",
                     cwd=workdir.parent)
    assert first.returncode == 0, first.stderr[-3000:]
    table = json.loads((workdir / "comparison.json").read_text())
    markdown = (workdir / "comparison.md").read_text()
    second = _command(*common, "--nocodes_2d", "--compare_pretraining",
                      f"--results={workdir.parent / 'second.json'}",
                      cwd=workdir.parent)
    assert second.returncode == 0, second.stderr[-3000:]
    return {"workdir": workdir, "first": first, "second": second,
            "table": table, "markdown": markdown,
            "resumed": json.loads((workdir / "comparison.json").read_text())}


def _rows(table, part="models"):
    return {row["model"]: row for row in table[part]}


def _restore(workdir, name, data_dir):
    """The model trained in ``workdir``, restored into a fresh instance."""
    spec = registry.get(name)
    config = config_lib.from_json((workdir / "config.json").read_text(),
                                  spec.get_config("tiny"))
    run = training.prepare(spec, config, workdir, data_dir=data_dir)
    run.model.build_for_training()
    epochs = json.loads((workdir / "metrics.json").read_text())["epochs"]
    assert checkpoints.TrainingCheckpoint(
        run.model, workdir / "checkpoints").restore() == epochs
    return run


def _reconstruct_and_encode(model, images):
    images = np.asarray(images, np.float32)
    codes = np.asarray(model.encode(images=images)["codes"])
    if hasattr(model, "decoded_images"):
        # An autoencoder's own output, unclipped: the papers' measure.
        return np.asarray(model.decoded_images(codes)), codes
    return np.asarray(model.reconstruct(images=images)["images"]), codes


def _precision(points, labels):
    """Precision at K by brute force over the full distance matrix."""
    full = distance.cdist(points, points)
    np.fill_diagonal(full, np.inf)
    nearest = np.argsort(full, axis=1, kind="stable")[:, :K]
    return float((labels[nearest] == labels[:, None]).mean())


def test_progress_is_shown_and_the_table_printed(outputs):
    stdout = outputs["first"].stdout
    for name, size in [("deep_ae", CODE_DIM), ("pca", CODE_DIM),
                       ("pca", 2), ("deep_ae", 2), ("vae", 2)]:
        assert f"Training {name} with {size}-D codes" in stdout
    assert "[5/5]" in stdout
    assert "# Deep autoencoder vs PCA on `digits`, 3-D codes" in stdout
    assert outputs["markdown"] in stdout


def test_errors_and_precision_equal_a_recomputation_from_checkpoints(
        outputs, data_dir):
    workdir, table = outputs["workdir"], outputs["table"]
    test_images, test_labels = data.dataset_arrays(data.load(
        "digits", "test", preprocessing="unit", seed=0,
        data_dir=data_dir).batch(512))
    assert table["num_test_images"] == len(test_images) == 360
    rows = _rows(table)
    assert list(rows) == ["deep_ae", "pca"]
    for name, row in rows.items():
        assert row["code_dim"] == CODE_DIM
        run = _restore(workdir / f"{name}_code{CODE_DIM}", name, data_dir)
        reconstructions, codes = _reconstruct_and_encode(run.model,
                                                         test_images)
        assert codes.shape == (360, CODE_DIM)
        errors_per_image = np.square(test_images - reconstructions).reshape(
            360, -1).sum(axis=1)
        assert row["test_squared_error"] == pytest.approx(
            errors_per_image.mean(), rel=1e-5)
        assert row["retrieval_precision"] == pytest.approx(
            _precision(codes, test_labels))
        # The training loop's own test metric, through test_step.
        metrics = json.loads(
            (workdir / f"{name}_code{CODE_DIM}" / "metrics.json").read_text())
        assert row["test_squared_error"] == pytest.approx(
            metrics["test"]["squared_error"], rel=1e-5)
    assert table["pixels"]["retrieval_precision"] == pytest.approx(
        _precision(test_images.reshape(360, -1), test_labels))
    # Pixels of digits are far more informative than 3 numbers.
    assert table["pixels"]["retrieval_precision"] > max(
        row["retrieval_precision"] for row in rows.values())


def test_pca_errors_are_the_discarded_variance_and_match_scikit_learn(
        outputs, data_dir):
    row = _rows(outputs["table"])["pca"]
    train_images, _ = data.dataset_arrays(data.load(
        "digits", "train", preprocessing="unit", seed=0,
        data_dir=data_dir).batch(2048))
    test_images, _ = data.dataset_arrays(data.load(
        "digits", "test", preprocessing="unit", seed=0,
        data_dir=data_dir).batch(512))
    train = train_images.reshape(len(train_images), -1).astype(np.float64)
    test = test_images.reshape(len(test_images), -1).astype(np.float64)
    # Mean training error = sum of the discarded eigenvalues of the
    # training covariance normalized by N (not N - 1).
    eigenvalues = np.linalg.eigvalsh(np.cov(train.T, bias=True))[::-1]
    assert row["train_squared_error"] == pytest.approx(
        eigenvalues[CODE_DIM:].sum(), rel=1e-4)
    reference = decomposition.PCA(n_components=CODE_DIM).fit(train)
    expected = np.square(test - reference.inverse_transform(
        reference.transform(test))).sum(axis=1).mean()
    # float32 projections of 64 pixels: relative agreement to ~1e-5.
    assert row["test_squared_error"] == pytest.approx(expected, rel=1e-4)


def test_markdown_table_holds_the_json_numbers(outputs):
    markdown, table = outputs["markdown"], outputs["table"]
    for part in ("models", "codes_2d"):
        for row in table[part]:
            line = next(line for line in markdown.splitlines()
                        if line.startswith(f"| `{row['model']}` | ")
                        and f"-{row['code_dim']}" in line.split("|")[2])
            cells = [cell.strip() for cell in line.split("|")]
            assert float(cells[4]) == pytest.approx(
                row["test_squared_error"], abs=0.005)
            assert float(cells[6]) == pytest.approx(
                row["retrieval_precision"], abs=0.0005)
    assert "paper" not in table  # only for MNIST at 30-D codes


def test_two_d_codes_of_three_models(outputs, data_dir):
    rows = _rows(outputs["table"], "codes_2d")
    assert list(rows) == ["pca", "deep_ae", "vae"]
    assert {row["code_dim"] for row in rows.values()} == {2}
    assert rows["vae"]["preprocessing"] == "binarize_dynamic"
    # The VAE's row, recomputed from its restored checkpoint on the
    # statically binarized test images it is evaluated on.
    run = _restore(outputs["workdir"] / "vae_code2", "vae", data_dir)
    images, labels = data.dataset_arrays(run.splits["test"].batch(512))
    reconstructions, codes = _reconstruct_and_encode(run.model, images)
    assert rows["vae"]["test_squared_error"] == pytest.approx(
        np.square(images - reconstructions).reshape(360, -1).sum(1).mean(),
        rel=1e-5)
    assert rows["vae"]["retrieval_precision"] == pytest.approx(
        _precision(codes, labels))


def test_figures_are_written(outputs):
    workdir = outputs["workdir"]
    figures = outputs["table"]["figures"]
    assert sorted(figures) == ["codes_2d", "reconstructions", "retrieval"]
    for path in figures.values():
        assert pathlib.Path(path).parent == workdir
        with open(path, "rb") as stream:
            assert stream.read(8) == PNG_SIGNATURE
        assert os.path.getsize(path) > 5000
    assert not list(workdir.glob(".*tmp"))


def _readme_line(start):
    text = (REPO / "README.md").read_text()
    return next(line for line in text.splitlines() if line.startswith(start))


def test_results_files_hold_the_tables_of_comparison_json(outputs):
    written = results.read(outputs["workdir"].parent / "first.json")
    table = outputs["table"]
    assert written["raw"] == table
    assert written["provenance"]["command"] == table["command"]
    assert table["command"].startswith(
        "python -m benchmarks.compare_autoencoders --config_variant=tiny")
    comparison = written["tables"]["comparison"]
    assert results.render_lines(comparison)[:2] == [
        _readme_line("| model | layers | test squared error").replace(
            "precision@10", f"precision@{K}"),
        "|---|---|---:|---:|---:|"]
    rows = table["models"] + table["codes_2d"]  # 3-D, then 2-D codes
    assert [cells[1:] for cells in comparison["rows"]] == [
        [row["widths"], row["test_squared_error"],
         row["train_squared_error"], row["retrieval_precision"]]
        for row in rows]
    assert [cells[0] for cells in comparison["rows"]] == [
        "`deep_ae` (RBM-pretrained)", "`pca`", "`pca`, 2-D",
        "`deep_ae`, 2-D", "`vae`, 2-D (posterior means; binarized pixels)"]


def test_the_rerun_compares_pretrainings_and_writes_their_table(outputs):
    workdir = outputs["workdir"]
    resumed = json.loads((workdir / "comparison.json").read_text())
    written = results.read(workdir.parent / "second.json")
    assert written["raw"] == resumed
    rows = resumed["pretraining"]
    # Tiny deep_ae: 3 layers pretrained for 1 epoch each, then 1 epoch.
    assert [(row["pretraining"], row["epochs"]) for row in rows] == [
        ("rbm", 4), ("autoencoders", 4), ("none", 1), ("none", 4)]
    assert [row["resumed"] for row in rows] == [True, False, False, False]
    assert [pathlib.Path(row["workdir"]).name for row in rows] == [
        "deep_ae_code3", "deep_ae_code3_autoencoders", "deep_ae_code3_none",
        "deep_ae_code3_none_4epochs"]
    table = written["tables"]["pretraining"]
    cores = resumed["cpu_count"]
    assert results.render_lines(table)[0] == _readme_line(
        "| `pretraining` |").replace("(2 CPU cores)", f"({cores} CPU cores)")
    assert [cells[1] for cells in table["rows"]] == [
        row["test_squared_error"] for row in rows]
    assert [cells[2]["value"] for cells in table["rows"]] == [
        row["train_seconds"] for row in rows]
    assert results.render_lines(table)[2].endswith(" s (resumed) |")
    assert table["rows"][3][0] == (
        "`none`, 4 epochs (the pretrained runs' total)")
    # --from_output's path: comparison.json alone gives the same file.
    again = results.read_output(workdir / "comparison.json",
                                "compare_autoencoders")
    results.write_measured(workdir.parent / "again.json",
                           compare_autoencoders.results_tables(again), again)
    assert results.read(workdir.parent / "again.json") == written


def test_a_rerun_resumes_every_model_and_gives_the_same_table(outputs):
    stdout = outputs["second"].stdout
    assert stdout.count("Resuming from") == 2
    assert "Training vae" not in stdout  # --nocodes_2d
    for before, after in zip(outputs["table"]["models"],
                             outputs["resumed"]["models"]):
        assert after["test_squared_error"] == pytest.approx(
            before["test_squared_error"], rel=1e-6)
        assert after["retrieval_precision"] == before["retrieval_precision"]
    assert "codes_2d" not in outputs["resumed"]


@pytest.mark.parametrize("args, expected", [
    (["--model=vae"], "--model is a flag of tfgen.train"),
    (["--hidden_units=a,b"], "--hidden_units=a,b: expected integers"),
    (["--num_queries=0"], "num_queries"),
    (["--config.nope=1"], "unknown config field 'nope'"),
    (["--config.preprocessing=binarize_static"],
     "--config.preprocessing cannot be overridden"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, data_dir,
                                                      args, expected):
    workdir = tmp_path / "work"
    result = _command(*args, "--config_variant=tiny", f"--workdir={workdir}",
                      f"--data_dir={data_dir}", cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert expected in lines[0], lines
    assert not workdir.exists() and not (tmp_path / "runs").exists()


def test_runs_as_a_script_from_any_folder(tmp_path):
    # python benchmarks/compare_autoencoders.py, as the other benchmarks
    # run: no PYTHONPATH, another working folder.
    env = {key: value for key, value in os.environ.items()
           if key != "PYTHONPATH"}
    workdir = tmp_path / "work"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "compare_autoencoders.py"),
         "--config_variant=tiny", "--num_neighbours=0",
         f"--workdir={workdir}"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip() == (
        "error: flag --num_neighbours=0: 0 is not a positive integer")
    assert not workdir.exists()


def test_too_many_neighbours_fail_before_anything_is_written(tmp_path,
                                                             data_dir):
    with pytest.raises(errors.UsageError, match="less than the 360 test"):
        compare_autoencoders.prepare(
            workdir=tmp_path / "work", variant="tiny", num_neighbours=360,
            codes_2d=False, data_dir=data_dir)
    assert not (tmp_path / "work").exists()


def test_science_preset_is_the_papers_setting():
    configs = compare_autoencoders.make_configs(
        **{key: value for key, value in
           compare_autoencoders.PRESETS["science"].items()},
        codes_2d=False)
    assert list(configs) == [("deep_ae", 30), ("pca", 30)]
    deep = configs[("deep_ae", 30)][1]
    assert deep.dataset == "mnist" and deep.hidden_units == (1000, 500, 250)
    assert deep.pretraining == "rbm"
    assert configs[("pca", 30)][1].dataset == "mnist"


def test_markdown_in_the_papers_setting_sets_its_numbers_beside_ours():
    row = {"model": "deep_ae", "code_dim": 30, "preprocessing": "unit",
           "layers": "784-1000-500-250-30, pretraining rbm",
           "widths": "784-1000-500-250-30", "pretraining": "rbm",
           "test_squared_error": 4.256, "train_squared_error": 4.1,
           "retrieval_precision": 0.9312, "epochs": 13, "train_seconds": 300,
           "stages": [["pretrain_layer_0", 2], ["finetune", 5]]}
    table = {"dataset": "mnist", "code_dim": 30, "num_neighbours": 10,
             "num_test_images": 10000, "num_train_images": 54000,
             "models": [row, dict(row, model="pca", layers="784-30",
                                  widths="784-30", pretraining=None,
                                  test_squared_error=13.924)],
             "pixels": {"num_pixels": 784, "retrieval_precision": 0.95},
             "paper": {"test_squared_error":
                       compare_autoencoders.PAPER_MNIST_30,
                       "setting": "the paper's budget"}}
    markdown = compare_autoencoders.format_markdown(table)
    assert "| `deep_ae` | 784-1000-500-250-30, pretraining rbm | unit | 4.26 |" \
        in markdown
    assert "reports 3.00 (deep autoencoder) and 13.87 (PCA)" in markdown
    assert "54,000 training images" in markdown
    assert "pretrain_layer_0 2, finetune 5" in markdown
    assert "## 2-D codes" not in markdown
    tables = compare_autoencoders.results_tables(table)
    assert list(tables) == ["comparison"]
    assert results.render_lines(tables["comparison"]) == [
        _readme_line("| model | test squared error | train squared error"),
        "|---|---:|---:|---:|---:|",
        "| `deep_ae` 784-1000-500-250-30 | 4.26 | 4.10 | 0.931 | 3.00 |",
        "| `pca`, 30 components | 13.92 | 4.10 | 0.931 | 13.87 |"]


def test_configs_share_runs_at_2_d_codes_and_epochs_skip_pca():
    configs = compare_autoencoders.make_configs(variant="tiny", code_dim=2,
                                                epochs=3)
    # The main comparison at 2-D codes is part of the 2-D figure: 3 runs.
    assert list(configs) == [("deep_ae", 2), ("pca", 2), ("vae", 2)]
    assert configs[("vae", 2)][1].latent_dim == 2
    assert configs[("deep_ae", 2)][1].epochs == 3
    assert configs[("vae", 2)][1].epochs == 3
    assert configs[("pca", 2)][1].epochs == 1  # fitted in closed form
