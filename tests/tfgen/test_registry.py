"""The registry: one name, one factory; unknown names list the valid ones."""

import pytest

from tfgen import errors
from tfgen import registry
from tfgen.model import GenerativeModel
import zoo  # noqa: F401


def test_unknown_name_lists_valid_models():
    with pytest.raises(errors.UsageError) as raised:
        registry.get("nope")
    assert "unknown model 'nope'; valid models:" in str(raised.value)
    assert "vae" in str(raised.value)


def test_duplicate_name_and_unknown_family_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("vae", family="autoencoders",
                          get_config=lambda variant=None: None)(GenerativeModel)
    with pytest.raises(ValueError, match="Unknown family"):
        registry.register("x", family="flows", get_config=lambda v=None: None)


def test_every_spec_builds_its_class_and_declares_known_capabilities():
    from tfgen import model as model_lib

    for spec in registry.specs():
        assert issubclass(spec.model_class, GenerativeModel)
        assert set(spec.capabilities) <= set(model_lib.CAPABILITIES)
        assert spec.get_config().is_locked
        assert spec.get_config("tiny").is_locked
