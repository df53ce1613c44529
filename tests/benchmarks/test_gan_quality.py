"""The GAN sample-quality benchmark: recipes, reuse, and a tiny run.

The tiny run calls the command's ``main`` in this process (its flags are
all ``--bench_``-prefixed, so they sit beside any other command's) with
the tiny configs for one epoch (8 filters and code dimensions in every
run), a classifier of 20 steps, and ``dcgan`` beside the keras-io DCGAN
recipe; run again, it restores the finished ``dcgan`` run instead of
training it and measures the same numbers.
"""

import json
import math

from absl import flags
import pytest

from benchmarks import gan_quality
from tfgen import cli
from tfgen import config as config_lib
from tfgen import data
from tfgen import registry
import zoo  # noqa: F401  (fills the registry)

ROW_KEYS = {"run", "model", "recipe", "epochs", "batch_size",
            "discriminator_steps", "discriminator_updates",
            "generator_updates", "train_seconds", "reused", "workdir",
            "frechet_distance", "frechet_distance_half",
            "frechet_floor_half", "frechet_half_size", "frechet_num_samples",
            "label_entropy", "label_entropy_max", "effective_classes",
            "classes_covered", "largest_class_share", "real_label_entropy",
            "classifier_accuracy", "frechet_floor_train"}
NUMBERS = ROW_KEYS - {"run", "model", "recipe", "reused", "workdir"}


def test_recipes_are_overrides_our_models_build(data_dir):
    info = data.get_info("digits", data_dir=data_dir)
    for model, recipe in gan_quality.PEER_RECIPES.items():
        spec = registry.get(model)
        config = gan_quality.make_config(spec, dataset="digits",
                                         recipe=recipe, epochs=3)
        for field, value in recipe.fields.items():
            assert config[field] == value, (model, field)
        for entry in config.optimizers.values():
            assert entry.to_dict() == recipe.optimizer
        assert config.epochs == 3
        default = spec.get_config()
        # Everything else is the default's.
        untouched = set(default) - set(recipe.fields) - {"epochs",
                                                         "optimizers"}
        assert all(config[field] == default[field] for field in untouched)
        spec.build(config, info)  # The recipe is a valid config.
    assert gan_quality.make_config(
        registry.get("dcgan"), dataset="digits",
        recipe=gan_quality.PEER_RECIPES["dcgan"],
        overrides={"filters": "16"}).filters == 16  # The command line wins.


def test_only_finished_runs_of_the_same_config_are_reused(tmp_path):
    spec = registry.get("gan")
    config = gan_quality.make_config(spec, dataset="digits")
    folder = tmp_path / "gan"
    folder.mkdir()
    (folder / "config.json").write_text(config_lib.to_json(config))
    (folder / "run.json").write_text(json.dumps({"model": "gan"}))
    assert not gan_quality.finished_run(folder, spec, config)  # Running.
    (folder / "metrics.json").write_text("{}")
    assert gan_quality.finished_run(folder, spec, config)
    assert not gan_quality.finished_run(folder, registry.get("lsgan"),
                                        config)
    longer = gan_quality.make_config(spec, dataset="digits", epochs=7)
    assert not gan_quality.finished_run(folder, spec, longer)
    # A finished run of another config is reused from nowhere and not
    # trained over.
    with pytest.raises(gan_quality.errors.UsageError,
                       match="holds a run of another config"):
        gan_quality.plan(["gan"], dataset="digits", workdir_root=tmp_path,
                         epochs=7)
    (runs,) = gan_quality.plan(["gan"], dataset="digits",
                               workdir_root=tmp_path / "new",
                               reuse_root=tmp_path)
    assert runs.finished() == folder
    assert runs.workdir == tmp_path / "new" / "gan"


def test_bad_model_is_named():
    with pytest.raises(gan_quality.errors.UsageError,
                       match="'vae' is not an adversarial model"):
        gan_quality.plan(["vae"], dataset="digits", workdir_root="unused")


def _main(argv, capsys):
    cli.parse_flags(["gan_quality", *argv])
    try:
        gan_quality.main(["gan_quality", *argv])
    finally:
        flags.FLAGS.unparse_flags()
        cli.CONFIG_OVERRIDES.clear()
    return capsys.readouterr().out


def test_tiny_run_writes_the_table_and_reuses_finished_runs(
        data_dir, tmp_path, capsys):
    argv = ["--bench_variant=tiny", "--bench_models=dcgan", "--bench_peers",
            "--bench_classifier_steps=20", f"--bench_data_dir={data_dir}",
            f"--bench_workdir_root={tmp_path / 'runs'}",
            f"--bench_output_dir={tmp_path / 'out'}", "--bench_verbose=0",
            # Every run's, the recipe's too: the recipe's 64 filters and
            # 128 code dimensions would cost seconds.
            "--config.filters=8", "--config.latent_dim=8"]
    stdout = _main(argv, capsys)
    table = json.loads((tmp_path / "out" / "gan_quality.json").read_text())
    assert json.loads(stdout.splitlines()[0]) == table
    assert table["command"].startswith(
        "python -m benchmarks.gan_quality --bench_models=dcgan ")
    for flag in ("--bench_peers", "--bench_variant=tiny",
                 "--config.filters=8"):
        assert f" {flag}" in table["command"]
    assert len(table["commit"]) == 40 and table["cpu_count"] >= 1
    assert table["dataset"] == "digits" and table["num_test_images"] == 360
    assert 0 < table["classifier_accuracy"] <= 1
    assert table["floor"]["frechet_floor_half"] > 0
    assert table["floor"]["frechet_floor_train"] > 0
    assert set(table["peer_recipes"]) == {"dcgan"}
    assert table["overrides"] == {"filters": "8", "latent_dim": "8"}
    rows = table["rows"]
    assert [row["run"] for row in rows] == ["dcgan", "dcgan_keras_io"]
    for row in rows:
        assert set(row) - {"recipe_fields"} == ROW_KEYS
        assert all(math.isfinite(row[key]) for key in NUMBERS), row
        assert not row["reused"] and row["epochs"] == 1
        for floor in ("frechet_floor_half", "frechet_floor_train"):
            assert row[floor] == table["floor"][floor]
    # 1,257 training images: 20 batches of 64, 40 of the recipe's 32.
    assert [row["generator_updates"] for row in rows] == [20, 40]
    assert rows[1]["recipe_fields"]["batch_size"] == 32
    markdown = (tmp_path / "out" / "gan_quality.md").read_text()
    assert "| real images (floor) |" in markdown
    assert "| `dcgan` + keras-io DCGAN recipe | 1 | 40 |" in markdown
    assert "Not expressed of their recipe" in markdown
    assert (tmp_path / "out" / "gan_quality.png").stat().st_size > 1000

    # Again, without the recipe: the finished dcgan run is restored.
    _main([flag for flag in argv if flag != "--bench_peers"], capsys)
    again = json.loads((tmp_path / "out" / "gan_quality.json").read_text())
    (second,) = again["rows"]
    assert second["reused"] and second["run"] == "dcgan"
    assert second["train_seconds"] == rows[0]["train_seconds"]
    # The restored generator draws the same samples (float32 rounding of
    # other kernels aside).
    assert second["frechet_distance"] == pytest.approx(
        rows[0]["frechet_distance"], rel=1e-4)
