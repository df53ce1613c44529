"""The registry: one name, one factory; unknown names list the valid ones.

``EXPECTED_MODELS`` names every model of the zoo, so a model that a family's
``__init__.py`` stops importing (and so stops registering) fails here rather
than silently leaving every conformance check.
"""

import json
import pathlib
import subprocess
import sys

import pytest

from tfgen import errors
from tfgen import registry
from tfgen.model import GenerativeModel
import zoo  # noqa: F401

# Every registered model and its family. A new model adds its line here.
EXPECTED_MODELS = {
    "beta_vae": "autoencoders",
    "boltzmann_machine": "boltzmann",
    "cgan": "adversarial",
    "contractive_ae": "autoencoders",
    "cvae": "autoencoders",
    "dbn": "boltzmann",
    "dcgan": "adversarial",
    "deep_ae": "autoencoders",
    "denoising_ae": "autoencoders",
    "diagonal_bilstm": "autoregressive",
    "fvbn": "autoregressive",
    "gan": "adversarial",
    "gated_pixelcnn": "autoregressive",
    "gaussian_rbm": "boltzmann",
    "iaf_vae": "autoencoders",
    "linear_ae": "autoencoders",
    "lsgan": "adversarial",
    "pca": "autoencoders",
    "pixelcnn": "autoregressive",
    "pixelcnn_pp": "autoregressive",
    "rbm": "boltzmann",
    "row_lstm": "autoregressive",
    "stacked_ae": "autoencoders",
    "unrolled_gan": "adversarial",
    "vae": "autoencoders",
    "wgan": "adversarial",
    "wgan_gp": "adversarial",
}

# What an entry point sees after its one ``import zoo``, in a new
# interpreter: in this one, test modules import model modules directly,
# which would register a model that the zoo's packages no longer import.
_REGISTERED_BY_IMPORT_ZOO = """
import json
import zoo
from tfgen import registry
print(json.dumps({spec.name: spec.family for spec in registry.specs()}))
"""


def test_import_zoo_registers_exactly_the_expected_models():
    completed = subprocess.run(
        [sys.executable, "-c", _REGISTERED_BY_IMPORT_ZOO],
        cwd=pathlib.Path(__file__).resolve().parents[2], capture_output=True,
        text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    registered = json.loads(completed.stdout.strip().splitlines()[-1])
    assert registered == EXPECTED_MODELS
    assert {spec.name: spec.family for spec in registry.specs()} == (
        EXPECTED_MODELS)


def test_unknown_name_lists_valid_models():
    with pytest.raises(errors.UsageError) as raised:
        registry.get("nope")
    assert "unknown model 'nope'; valid models:" in str(raised.value)
    assert "vae" in str(raised.value)


def test_duplicate_name_and_unknown_family_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("vae", family="autoencoders",
                          get_config=lambda variant=None: None,
                          paper="x")(GenerativeModel)
    with pytest.raises(ValueError, match="Unknown family"):
        registry.register("x", family="flows", get_config=lambda v=None: None,
                          paper="x")


@pytest.mark.parametrize("paper", ["", "  ", None])
def test_a_model_must_name_its_paper(paper):
    with pytest.raises(ValueError, match="'x': paper must name the work"):
        registry.register("x", family="autoencoders",
                          get_config=lambda v=None: None, paper=paper)
    assert "x" not in registry.names()


def test_every_registered_model_names_its_paper():
    # The model table of the README (rendered by tfgen.leaderboard) and
    # --list_models print it.
    for spec in registry.specs():
        assert spec.paper.strip(), spec.name
    assert registry.get("pixelcnn_pp").paper.startswith("Salimans et al. 2017")


def test_every_spec_builds_its_class_and_declares_known_capabilities():
    from tfgen import model as model_lib

    for spec in registry.specs():
        assert issubclass(spec.model_class, GenerativeModel)
        assert set(spec.capabilities) <= set(model_lib.CAPABILITIES)
        assert spec.get_config().is_locked
        assert spec.get_config("tiny").is_locked
