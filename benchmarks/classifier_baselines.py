"""Logistic regression on the pixels: the baseline of the classifying models.

The README compares the test error of the deep belief net (``dbn``'s
``classify``) with a linear classifier on the same images. This benchmark
measures that classifier: scikit-learn's ``LogisticRegression`` (its
defaults, L2 penalty, C=1, lbfgs) fitted to run to convergence
(``--max_iter``, 1000 by default, well above the iterations it needs;
the default cap of 100 stops the fit on 8x8 gray levels early, and that
unfinished fit errs less on ``digits``' test split by chance: 1.9% against
2.5%), on tfgen's own splits, for each dataset two ways:

* ``gray levels``: the ``unit`` preprocessing, intensities in [0, 1];
* ``binarized``: the ``binarize_static`` preprocessing (seed 0), each
  pixel drawn once, 1 with probability its intensity: the binary images
  the binary models are scored on.

From the repository root (``python benchmarks/classifier_baselines.py``
works as well), the README's table (about a minute on 2 cores):

    python -m benchmarks.classifier_baselines --datasets=digits,mnist \\
        --manual_dir=../shared/data/mnist \\
        --results=results/classifier_baselines.json

Prints one JSON document (the command, the commit, the cores, the date and
one row per dataset and pixel kind: the test error, the iterations the
solver took, whether it converged) and a markdown table. ``--results=PATH``
writes the table as a ``tfgen.results`` file (the document as its raw);
``--from_output=FILE`` reads the document an earlier run printed instead
of measuring. Bad flags print one line on stderr and exit with status 2.
"""

import json
import pathlib
import sys
import warnings

from absl import app
from absl import flags
import numpy as np

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

# TensorFlow and scikit-learn are imported where they are used, so that
# --from_output and a bad flag answer in a second.
from tfgen import cli  # noqa: E402
from tfgen import results  # noqa: E402

FLAGS = flags.FLAGS

DATASETS = ("digits", "mnist")
# The table's name for each preprocessing.
PIXELS = {"unit": "gray levels", "binarize_static": "binarized"}

flags.DEFINE_list("datasets", ["digits"], f"Datasets, of {list(DATASETS)}.")
flags.register_validator(
    "datasets",
    lambda names: bool(names) and all(name in DATASETS for name in names),
    message=f"--datasets: expected names of {list(DATASETS)}, e.g. digits")
cli.define_shared_flag(flags.DEFINE_string, "data_dir", None,
                       "TFDS folder of prepared datasets (TFDS's default if "
                       "unset).")
cli.define_shared_flag(flags.DEFINE_string, "manual_dir", None,
                       "Folder of the MNIST IDX files, for offline use "
                       "(without it TFDS downloads MNIST).")
flags.DEFINE_integer("max_iter", 1000,
                     "The solver's iteration cap (scikit-learn's default is "
                     "100, too few for 8x8 gray levels).", lower_bound=1)
cli.define_results_flags()


def arrays(dataset, split, preprocessing, *, data_dir, manual_dir=None):
    """A split of tfgen's dataset as ``(features, labels)``: flat pixels."""
    from tfgen import data

    images, labels = data.dataset_arrays(data.load(
        dataset, split, preprocessing=preprocessing, seed=0,
        data_dir=data_dir, manual_dir=manual_dir))
    return images.reshape(len(images), -1).astype(np.float64), labels


def logistic_regression(train, test, *, max_iter):
    """Fits on ``train``; returns ``(test error, iterations, converged)``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        classifier = LogisticRegression(max_iter=max_iter).fit(*train)
    converged = not any(issubclass(warning.category, ConvergenceWarning)
                        for warning in caught)
    error = 1.0 - float(classifier.score(*test))
    return error, int(np.max(classifier.n_iter_)), converged


def run_benchmark():
    """Every dataset and pixel kind; returns the JSON document."""
    rows = []
    for dataset in FLAGS.datasets:
        # The embedded dataset refuses a manual folder.
        manual_dir = FLAGS.manual_dir if dataset == "mnist" else None
        for preprocessing, pixels in PIXELS.items():
            train, test = (arrays(dataset, split, preprocessing,
                                  data_dir=FLAGS.data_dir,
                                  manual_dir=manual_dir)
                           for split in ("train", "test"))
            error, iterations, converged = logistic_regression(
                train, test, max_iter=FLAGS.max_iter)
            row = {"dataset": dataset, "pixels": pixels,
                   "preprocessing": preprocessing,
                   "train_images": len(train[0]), "test_images": len(test[0]),
                   "test_error": error,
                   "test_errors": round(error * len(test[0])),
                   "iterations": iterations, "converged": converged}
            print(json.dumps(row), file=sys.stderr, flush=True)  # Progress.
            rows.append(row)
    # After the measurement: the versions of the libraries it imported.
    return {"benchmark": "classifier_baselines", **results.provenance(),
            "classifier": "sklearn.linear_model.LogisticRegression",
            "max_iter": FLAGS.max_iter, "manual_dir": FLAGS.manual_dir,
            "rows": rows}


def results_tables(document):
    """The document as the README's ``tfgen.results`` table."""
    return {"logistic_regression": results.records_table(
        document["rows"],
        {"dataset": "dataset", "pixels": "pixels",
         "train images": "train_images", "test images": "test_images",
         "solver iterations": "iterations", "converged": "converged",
         "test error": "test_error"},
        formats={"train images": ",d", "test images": ",d",
                 "solver iterations": "d", "test error": ".1%"},
        notes=("scikit-learn's LogisticRegression (L2, C=1, lbfgs) with "
               f"max_iter={document['max_iter']}, fitted to the flat pixels "
               "of tfgen's train split, scored on its test split."))}


def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    cli.publish_results("classifier_baselines", run_benchmark,
                        results_tables)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
