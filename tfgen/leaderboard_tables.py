"""The leaderboard's tables: the markdown, the results tables, the words.

``tfgen.leaderboard`` measures; this module writes what it measured. Each
function takes the leaderboard's table (``tfgen.leaderboard.execute``'s
dict: the setting, and a row per model of the numbers of
``tfgen.evaluation`` read from the run's ``metrics.json``) and returns
text or ``tfgen.results`` tables, so that a table can be rendered again
from a committed ``leaderboard.json`` (``python -m tfgen.leaderboard
--from_output=FILE``) without training anything.
"""

import dataclasses

from tfgen import results

# Seeds 0..SAMPLE_IMAGES-1 are drawn once to warm up (tracing) and once
# timed; the timed draw is the model's row in leaderboard.png.
SAMPLE_IMAGES = 16

@dataclasses.dataclass(frozen=True)
class Published:
    """A published binarized-MNIST number to set beside ours.

    Attributes:
        metric: ``"test_nll"`` (nats) or ``"classification_error"``.
        value: the number, as the paper states it.
        text: how the table writes it.
        source: the paper.
        budget: the training the paper spent on it.
    """

    metric: str
    value: float
    text: str
    source: str
    budget: str


PUBLISHED_MNIST = {
    "pixelcnn": Published(
        "test_nll", 81.30, "81.30 nats",
        "van den Oord, Kalchbrenner & Kavukcuoglu (2016), Pixel Recurrent "
        "Neural Networks",
        "the full binarized-MNIST training set, a larger network, trained "
        "to convergence on GPUs"),
    "rbm": Published(
        "test_nll", 86.0, "about 86 nats (log Z by AIS)",
        "Salakhutdinov & Murray (2008), On the Quantitative Analysis of "
        "Deep Belief Networks: an RBM of 500 hidden units",
        "the 60,000 training images, contrastive divergence with many Gibbs "
        "steps, to convergence"),
    "vae": Published(
        "test_nll", 86.0, "about 85-87 nats (VAE and IWAE, k = 5,000)",
        "Burda, Grosse & Salakhutdinov (2016), Importance Weighted "
        "Autoencoders",
        "3,280 passes over the 60,000 training images"),
    "dbn": Published(
        "classification_error", 0.0125, "1.25% test error",
        "Hinton, Osindero & Teh (2006), A Fast Learning Algorithm for Deep "
        "Belief Nets: 784-500-500-2000 with the labels at the top",
        "the 60,000 training images, greedy pretraining then hundreds of "
        "epochs of up-down fine-tuning"),
}



PIXELS = {"binarize_static": "binary", "binarize_dynamic": "binary",
           "levels": "levels", "unit": "[0, 1]", "symmetric": "[-1, 1]",
           "identity": "values"}

COLUMNS = ("family", "model", "pixels", "test NLL (nats)", "bits/dim",
           "NLL kind", "Parzen NLL (nats)", "Fréchet", "classes",
           "label entropy", "largest class", "recon. error", "weights",
           "epochs", "train s", "sample ms/image", "status")

LEGEND = (
    "pixels: what the model sees, binarized images, integer gray levels or "
    "intensities; an NLL compares only with NLLs of the same pixels.",
    "test NLL: -log p(x) per test image in nats, lower is better; bits/dim "
    "for integer levels (nats / (D ln 2)).",
    "NLL kind: exact; a bound (-log p(x) is at most this, from k "
    "importance samples); or an estimate, where log Z comes from annealed "
    "importance sampling (AIS) with the standard error given.",
    "Parzen NLL: -log p(x) per test image under a Gaussian kernel density "
    "estimate fitted to the model's samples (config.parzen_samples of "
    "them; the bandwidth chosen on the validation split; both in the "
    "json), ± its standard error over the test images, as [0, 1] "
    "intensities of the pixels the model sees: like the NLLs, it compares "
    "only between models of the same pixels.",
    "Fréchet: distance between samples and test images in the features "
    "of a small classifier of the dataset, lower is better; classes, label "
    "entropy (nats) and largest class: how the classifier's labels of the "
    "samples spread over the classes.",
    "recon. error: squared reconstruction error per test image, summed "
    "over pixels in [0, 1].",
    "weights: trainable weights of the trained model (a GAN's "
    "discriminator's included).",
    "train s: the run's training time (a reused run's as recorded); "
    f"sample ms/image: one call of `sample` on {SAMPLE_IMAGES} seeds after "
    "a warm-up call, divided by the images.",
    "status: trained now, reused from its workdir, continued (resumed to "
    "more epochs), evaluated again (a finished run, a config field added "
    "since), or failed with its error.",
)

