"""The evaluation harness: the same numbers for every model that allows them.

``evaluate`` is the one computation of a trained model's test numbers: the
training loop calls it after training, and ``python -m tfgen.evaluate`` calls
it on a restored checkpoint or on an exported SavedModel, so the three give
the same numbers. What it computes follows what the model declares:

- the model's own ``test_step`` metrics (``model.evaluate``);
- with ``log_prob``: the test negative log-likelihood in nats per example
  (and bits per dimension for integer-level data), the kind of number it is
  (``model.log_prob_kind``: exact, a lower bound on log p or an estimate),
  the standard error the model states for it (``log_prob_stderr``) and k,
  the importance samples of a bound, where the config has
  ``log_prob_samples``;
- with ``reconstruct``: the squared reconstruction error per test example,
  summed over pixels in [0, 1] intensities;
- for discrete data: the independent-pixel baseline, the best model that
  ignores its input's structure;
- what the model reports of itself (``model.report()``: an estimated log
  partition function, say);
- with ``sample``, on the 2-D mixtures (``ring8``, ``grid25``): the mode
  coverage of 2,500 samples (``tfgen.mode_coverage``: modes captured and
  the share of high-quality samples, as in VEEGAN's Table 1);
- with ``sample``, on images with classes (``config.sample_quality``): the
  Fréchet distance between as many samples as test images and the test
  images, in the features of a small classifier of the dataset, beside
  the distance between two halves of the real test set, and the spread of
  the classifier's labels over the samples (``tfgen.frechet``);
- with ``sample``, on images (``config.parzen_samples`` > 0): the
  Parzen-window negative log-likelihood of the test images under a
  Gaussian kernel density estimate fitted to that many samples, its
  bandwidth chosen on the validation images (``tfgen.parzen``, Goodfellow
  et al. 2014): a likelihood for models that only sample, on [0, 1]
  intensities, biased, and not comparable to the discrete likelihoods
  above.
"""

import json
import math
import os
import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfgen import data
from tfgen import mode_coverage
from tfgen.data import toy2d

# What the evaluation of a workdir writes there; metrics.json gets the same
# numbers merged in.
EVALUATION_FILE = "evaluation.json"
METRICS_FILE = "metrics.json"

# Beside an exported SavedModel: the model's name, config and the
# statements about its log_prob that the SavedModel's signatures cannot
# carry, so that the export can be evaluated on the data it was trained on.
EXPORT_RECORD = pathlib.Path("assets.extra") / "tfgen_model.json"

# Capability inputs a dataset batch fills: {input name: batch key}.
BATCH_INPUTS = {"images": "image", "labels": "label"}

# Examples per batch when reading the training split for the baseline.
_BASELINE_BATCH = 1024

_BINARIZED = ("binarize_static", "binarize_dynamic")


def independent_pixel_nll(train_images, test_images, *, preprocessing,
                          num_levels):
    """Test NLL of the best model that ignores its input's structure.

    Each pixel is modelled independently by its marginal distribution on the
    training set (a Bernoulli for binarized data, a categorical over the gray
    levels for integer data), with add-one smoothing so that a value never
    seen in training keeps a finite cost. A VAE whose encoder ignored its
    input could do no better than this: with the posterior equal to the prior
    its best decoder is these marginals.

    Args:
        train_images: ``(N, H, W, C)`` training images, preprocessed.
        test_images: ``(M, H, W, C)`` test images, preprocessed alike.
        preprocessing: the config's preprocessing name.
        num_levels: gray levels of the raw data (for ``levels``).

    Returns:
        Mean negative log-likelihood of a test image in nats, or ``None`` for
        continuous preprocessings, where a discrete likelihood is undefined.
    """
    num_train = len(train_images)
    train = np.reshape(train_images, [num_train, -1])
    test = np.reshape(test_images, [len(test_images), -1])
    if preprocessing in _BINARIZED:
        p_one = (train.sum(axis=0) + 1.0) / (num_train + 2.0)  # (D,)
        log_probs = test * np.log(p_one) + (1 - test) * np.log1p(-p_one)
        return float(-log_probs.sum(axis=1).mean())
    if preprocessing == "levels":
        train, test = train.astype(np.int64), test.astype(np.int64)
        counts = np.ones([train.shape[1], num_levels])  # (D, L), add-one
        for level in range(num_levels):
            counts[:, level] += (train == level).sum(axis=0)
        log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
        picked = np.take_along_axis(log_p, test.T, axis=1)  # (D, M)
        return float(-picked.sum(axis=0).mean())
    return None


