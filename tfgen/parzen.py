"""The Parzen-window log-likelihood of a model's samples.

A model that only samples (a GAN) has no likelihood to report. Goodfellow
et al. (2014, "Generative Adversarial Nets", section 5), after Breuleux,
Bengio & Vincent (2011, "Quickly Generating Representative Samples from an
RBM-Derived Process"), give it one: fit a Gaussian Parzen window (a kernel
density estimate) to M samples of the model,

    p(x) = 1/M sum_i N(x; s_i, sigma^2 I),

choose the bandwidth sigma that maximizes the mean log density of a
validation set, and report the mean negative log density of the test set
in nats per example. The number is a biased estimate of the model's
likelihood, and a poor one in high dimensions: with a finite M the window
spreads each sample's mass around it, so even samples of the data
distribution itself score worse than the data's true density, the more so
the more dimensions there are (``tests/tfgen/test_parzen.py`` measures the
gap on Gaussians of known density). It is a continuous density on [0, 1]
pixel intensities, so it does not compare with the discrete likelihoods
(nats of binarized or integer-level images) of explicit models.

The density is computed here rather than with scikit-learn's
``KernelDensity``, which is exact but walks a ball or KD tree: in hundreds
of dimensions a tree prunes almost nothing, and 10,000 test images against
10,000 samples of MNIST take minutes there. One matrix product gives every
squared distance of a chunk of points to all samples, and one pass over
them per bandwidth gives the log density at every bandwidth of the grid
(the test compares the two on small data).
"""

import math

from absl import logging
import numpy as np

# The bandwidths tried by default: log-spaced from 0.001 to 1, twelve to a
# factor of ten. Pixels in [0, 1] choose sigma near 0.1-0.3 (Goodfellow et
# al. report MNIST's bandwidth from such a range); the 2-D mixtures, of
# modes 0.02 (ring8) and 0.05 (grid25) wide, choose a few thousandths to a
# few hundredths from 10,000 samples.
DEFAULT_BANDWIDTHS = tuple(float(sigma)
                           for sigma in np.logspace(-3.0, 0.0, 37))

# Points compared with all samples at once: a chunk holds chunk_size * M
# float64 distances (500 * 10,000 of them: 40 MB), whatever N is.
DEFAULT_CHUNK_SIZE = 500


def _as_matrix(name, values):
    """``values`` (N, ...) as a float64 (N, D) array, checked.

    Raises:
        ValueError: fewer than two axes, no example or no dimension, or a
            value that is not finite; the message names ``name``.
    """
    values = np.asarray(values, np.float64)
    if values.ndim < 2:
        raise ValueError(f"{name} must be (N, D) or (N, ...), got shape "
                         f"{values.shape}")
    if values.size == 0:
        raise ValueError(f"{name} is empty (shape {values.shape})")
    values = values.reshape(len(values), -1)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} holds non-finite values")
    return values


def _as_bandwidths(name, bandwidths):
    """``bandwidths`` as a float64 (K,) array of positive finite values."""
    bandwidths = np.asarray(bandwidths, np.float64).reshape(-1)
    if not len(bandwidths):
        raise ValueError(f"{name} is empty")
    if not (np.isfinite(bandwidths).all() and (bandwidths > 0).all()):
        raise ValueError(f"{name} must be positive and finite, got "
                         f"{bandwidths.tolist()}")
    return bandwidths


def _check_chunk_size(chunk_size):
    if (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
            or chunk_size < 1):
        raise ValueError(f"chunk_size={chunk_size!r} must be a positive "
                         "integer")


