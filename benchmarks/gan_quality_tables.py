"""The tables of ``benchmarks/gan_quality.py``, as the README shows them.

Built from the command's JSON document (``gan_quality.json``), so that
``--from_output`` rebuilds them from an earlier run's: ``results_tables``
gives the ``tfgen.results`` tables (``{dataset}``: every run under the real
images' floor, the README's digits table; ``{dataset}_commands``: a row per
run and the command that measured it, the README's MNIST table;
``{dataset}_peers``: our default beside each keras-io recipe, both sides'
numbers and their ratio), ``format_markdown`` the text the command prints.
"""

import math

from tfgen import results

# The README lists our defaults in this order, then the peers' recipes;
# a model not named here follows the named ones, in the order it ran.
README_ORDER = ("gan", "dcgan", "lsgan", "wgan", "wgan_gp", "cgan",
                "unrolled_gan")
# What a model's name does not say of how its samples are drawn.
SAMPLING_NOTES = {"cgan": "labels drawn uniformly"}
# A peer comparison keeps both sides' value of each.
COMPARED = ("epochs", "generator_updates", "train_seconds",
            "frechet_distance", "frechet_distance_half", "label_entropy",
            "classes_covered", "largest_class_share")


def run_title(row):
    """A run's name in the tables: "`dcgan`", "`unrolled_gan` (K = 5)",
    "`dcgan`, keras-io DCGAN recipe"."""
    name = f"`{row['model']}`"
    if row["recipe"] != "default":
        return f"{name}, {row['recipe']} recipe"
    if row["model"] in SAMPLING_NOTES:
        return f"{name} ({SAMPLING_NOTES[row['model']]})"
    if row.get("unrolling_steps") is not None:  # Older documents lack it.
        return f"{name} (K = {row['unrolling_steps']})"
    return name


def ordered_rows(rows):
    """The rows in the README's order: our defaults, then the recipes."""
    def key(indexed):
        index, row = indexed
        rank = (README_ORDER.index(row["model"])
                if row["model"] in README_ORDER else len(README_ORDER))
        return row["recipe"] != "default", rank, index

    return [row for _, row in sorted(enumerate(rows), key=key)]


def peer_comparisons(rows):
    """Each recipe's run beside our default run of its model: both sides'
    numbers (``<key>_ours``, ``<key>_peer``) and the ratio of their Fréchet
    distances, peer over ours."""
    ours = {row["model"]: row for row in rows if row["recipe"] == "default"}
    comparisons = []
    for peer in rows:
        default = ours.get(peer["model"])
        if peer["recipe"] == "default" or default is None:
            continue
        comparison = {"model": peer["model"], "recipe": peer["recipe"],
                      "ours": default["run"], "peer": peer["run"]}
        for key in COMPARED:
            comparison[f"{key}_ours"] = default[key]
            comparison[f"{key}_peer"] = peer[key]
        comparison["frechet_distance_ratio_peer_over_ours"] = (
            peer["frechet_distance"] / default["frechet_distance"])
        comparisons.append(comparison)
    return comparisons


def _comparisons(document):
    # Documents written before the comparisons were kept lack them.
    if "peer_comparisons" in document:
        return document["peer_comparisons"]
    return peer_comparisons(document["rows"])


def _train_time(unit, scale):
    """A column of training times in ``unit`` (seconds / ``scale``); a run
    reused from an earlier command says so."""
    def pick(record):
        if record["train_seconds"] is None:
            return None
        value = record["train_seconds"] / scale
        return (results.cell(value, f"{{:.0f}} {unit} (reused)")
                if record["reused"] else value)
    return pick


def quality_table(document):
    """Every run's row under the real images' floor (the README's digits
    table)."""
    floor = document["floor"]
    real = {"title": "real images (floor)", "epochs": None,
            "generator_updates": None, "train_seconds": None,
            "frechet_distance": floor["frechet_floor_train"],
            "frechet_distance_half": floor["frechet_floor_half"],
            **{key: floor[key] for key in (
                "label_entropy", "classes_covered", "largest_class_share")}}
    runs = [{**row, "title": run_title(row)}
            for row in ordered_rows(document["rows"])]

    def lowest_in_bold(key):
        lowest = min(row[key] for row in runs) if len(runs) > 1 else None
        return lambda record: (
            results.cell(record[key], "**{:.2f}**")
            if record is not real and record[key] == lowest else record[key])

    time = f"train time ({document['cpu_count']} shared cores)"
    entropy = f"label entropy (max {math.log(document['num_classes']):.2f})"
    return results.records_table(
        [real, *runs],
        {"run": "title", "epochs": "epochs",
         "generator updates": "generator_updates",
         time: _train_time("s", 1), "FD": lowest_in_bold("frechet_distance"),
         "FD, half size": lowest_in_bold("frechet_distance_half"),
         entropy: "label_entropy", "classes covered": "classes_covered",
         "largest class": "largest_class_share"},
        formats={"epochs": "d", "generator updates": "d", time: "{:.0f} s",
                 "FD": ".2f", "FD, half size": ".2f", entropy: ".3f",
                 "classes covered": "d", "largest class": ".3f"},
        notes=(f"{document['dataset']}: Fréchet distances (FD, lower is "
               f"better) in the {document['feature_size']} features of a "
               f"classifier of {100 * document['classifier_accuracy']:.1f}% "
               f"test accuracy; FD: {document['num_test_images']} samples "
               "against the test set (floor: as many training images "
               f"against it); FD, half size: {floor['half_size']} samples "
               "against one half of the test set (floor: the other half "
               "against it); labels: the classifier's over the samples. "
               "Lowest FD of the runs in bold."))


