"""The command line, end to end, in subprocesses as a user runs it."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import serving_helpers
from tfgen import train

REPO = pathlib.Path(__file__).resolve().parents[2]


def _train(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "tfgen.train", *args],
                          cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def _error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def test_list_models_prints_name_family_capabilities_paper(tmp_path):
    result = _train("--list_models", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    vae = [row for row in rows if row[0] == "vae"]
    assert vae == [["vae", "autoencoders",
                    "sample,log_prob,encode,decode,reconstruct",
                    "Kingma & Welling 2014; bound of Burda et al. 2016"]]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, expected", [
    (["--model=nope"], "unknown model 'nope'; valid models:"),
    (["--model=vae", "--dataset=nope"], "unknown dataset 'nope'"),
    (["--model=vae", "--epochs=abc"], "epochs"),
    (["--model=vae", "--config.nope=1"], "unknown config field 'nope'"),
    (["--model=vae", "--config.latent_dim=abc"], "--config.latent_dim='abc'"),
    (["--model=vae", "--config.batch_size=0"], "batch_size=0 must be positive"),
    (["--model=vae", "--config.learning_rate=0.1"],
     "unknown config field 'learning_rate'"),
    (["--model=vae", "--config.optimizers.model.learning_rate=-1"],
     "config.optimizers.model.learning_rate=-1.0 must be positive"),
    (["--model=vae", "--dataset=mnist", "--manual_dir=missing-folder"],
     "missing-folder"),
    (["--model=vae", "stray"], "unexpected arguments: stray"),
    ([], "--model is required"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, args, expected):
    workdir = tmp_path / "work"
    data_dir = tmp_path / "data"
    result = _train(*args, f"--workdir={workdir}", f"--data_dir={data_dir}",
                    cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0], lines
    assert not workdir.exists()
    assert not (tmp_path / "runs").exists()


def test_train_writes_everything_then_resumes(tmp_path, data_dir):
    workdir = tmp_path / "work"
    common = ["--model=vae", "--config_variant=tiny", f"--workdir={workdir}",
              f"--data_dir={data_dir}"]
    first = _train(*common, "--epochs=1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "test elbo:" in first.stdout
    # The tiny config has a 2-D latent space, so the latent plots are drawn.
    for name in ("metrics.json", "evaluation.json", "run.json",
                 "samples.png", "reconstructions.png", "config.json",
                 "latent_manifold.png", "latent_codes.png",
                 "checkpoints/checkpoint", "export/vae/1/saved_model.pb",
                 "export/vae/1/assets.extra/tfgen_model.json"):
        assert (workdir / name).exists(), name
    assert any((workdir / "logs" / "train").glob("events.out.tfevents.*"))
    assert any((workdir / "logs" / "samples").glob("events.out.tfevents.*"))
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 1
    assert metrics["export"].endswith(os.path.join("export", "vae", "1"))
    assert sorted(metrics["plots"]) == ["latent_codes", "latent_manifold",
                                        "reconstructions", "samples"]
    assert json.loads((workdir / "run.json").read_text()) == {
        "model": "vae", "data_dir": str(data_dir.resolve()),
        "manual_dir": None}

    second = _train(*common, "--epochs=2", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from" in second.stdout
    metrics = json.loads((workdir / "metrics.json").read_text())
    # Only the second epoch ran; the first came from the checkpoint.
    assert len(metrics["history"]["loss"]) == 1
    assert (workdir / "export/vae/2/saved_model.pb").exists()

    # A run written before its config gained a field resumes, and says so.
    config_path = workdir / "config.json"
    saved = json.loads(config_path.read_text())
    del saved["num_grid_samples"]
    config_path.write_text(json.dumps(saved))
    older = _train(*common, "--epochs=2", cwd=tmp_path)
    assert older.returncode == 0, older.stderr[-3000:]
    assert "Resuming from" in older.stdout
    assert "before the config had num_grid_samples" in older.stdout
    assert "num_grid_samples" in json.loads(config_path.read_text())

    changed = _train(*common, "--epochs=2", "--config.latent_dim=3", cwd=tmp_path)
    assert changed.returncode == 2
    assert "different config" in changed.stderr


def test_divergence_stops_with_message_and_keeps_last_good_checkpoint(
        tmp_path, data_dir):
    workdir = tmp_path / "work"
    result = _train("--model=vae", "--config_variant=tiny",
                    f"--workdir={workdir}", f"--data_dir={data_dir}",
                    "--config.optimizers.model.learning_rate=1e30",
                    "--epochs=3", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "training stopped: metric" in result.stderr
    assert not (workdir / "export").exists()


def test_same_model_trains_on_28x28_mnist_from_the_standard_files(
        tmp_path, mnist_manual_dir):
    results = train.run("vae", variant="tiny", dataset="mnist",
                        manual_dir=str(mnist_manual_dir),
                        data_dir=str(tmp_path / "data"),
                        workdir=str(tmp_path / "work"), verbose=0)
    assert results["dataset"] == "mnist"
    assert results["test"]["loss"] > 0
    # A 784-pixel image costs far more nats than a 64-pixel one.
    assert results["baseline_independent_pixels_nll"] > 100
    served = serving_helpers.run_saved_model_cli(
        results["export"], "serving_default",
        {"seed": np.array([1, 2], np.int64)})
    assert served["images"].shape == (2, 28, 28, 1)
