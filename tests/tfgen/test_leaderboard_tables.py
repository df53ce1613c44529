"""The leaderboard's tables, on rows written by hand.

What a tiny run cannot reach (AIS estimates, Parzen and Fréchet numbers,
the published MNIST numbers, every kind of likelihood in the models
table's words) is checked here on rows whose numbers are known.
"""

from tfgen import leaderboard_tables
from tfgen import results
import zoo  # noqa: F401  (fills the registry, as tfgen.leaderboard does)


def _hand_row(model, family, **numbers):
    return {"model": model, "family": family, "status": "trained",
            "preprocessing": "binarize_dynamic", "workdir": "w",
            "num_parameters": 1234, "epochs": 5, "train_seconds": 61.0,
            **numbers}


def _hand_table(dataset, rows):
    return {"dataset": dataset, "command": "c", "commit": "abc",
            "cpu_count": 2, "date": "d", "wall_seconds": 1.0,
            "budget": "b", "train_examples": 18000, "test_examples": 10000,
            "floors": {"frechet_floor_train": 1.5, "frechet_floor_half": 2.25},
            "rows": rows, "num_failed": 0}


def test_the_kind_of_each_nll_is_stated():
    nll_kind = leaderboard_tables.nll_kind
    assert nll_kind({"log_prob_kind": "exact",
                     "log_prob_stderr": 0.0}) == "exact"
    assert nll_kind({"log_prob_kind": "lower_bound", "log_prob_samples": 100,
                     "log_prob_stderr": 0.0}) == "bound, k=100"
    # The DBN's bound has an AIS log Z: an estimate.
    assert nll_kind({"log_prob_kind": "lower_bound", "log_prob_samples": 100,
                     "log_prob_stderr": 0.0125}) == (
        "estimate: bound, k=100, log Z by AIS ± 0.013")
    assert nll_kind({"log_prob_kind": "estimate",
                     "log_prob_stderr": 0.008}) == (
        "estimate, log Z by AIS ± 0.008")
    assert nll_kind({}) is None


def test_markdown_of_samplers_and_the_published_mnist_numbers():
    rbm = _hand_row("rbm", "boltzmann", test_nll=90.123,
                    log_prob_kind="estimate", log_prob_stderr=0.05,
                    parzen_nll=-120.5, parzen_stderr=2.25,
                    frechet_distance=12.345, classes_covered=9,
                    label_entropy=2.1, largest_class_share=0.25)
    dbn = _hand_row("dbn", "boltzmann", classification_error=0.0312)
    table = _hand_table("mnist", [rbm, dbn])
    markdown = leaderboard_tables.format_markdown(table)
    cells = dict(zip(leaderboard_tables.COLUMNS, _cells_of(markdown, "rbm")))
    assert cells["test NLL (nats)"] == "90.12"
    assert cells["Parzen NLL (nats)"] == "-120.50 ± 2.25"
    assert cells["Fréchet"] == "12.35"
    assert cells["largest class"] == "25.0%"
    assert cells["weights"] == "1,234"
    assert "training images 1.50; one half of the test set against the " \
           "other 2.25" in markdown
    published = [line for line in markdown.splitlines()
                 if line.startswith("| `")][-2:]
    assert "90.12 nats (binary pixels)" in published[0]
    assert "about 86 nats" in published[0]
    assert "3.12% test error" in published[1]
    assert "1.25% test error" in published[1]
    assert "5 epochs on 18,000 training images, 61 s on 2 cores" in (
        published[1])
    assert "Published binarized-MNIST" not in leaderboard_tables.format_markdown(
        _hand_table("digits", [rbm]))


