"""Sample quality of image models in the feature space of a small classifier.

Heusel et al. (2017), "GANs trained by a two time-scale update rule converge
to a local Nash equilibrium", measure generated images by the Fréchet
distance between two Gaussians fitted to the features of real and of
generated images, the features being a classifier's penultimate activations
(Inception's there). For Gaussians N(mu_a, C_a) and N(mu_b, C_b) that
distance has a closed form (Dowson & Landau 1982):

    d^2 = ||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}).

Inception knows nothing of 8x8 digits, so here the classifier is a small CNN
trained once on the same dataset's training split (``FeatureClassifier``),
cached on disk with its test accuracy (``classifier_for``). Its predicted
labels also show what the distance can hide: a generator that has collapsed
onto a few classes gives a peaked label distribution (``label_spread``), as
in the classifier-counted modes of Metz et al. (2017), "Unrolled generative
adversarial networks".

The Fréchet distance of finite sets is biased upwards, more so the fewer
the examples, so only distances between sets of equal sizes compare. The
floor (``real_floor``) is the distance between two random halves of the
real test set; ``compare_with_floor`` measures a generated set of a half's
size against one of those halves, the number to read beside the floor;
``train_floor`` measures as many training images as there are test images
against the test set, the floor at the full size. ``evaluate_samples``
gathers a sampler's numbers for the evaluation harness.

Every image given to these functions is a float (N, H, W, C) array of
[0, 1] intensities: ``unit_images`` reads a dataset's split that way, and
``model_samples`` draws a model's samples and converts them
(``tfgen.data.unit_intensities``); ``evaluate_samples`` also takes a
split preprocessed as the model's config says, and converts it.
"""

import hashlib
import json
import os
import pathlib
import shutil
import tempfile
import time
import warnings

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

from tfgen import data

# Bump when the network or its training changes: it is part of the cache key,
# so classifiers trained the old way are not loaded.
CLASSIFIER_VERSION = 1

# The default training: Adam steps on batches of 64 training images, the
# learning rate decaying from its peak to 0 on a cosine, which gains about
# half a point of MNIST test accuracy over a constant rate. About 20 s and
# 98% test accuracy on digits, 50 s and 98.5% on the 18,000 training
# images of the offline MNIST files, on 2 CPU cores.
TRAINING_STEPS = 2000
_BATCH_SIZE = 64
_PEAK_LEARNING_RATE = 2e-3
FEATURE_SIZE = 64

# A class counts as covered when it holds at least this fraction of the
# uniform share 1 / K of the samples (1% of them for ten classes).
COVERED_FRACTION_OF_UNIFORM = 0.1

_WEIGHTS_FILE = "classifier.weights.h5"
_RECORD_FILE = "classifier.json"
_PREDICT_BATCH = 1024


# --- The Fréchet distance. -------------------------------------------------

def feature_statistics(features):
    """Mean and unbiased covariance of a set of feature vectors.

    Args:
        features: array-like (N, F), N >= 2.

    Returns:
        ``(mean, covariance)``: float64 (F,) and (F, F), the covariance
        normalized by N - 1.

    Raises:
        ValueError: ``features`` is not (N, F) with N >= 2, or not finite.
    """
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features of shape {features.shape} must be "
                         "(N, F) with N >= 2")
    if not np.isfinite(features).all():
        raise ValueError("features hold non-finite values")
    return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1)


def _sqrtm_or_none(matrix):
    """scipy's square root of ``matrix``, or None where it failed.

    It failed when it is not finite, or when the imaginary part (rounding
    makes one from the non-symmetric product of two covariances) or the
    residual ||X X - A|| exceeds 1e-6 of the matrix's scale.
    """
    with warnings.catch_warnings():
        # A singular product warns; the residual test below judges it.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(matrix)
    scale = max(np.abs(matrix).max(), 1e-300)
    if not np.isfinite(root).all():
        return None
    if np.iscomplexobj(root):
        if np.abs(root.imag).max() > 1e-6 * np.sqrt(scale):
            return None
        root = root.real
    if np.abs(root @ root - matrix).max() > 1e-6 * scale:
        return None
    return root


