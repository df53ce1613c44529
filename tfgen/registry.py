"""The one registry of models: ``--model`` names map to factories.

A model family registers each model once, at import time of its module::

        @registry.register("vae", family="autoencoders", get_config=configs.vae)
        class VAE(GenerativeModel):
            ...

Entry points import ``zoo`` (which imports every family) and then look
models up by name. There are no ``if name == ...`` chains anywhere else.
"""

import dataclasses
from typing import Callable

from tfgen import errors


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the registry knows of one model.

    Attributes:
        name: the ``--model`` name.
        family: one of ``FAMILIES``.
        model_class: a ``tfgen.model.GenerativeModel`` subclass; it is built as
            ``model_class(config, data_info)``.
        get_config: returns the default, locked ``ml_collections.ConfigDict``;
            ``get_config("tiny")`` returns the small variant that tests and CI use.
    """

    name: str
    family: str
    model_class: type
    get_config: Callable

    @property
    def capabilities(self):
        return tuple(self.model_class.capabilities)

    def build(self, config, data_info):
        """Builds the model from a config and the dataset's metadata."""
        return self.model_class(config, data_info)


FAMILIES = ("autoregressive", "adversarial", "boltzmann", "autoencoders")

_REGISTRY = {}


def register(name, *, family, get_config):
    """Class decorator that registers a model under its ``--model`` name.

    Args:
        name: the ``--model`` name, unique across the zoo.
        family: the family the model belongs to, one of ``FAMILIES``.
        get_config: function ``get_config(variant=None)`` returning the model's
            locked config (``variant="tiny"`` for the test-sized one).

    Returns:
        The decorator, which returns the class unchanged.

    Raises:
        ValueError: the name is taken or the family is unknown.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; expected one of {FAMILIES}.")

    def decorator(model_class):
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is already registered.")
        _REGISTRY[name] = ModelSpec(name, family, model_class, get_config)
        return model_class

    return decorator


def get(name):
    """Returns the ``ModelSpec`` registered under ``name``.

    Raises:
        UsageError: no model has that name; the message lists the valid ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(sorted(_REGISTRY)) or "(none registered)"
        raise errors.UsageError(
                f"unknown model {name!r}; valid models: {valid}") from None


def names():
    """All registered model names, sorted."""
    return sorted(_REGISTRY)


def specs():
    """All registered ``ModelSpec``s, sorted by name."""
    return [_REGISTRY[n] for n in names()]