def log_densities(points, samples, bandwidths, *,
                  chunk_size=DEFAULT_CHUNK_SIZE):
    """Log densities of points under the Parzen window at several bandwidths.

    log p(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log M
               - (D / 2) log(2 pi sigma^2),
    the isotropic Gaussian kernel density estimate of Goodfellow et al.
    (2014), section 5. The squared distances of a chunk of points to every
    sample come from one matrix product, |x|^2 - 2 x.s + |s|^2, in float64
    and clipped at 0 (rounding can make a zero distance slightly negative);
    every bandwidth reuses them.

    Args:
        points: array-like (N, D), or (N, ...) flattened to it.
        samples: array-like (M, D), or (M, ...): the window's centres.
        bandwidths: array-like (K,) of positive sigmas.
        chunk_size: points compared with all samples at once; it bounds
            the memory (chunk_size * M distances) and not the result.

    Returns:
        float64 (K, N): row k holds the log densities at ``bandwidths[k]``.

    Raises:
        ValueError: an empty or non-finite array, points and samples of
            different dimensions, a bandwidth that is not positive, or a
            chunk_size that is not a positive integer.
    """
    points = _as_matrix("points", points)  # (N, D)
    samples = _as_matrix("samples", samples)  # (M, D)
    if points.shape[1] != samples.shape[1]:
        raise ValueError(f"points of dimension {points.shape[1]} and samples "
                         f"of dimension {samples.shape[1]} differ")
    bandwidths = _as_bandwidths("bandwidths", bandwidths)  # (K,)
    _check_chunk_size(chunk_size)
    num_samples, dimension = samples.shape
    variances = np.square(bandwidths)  # (K,)
    normalizers = (-math.log(num_samples)
                   - 0.5 * dimension * np.log(2.0 * math.pi * variances))
    # Distances do not change under a shift; centring on the samples'
    # mean keeps |x|^2 and |s|^2 small, and with them the rounding error
    # of their difference.
    centre = samples.mean(axis=0)  # (D,)
    samples = samples - centre
    points = points - centre
    sample_norms = np.square(samples).sum(axis=1)  # (M,)
    result = np.empty((len(bandwidths), len(points)))  # (K, N)
    for start in range(0, len(points), chunk_size):
        chunk = points[start:start + chunk_size]  # (q, D)
        squared = np.maximum(
            np.square(chunk).sum(axis=1, keepdims=True)
            - 2.0 * chunk @ samples.T + sample_norms, 0.0)  # (q, M)
        # logsumexp with the nearest sample's term factored out: it is the
        # largest at every bandwidth, so exp never overflows and the sum is
        # at least 1.
        nearest = squared.min(axis=1)  # (q,)
        excess = squared - nearest[:, None]  # (q, M), >= 0
        terms = np.empty_like(excess)
        for index, variance in enumerate(variances):
            np.multiply(excess, -0.5 / variance, out=terms)
            np.exp(terms, out=terms)
            result[index, start:start + len(chunk)] = (
                np.log(terms.sum(axis=1)) - 0.5 * nearest / variance)
    return result + normalizers[:, None]


def log_density(points, samples, bandwidth, *, chunk_size=DEFAULT_CHUNK_SIZE):
    """Log density of each point under the Parzen window of ``samples``.

    Args:
        points: array-like (N, D), or (N, ...).
        samples: array-like (M, D), or (M, ...).
        bandwidth: sigma > 0, the kernel's standard deviation per dimension.
        chunk_size: as for ``log_densities``.

    Returns:
        float64 (N,) log densities in nats.

    Raises:
        ValueError: as ``log_densities``; a bandwidth that is not a
            positive number.
    """
    bandwidth = _as_bandwidths("bandwidth", bandwidth)
    if len(bandwidth) != 1:
        raise ValueError(f"bandwidth must be one number, got "
                         f"{bandwidth.tolist()}")
    return log_densities(points, samples, bandwidth,
                         chunk_size=chunk_size)[0]