def frechet_distance(mean_a, cov_a, mean_b, cov_b, *, eps=1e-6):
    """Fréchet (2-Wasserstein) distance squared between two Gaussians.

    ``||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2})`` in float64,
    the square root by ``scipy.linalg.sqrtm``. The product of two
    covariances is not symmetric, and where one is (nearly) singular its
    square root can come out non-finite, complex beyond a rounding-sized
    imaginary part, or inaccurate; then, as in Heusel et al.'s code, both
    covariances get ``eps * I`` added before the root is taken again, which
    moves the distance by O(eps * F). A tiny imaginary part is dropped. The
    result is clipped at zero: rounding can make equal Gaussians' distance
    slightly negative.

    Args:
        mean_a: (F,) mean of the first Gaussian.
        cov_a: (F, F) its covariance, symmetric positive semi-definite.
        mean_b: (F,) mean of the second.
        cov_b: (F, F) its covariance.
        eps: the diagonal offset of the fallback.

    Returns:
        A non-negative float, in squared feature units.

    Raises:
        ValueError: shapes that do not match, non-finite inputs, or a square
            root that fails even with the offset.
    """
    arrays = {"mean_a": mean_a, "cov_a": cov_a, "mean_b": mean_b,
              "cov_b": cov_b}
    arrays = {name: np.asarray(value, np.float64)
              for name, value in arrays.items()}
    if arrays["mean_a"].ndim != 1:
        raise ValueError(f"mean_a has shape {arrays['mean_a'].shape}; "
                         "expected (F,)")
    size = arrays["mean_a"].shape[0]
    for name, value in arrays.items():
        expected = (size,) if name.startswith("mean") else (size, size)
        if value.shape != expected:
            raise ValueError(f"{name} has shape {value.shape}; expected "
                             f"{expected}, from mean_a")
        if not np.isfinite(value).all():
            raise ValueError(f"{name} holds non-finite values")
    mean_a, cov_a = arrays["mean_a"], arrays["cov_a"]
    mean_b, cov_b = arrays["mean_b"], arrays["cov_b"]
    root = _sqrtm_or_none(cov_a @ cov_b)
    if root is None:
        offset = eps * np.eye(size)
        root = _sqrtm_or_none((cov_a + offset) @ (cov_b + offset))
        if root is None:
            raise ValueError("the square root of cov_a @ cov_b failed even "
                             f"with {eps} * I added to both covariances")
    difference = mean_a - mean_b
    distance = (difference @ difference + np.trace(cov_a) + np.trace(cov_b)
                - 2.0 * np.trace(root))
    return max(float(distance), 0.0)


