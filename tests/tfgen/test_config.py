"""Config overrides from the command line: typed, checked, never silent."""

import ml_collections
import pytest

from tfgen import config as config_lib
from tfgen import errors


def _config():
    config = config_lib.base_config(latent_dim=8, hidden_units=(256, 128),
                                    likelihood="bernoulli", use_bias=True)
    config.nested = ml_collections.ConfigDict({"scale": 0.5})
    config.lock()
    return config


def test_overrides_are_parsed_to_the_fields_types():
    config = config_lib.apply_overrides(_config(), {
        "latent_dim": "2", "hidden_units": "(32, 16)", "learning_rate": "1",
        "likelihood": "categorical", "use_bias": "false", "nested.scale": "3"})
    assert config.latent_dim == 2
    assert config.hidden_units == (32, 16)
    assert config.learning_rate == 1.0 and isinstance(config.learning_rate, float)
    assert config.likelihood == "categorical"
    assert config.use_bias is False
    assert config.nested.scale == 3.0
    assert config.is_locked


def test_single_value_becomes_a_one_element_tuple():
    config = config_lib.apply_overrides(_config(), {"hidden_units": "64"})
    assert config.hidden_units == (64,)


@pytest.mark.parametrize("overrides, message", [
    ({"latnet_dim": "2"}, "unknown config field 'latnet_dim'; fields:"),
    ({"nested.nope": "2"}, "unknown config field 'nested.nope'"),
    ({"latent_dim": "2.5"}, "--config.latent_dim='2.5': expected a int, got a float"),
    ({"latent_dim": "two"}, "--config.latent_dim='two': expected a int"),
    ({"use_bias": "maybe"}, "--config.use_bias='maybe': expected true or false"),
])
def test_bad_overrides_raise_usage_errors_naming_the_field(overrides, message):
    with pytest.raises(errors.UsageError) as raised:
        config_lib.apply_overrides(_config(), overrides)
    assert message in str(raised.value)


def test_split_override_args_keeps_other_flags_in_order():
    rest, overrides = config_lib.split_override_args(
        ["prog", "--model=vae", "--config.latent_dim=2", "--epochs=3",
         "--config.nested.scale=0.1"])
    assert rest == ["prog", "--model=vae", "--epochs=3"]
    assert overrides == {"latent_dim": "2", "nested.scale": "0.1"}
    with pytest.raises(errors.UsageError, match="--config.NAME=VALUE"):
        config_lib.split_override_args(["prog", "--config.latent_dim"])


@pytest.mark.parametrize("field, value, message", [
    ("preprocessing", "blur", "config.preprocessing='blur' is not one of"),
    ("batch_size", 0, "config.batch_size=0 must be positive"),
    ("num_grid_samples", 0, "config.num_grid_samples=0 must be positive"),
    ("epochs", -1, "config.epochs=-1 must be non-negative"),
    ("learning_rate", 0.0, "config.learning_rate=0.0 must be positive"),
])
def test_validate_rejects_out_of_range_values(field, value, message):
    config = _config()
    with config.unlocked():
        config[field] = value
    with pytest.raises(errors.UsageError) as raised:
        config_lib.validate(config)
    assert message in str(raised.value)


def test_json_round_trip_restores_tuples_and_lock():
    config = config_lib.apply_overrides(_config(), {"hidden_units": "(3, 4)"})
    restored = config_lib.from_json(config_lib.to_json(config), _config())
    assert restored == config
    assert restored.hidden_units == (3, 4)
    assert restored.is_locked


@pytest.mark.parametrize("field, value, message", [
    ("pretrain_epochs", -1, "config.pretrain_epochs=-1 must be non-negative"),
    ("rate_a", 0.0, "config.rate_a=0.0 must be positive"),
    ("rate_b", float("nan"), "config.rate_b=nan must be positive"),
    ("momentum", 1.0, "config.momentum=1.0 must be in [0, 1)"),
    ("weight_decay", -0.1, "config.weight_decay=-0.1 must be non-negative"),
])
def test_greedy_pretraining_fields_are_checked_by_name(field, value, message):
    config = config_lib.base_config(pretrain_epochs=2, rate_a=0.1, rate_b=0.1,
                                    momentum=0.5, weight_decay=0.0)
    config_lib.validate_greedy_pretraining(config, ("rate_a", "rate_b"))
    config[field] = value
    with pytest.raises(errors.UsageError) as raised:
        config_lib.validate_greedy_pretraining(config, ("rate_a", "rate_b"))
    assert message in str(raised.value)
