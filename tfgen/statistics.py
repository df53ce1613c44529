"""Statistics of the training data that models start from.

``mean_log_odds`` is the usual initial bias of binary (or logistic) units:
the log-odds of each unit's mean activity over the training set (Hinton
2010, "A practical guide to training restricted Boltzmann machines",
section 8). With small weights a model then starts at the independent-unit
fit. Every family that starts biases this way (the Boltzmann machines, the
deep belief net, the stacked and deep autoencoders) calls this one function.
"""

import tensorflow as tf


def mean_log_odds(batches, to_units, floor):
    """Log-odds of each unit's mean activity over a dataset, (N,).

    Args:
        batches: an iterable of dataset batches.
        to_units: maps a batch to its (B, N) unit activities in [0, 1].
        floor: means are clipped to [floor, 1 - floor] so that a unit that
            is always off (or on) gets a finite bias.

    Returns:
        A float32 tensor (N,).

    Raises:
        ValueError: ``batches`` is empty.
    """
    total, count = 0.0, 0
    for batch in batches:
        units = tf.cast(to_units(batch), tf.float32)  # (B, N)
        total += tf.reduce_sum(units, axis=0)
        count += int(units.shape[0])
    if not count:
        raise ValueError("mean_log_odds needs at least one example")
    rate = tf.clip_by_value(total / count, floor, 1 - floor)
    return tf.math.log(rate) - tf.math.log1p(-rate)
