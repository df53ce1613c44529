"""Mode coverage of samples from a mixture of Gaussians in the plane.

Metz, Poole, Pfau & Sohl-Dickstein (2017), "Unrolled Generative Adversarial
Networks", show mode collapse on the 2-D mixtures of ``tfgen.data.toy2d``;
Srivastava, Valkov, Russell, Gutmann & Sutton (2017), "VEEGAN: Reducing
Mode Collapse in GANs using Implicit Variational Learning", section 5.1,
turn it into two numbers, the ones of their Table 1 ("2D Ring", "2D
Grid"):

- a sample is *high quality* if it lies within three standard deviations
  of the nearest mode's mean (Euclidean distance <= 3 sigma, the boundary
  included);
- the *number of modes captured* is the number of mixture components whose
  mean is the nearest to at least one high-quality sample.

One high-quality sample is enough to capture a mode: that is VEEGAN's
definition as written, and no threshold is added here, so the numbers
compare with their table. With 2,500 samples (VEEGAN's count) a mode that
holds a few samples by chance is captured; ``mode_counts`` shows how many
each holds, and ``mode_kl`` how far the high-quality samples' spread over
the modes is from the data's (uniform), for the reader who wants more.

For samples drawn from the mixture itself, ||x - mu||^2 / sigma^2 is a
chi-squared variable with 2 degrees of freedom, so the share of high-quality
samples is P(chi2_2 <= 9) = 1 - exp(-9 / 2) = 0.98889 (the modes lie far
apart in both toys, so the nearest mean is the mode that drew the sample).
"""

import math

import numpy as np

# VEEGAN's radius of a high-quality sample, in standard deviations.
NUM_STDDEVS = 3.0

# Samples drawn by ``model_mode_coverage``: VEEGAN's count.
NUM_SAMPLES = 2500


def nearest_modes(samples, means):
    """Each sample's nearest mean and its distance to it.

    Args:
        samples: array-like (N, 2).
        means: array-like (K, 2).

    Returns:
        ``(modes, distances)``: int64 (N,) index of the nearest mean (ties
        go to the lower index) and float64 (N,) Euclidean distances. A
        non-finite sample gets distance ``inf``.

    Raises:
        ValueError: the arrays are not (N, 2) and (K, 2) with N, K >= 1.
    """
    samples = np.asarray(samples, np.float64)
    means = np.asarray(means, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or not len(samples):
        raise ValueError(f"samples must be a non-empty (N, 2) array, got "
                         f"shape {samples.shape}")
    if means.ndim != 2 or means.shape[1] != 2 or not len(means):
        raise ValueError(f"means must be a non-empty (K, 2) array, got shape "
                         f"{means.shape}")
    squared = np.square(samples[:, None, :] - means[None]).sum(-1)  # (N, K)
    # A NaN would win argmin; such a sample is nowhere near any mode.
    squared = np.where(np.isfinite(squared), squared, np.inf)
    modes = np.argmin(squared, axis=1)
    return modes.astype(np.int64), np.sqrt(squared[np.arange(len(modes)),
                                                   modes])


def mode_coverage(samples, mixture, *, num_stddevs=NUM_STDDEVS):
    """VEEGAN's mode-coverage numbers of samples from a model.

    Args:
        samples: array-like (N, 2), points a model drew, in the data's units.
        mixture: the ``tfgen.data.toy2d.Mixture`` of the data (its
            ``means`` (K, 2) and ``stddev``).
        num_stddevs: radius of a high-quality sample around its nearest
            mean, in standard deviations (3 in VEEGAN).

    Returns:
        A dict of plain numbers:
        ``modes_covered`` (int, 0..K): modes nearest to at least one
        high-quality sample; ``num_modes`` (K); ``high_quality_share``
        (float in [0, 1]): the share of the N samples that are high
        quality; ``mode_counts`` (list of K ints): high-quality samples per
        mode; ``mode_kl`` (float in [0, log K] nats, or None when no sample
        is high quality): KL(q || uniform) of the high-quality samples'
        histogram q over the modes, 0 when they spread evenly, log K when
        they sit on one mode.

    Raises:
        ValueError: bad array shapes, or ``num_stddevs`` or the mixture's
            stddev not positive.
    """
    if not num_stddevs > 0:
        raise ValueError(f"num_stddevs={num_stddevs} must be positive")
    if not mixture.stddev > 0:
        raise ValueError(f"mixture.stddev={mixture.stddev} must be positive")
    means = np.asarray(mixture.means, np.float64)
    modes, distances = nearest_modes(samples, means)
    # Squared distances compared with the squared radius: the boundary
    # (distance exactly 3 sigma) counts, without a rounding square root.
    squared = np.square(np.asarray(samples, np.float64) - means[modes]).sum(-1)
    radius = num_stddevs * mixture.stddev
    high_quality = np.isfinite(distances) & (squared <= radius * radius)
    counts = np.bincount(modes[high_quality], minlength=len(means))  # (K,)
    return {
        "modes_covered": int(np.count_nonzero(counts)),
        "num_modes": len(means),
        "high_quality_share": float(high_quality.mean()),
        "mode_counts": [int(count) for count in counts],
        "mode_kl": histogram_kl_to_uniform(counts),
    }


def histogram_kl_to_uniform(counts):
    """KL(q || uniform) in nats of the histogram ``counts`` (K,).

    Returns:
        sum_k q_k log(K q_k) with 0 log 0 = 0, or None for an empty
        histogram.
    """
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    if total == 0:
        return None
    shares = counts[counts > 0] / total
    return float(np.sum(shares * np.log(len(counts) * shares)))


def model_mode_coverage(model, mixture, *, num_samples=NUM_SAMPLES):
    """``mode_coverage`` of a model's ``sample`` capability.

    Draws ``num_samples`` points with seeds 0 .. num_samples - 1, so the
    same weights give the same numbers. A model whose ``sample`` takes
    labels gets ``label = seed mod num_classes``, the classes in turn.

    Args:
        model: a model declaring ``sample`` (or ``tfgen.evaluate``'s view of
            an export), trained on points in the plane; its samples are in
            the data's units.
        mixture: the data's ``toy2d.Mixture``.
        num_samples: points drawn.

    Returns:
        ``mode_coverage``'s dict with ``num_samples`` added.

    Raises:
        ValueError: ``num_samples`` < 1.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples={num_samples} must be positive")
    seeds = np.arange(num_samples, dtype=np.int64)
    arguments = {"seed": seeds}
    if "labels" in model.capability_inputs("sample"):
        arguments["labels"] = seeds % int(model.data_info.num_classes)
    samples = np.asarray(model.sample(**arguments)["images"])  # (N, 2)
    return {**mode_coverage(samples.reshape(num_samples, -1), mixture),
            "num_samples": num_samples}


def expected_share(num_stddevs=NUM_STDDEVS):
    """P(chi2_2 <= s^2) = 1 - exp(-s^2 / 2): the high-quality share of
    samples drawn from a mixture whose modes lie far apart."""
    return 1.0 - math.exp(-num_stddevs**2 / 2.0)