def commands_table(document):
    """A row per run with the command that measured it (the README's MNIST
    table)."""
    floor = document["floor"]["frechet_floor_train"]
    command = f"`{document['command']}`"
    rows = [{**row, "command": command if len(document["rows"]) == 1
             else f"{run_title(row)} in {command}"}
            for row in ordered_rows(document["rows"])]
    time = f"time ({document['cpu_count']} shared cores)"
    distance = "FD" if floor is None else f"FD (floor {floor:.2f})"
    return results.records_table(
        rows, {"command": "command", "epochs": "epochs",
               time: _train_time("min", 60), distance: "frechet_distance",
               "label entropy": "label_entropy",
               "classes covered": "classes_covered"},
        formats={"epochs": "d", time: "{:.0f} min", distance: ".2f",
                 "label entropy": ".3f", "classes covered": "d"},
        notes=(f"{document['dataset']}: FD of {document['num_test_images']} "
               "samples against the test set; the floor, as many training "
               "images against it."))


def peers_table(comparisons):
    """Our default beside each keras-io recipe: both sides and the ratio."""
    columns = {"model": lambda row: f"`{row['model']}`",
               "peer recipe": "recipe", "epochs": "epochs_ours"}
    formats = {"epochs": "d"}
    for title, key, spec in (("generator updates", "generator_updates", "d"),
                             ("FD", "frechet_distance", ".2f"),
                             ("label entropy", "label_entropy", ".3f"),
                             ("classes covered", "classes_covered", "d")):
        for side in ("ours", "peer"):
            columns[f"{title}, {side}"] = f"{key}_{side}"
            formats[f"{title}, {side}"] = spec
        if key == "frechet_distance":
            columns["FD, peer / ours"] = f"{key}_ratio_peer_over_ours"
            formats["FD, peer / ours"] = ".2f"
    return results.records_table(
        comparisons, columns, formats=formats,
        notes="Our default config and the keras-io example's recipe on our "
              "model, trained on the same data for the same epochs.")


def results_tables(document):
    """``{dataset}`` (every run under the floor), ``{dataset}_commands`` (a
    row per run and its command) and, with recipes, ``{dataset}_peers``."""
    dataset = document["dataset"]
    tables = {dataset: quality_table(document),
              f"{dataset}_commands": commands_table(document)}
    if _comparisons(document):
        tables[f"{dataset}_peers"] = peers_table(_comparisons(document))
    return tables


def format_markdown(table):
    """The setting, the table of every run under the floor, the verdicts."""
    setting = (f"Command: `{table.get('command')}` at commit "
               f"{(table.get('commit') or 'unknown')[:12]}, "
               f"{table.get('cpu_count')} cores, {table.get('date')}.")
    if table.get("overrides"):
        setting += " Config overrides of every run: " + ", ".join(
            f"{key}={value}" for key, value in table["overrides"].items())
    lines = [
        setting,
        "",
        f"Sample quality on `{table['dataset']}`: {table['num_test_images']} "
        f"test images; feature classifier's test accuracy "
        f"{100 * table['classifier_accuracy']:.1f}%; Fréchet distances "
        f"(FD) in its {table['feature_size']} features, lower is better. "
        "Each compares with the real-data floor of its row measured at the "
        f"same sizes: FD, {table['num_test_images']} samples against the "
        f"test set, with as many training images against it; FD half, "
        f"{table['floor']['half_size']} samples against one half of the "
        "test set, with the other half against it. The finite sets' bias "
        "makes a floor a reference, not a bound: a generator whose features "
        "vary less than the data's can score below it.",
        "",
        results.render_table(quality_table(table)),
    ]
    verdicts = []
    for row in _comparisons(table):
        epochs = row["epochs_ours"]
        better = row["frechet_distance_ours"] <= row["frechet_distance_peer"]
        not_expressed = table["peer_recipes"].get(row["model"], {}).get(
            "not_expressed", ())
        verdicts.append(
            f"- `{row['model']}`, our default against the {row['recipe']} "
            f"recipe on our data, {epochs} epoch"
            f"{'' if epochs == 1 else 's'} each: FD "
            f"{row['frechet_distance_ours']:.2f} against "
            f"{row['frechet_distance_peer']:.2f} "
            f"({'ours matches or beats it' if better else 'theirs is lower'})"
            f"; label entropy {row['label_entropy_ours']:.3f} against "
            f"{row['label_entropy_peer']:.3f}, classes covered "
            f"{row['classes_covered_ours']} against "
            f"{row['classes_covered_peer']}. Not expressed of their recipe: "
            f"{'; '.join(not_expressed)}.")
    if verdicts:
        lines += ["", *verdicts]
    return "\n".join(lines)