def _cells_of(markdown, model):
    line = next(line for line in markdown.splitlines()
                if line.startswith(f"| boltzmann | `{model}`"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_each_result_is_said_in_words_with_its_kind_and_pixels():
    summary = leaderboard_tables.result_summary
    pixelcnn = _hand_row("pixelcnn", "autoregressive", preprocessing="levels",
                         test_nll=80.264, test_bits_per_dim=1.8094,
                         log_prob_kind="exact", log_prob_stderr=0.0,
                         frechet_distance=51.891, classes_covered=10)
    assert summary(pixelcnn, {"frechet_floor_train": 14.77}) == (
        "-log p(x) = 80.26 nats, 1.809 bits/dim (gray levels); "
        "Fréchet distance 51.89 (floor 14.77), 10 classes in the samples")
    vae = _hand_row("vae", "autoencoders", test_nll=22.09,
                    log_prob_kind="lower_bound", log_prob_samples=100,
                    log_prob_stderr=0.0, test_squared_error=5.4491)
    assert summary(vae) == (
        "-log p(x) <= 22.09 nats (binary pixels; k=100 bound); "
        "squared error 5.449 per test image")
    # A conditional model's likelihood is of x given its label.
    assert summary(vae, conditional=True).startswith("-log p(x|y) <= 22.09")
    rbm = _hand_row("rbm", "boltzmann", test_nll=22.61,
                    log_prob_kind="estimate", log_prob_stderr=0.0081)
    assert summary(rbm) == (
        "-log p(x) ≈ 22.61 nats (binary pixels; log Z by AIS ± 0.008)")
    dbn = _hand_row("dbn", "boltzmann", test_nll=27.08,
                    log_prob_kind="lower_bound", log_prob_samples=100,
                    log_prob_stderr=0.013, classification_error=0.0944)
    assert summary(dbn) == (
        "-log p(x) <= 27.08 nats (binary pixels; k=100 bound; log Z by AIS "
        "± 0.013); test error 9.4%")
    pca = _hand_row("pca", "autoencoders", preprocessing="unit",
                    test_squared_error=0.7049)
    assert summary(pca) == "squared error 0.705 per test image"
    gaussian = _hand_row("gaussian_rbm", "boltzmann", preprocessing="unit",
                         test_nll=80.62, log_prob_kind="estimate",
                         log_prob_stderr=0.005)
    assert summary(gaussian) == (
        "-log p(x) ≈ 80.62 nats ([0, 1] intensities, a density; log Z by "
        "AIS ± 0.005)")
    failed = {**_hand_row("gan", "adversarial"), "status": "failed",
              "error": "ValueError: a | b"}
    assert summary(failed) == "failed: ValueError: a | b"
    assert summary(_hand_row("gan", "adversarial")) == "—"


def test_the_models_table_takes_capabilities_and_papers_from_the_registry():
    from tfgen import registry

    cvae = _hand_row("cvae", "autoencoders", test_nll=19.51,
                     log_prob_kind="lower_bound", log_prob_samples=100,
                     log_prob_stderr=0.0)
    gan = _hand_row("gan", "adversarial", preprocessing="symmetric",
                    frechet_distance=67.15, classes_covered=10)
    table = _hand_table("digits", [gan, cvae])
    rows = leaderboard_tables.model_rows(table)
    assert [row[:2] for row in rows] == [["`gan`", "adversarial"],
                                         ["`cvae`", "autoencoders"]]
    assert rows[1][2] == ("sample, log_prob, encode, decode, reconstruct "
                          "(each with `labels`)")
    assert rows[0][2] == "sample, decode, discriminate"
    assert [row[3] for row in rows] == [registry.get("gan").paper,
                                        registry.get("cvae").paper]
    assert rows[1][4].startswith("-log p(x|y) <= 19.51 nats")
    assert rows[0][4] == ("Fréchet distance 67.15 (floor 1.50), 10 classes "
                          "in the samples")
    models = leaderboard_tables.results_tables(table)["models"]
    assert models["columns"][-1] == "test result on `digits`"
    assert models["rows"] == rows
    # A "|" in a cell stays inside it when the README renders the table.
    assert r"p(x\|y)" in results.render_table(models)
