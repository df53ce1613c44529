"""Optimizers named in a model's config: one sub-dict each.

A config holds ``config.optimizers``, a ``ConfigDict`` of named entries,
each with the Keras optimizer's ``algorithm`` and its settings::

    config.optimizers.model = optimizer_config("adam", learning_rate=1e-3)
    config.optimizers.pretrain = optimizer_config("sgd", learning_rate=0.1,
                                                  momentum=0.9)

overridden like any field (``--config.optimizers.model.learning_rate=3e-4``).
An entry is open: the command line may add any setting of its Keras
optimizer (``--config.optimizers.model.momentum=0.9``), and a command line
that switches the ``algorithm`` drops the settings of the old algorithm
alone (``beta_1``, ``momentum``, see ``algorithm_settings``) that it does
not set itself.
The model says which variables each named optimizer updates
(``GenerativeModel.optimizer_variables``); the base class builds,
checkpoints and applies them. A model with one optimizer names it
``model`` and needs no code of its own: ``base_config`` declares it. A model
fitted without gradients (PCA) declares none and empties the dict.
"""

import ml_collections

from tfgen import errors

# The name of the one optimizer of a model that declares no other.
DEFAULT = "model"

# --config.optimizers.NAME.algorithm: the Keras optimizers offered.
ALGORITHMS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta",
              "adamax", "nadam", "ftrl", "lion")


def optimizer_config(algorithm="adam", learning_rate=1e-3, **settings):
    """Returns one named optimizer's config entry.

    Args:
        algorithm: one of ``ALGORITHMS`` (a Keras optimizer's name).
        learning_rate: its step size, > 0.
        **settings: further keyword arguments of the Keras optimizer
            (``momentum``, ``beta_1``, ``clipnorm``, ...).

    Returns:
        An unlocked ``ConfigDict``; the model's config locks it.
    """
    return ml_collections.ConfigDict(dict(
        algorithm=algorithm, learning_rate=learning_rate, **settings))


def build(entry):
    """Builds the Keras optimizer a config entry describes.

    Raises:
        UsageError: the entry is invalid (see ``validate_entry``).
    """
    # Imported here: configs are read (and command lines checked) before
    # TensorFlow starts.
    import keras

    settings = dict(entry)
    algorithm = settings.pop("algorithm")
    return keras.optimizers.get({"class_name": algorithm, "config": settings})


def _keyword_arguments(algorithm):
    """The keyword arguments of the Keras optimizer named ``algorithm``."""
    import inspect

    import keras

    classes = {name.lower(): getattr(keras.optimizers, name)
               for name in dir(keras.optimizers)}
    return set(inspect.signature(classes[algorithm]).parameters) - {
        "kwargs", "name"}


def algorithm_settings(entry):
    """The settings of ``entry`` that belong to one algorithm alone.

    A setting every offered optimizer takes (``learning_rate``,
    ``weight_decay``, ``clipnorm``, ...) is not one of them; ``beta_1``,
    ``momentum`` or ``rho`` are.

    Returns:
        The names, sorted.
    """
    shared = set.intersection(*map(_keyword_arguments, ALGORITHMS))
    return sorted(name for name in entry
                  if name != "algorithm" and name not in shared)


def validate_entry(name, entry):
    """Checks one entry: a known algorithm, a positive learning rate, a
    momentum in [0, 1), and settings the Keras optimizer accepts.

    Raises:
        UsageError: naming the field that is wrong.
    """
    where = f"config.optimizers.{name}"
    if entry.algorithm not in ALGORITHMS:
        raise errors.UsageError(
            f"{where}.algorithm={entry.algorithm!r} is not one of "
            f"{', '.join(ALGORITHMS)}")
    if not entry.learning_rate > 0:
        raise errors.UsageError(
            f"{where}.learning_rate={entry.learning_rate} must be positive")
    if "momentum" in entry and not 0 <= entry.momentum < 1:
        raise errors.UsageError(
            f"{where}.momentum={entry.momentum} must lie in [0, 1)")
    try:
        build(entry)
    except (TypeError, ValueError) as error:
        raise errors.UsageError(f"{where}: {error}") from None


def validate(config, required=None):
    """Checks every entry of ``config.optimizers``.

    Args:
        config: a model's config; ``config.optimizers`` may be empty for a
            model fitted in closed form (PCA).
        required: optimizer names the model needs; each must be present.

    Raises:
        UsageError: a required optimizer is missing or an entry is wrong.
    """
    if "optimizers" not in config:
        raise errors.UsageError("the config has no config.optimizers")
    for name in required or ():
        if name not in config.optimizers:
            raise errors.UsageError(
                f"config.optimizers has no {name!r} entry; it has "
                f"{', '.join(config.optimizers)}")
    for name, entry in config.optimizers.items():
        validate_entry(name, entry)