CAVEATS = (
    "The Parzen NLL is a kernel density estimate on [0, 1] pixel "
    "intensities: a continuous density, not comparable to the discrete "
    "NLLs, and known to rank models poorly in high dimensions (Theis, van "
    "den Oord & Bethge 2016).",
    "AIS numbers are estimates: their standard error covers the "
    "estimator's spread, not its bias; too few intermediate distributions "
    "make log Z too small and the NLL too optimistic.",
    "Each model trains with its own default config for the budget stated; "
    "the table compares these runs, not the models at their best.",
)


def _number(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}"


def nll_kind(row):
    """What a row's NLL is, in words (None without log_prob)."""
    kind = row.get("log_prob_kind")
    if kind is None:
        return None
    samples = row.get("log_prob_samples")
    stderr = row.get("log_prob_stderr") or 0.0
    text = {"exact": "exact", "lower_bound": "bound",
            "estimate": "estimate"}[kind]
    if kind == "lower_bound" and samples:
        text += f", k={samples}"
    if stderr:
        text = ("estimate: " + text if kind != "estimate" else text) + (
            f", log Z by AIS ± {stderr:.3f}")
    return text


def cells(row):
    """A row's cells under ``COLUMNS``, "—" where the model has no number."""
    pixels = PIXELS.get(row["preprocessing"], row["preprocessing"])
    head = [row["family"], f"`{row['model']}`", pixels]
    if row["status"] == "failed":
        return head + ["—"] * (len(COLUMNS) - 4) + [f"failed: {row['error']}"]
    parzen = (None if row.get("parzen_nll") is None else
              f"{row['parzen_nll']:.2f} ± {row['parzen_stderr']:.2f}")
    share = row.get("largest_class_share")
    seconds = row.get("sample_seconds_per_image")
    numbers = [
        _number(row.get("test_nll")), _number(row.get("test_bits_per_dim"), 3),
        nll_kind(row), parzen, _number(row.get("frechet_distance")),
        row.get("classes_covered"), _number(row.get("label_entropy"), 3),
        None if share is None else f"{100 * share:.1f}%",
        _number(row.get("test_squared_error"), 3),
        f"{row['num_parameters']:,}", row.get("epochs"),
        _number(row.get("train_seconds"), 1),
        None if seconds is None else f"{1000 * seconds:.2f}", row["status"]]
    return head + ["—" if cell is None else str(cell) for cell in numbers]


def _markdown_row(cells):
    # format_cell escapes a "|" inside a cell, as the README's render does.
    return "| " + " | ".join(map(results.format_cell, cells)) + " |"


def format_markdown(table):
    """The leaderboard as markdown: setting, table, legend, caveats and, on
    ``mnist``, the published numbers.

    Args:
        table: ``run``'s table (rows sorted by family and model).

    Returns:
        The markdown text.
    """
    commit = (table.get("commit") or "unknown")[:12]
    lines = [
        f"# Leaderboard on `{table['dataset']}`", "",
        f"Command: `{table['command']}` at commit {commit}, "
        f"{table['cpu_count']} cores, {table['date']}; "
        f"{table['wall_seconds']:.0f} s in all.", "",
        f"Budget: {table['budget']}; {table['train_examples']:,} training "
        f"and {table['test_examples']:,} test images.", ""]
    floors = table.get("floors")
    if floors:
        lines += [
            "Fréchet floors (real images against the test set): as many "
            "training images "
            f"{_number(floors.get('frechet_floor_train'))}; one half of the "
            "test set against the other "
            f"{_number(floors['frechet_floor_half'])} "
            "(compare with a model's distance at the same size).", ""]
    else:
        lines += ["Fréchet distances: not measured (config.sample_quality "
                  "is off, or no model samples).", ""]
    lines += [_markdown_row(COLUMNS),
              _markdown_row(["---"] * len(COLUMNS))]
    lines += [_markdown_row(cells(row)) for row in table["rows"]]
    if table["num_failed"]:
        lines += ["", f"{table['num_failed']} of {len(table['rows'])} models "
                  "failed."]
    lines += ["", "Columns:", ""] + [f"- {text}" for text in LEGEND]
    lines += ["", "Caveats:", ""] + [f"- {text}" for text in CAVEATS]
    if table["dataset"] == "mnist":
        lines += ["", *published_lines(table)]
    return "\n".join(lines) + "\n"