def bits_per_dim(nats_per_image, num_dims):
    """Converts nats per image to bits per dimension."""
    return nats_per_image / (num_dims * math.log(2.0))


def capability_arguments(model, capability, batch):
    """The arguments of a capability call taken from a dataset batch.

    A capability's inputs named ``images`` get the batch's images and those
    named ``labels`` its labels (a conditional model's), so the harness calls
    every model the same way.

    Args:
        model: a ``GenerativeModel``.
        capability: one of its declared capabilities.
        batch: a dict with ``"image"`` and ``"label"`` tensors.

    Returns:
        ``{input_name: tensor}``.

    Raises:
        ValueError: the capability has an input a batch cannot fill.
    """
    arguments = {}
    for name, spec_input in model.capability_inputs(capability).items():
        if name not in BATCH_INPUTS:
            raise ValueError(
                f"{type(model).__name__}.{capability} takes {name!r}, which "
                "a dataset batch does not hold")
        arguments[name] = tf.cast(batch[BATCH_INPUTS[name]],
                                  spec_input.spec.dtype)
    return arguments


def mean_log_prob(model, batches):
    """Mean of the model's ``log_prob`` capability over a batched dataset."""
    total, count = 0.0, 0
    for batch in batches:
        log_prob = np.asarray(model.log_prob(
            **capability_arguments(model, "log_prob", batch))["log_prob"])
        total += float(log_prob.sum())
        count += len(log_prob)
    return total / count


def squared_errors(images, reconstructions):
    """Squared reconstruction error of each image, summed over its pixels.

    Hinton & Salakhutdinov (2006) compare a deep autoencoder with PCA by the
    average of this number over the test images, pixels in [0, 1].

    Args:
        images: array-like (N, ...) of targets.
        reconstructions: array-like of the same shape.

    Returns:
        float64 array (N,): sum over pixels of (x - x_hat)^2.

    Raises:
        ValueError: the shapes differ.
    """
    images = np.asarray(images, np.float64)
    reconstructions = np.asarray(reconstructions, np.float64)
    if images.shape != reconstructions.shape:
        raise ValueError(f"images {images.shape} and reconstructions "
                         f"{reconstructions.shape} differ in shape")
    return np.square(images - reconstructions).reshape(len(images), -1).sum(
        axis=1)


def nearest_neighbours(queries, references, num_neighbours, *,
                       query_indices=None, chunk_size=256):
    """The references nearest to each query in Euclidean distance.

    Retrieval in code space: a query's code is compared with every
    reference's, and the closest come first. Equal distances are ordered by
    reference index, so the result does not depend on the platform's sort.

    Args:
        queries: array-like (Q, D).
        references: array-like (R, D).
        num_neighbours: k, at most the number of references a query may
            return.
        query_indices: optional integer (Q,): the reference index of each
            query when the queries are drawn from the references; that
            reference is then left out of the query's neighbours.
        chunk_size: queries compared at once; it bounds the memory
            (chunk_size * R distances) and does not change the result.

    Returns:
        ``(indices, distances)``: int64 (Q, k) reference indices, nearest
        first, and their float64 (Q, k) Euclidean distances.

    Raises:
        ValueError: the arrays are not (Q, D) and (R, D), ``query_indices``
            does not match the queries, or k is not in [1, candidates].
    """
    queries = np.asarray(queries, np.float64)
    references = np.asarray(references, np.float64)
    if (queries.ndim != 2 or references.ndim != 2
            or queries.shape[1] != references.shape[1]):
        raise ValueError(f"queries {queries.shape} and references "
                         f"{references.shape} must be (Q, D) and (R, D)")
    candidates = len(references) - (query_indices is not None)
    if not 1 <= num_neighbours <= candidates:
        raise ValueError(f"num_neighbours={num_neighbours} must lie in "
                         f"[1, {candidates}]")
    if query_indices is not None:
        query_indices = np.asarray(query_indices, np.int64).reshape(-1)
        if len(query_indices) != len(queries):
            raise ValueError(f"{len(query_indices)} query_indices for "
                             f"{len(queries)} queries")
    squared_norms = np.square(references).sum(axis=1)  # (R,)
    all_indices, all_distances = [], []
    for start in range(0, len(queries), chunk_size):
        chunk = queries[start:start + chunk_size]  # (q, D)
        # |a - b|^2 = |a|^2 - 2 a.b + |b|^2, clipped: rounding can make a
        # zero distance slightly negative.
        squared = np.maximum(
            np.square(chunk).sum(axis=1, keepdims=True)
            - 2.0 * chunk @ references.T + squared_norms, 0.0)  # (q, R)
        if query_indices is not None:
            rows = np.arange(len(chunk))
            squared[rows, query_indices[start:start + chunk_size]] = np.inf
        order = np.argsort(squared, axis=1, kind="stable")[:, :num_neighbours]
        all_indices.append(order)
        all_distances.append(
            np.sqrt(np.take_along_axis(squared, order, axis=1)))
    return (np.concatenate(all_indices).astype(np.int64),
            np.concatenate(all_distances))


