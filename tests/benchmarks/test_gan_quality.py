"""The GAN sample-quality benchmark: recipes, reuse, and a tiny run.

The tiny run calls the command's ``main`` in this process (its flags are
``--bench_``-prefixed, so they sit beside any other command's, and
``--results`` and ``--from_output`` may be shared) with the tiny configs
for one epoch (8 filters and code dimensions in every run), a classifier
of 20 steps, and ``dcgan`` beside the keras-io DCGAN recipe; its results
file's tables hold the document's numbers, and ``--from_output`` rebuilds
the same file; run again, it restores the finished ``dcgan`` run instead
of training it and measures the same numbers.
"""

import json
import math

from absl import flags
import pytest

from benchmarks import gan_quality
from benchmarks import gan_quality_tables
from tfgen import cli
from tfgen import config as config_lib
from tfgen import data
from tfgen import registry
from tfgen import results
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
# The raw keys behind the columns of the results tables, after the first.
QUALITY_KEYS = ("epochs", "generator_updates", "train_seconds",
                "frechet_distance", "frechet_distance_half", "label_entropy",
                "classes_covered", "largest_class_share")
COMMANDS_KEYS = ("epochs", "train_seconds", "frechet_distance",
                 "label_entropy", "classes_covered")


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


def test_runs_are_named_and_ordered_as_in_the_readme():
    rows = [{"run": run, "model": run.removesuffix("_keras_io"),
             "recipe": "keras-io DCGAN" if "keras" in run else "default"}
            for run in ("dcgan_keras_io", "cgan", "dcgan", "unrolled_gan",
                        "gan")]
    rows[3]["unrolling_steps"] = 5
    assert [gan_quality_tables.run_title(row)
            for row in gan_quality_tables.ordered_rows(rows)] == [
        "`gan`", "`dcgan`", "`cgan` (labels drawn uniformly)",
        "`unrolled_gan` (K = 5)", "`dcgan`, keras-io DCGAN recipe"]


def _value(cell):
    return cell["value"] if isinstance(cell, dict) else cell


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
    stdout = _main([*argv, f"--results={tmp_path / 'results.json'}"],
                   capsys)
    table = json.loads((tmp_path / "out" / "gan_quality.json").read_text())
    assert json.loads(stdout.splitlines()[0]) == table
    # The flags' order is their definition's, which depends on the modules
    # a process imported before: only their presence is checked.
    assert table["command"].startswith("python -m benchmarks.gan_quality ")
    for flag in ("--bench_models=dcgan", "--bench_peers",
                 "--bench_variant=tiny", "--config.filters=8", "--results="):
        assert f" {flag}" in table["command"]
    assert len(table["commit"]) == 40 and table["cpu_count"] >= 1
    assert table["dirty"] in (True, False)
    assert "tracked_files_modified" not in table
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
    assert "| `dcgan`, keras-io DCGAN recipe | 1 | 40 |" in markdown
    assert "Not expressed of their recipe" in markdown
    assert (tmp_path / "out" / "gan_quality.png").stat().st_size > 1000

    # The results file: the run's provenance, the README's columns, and
    # in every cell the number of the document (its raw) it names.
    written = results.read(tmp_path / "results.json")
    assert written["raw"] == table
    assert written["provenance"] == results.provenance_of(table)
    assert written["provenance"]["command"] == table["command"]
    quality = written["tables"]["digits"]
    assert results.render_table(quality).splitlines()[0] == (
        "| run | epochs | generator updates | train time "
        f"({table['cpu_count']} shared cores) | FD | FD, half size | "
        "label entropy (max 2.30) | classes covered | largest class |")
    floor = table["floor"]
    assert quality["rows"][0] == [
        "real images (floor)", None, None, None,
        floor["frechet_floor_train"], floor["frechet_floor_half"],
        floor["label_entropy"], floor["classes_covered"],
        floor["largest_class_share"]]
    by_title = {gan_quality_tables.run_title(row): row for row in rows}
    assert [row[0] for row in quality["rows"][1:]] == [
        "`dcgan`", "`dcgan`, keras-io DCGAN recipe"]
    for cells in quality["rows"][1:]:
        raw = by_title[cells[0]]
        assert [_value(cell) for cell in cells[1:]] == [
            raw[key] for key in QUALITY_KEYS]
    # The lower FD in bold, in both FD columns.
    for column in (4, 5):
        best = min(quality["rows"][1:],
                   key=lambda cells: _value(cells[column]))
        assert best[column]["format"] == "**{:.2f}**"
    commands = written["tables"]["digits_commands"]
    assert results.render_table(commands).splitlines()[0] == (
        f"| command | epochs | time ({table['cpu_count']} shared cores) | "
        f"FD (floor {floor['frechet_floor_train']:.2f}) | label entropy | "
        "classes covered |")
    for cells, row in zip(commands["rows"], rows, strict=True):
        assert cells[0] == (f"{gan_quality_tables.run_title(row)} in "
                            f"`{table['command']}`")
        raw = dict(row, train_seconds=row["train_seconds"] / 60)  # minutes
        assert [_value(cell) for cell in cells[1:]] == [
            raw[key] for key in COMMANDS_KEYS]
    # Both sides and their ratio, as the document keeps them.
    (comparison,) = table["peer_comparisons"]
    ((model, recipe, epochs, *numbers),) = written["tables"][
        "digits_peers"]["rows"]
    assert (model, recipe, epochs) == ("`dcgan`", "keras-io DCGAN", 1)
    ours, peer = rows
    assert numbers == [
        ours["generator_updates"], peer["generator_updates"],
        ours["frechet_distance"], peer["frechet_distance"],
        peer["frechet_distance"] / ours["frechet_distance"],
        ours["label_entropy"], peer["label_entropy"],
        ours["classes_covered"], peer["classes_covered"]]
    assert comparison["frechet_distance_ratio_peer_over_ours"] == numbers[4]
    # --from_output rebuilds the same file from the document; a document
    # of before the rename (tracked_files_modified, no comparisons) too.
    _main([f"--from_output={tmp_path / 'out' / 'gan_quality.json'}",
           f"--results={tmp_path / 'again.json'}"], capsys)
    assert results.read(tmp_path / "again.json") == written
    older = {key: value for key, value in table.items()
             if key not in ("dirty", "peer_comparisons")}
    older["tracked_files_modified"] = table["dirty"]
    rebuilt = results.write_measured(
        tmp_path / "old.json", gan_quality_tables.results_tables(older),
        older)
    assert rebuilt["tables"] == written["tables"]
    assert rebuilt["provenance"] == written["provenance"]

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