PUBLISHED_COLUMNS = ("model", "ours", "published", "source", "our budget",
                     "their budget")


def published_lines(table):
    """The published binarized-MNIST numbers beside ours, as markdown."""
    lines = ["## Published binarized-MNIST numbers", "",
             _markdown_row(PUBLISHED_COLUMNS),
             _markdown_row(["---"] * len(PUBLISHED_COLUMNS))]
    lines += [_markdown_row(cells) for cells in published_rows(table)]
    lines += ["", PUBLISHED_NOTE]
    return lines


PUBLISHED_NOTE = (
    "The published NLLs are of binarized MNIST: ours compare with them only "
    "where our pixels are binary. Their budgets are many times ours; the gap "
    "is mostly that budget.")


def published_rows(table):
    """The cells of the published numbers' table, one list per model that
    has a published number."""
    rows = []
    for row in table["rows"]:
        published = PUBLISHED_MNIST.get(row["model"])
        if published is None:
            continue
        value = row.get(published.metric)
        if value is None:
            ours = "—"
        elif published.metric == "classification_error":
            ours = f"{100 * value:.2f}% test error"
        else:
            ours = (f"{value:.2f} nats "
                    f"({PIXELS.get(row['preprocessing'])} pixels)")
        budget = "failed" if row["status"] == "failed" else (
            f"{row.get('epochs')} epochs on {table['train_examples']:,} "
            f"training images, {_number(row.get('train_seconds'), 0)} s on "
            f"{table['cpu_count']} cores")
        rows.append([f"`{row['model']}`", ours, published.text,
                     published.source, budget, published.budget])
    return rows


def results_tables(table):
    """The leaderboard as ``tfgen.results`` tables: ``leaderboard`` (the
    markdown's table, cell for cell); ``models`` (``model_rows``: the
    README's list of models, each with its paper and its test result in
    words); one per family (``autoencoders``,
    ...: its rows, without the family column and the columns empty for
    all of them), for a family's section of the README; and, on ``mnist``,
    ``published``."""
    setting = (f"Budget: {table['budget']}; {table['train_examples']:,} "
               f"training and {table['test_examples']:,} test images; "
               f"{table['wall_seconds']:.0f} s in all on "
               f"{table['cpu_count']} cores.")
    notes = " ".join([setting, *LEGEND, *CAVEATS])
    all_cells = [cells(row) for row in table["rows"]]
    tables = {"leaderboard": results.table(COLUMNS, all_cells, notes=notes),
              "models": results.table(
                  MODEL_COLUMNS[:-1] + (
                      f"{MODEL_COLUMNS[-1]} `{table['dataset']}`",),
                  model_rows(table),
                  notes=f"{setting} {MODELS_NOTE}")}
    for family in dict.fromkeys(row["family"] for row in table["rows"]):
        rows = [row_cells[1:]
                for row, row_cells in zip(table["rows"], all_cells)
                if row["family"] == family]
        kept = [index for index in range(len(COLUMNS) - 1)
                if any(row[index] != "—" for row in rows)]
        tables[family] = results.table(
            [COLUMNS[1 + index] for index in kept],
            [[row[index] for index in kept] for row in rows], notes=notes)
    if table["dataset"] == "mnist":
        tables["published"] = results.table(
            PUBLISHED_COLUMNS, published_rows(table), notes=PUBLISHED_NOTE)
    return tables


# --- The models table: the registry's words and each row's result. ----------

MODEL_COLUMNS = ("`--model`", "family", "capabilities", "paper",
                 "test result on")