def retrieval_precision(neighbour_labels, query_labels):
    """Mean fraction of a query's retrieved items that share its label.

    Args:
        neighbour_labels: array-like (Q, k), the labels of each query's k
            neighbours (``labels[indices]`` of ``nearest_neighbours``).
        query_labels: array-like (Q,).

    Returns:
        A float in [0, 1]: precision at k, averaged over the queries.

    Raises:
        ValueError: the shapes do not match or there is no query.
    """
    neighbour_labels = np.asarray(neighbour_labels)
    query_labels = np.asarray(query_labels).reshape(-1)
    if (neighbour_labels.ndim != 2 or len(query_labels) == 0
            or neighbour_labels.shape[0] != len(query_labels)):
        raise ValueError(f"neighbour_labels {neighbour_labels.shape} must be "
                         f"(Q, k) for {len(query_labels)} query labels, Q > 0")
    return float((neighbour_labels == query_labels[:, None]).mean())


def evaluate(model, splits, *, data_dir=None, manual_dir=None):
    """The harness's test numbers of a trained model.

    Args:
        model: a trained ``GenerativeModel``, or anything with its
            ``config``, ``data_info``, ``capabilities``,
            ``capability_inputs``, capability methods, ``log_prob_kind``,
            ``log_prob_stderr`` and ``report`` (``tfgen.evaluate``'s view
            of an exported SavedModel, which has no ``test_step``).
        splits: unbatched splits as ``tfgen.training.load_datasets`` gives
            them: ``"test"`` and ``"train_for_evaluation"`` (the training
            images preprocessed as the test images are, for the baseline).
        data_dir: TFDS folder of prepared datasets, where the feature
            classifier of the sample quality is cached.
        manual_dir: folder of the dataset's standard files.

    Returns:
        A dict of plain numbers and strings (see the module docstring):
        ``num_test_examples``; ``test`` (``{metric: value}`` of
        ``test_step``, Keras models only); with ``log_prob``: ``test_nll``,
        ``log_prob_kind``, ``log_prob_stderr``, ``log_prob_samples`` (if
        the config has it) and ``test_bits_per_dim`` (``levels`` data);
        with ``reconstruct``: ``test_squared_error``; for discrete data:
        ``baseline_independent_pixels_nll``; ``model_report`` if the model
        reports anything; with ``sample`` on ``ring8`` or ``grid25``:
        ``modes_covered``, ``num_modes``, ``high_quality_share``,
        ``mode_counts``, ``mode_kl`` and ``mode_coverage_samples``
        (``points_mode_coverage``); with ``sample`` on labelled images
        and ``config.sample_quality`` on: ``frechet_distance`` and the
        other numbers of ``image_sample_quality``; with ``sample`` on
        images and ``config.parzen_samples`` > 0: ``parzen_nll`` and the
        other numbers of ``parzen_likelihood``.
    """
    config, info = model.config, model.data_info
    preprocessing = config.preprocessing
    test_batches = splits["test"].batch(int(config.batch_size)).cache()
    test_images, _ = data.dataset_arrays(test_batches)
    results = {"num_test_examples": len(test_images)}
    if isinstance(model, keras.Model):
        results["test"] = {name: float(value) for name, value in
                           model.evaluate(test_batches, return_dict=True,
                                          verbose=0).items()}
    if "log_prob" in model.capabilities:
        nll = -mean_log_prob(model, test_batches)
        results["test_nll"] = nll
        results["log_prob_kind"] = model.log_prob_kind
        results["log_prob_stderr"] = float(model.log_prob_stderr())
        if "log_prob_samples" in config:
            results["log_prob_samples"] = int(config.log_prob_samples)
        if preprocessing == "levels":
            results["test_bits_per_dim"] = bits_per_dim(nll, info.event_size)
    if "reconstruct" in model.capabilities:
        errors = []
        for batch in test_batches:
            reconstructions = model.reconstruct(**capability_arguments(
                model, "reconstruct", batch))["images"]
            errors.append(squared_errors(
                data.unit_intensities(batch["image"], preprocessing,
                                      info.num_levels),
                data.unit_intensities(reconstructions, preprocessing)))
        results["test_squared_error"] = float(np.concatenate(errors).mean())
    train_images, _ = data.dataset_arrays(
        splits["train_for_evaluation"].batch(_BASELINE_BATCH))
    baseline = independent_pixel_nll(
        train_images, test_images, preprocessing=preprocessing,
        num_levels=info.num_levels)
    if baseline is not None:
        results["baseline_independent_pixels_nll"] = baseline
    report = {name: float(value) for name, value in model.report().items()}
    if report:
        results["model_report"] = report
    results.update(points_mode_coverage(model))
    # The Fréchet distance and the Parzen estimate both draw seeds 0, 1, ...
    # of the model: drawn once (a slow sampler's draws are most of its
    # evaluation).
    draws = SampleDraws(model)
    results.update(image_sample_quality(model, splits,
                                        data_dir=data_dir,
                                        manual_dir=manual_dir, draws=draws))
    results.update(parzen_likelihood(model, splits, draws=draws))
    return results