def features_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets."""
    return frechet_distance(*feature_statistics(features_a),
                            *feature_statistics(features_b))


# --- The spread of predicted labels. ----------------------------------------

def label_spread(predicted_labels, num_classes):
    """How the samples spread over the classes the classifier predicts.

    Args:
        predicted_labels: integer array-like (N,), N >= 1, in [0, K).
        num_classes: K.

    Returns:
        A dict: ``label_distribution`` (K shares summing to 1);
        ``label_entropy`` in nats, log K at the uniform distribution and 0
        when every sample gets one label; ``label_entropy_max`` (log K);
        ``effective_classes``, exp(entropy); ``classes_covered``, the classes
        holding at least ``COVERED_FRACTION_OF_UNIFORM`` / K of the samples;
        ``largest_class_share``.

    Raises:
        ValueError: no labels, ``num_classes`` below 1, or a label outside
            [0, K).
    """
    if int(num_classes) < 1:
        raise ValueError(f"num_classes={num_classes} must be at least 1")
    labels = np.asarray(predicted_labels).reshape(-1)
    if not len(labels):
        raise ValueError("predicted_labels is empty")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"predicted_labels must lie in [0, {num_classes})")
    shares = np.bincount(labels.astype(np.int64),
                         minlength=num_classes) / len(labels)  # (K,)
    held = shares[shares > 0]
    # + 0.0: a single class would otherwise give -0.0.
    entropy = float(-(held * np.log(held)).sum()) + 0.0
    return {
        "label_distribution": [float(share) for share in shares],
        "label_entropy": entropy,
        "label_entropy_max": float(np.log(num_classes)),
        "effective_classes": float(np.exp(entropy)),
        "classes_covered": int(
            (shares >= COVERED_FRACTION_OF_UNIFORM / num_classes).sum()),
        "largest_class_share": float(shares.max()),
    }


# --- The classifier. --------------------------------------------------------

def _build_network(image_shape, num_classes, seed):
    """The CNN: three 3x3 convolutions (two of stride 2), then the features.

    Returns:
        A Functional model from (B, H, W, C) images to ``[features (B, F),
        probabilities (B, K)]``.
    """
    initializer = keras.initializers.GlorotUniform

    def conv(filters, strides, index):
        return keras.layers.Conv2D(
            filters, 3, strides=strides, padding="same", activation="relu",
            kernel_initializer=initializer(seed=seed + index))

    images = keras.Input(shape=tuple(image_shape))  # (B, H, W, C)
    hidden = conv(16, 1, 0)(images)  # (B, H, W, 16)
    hidden = conv(32, 2, 1)(hidden)  # (B, H/2, W/2, 32)
    hidden = conv(64, 2, 2)(hidden)  # (B, H/4, W/4, 64)
    hidden = keras.layers.Flatten()(hidden)
    features = keras.layers.Dense(
        FEATURE_SIZE, activation="relu", name="features",
        kernel_initializer=initializer(seed=seed + 3))(hidden)  # (B, F)
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities",
        kernel_initializer=initializer(seed=seed + 4))(features)  # (B, K)
    return keras.Model(images, [features, probabilities])


class FeatureClassifier:
    """A small CNN classifier whose penultimate layer gives the features.

    Attributes:
        network: the Keras model, images -> [features, probabilities].
        image_shape: (H, W, C) of the images it takes.
        num_classes: K.
        record: what ``classifier_for`` stores beside the weights: the
            dataset, the fingerprint, ``test_accuracy``, ...
    """

    def __init__(self, network, record):
        self.network = network
        self.image_shape = tuple(int(size) for size in network.input_shape[1:])
        self.num_classes = int(network.output_shape[1][-1])
        self.record = dict(record)

    @property
    def test_accuracy(self):
        """Accuracy on the dataset's test split, measured after training."""
        return self.record.get("test_accuracy")

    def _check_images(self, images):
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise ValueError(f"images of shape {images.shape} must be "
                             f"(N, {', '.join(map(str, self.image_shape))})")
        if not np.isfinite(images).all():
            raise ValueError("images hold non-finite values")
        return images

    def features_and_labels(self, images):
        """Features (N, F) float64 and predicted labels (N,) int64."""
        images = self._check_images(images)
        features, labels = [], []
        for start in range(0, len(images), _PREDICT_BATCH):
            batch_features, probabilities = self.network(
                images[start:start + _PREDICT_BATCH], training=False)
            features.append(np.asarray(batch_features, np.float64))
            labels.append(np.argmax(np.asarray(probabilities), axis=1))
        if not features:
            return (np.zeros([0, FEATURE_SIZE]), np.zeros([0], np.int64))
        return np.concatenate(features), np.concatenate(labels).astype(
            np.int64)

    def features(self, images):
        """Penultimate activations of [0, 1] images (N, H, W, C): (N, F)."""
        return self.features_and_labels(images)[0]

    def predict_labels(self, images):
        """The most probable class of each [0, 1] image: int64 (N,)."""
        return self.features_and_labels(images)[1]

    def accuracy(self, images, labels):
        """Fraction of ``images`` whose predicted label equals ``labels``."""
        predicted = self.predict_labels(images)
        return float((predicted == np.asarray(labels).reshape(-1)).mean())


def train_classifier(images, labels, *, num_classes, seed, training_steps,
                     verbose=0):
    """Trains the CNN with Adam on shuffled batches of ``images``.

    Args:
        images: float32 (N, H, W, C) [0, 1] training images.
        labels: integer (N,) classes.
        num_classes: K.
        seed: seeds the initial weights and the shuffling.
        training_steps: Adam steps on batches of 64, over which the
            learning rate decays.
        verbose: Keras ``fit``'s verbosity.

    Returns:
        The trained Keras network (``_build_network``).
    """
    network = _build_network(images.shape[1:], num_classes, seed)
    # The same layers, with the probabilities alone as the output to fit.
    trainer = keras.Model(network.input, network.outputs[1])
    learning_rate = keras.optimizers.schedules.CosineDecay(
        _PEAK_LEARNING_RATE, decay_steps=int(training_steps))
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    loss=keras.losses.SparseCategoricalCrossentropy())
    batches = (tf.data.Dataset.from_tensor_slices(
        (images.astype(np.float32), labels.astype(np.int64)))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .repeat().batch(_BATCH_SIZE))
    trainer.fit(batches, epochs=1, steps_per_epoch=int(training_steps),
                shuffle=False, verbose=verbose)  # Shuffled above.
    return network