def select_bandwidth(samples, validation, *, bandwidths=DEFAULT_BANDWIDTHS,
                     chunk_size=DEFAULT_CHUNK_SIZE):
    """The bandwidth of a grid that best explains a validation set.

    Goodfellow et al. (2014) choose sigma by cross-validation: the one of
    the grid with the highest mean validation log density. A best sigma at
    an end of the grid may not be the best sigma at all (the score may
    keep rising beyond it); that is logged as a warning and flagged.

    Args:
        samples: array-like (M, D), or (M, ...).
        validation: array-like (V, D), or (V, ...).
        bandwidths: the grid, positive sigmas (sorted here).
        chunk_size: as for ``log_densities``.

    Returns:
        A dict: ``bandwidth`` (the best sigma), ``bandwidths`` (the sorted
        grid, a list), ``validation_scores`` (the mean validation log
        density at each, a list) and ``at_grid_edge`` (whether the best is
        the grid's smallest or largest, with more than one to choose from).

    Raises:
        ValueError: as ``log_densities``.
    """
    grid = np.unique(_as_bandwidths("bandwidths", bandwidths))  # sorted
    scores = log_densities(validation, samples, grid,
                           chunk_size=chunk_size).mean(axis=1)  # (K,)
    best = int(np.argmax(scores))
    at_edge = len(grid) > 1 and best in (0, len(grid) - 1)
    if at_edge:
        logging.warning(
            "Parzen bandwidth %g is at the %s end of the grid [%g, %g]: the "
            "best bandwidth may lie beyond it", grid[best],
            "lower" if best == 0 else "upper", grid[0], grid[-1])
    return {"bandwidth": float(grid[best]),
            "bandwidths": [float(sigma) for sigma in grid],
            "validation_scores": [float(score) for score in scores],
            "at_grid_edge": bool(at_edge)}


def estimate(samples, validation, test, *, bandwidths=DEFAULT_BANDWIDTHS,
             chunk_size=DEFAULT_CHUNK_SIZE):
    """The Parzen-window negative log-likelihood of a test set.

    Goodfellow et al. (2014), section 5: the bandwidth is chosen on the
    validation set (``select_bandwidth``), and the test set's mean
    negative log density under the window of the samples at that
    bandwidth is the model's score, with the standard error of that mean
    over the test examples.

    Args:
        samples: array-like (M, D), or (M, ...): the model's samples.
        validation: array-like (V, D), or (V, ...): data to choose sigma.
        test: array-like (N, D), or (N, ...): data to score.
        bandwidths: the grid of sigmas to choose from.
        chunk_size: as for ``log_densities``.

    Returns:
        A dict: ``nll`` (nats per test example), ``stderr`` (its standard
        error; 0 for a single test example), ``bandwidth``,
        ``num_samples`` (M), ``num_test`` (N), ``dimension`` (D), and
        ``select_bandwidth``'s ``bandwidths``, ``validation_scores`` and
        ``at_grid_edge``.

    Raises:
        ValueError: as ``log_densities``; validation or test of another
            dimension than the samples.
    """
    samples = _as_matrix("samples", samples)
    validation = _as_matrix("validation", validation)
    test = _as_matrix("test", test)
    for name, values in (("validation", validation), ("test", test)):
        if values.shape[1] != samples.shape[1]:
            raise ValueError(f"{name} of dimension {values.shape[1]} and "
                             f"samples of dimension {samples.shape[1]} "
                             "differ")
    selection = select_bandwidth(samples, validation, bandwidths=bandwidths,
                                 chunk_size=chunk_size)
    negative = -log_density(test, samples, selection["bandwidth"],
                            chunk_size=chunk_size)  # (N,)
    stderr = (float(negative.std(ddof=1) / math.sqrt(len(negative)))
              if len(negative) > 1 else 0.0)
    return {"nll": float(negative.mean()), "stderr": stderr,
            "bandwidth": selection["bandwidth"],
            "num_samples": len(samples), "num_test": len(test),
            "dimension": samples.shape[1],
            "bandwidths": selection["bandwidths"],
            "validation_scores": selection["validation_scores"],
            "at_grid_edge": selection["at_grid_edge"]}