class SampleDraws:
    """A model's samples of seeds 0, 1, 2, ..., each drawn once.

    ``first(n)`` returns the samples of seeds 0..n-1 as
    ``tfgen.frechet.model_samples(model, n)`` draws them, drawing only the
    seeds not drawn before.
    """

    def __init__(self, model):
        self.model = model
        self.images = None
        self.num_drawn = 0

    def first(self, num_images):
        # Imported here: tfgen.frechet reads this module's helpers.
        from tfgen import frechet

        if num_images > self.num_drawn:
            more = frechet.draw_samples(self.model, np.arange(
                self.num_drawn, num_images, dtype=np.int64))
            self.images = more if self.images is None else np.concatenate(
                [self.images, more])
            self.num_drawn = num_images
        return self.images[:num_images]


# --- Sample quality on labelled images. -----------------------------------

def image_sample_quality(model, splits, *, data_dir=None, manual_dir=None,
                         draws=None):
    """The Fréchet distance and label spread of a sampler of images.

    ``draws``: a ``SampleDraws`` of the model to take the samples from
    (None: drawn here).

    Returns:
        ``{}`` unless the model declares ``sample``, its data are images
        with classes and its config's ``sample_quality`` is on; then
        ``tfgen.frechet.evaluate_samples``'s numbers, with
        ``frechet_floor_train``, as many training images' distance to the
        test images (the dataset's feature classifier is trained on first
        use and cached).
    """
    info = model.data_info
    if ("sample" not in model.capabilities or not info.is_image
            or info.num_classes < 2
            or not model.config.get("sample_quality", False)):
        return {}
    # Imported here: tfgen.frechet reads this module's helpers.
    from tfgen import frechet
    return frechet.evaluate_samples(
        model, splits["test"], data_dir=data_dir, manual_dir=manual_dir,
        train_split_or_images=splits["train_for_evaluation"],
        draw=None if draws is None else draws.first)


# --- The Parzen-window likelihood of a sampler of images. -------------------

def _unit_split(model, split):
    """An unbatched split of images as float32 [0, 1] (N, H, W, C)."""
    images, _ = data.dataset_arrays(split.batch(_BASELINE_BATCH))
    return data.unit_intensities(images, model.config.preprocessing,
                                 model.data_info.num_levels)