def unit_images(dataset, split, *, data_dir=None, manual_dir=None):
    """One split of an image dataset as [0, 1] intensities, with its labels.

    Returns:
        ``(images, labels)``: float32 (N, H, W, C) and int64 (N,).

    Raises:
        UsageError: as ``tfgen.data.load``, e.g. a dataset of points.
    """
    split_data = data.load(dataset, split, preprocessing="unit", seed=0,
                           data_dir=data_dir, manual_dir=manual_dir)
    return data.dataset_arrays(split_data.batch(_PREDICT_BATCH))


def _fingerprint(info, seed, training_steps):
    """What determines the trained classifier, and its cache key."""
    fingerprint = {
        "dataset": info.name, "split_sizes": dict(info.split_sizes),
        "image_shape": list(info.image_shape), "num_levels": info.num_levels,
        "num_classes": info.num_classes, "version": CLASSIFIER_VERSION,
        "seed": int(seed), "training_steps": int(training_steps),
        "batch_size": _BATCH_SIZE,
        "peak_learning_rate": _PEAK_LEARNING_RATE, "schedule": "cosine",
    }
    digest = hashlib.sha256(
        json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
    return fingerprint, f"{info.name}-{digest[:16]}"


def _cache_root(cache_dir, data_dir):
    if cache_dir is not None:
        return pathlib.Path(cache_dir)
    if data_dir is not None:
        return pathlib.Path(data_dir)
    return pathlib.Path.home() / ".cache" / "tfgen"


def _load(folder):
    record = json.loads((folder / _RECORD_FILE).read_text())
    network = _build_network(record["fingerprint"]["image_shape"],
                             record["fingerprint"]["num_classes"],
                             record["fingerprint"]["seed"])
    network.load_weights(folder / _WEIGHTS_FILE)
    return FeatureClassifier(network, record)


def _save(classifier, folder):
    """Writes into a hidden temporary folder, then renames it to ``folder``.

    A run killed while writing leaves at most the hidden folder, never a
    ``folder`` that a later call would load half-written.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(
        prefix=f".{folder.name}.", dir=folder.parent))
    try:
        classifier.network.save_weights(temporary / _WEIGHTS_FILE)
        (temporary / _RECORD_FILE).write_text(
            json.dumps(classifier.record, indent=2, sort_keys=True))
        os.rename(temporary, folder)
    except OSError:
        if not folder.is_dir():  # Not another process's finished copy.
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def classifier_for(dataset, *, data_dir=None, manual_dir=None,
                   cache_dir=None, seed=0, training_steps=TRAINING_STEPS,
                   verbose=0):
    """The feature classifier of a dataset: loaded if cached, else trained.

    The first call trains the CNN on the training split (seconds on
    ``digits``, minutes on MNIST), measures its test accuracy and stores
    both under ``<root>/classifiers/<dataset>-<hash>/``, where root is
    ``cache_dir``, else ``data_dir``, else ``~/.cache/tfgen``, and the hash
    is of everything that determines the classifier (dataset, split sizes,
    image shape, levels, classes, ``CLASSIFIER_VERSION``, seed and the
    training's settings). Later calls load it.

    Args:
        dataset: an image dataset's name from ``tfgen.data.DATASETS``.
        data_dir: TFDS's folder of prepared datasets (TFDS's default if
            None).
        manual_dir: folder of the dataset's standard files, read instead of
            downloading.
        cache_dir: root of the classifiers' cache.
        seed: seeds the initial weights and the shuffling.
        training_steps: Adam steps of batches of 64.
        verbose: Keras ``fit``'s verbosity while training.

    Returns:
        A ``FeatureClassifier``, its ``test_accuracy`` recorded.

    Raises:
        UsageError: an unknown dataset or a bad ``manual_dir``.
        ValueError: a dataset that is not of labelled images, or
            ``training_steps`` below 1.
    """
    if int(training_steps) < 1:
        raise ValueError(f"training_steps={training_steps} must be >= 1")
    info = data.get_info(dataset, data_dir=data_dir, manual_dir=manual_dir)
    if not info.is_image or info.num_classes < 2:
        raise ValueError(f"dataset {dataset!r} is not of labelled images")
    fingerprint, key = _fingerprint(info, seed, training_steps)
    folder = _cache_root(cache_dir, data_dir) / "classifiers" / key
    if (folder / _RECORD_FILE).is_file():
        return _load(folder)

    train_images, train_labels = unit_images(
        dataset, "train", data_dir=data_dir, manual_dir=manual_dir)
    start = time.perf_counter()
    network = train_classifier(
        train_images, train_labels, num_classes=info.num_classes, seed=seed,
        training_steps=training_steps, verbose=verbose)
    training_seconds = time.perf_counter() - start
    test_images, test_labels = unit_images(
        dataset, "test", data_dir=data_dir, manual_dir=manual_dir)
    classifier = FeatureClassifier(network, {
        "dataset": dataset, "fingerprint": fingerprint,
        "training_seconds": round(training_seconds, 1),
        "num_test_examples": len(test_images)})
    classifier.record["test_accuracy"] = classifier.accuracy(
        test_images, test_labels)
    _save(classifier, folder)
    return classifier


# --- Sample quality. ---------------------------------------------------------

def model_samples(model, num_images, *, seed=0, batch_size=500):
    """A model's samples as [0, 1] intensities, clipped.

    Seeds ``seed * num_images + i`` for i < ``num_images``; a conditional
    model draws its labels uniformly (its ``sample`` default). Values are
    converted from the model's preprocessing
    (``tfgen.data.unit_intensities``) and clipped to [0, 1], as
    images are quantized to pixels before a classifier sees them in Heusel
    et al.'s protocol.

    Args:
        model: a model with the ``sample`` capability and a ``config``
            naming its preprocessing.
        num_images: how many to draw.
        seed: picks the block of sample seeds.
        batch_size: samples drawn per call.

    Returns:
        float32 (num_images, H, W, C).
    """
    seeds = int(seed) * int(num_images) + np.arange(num_images,
                                                    dtype=np.int64)
    return draw_samples(model, seeds, batch_size=batch_size)


def draw_samples(model, seeds, *, batch_size=500):
    """A model's samples of the given seeds, as ``model_samples`` gives them.

    Each row of ``sample`` is drawn from its own seed alone, so the images
    of a seed do not depend on the others drawn with it: draws of disjoint
    seeds can be joined.

    Args:
        model: as for ``model_samples``.
        seeds: int64 seeds, one per image.
        batch_size: samples drawn per call.

    Returns:
        float32 (len(seeds), H, W, C) [0, 1] intensities, clipped.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    batches = [np.asarray(model.sample(
        seed=seeds[start:start + batch_size])["images"])
        for start in range(0, len(seeds), batch_size)]
    return np.clip(data.unit_intensities(
        np.concatenate(batches), model.config.preprocessing), 0.0, 1.0)


def sample_quality(classifier, real_images, generated_images):
    """The Fréchet distance of generated to real images, and label spread.

    The distance is biased upwards by small sets: give as many generated
    images as real ones (the test set's size), and compare numbers only
    between sets of equal sizes.

    Args:
        classifier: a ``FeatureClassifier``.
        real_images: (N, H, W, C) [0, 1] real images, N >= 2.
        generated_images: (M, H, W, C) [0, 1] generated images, M >= 2.

    Returns:
        A dict: ``frechet_distance``, ``num_real``, ``num_generated``,
        ``label_spread``'s numbers for the generated images, and
        ``real_label_entropy`` for reference.
    """
    real_features, real_labels = classifier.features_and_labels(real_images)
    features, labels = classifier.features_and_labels(generated_images)
    result = {"frechet_distance": features_distance(real_features, features),
              "num_real": len(real_features),
              "num_generated": len(features)}
    result.update(label_spread(labels, classifier.num_classes))
    result["real_label_entropy"] = label_spread(
        real_labels, classifier.num_classes)["label_entropy"]
    return result


def _halves(num_examples, seed):
    """Two disjoint random halves of range(num_examples), each n // 2 long."""
    if num_examples < 4:
        raise ValueError(f"{num_examples} real images cannot make two "
                         "halves of at least 2")
    order = np.random.default_rng(seed).permutation(num_examples)
    half = num_examples // 2
    return order[:half], order[half:2 * half]


def real_floor(classifier, real_images, *, seed=0):
    """Fréchet distance between two random halves of the real images.

    What a perfect generator would score on sets of a half's size: the
    floor for ``compare_with_floor``'s distance, which uses the same sizes
    (the distance is biased by the sample size, so a full-size distance
    does not compare with it).

    Args:
        classifier: a ``FeatureClassifier``.
        real_images: (N, H, W, C) [0, 1] real images, N >= 4.
        seed: picks the halves.

    Returns:
        ``{"real_floor": distance, "half_size": N // 2}``.
    """
    first, second = _halves(len(real_images), seed)
    features = classifier.features(real_images)
    return {"real_floor": features_distance(features[first],
                                            features[second]),
            "half_size": len(first)}


def compare_with_floor(classifier, real_images, generated_images, *,
                       seed=0):
    """Generated images against a real half, beside the real-vs-real floor.

    The halves are ``real_floor``'s (same seed). The first N // 2 generated
    images are measured against the second half, so both distances use two
    sets of N // 2 images and the same reference: the gap between them is
    what the generator loses against real data.

    Args:
        classifier: a ``FeatureClassifier``.
        real_images: (N, H, W, C) [0, 1] real images, N >= 4.
        generated_images: (M, H, W, C) [0, 1] images, M >= N // 2.
        seed: picks the halves.

    Returns:
        ``{"real_floor", "frechet_distance_half", "half_size"}``.

    Raises:
        ValueError: fewer than N // 2 generated images.
    """
    first, second = _halves(len(real_images), seed)
    if len(generated_images) < len(first):
        raise ValueError(f"generated_images holds {len(generated_images)} "
                         f"images; the comparison needs {len(first)}, half "
                         "of the real images")
    real_features = classifier.features(real_images)
    features = classifier.features(generated_images[:len(first)])
    return {
        "real_floor": features_distance(real_features[first],
                                        real_features[second]),
        "frechet_distance_half": features_distance(real_features[second],
                                                   features),
        "half_size": len(first),
    }


# --- The harness's numbers of a sampler. -------------------------------------

def _real_unit_images(model, test_split_or_images):
    """The real test images as float32 [0, 1] (N, H, W, C).

    A ``tf.data.Dataset`` of ``{"image", "label"}`` (batched or not) holds
    examples as the model's preprocessing gives them, converted here; an
    array is taken to hold [0, 1] intensities already.
    """
    if not isinstance(test_split_or_images, tf.data.Dataset):
        return np.asarray(test_split_or_images, np.float32)
    split = test_split_or_images
    event_rank = len(model.data_info.event_shape)
    if split.element_spec["image"].shape.rank == event_rank:  # Unbatched.
        split = split.batch(_PREDICT_BATCH)
    images, _ = data.dataset_arrays(split)
    return data.unit_intensities(images, model.config.preprocessing,
                                 model.data_info.num_levels)


def train_floor(classifier, train_images, test_images, *, seed=0):
    """Fréchet distance of N random training images to the N test images.

    The full-size counterpart of ``real_floor``: real data measured at the
    sizes of a generator's N samples against the N test images.

    Args:
        classifier: a ``FeatureClassifier``.
        train_images: (M, H, W, C) [0, 1] training images, M >= N.
        test_images: (N, H, W, C) [0, 1] test images, N >= 2.
        seed: picks the training images.

    Returns:
        The distance, a float.

    Raises:
        ValueError: fewer training images than test images.
    """
    if len(train_images) < len(test_images):
        raise ValueError(f"train_images holds {len(train_images)} images; "
                         f"the floor needs {len(test_images)}, as many as "
                         "the test images")
    chosen = np.random.default_rng(seed).permutation(
        len(train_images))[:len(test_images)]
    return features_distance(classifier.features(train_images[chosen]),
                             classifier.features(test_images))


def evaluate_samples(model, test_split_or_images, *, dataset=None,
                     data_dir=None, manual_dir=None, cache_dir=None,
                     classifier=None, seed=0, train_split_or_images=None,
                     draw=None):
    """A sampler's Fréchet distance, floor and label spread, as flat numbers.

    The model draws as many samples as there are real test images
    (``model_samples``, seeds ``seed * N + i``); the classifier of the
    dataset (``classifier_for``, trained once and cached) gives the
    features and predicted labels of both sets. The distance is biased
    upwards by finite sets, the more so the smaller they are, so each
    distance comes with a floor of real data measured at the same sizes:

    - ``frechet_distance``: the N samples against the N real images, the
      number to compare between models measured on the same test set;
    - ``frechet_distance_half`` against ``frechet_floor_half``: the first
      N // 2 samples against one random half of the real images, beside
      the distance between the two disjoint halves (``compare_with_floor``,
      the halves picked by ``seed``): both sets of N // 2 images against
      the same reference, so the floor is what a generator drawing from the
      data distribution itself would score, and the gap is what the model
      loses;
    - ``frechet_floor_train`` (given the training images): N random
      training images against the N test images, the full-size distance of
      real data, which ``frechet_distance`` compares with: a generator
      that drew the data themselves (or copied its training images) would
      score it.

    Args:
        model: a model with the ``sample`` capability, a ``config`` naming
            its preprocessing and ``data_info`` of an image dataset; a
            conditional model draws its labels uniformly.
        test_split_or_images: the real test images: a ``tf.data.Dataset``
            of ``{"image", "label"}`` elements preprocessed as the model's
            config says (``splits["test"]`` of
            ``tfgen.training.load_datasets``), or an (N, H, W, C) array of
            [0, 1] intensities; N >= 4.
        dataset: the classifier's dataset (default: ``model.data_info``'s).
        data_dir: TFDS folder of prepared datasets, for ``classifier_for``.
        manual_dir: folder of the dataset's standard files.
        cache_dir: root of the classifiers' cache (``classifier_for``).
        classifier: a ``FeatureClassifier`` to use instead of
            ``classifier_for``'s.
        seed: picks the samples' seeds, the real halves and the training
            images.
        train_split_or_images: the training images, as
            ``test_split_or_images`` (``splits["train_for_evaluation"]``),
            or None.
        draw: a function of N giving the model's samples of seeds
            0..N-1 as ``model_samples`` draws them (the harness's
            ``SampleDraws.first``, shared with the Parzen estimate), for
            ``seed`` 0 only; None: drawn by ``model_samples``.

    Returns:
        A dict of numbers: ``frechet_distance``, ``frechet_distance_half``,
        ``frechet_floor_half``, ``frechet_half_size`` (N // 2),
        ``frechet_num_samples`` (N); ``frechet_floor_train`` if at least
        N training images were given; of the samples' predicted labels
        ``label_entropy`` (nats), ``label_entropy_max`` (log K),
        ``effective_classes``, ``classes_covered`` and
        ``largest_class_share`` (``label_spread``), and
        ``real_label_entropy`` of the real images for reference; and
        ``classifier_accuracy``, the classifier's test accuracy (absent
        for a given classifier that has none recorded).

    Raises:
        ValueError: a model without ``sample``, or fewer than 4 real
            images, or images of another shape than the classifier's.
    """
    if "sample" not in model.capabilities:
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no "
                         "sample capability")
    real = _real_unit_images(model, test_split_or_images)
    if real.ndim != 4 or len(real) < 4:
        raise ValueError(f"test_split_or_images holds images of shape "
                         f"{real.shape}; (N, H, W, C) with N >= 4 needed")
    if classifier is None:
        classifier = classifier_for(
            dataset or model.data_info.name, data_dir=data_dir,
            manual_dir=manual_dir, cache_dir=cache_dir)
    if draw is not None and seed != 0:
        raise ValueError(f"draw gives the samples of seed 0, not {seed}")
    generated = (model_samples(model, len(real), seed=seed) if draw is None
                 else draw(len(real)))
    quality = sample_quality(classifier, real, generated)
    halves = compare_with_floor(classifier, real, generated, seed=seed)
    results = {
        "frechet_distance": quality["frechet_distance"],
        "frechet_distance_half": halves["frechet_distance_half"],
        "frechet_floor_half": halves["real_floor"],
        "frechet_half_size": halves["half_size"],
        "frechet_num_samples": quality["num_generated"],
    }
    if train_split_or_images is not None:
        train = _real_unit_images(model, train_split_or_images)
        if len(train) >= len(real):
            results["frechet_floor_train"] = train_floor(
                classifier, train, real, seed=seed)
    for name in ("label_entropy", "label_entropy_max", "effective_classes",
                 "classes_covered", "largest_class_share",
                 "real_label_entropy"):
        results[name] = quality[name]
    if classifier.test_accuracy is not None:
        results["classifier_accuracy"] = float(classifier.test_accuracy)
    return results
