"""Turns raw gray levels into what a model's config asks for.

Datasets hold images as unsigned integer gray levels ``0..num_levels-1``
(17 levels for ``digits``, 256 for MNIST and CIFAR-10). A model's config names
one of ``tfgen.config.PREPROCESSINGS``:

- ``binarize_static``: every pixel becomes 1 with probability
  ``level / (num_levels - 1)``, drawn once per image: the draw depends only on
  the seed and the example's position in the split, so every epoch (and every
  run with the same seed) sees the same binary images, as in the fixed
  binarization of MNIST used by Salakhutdinov and Murray (2008).
- ``binarize_dynamic``: the same Bernoulli draw, made anew each epoch, which
  acts as data augmentation (as in the VAE and IWAE papers). The draw
  depends on the seed, the epoch's number and the example's position, so
  epoch ``k`` is the same whether a run reaches it in one process or is
  resumed from a checkpoint in another.
- ``unit``: float32 intensities ``level / (num_levels - 1)`` in ``[0, 1]``.
- ``symmetric``: float32 intensities in ``[-1, 1]``, for tanh generators.
- ``levels``: the int32 levels themselves, for autoregressive models with a
  softmax over ``num_levels`` values.
- ``identity``: float32 values as stored, for data that are not gray levels
  (the points of ``ring8`` and ``grid25``).

All randomness is stateless (``tf.random.stateless_uniform``) so that it does
not depend on the order in which a ``tf.data`` pipeline runs its maps.
"""

import numbers

import numpy as np
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors

# Keeps the binarization's stateless seeds apart from other stateless draws
# that start from the same user seed.
_SALT = 0x5747


def check_preprocessing(preprocessing):
    """Checks that ``preprocessing`` names a known preprocessing.

    Args:
        preprocessing: a name from ``tfgen.config.PREPROCESSINGS``.

    Raises:
        UsageError: the name is unknown.
    """
    if preprocessing not in config_lib.PREPROCESSINGS:
        raise errors.UsageError(
            f"unknown preprocessing {preprocessing!r}; valid: "
            f"{', '.join(config_lib.PREPROCESSINGS)}")


_INT64 = (-2**63, 2**63 - 1)


def check_seed(seed):
    """Checks that ``seed`` is an int64 integer (a Python or numpy int, not
    a bool).

    Args:
        seed: the seed of a data pipeline.

    Raises:
        UsageError: it is not an integer, or lies outside int64.
    """
    if (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)
            or not _INT64[0] <= int(seed) <= _INT64[1]):
        raise errors.UsageError(
            f"seed={seed!r} must be an integer in [{_INT64[0]}, {_INT64[1]}]")


def check_epoch(epoch):
    """Checks that ``epoch`` is a non-negative integer (not a bool).

    Raises:
        UsageError: it is not.
    """
    if (not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool)
            or not 0 <= int(epoch) <= _INT64[1]):
        raise errors.UsageError(
            f"epoch={epoch!r} must be an integer in [0, {_INT64[1]}]")


def to_unit(levels, num_levels):
    """Maps integer levels ``0..num_levels-1`` linearly onto ``[0, 1]``.

    Args:
        levels: integer tensor of gray levels.
        num_levels: number of gray levels of the data.

    Returns:
        A float32 tensor of the same shape.
    """
    return tf.cast(levels, tf.float32) / float(num_levels - 1)


def to_symmetric(levels, num_levels):
    """Maps integer levels ``0..num_levels-1`` linearly onto ``[-1, 1]``.

    Args:
        levels: integer tensor of gray levels.
        num_levels: number of gray levels of the data.

    Returns:
        A float32 tensor of the same shape.
    """
    return 2.0 * to_unit(levels, num_levels) - 1.0


def binarize(levels, num_levels, seed):
    """Draws each pixel from Bernoulli(``level / (num_levels - 1)``).

    Args:
        levels: integer tensor of gray levels.
        num_levels: number of gray levels of the data.
        seed: integer tensor of shape ``(2,)``, the stateless seed; the same
            seed gives the same binary image.

    Returns:
        A float32 tensor of zeros and ones, shaped like ``levels``.
    """
    probabilities = to_unit(levels, num_levels)
    # uniform is in [0, 1): level 0 never fires and the top level always does.
    uniform = tf.random.stateless_uniform(tf.shape(probabilities), seed=seed)
    return tf.cast(uniform < probabilities, tf.float32)


def _keep_levels(levels, num_levels, seed):
    del num_levels, seed  # The levels need neither.
    return tf.cast(levels, tf.int32)


def _unit(levels, num_levels, seed):
    del seed  # Deterministic.
    return to_unit(levels, num_levels)