def parzen_likelihood(model, splits, *, draws=None):
    """The test NLL under a Parzen window of the model's samples.

    Goodfellow et al. (2014), section 5: ``config.parzen_samples`` samples
    (seeds 0..n-1, drawn as the Fréchet distance draws them:
    ``tfgen.frechet.model_samples``, a conditional model's labels uniform,
    values as [0, 1] intensities) are the centres of an isotropic Gaussian
    kernel density estimate; its bandwidth is the one of
    ``tfgen.parzen.DEFAULT_BANDWIDTHS`` with the best mean log density of
    the validation images, and the test images' mean negative log density
    is the number (``tfgen.parzen.estimate``). Where the splits hold no
    validation split, the bandwidth is chosen on as many training images
    as there are test images, drawn at random (seed 0), and
    ``parzen_selection_split`` says so.

    Args:
        model: as for ``evaluate``.
        splits: as for ``evaluate``; ``"validation"`` is used if present.
        draws: a ``SampleDraws`` of the model to take the samples from
            (None: drawn here).

    Returns:
        ``{}`` unless the model declares (and has) ``sample``, its data
        are images and its config's ``parzen_samples`` (absent: 0) is
        positive; then ``parzen_nll`` (nats per test image, [0, 1]
        intensities), ``parzen_stderr`` (its standard error over the test
        images), ``parzen_bandwidth`` (sigma), ``parzen_num_samples``,
        ``parzen_selection_split`` (``"validation"`` or ``"train"``),
        ``parzen_selection_examples`` and ``parzen_bandwidth_at_grid_edge``
        (the best sigma is an end of the grid: the best may lie beyond).
    """
    num_samples = int(model.config.get("parzen_samples", 0))
    # tfgen.evaluate's view of an export has no sample method to call.
    if ("sample" not in model.capabilities or not model.data_info.is_image
            or num_samples <= 0 or not hasattr(model, "sample")):
        return {}
    # Imported here: tfgen.frechet reads this module's helpers.
    from tfgen import frechet
    from tfgen import parzen

    test = _unit_split(model, splits["test"])
    if "validation" in splits:
        selection_split = "validation"
        selection = _unit_split(model, splits["validation"])
    else:
        selection_split = "train"
        train = _unit_split(model, splits["train_for_evaluation"])
        chosen = np.random.default_rng(0).permutation(len(train))
        selection = train[chosen[:len(test)]]
    samples = (frechet.model_samples(model, num_samples) if draws is None
               else draws.first(num_samples))
    estimate = parzen.estimate(samples, selection, test)
    return {"parzen_nll": estimate["nll"],
            "parzen_stderr": estimate["stderr"],
            "parzen_bandwidth": estimate["bandwidth"],
            "parzen_num_samples": estimate["num_samples"],
            "parzen_selection_split": selection_split,
            "parzen_selection_examples": len(selection),
            "parzen_bandwidth_at_grid_edge": estimate["at_grid_edge"]}


# --- Mode coverage on the 2-D mixtures. --------------------------------------

def points_mode_coverage(model):
    """Mode coverage of a sampler of ``ring8`` or ``grid25`` points.

    Returns:
        ``{}`` unless the model declares ``sample`` and its data are one of
        ``toy2d.MIXTURES``; then ``mode_coverage.model_mode_coverage``'s
        numbers of 2,500 samples (seeds 0..2499), its ``num_samples``
        renamed ``mode_coverage_samples``.
    """
    name = model.data_info.name
    if "sample" not in model.capabilities or name not in toy2d.MIXTURES:
        return {}
    coverage = mode_coverage.model_mode_coverage(model,
                                                 toy2d.MIXTURES[name]())
    coverage["mode_coverage_samples"] = coverage.pop("num_samples")
    return coverage


