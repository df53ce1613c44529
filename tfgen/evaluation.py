"""The evaluation harness: the same numbers for every model that allows them.

Negative log-likelihoods are in nats per image; for integer-level data they
are also given in bits per dimension. A model's ``log_prob`` capability says
whether its number is exact, a bound or an estimate (its docstring); the
harness reports it under ``test_nll``.
"""

import math

import numpy as np

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


def mean_log_prob(model, batches):
    """Mean of the model's ``log_prob`` capability over a batched dataset."""
    total, count = 0.0, 0
    for batch in batches:
        log_prob = np.asarray(model.log_prob(images=batch["image"])["log_prob"])
        total += float(log_prob.sum())
        count += len(log_prob)
    return total / count