MODELS_NOTE = (
    "The capabilities are the model's signatures (those that also take "
    "`labels` said so) and the paper the work its file implements, both "
    "from the registry; the test result is the row's numbers in words: "
    "-log p(x) per test image in nats, = exact, <= a bound from k "
    "importance samples, ≈ an estimate whose log Z comes from AIS (its "
    "standard error given); the test error of a model that classifies; "
    "the squared reconstruction error per test image; the Fréchet "
    "distance of the samples to the test images (floor: as many training "
    "images) and the classes the samples cover.")


def capabilities_text(spec):
    """A registered model's capabilities, those taking labels said so."""
    labelled = [name for name in spec.capabilities
                if name in getattr(spec.model_class, "labelled_capabilities",
                                   ())]
    text = ", ".join(spec.capabilities)
    if labelled and len(labelled) == len(spec.capabilities):
        text += " (each with `labels`)"
    elif labelled:
        text += f" ({', '.join(labelled)} with `labels`)"
    return text


# How the models table names the pixels a likelihood is of.
PIXEL_WORDS = {"binarize_static": "binary pixels",
               "binarize_dynamic": "binary pixels", "levels": "gray levels",
               "unit": "[0, 1] intensities, a density",
               "symmetric": "[-1, 1] intensities, a density",
               "identity": "values, a density"}


def _likelihood_text(row, conditional):
    kind, nll = row.get("log_prob_kind"), row.get("test_nll")
    if kind is None or nll is None:
        return None
    stderr = row.get("log_prob_stderr") or 0.0
    relation = {"exact": "=", "lower_bound": "<=", "estimate": "≈"}[kind]
    given = "x|y" if conditional else "x"
    text = f"-log p({given}) {relation} {nll:.2f} nats"
    if row.get("test_bits_per_dim") is not None:
        text += f", {row['test_bits_per_dim']:.3f} bits/dim"
    how = [PIXEL_WORDS.get(row["preprocessing"], row["preprocessing"])]
    if kind == "lower_bound" and row.get("log_prob_samples"):
        how.append(f"k={row['log_prob_samples']} bound")
    if stderr:
        how.append(f"log Z by AIS ± {stderr:.3f}")
    return f"{text} ({'; '.join(how)})"


def result_summary(row, floors=None, conditional=False):
    """A row's test numbers in words, for the models table.

    Args:
        row: a leaderboard row.
        floors: the table's Fréchet floors (``floors`` of the table).
        conditional: the model's ``log_prob`` takes labels: its NLL is of
            p(x|y).

    Returns:
        The numbers the model has, most telling first, joined by "; ":
        its likelihood, its test error, its reconstruction error, its
        samples' Fréchet distance and classes; or its failure.
    """
    if row["status"] == "failed":
        return f"failed: {row['error']}"
    parts = [_likelihood_text(row, conditional)]
    if row.get("classification_error") is not None:
        parts.append(
            f"test error {100 * row['classification_error']:.1f}%")
    if row.get("test_squared_error") is not None:
        parts.append(f"squared error {row['test_squared_error']:.3f} per "
                     "test image")
    if row.get("frechet_distance") is not None:
        text = f"Fréchet distance {row['frechet_distance']:.2f}"
        floor = (floors or {}).get("frechet_floor_train")
        if floor is not None:
            text += f" (floor {floor:.2f})"
        if row.get("classes_covered") is not None:
            text += f", {row['classes_covered']} classes in the samples"
        parts.append(text)
    parts = [part for part in parts if part]
    return "; ".join(parts) if parts else "—"


def model_rows(table):
    """The models table's cells: a row per leaderboard row, its model's
    capabilities and paper from the registry (which the entry point,
    ``tfgen.leaderboard``, has filled by importing ``zoo``)."""
    from tfgen import registry

    rows = []
    for row in table["rows"]:
        spec = registry.get(row["model"])
        conditional = "log_prob" in getattr(
            spec.model_class, "labelled_capabilities", ())
        rows.append([f"`{row['model']}`", row["family"],
                     capabilities_text(spec), spec.paper,
                     result_summary(row, table.get("floors"), conditional)])
    return rows