def report_lines(results):
    """The lines in which the commands print ``evaluate``'s numbers."""
    lines = [f"test {name}: {value:.4f}"
             for name, value in sorted(results.get("test", {}).items())]
    if "test_nll" in results:
        how = f"log_prob {results['log_prob_kind']}"
        if "log_prob_samples" in results:
            how += f", k={results['log_prob_samples']}"
        if results["log_prob_stderr"]:
            how += f", stderr {results['log_prob_stderr']:.4f}"
        lines.append(f"test NLL: {results['test_nll']:.4f} nats ({how})")
    if "test_bits_per_dim" in results:
        lines.append(f"test bits/dim: {results['test_bits_per_dim']:.4f}")
    if "test_squared_error" in results:
        lines.append("test squared error per example (reconstruct): "
                     f"{results['test_squared_error']:.4f}")
    if "baseline_independent_pixels_nll" in results:
        lines.append("baseline NLL, independent pixels (ignores the input): "
                     f"{results['baseline_independent_pixels_nll']:.4f} nats")
    if "modes_covered" in results:
        lines.append(
            f"modes covered: {results['modes_covered']} of "
            f"{results['num_modes']}, high-quality samples: "
            f"{100 * results['high_quality_share']:.1f}% (of "
            f"{results['mode_coverage_samples']})")
    if "frechet_distance" in results:
        lines.append(
            f"Fréchet distance of {results['frechet_num_samples']} samples: "
            f"{results['frechet_distance']:.4f} (as many training images: "
            f"{results['frechet_floor_train']:.4f}; at half size "
            f"{results['frechet_distance_half']:.4f}, real halves "
            f"{results['frechet_floor_half']:.4f}); classifier accuracy "
            f"{100 * results['classifier_accuracy']:.1f}%")
        lines.append(
            f"sample labels: {results['classes_covered']} classes covered, "
            f"entropy {results['label_entropy']:.3f} of "
            f"{results['label_entropy_max']:.3f} nats, largest class "
            f"{100 * results['largest_class_share']:.1f}%")
    if "parzen_nll" in results:
        how = (f"sigma {results['parzen_bandwidth']:.3g}"
               + (" at the grid's edge"
                  if results.get("parzen_bandwidth_at_grid_edge") else "")
               + (" chosen on training images"
                  if results.get("parzen_selection_split") == "train" else "")
               + f", {results['parzen_num_samples']} samples")
        lines.append(
            f"Parzen NLL: {results['parzen_nll']:.2f} ± "
            f"{results['parzen_stderr']:.2f} nats ({how}; a kernel density "
            "estimate on [0, 1] pixels, not comparable to discrete "
            "likelihoods)")
    for name, value in sorted(results.get("model_report", {}).items()):
        lines.append(f"model {name}: {value:.4f}")
    return lines


def write_json_atomically(path, payload):
    """Writes ``payload`` as JSON to a temporary sibling, then renames it."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def record_evaluation(workdir, evaluation, **provenance):
    """Writes an evaluation into a workdir, both files atomically.

    ``evaluation.json`` gets ``evaluation`` and ``provenance`` (what was
    evaluated); ``metrics.json`` keeps what training wrote (history,
    timings, export) and gets the evaluation's keys replaced.

    Args:
        workdir: the run's folder.
        evaluation: ``evaluate``'s dict.
        **provenance: e.g. ``model``, ``checkpoint``, ``epochs``.
    """
    workdir = pathlib.Path(workdir)
    write_json_atomically(workdir / EVALUATION_FILE,
                          {**provenance, **evaluation})
    metrics_path = workdir / METRICS_FILE
    metrics = (json.loads(metrics_path.read_text())
               if metrics_path.exists() else dict(provenance))
    metrics.update(evaluation)
    write_json_atomically(metrics_path, metrics)


def export_record(model, model_name):
    """What ``EXPORT_RECORD`` holds for a trained model.

    Returns:
        ``{"model", "config", "log_prob_kind", "log_prob_stderr",
        "model_report"}``: the registered name, the config as JSON values
        (dataset, preprocessing, seed and batch size among them) and the
        statements about ``log_prob`` and the model's report that
        ``evaluate`` needs.
    """
    return {"model": model_name,
            "config": json.loads(model.config.to_json()),
            "log_prob_kind": model.log_prob_kind,
            "log_prob_stderr": float(model.log_prob_stderr()),
            "model_report": {name: float(value)
                             for name, value in model.report().items()}}


def write_export_record(saved_model_dir, model, model_name):
    """Writes ``export_record`` into ``<saved_model_dir>/EXPORT_RECORD``.

    For ``export.publish(..., write_extras=...)``: the file appears with
    the version it describes.
    """
    path = pathlib.Path(saved_model_dir) / EXPORT_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, export_record(model, model_name))


def read_export_record(saved_model_dir):
    """Reads ``EXPORT_RECORD`` beside a SavedModel, or returns None."""
    path = pathlib.Path(saved_model_dir) / EXPORT_RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text())