def _symmetric(levels, num_levels, seed):
    del seed  # Deterministic.
    return to_symmetric(levels, num_levels)


# Every preprocessing as ``(levels, num_levels, seed) -> image``.
_IMAGE_TRANSFORMS = {
    "binarize_static": binarize,
    "binarize_dynamic": binarize,
    "unit": _unit,
    "symmetric": _symmetric,
    "levels": _keep_levels,
}

# Preprocessings whose random draws change from one epoch to the next.
_REDRAWN_EACH_EPOCH = frozenset({"binarize_dynamic"})


def preprocess(dataset, preprocessing, *, num_levels, seed, epoch=0):
    """Applies a named preprocessing to every image of an unbatched dataset.

    Binarization keys its draws on each example's position in ``dataset``,
    so ``dataset`` must come in a fixed order (unshuffled, as ``load``
    returns it); shuffle after this function, not before. Do not ``cache()``
    a dynamically binarized dataset across epochs: build one per epoch
    (``tfgen.data.load_by_epoch`` does).

    Args:
        dataset: a ``tf.data.Dataset`` of ``{"image": integer levels (H, W, C),
            "label": integer scalar}``.
        preprocessing: a name from ``tfgen.config.PREPROCESSINGS``.
        num_levels: number of gray levels of the data (at least 2); None
            for ``identity``.
        seed: integer seed of the binarizations (the others ignore it).
        epoch: the epoch whose draws ``binarize_dynamic`` makes: a
            non-negative integer or a scalar integer tensor (the others
            ignore it). The same seed and epoch give the same images.

    Returns:
        A dataset of ``{"image": (H, W, C) tensor, "label": int64 scalar}``;
        the image is int32 for ``levels`` and float32 otherwise.

    Raises:
        UsageError: unknown preprocessing, ``num_levels`` not an integer
            of at least 2, a seed that is not an int64 integer, or an epoch
            that is not a non-negative int64 integer. Reading the dataset
            raises ``InvalidArgumentError`` naming the image levels when one
            lies outside ``0..num_levels-1``.
    """
    check_preprocessing(preprocessing)
    check_seed(seed)
    if not tf.is_tensor(epoch):
        check_epoch(epoch)
    if preprocessing == "identity":
        return dataset.map(
            lambda item: {"image": tf.cast(item["image"], tf.float32),
                          "label": tf.cast(item["label"], tf.int64)},
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if (not isinstance(num_levels, numbers.Integral)
            or isinstance(num_levels, bool) or num_levels < 2):
        raise errors.UsageError(
            f"num_levels={num_levels!r} must be an integer of at least 2")
    num_levels = int(num_levels)
    transform = _IMAGE_TRANSFORMS[preprocessing]
    key = tf.constant([int(seed), _SALT], tf.int64)
    if preprocessing in _REDRAWN_EACH_EPOCH:
        key = tf.random.experimental.stateless_fold_in(
            key, tf.cast(epoch, tf.int64))

    def apply(index, item):
        # One independent stateless seed per example (and epoch).
        example_seed = tf.random.experimental.stateless_fold_in(key, index)
        levels = item["image"]
        # Levels outside 0..num_levels-1 would map outside the range.
        wide = tf.cast(levels, tf.int64)
        checks = [tf.debugging.assert_non_negative(
                      wide, message="image levels must be >= 0"),
                  tf.debugging.assert_less(
                      wide, tf.constant(num_levels, tf.int64),
                      message=f"image levels must be < num_levels="
                              f"{num_levels}")]
        with tf.control_dependencies(checks):
            levels = tf.identity(levels)
        image = transform(levels, num_levels, example_seed)
        return {"image": image, "label": tf.cast(item["label"], tf.int64)}

    return dataset.enumerate().map(
        apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def unit_intensities(values, preprocessing, num_levels=None):
    """Examples as [0, 1] intensities, the units of the squared error.

    Args:
        values: as the dataset gives them (``num_levels`` given: integer
            levels are divided by ``num_levels - 1``), or a capability's
            output in [0, 1] (``num_levels`` None); both in [-1, 1] for the
            ``symmetric`` preprocessing. Nothing is clipped: a linear
            decoder's overshoot counts in its error.
        preprocessing: the config's preprocessing.
        num_levels: the dataset's gray levels, for dataset examples.

    Returns:
        A float32 numpy array of the same shape.
    """
    values = np.asarray(values, np.float32)
    if preprocessing == "levels" and num_levels is not None:
        return values / (num_levels - 1)
    if preprocessing == "symmetric":
        return (values + 1.0) / 2.0
    return values
