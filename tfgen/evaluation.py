"""The evaluation harness: the same numbers for every model that allows them.

Negative log-likelihoods are in nats per image; for integer-level data they
are also given in bits per dimension. A model's ``log_prob`` capability says
whether its number is exact, a bound or an estimate (its docstring); the
harness reports it under ``test_nll``.
"""

import math

import numpy as np
import tensorflow as tf

_BINARIZED = ("binarize_static", "binarize_dynamic")


def dataset_arrays(dataset):
    """Reads a (batched or unbatched) dataset of ``{"image", "label"}`` dicts.

    Returns:
        ``(images, labels)`` as numpy arrays, images ``(N, H, W, C)``.
    """
    images, labels = [], []
    for element in dataset.as_numpy_iterator():
        image, label = element["image"], element["label"]
        if np.ndim(label) == 0:
            image, label = image[np.newaxis], np.reshape(label, [1])
        images.append(image)
        labels.append(label)
    return np.concatenate(images), np.concatenate(labels)


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
    sources = {"images": "image", "labels": "label"}
    arguments = {}
    for name, spec_input in model.capability_inputs(capability).items():
        if name not in sources:
            raise ValueError(
                f"{type(model).__name__}.{capability} takes {name!r}, which "
                "a dataset batch does not hold")
        arguments[name] = tf.cast(batch[sources[name]], spec_input.spec.dtype)
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
