"""The one registry of models: ``--model`` names map to factories.

A model family registers each model once, at import time of its module::

        @registry.register("vae", family="autoencoders", get_config=configs.vae,
                           paper="Kingma & Welling 2014")
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
        paper: the work whose maths the model file holds, as a short
            citation (``--list_models`` and the leaderboard's model table
            print it).
    """

    name: str
    family: str
    model_class: type
    get_config: Callable
    paper: str

    @property
    def capabilities(self):
        return tuple(self.model_class.capabilities)

    def build(self, config, data_info):
        """Builds the model from a config and the dataset's metadata."""
        return self.model_class(config, data_info)


FAMILIES = ("autoregressive", "adversarial", "boltzmann", "autoencoders")

_REGISTRY = {}


def register(name, *, family, get_config, paper):
    """Class decorator that registers a model under its ``--model`` name.

    Args:
        name: the ``--model`` name, unique across the zoo.
        family: the family the model belongs to, one of ``FAMILIES``.
        get_config: function ``get_config(variant=None)`` returning the model's
            locked config (``variant="tiny"`` for the test-sized one).
        paper: the citation of the model's paper, e.g. ``"Kingma & Welling
            2014"``: every model names the work it implements.

    Returns:
        The decorator, which returns the class unchanged.

    Raises:
        ValueError: the name is taken, the family is unknown or the paper
            is empty.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; expected one of {FAMILIES}.")
    if not (isinstance(paper, str) and paper.strip()):
        raise ValueError(f"Model {name!r}: paper must name the work it "
                         f"implements, got {paper!r}.")

    def decorator(model_class):
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is already registered.")
        _REGISTRY[name] = ModelSpec(name, family, model_class, get_config,
                                    paper)
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
