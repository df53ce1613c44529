"""Untrained models of the registry on a dataset, for tests."""

from tfgen import config as config_lib
from tfgen import registry
from tfgen import training
import zoo  # noqa: F401  (fills the registry)


def tiny_model(name, data_dir, **overrides):
    """A registered model's untrained ``tiny`` variant and its data.

    Args:
        name: a registered model.
        data_dir: the TFDS folder of prepared datasets.
        **overrides: config fields, given as on the command line's
            ``--config.FIELD=VALUE`` (each value is passed as its string).

    Returns:
        ``(model, splits)``: the built model and its dataset's splits.
    """
    spec = registry.get(name)
    config = config_lib.apply_overrides(
        spec.get_config("tiny"),
        {field: str(value) for field, value in overrides.items()})
    info, splits = training.load_datasets(config, data_dir=data_dir)
    return training.build_model(spec, config, info), splits


def failing_builds(patch, name, message):
    """Makes building the registered model ``name`` raise
    ``RuntimeError(message)`` while ``patch`` (a ``pytest.MonkeyPatch``)
    holds; every other model builds as usual."""
    original = registry.ModelSpec.build

    def build(spec, config, data_info):
        if spec.name == name:
            raise RuntimeError(message)
        return original(spec, config, data_info)

    patch.setattr(registry.ModelSpec, "build", build)
