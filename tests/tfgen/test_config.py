"""Config overrides from the command line: typed, checked, never silent."""

import ml_collections
import pytest

from tfgen import config as config_lib
from tfgen import errors
from tfgen import optimizers


def _config():
    config = config_lib.base_config(latent_dim=8, hidden_units=(256, 128),
                                    likelihood="bernoulli", use_bias=True)
    config.nested = ml_collections.ConfigDict({"scale": 0.5})
    config.lock()
    return config


def test_overrides_are_parsed_to_the_fields_types():
    config = config_lib.apply_overrides(_config(), {
        "latent_dim": "2", "hidden_units": "(32, 16)",
        "optimizers.model.learning_rate": "1",
        "optimizers.model.algorithm": "sgd",
        "likelihood": "categorical", "use_bias": "false", "nested.scale": "3"})
    assert config.latent_dim == 2
    assert config.hidden_units == (32, 16)
    learning_rate = config.optimizers.model.learning_rate
    assert learning_rate == 1.0 and isinstance(learning_rate, float)
    assert config.optimizers.model.algorithm == "sgd"
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
    ({"learning_rate": "0.1"}, "unknown config field 'learning_rate'"),
    ({"optimizers.generator.learning_rate": "0.1"},
     "unknown config field 'optimizers.generator.learning_rate'"),
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
    ("steps_per_execution", 0, "config.steps_per_execution=0 must be"),
    ("sample_every_epochs", -1, "config.sample_every_epochs=-1 must be"),
    ("optimizers.model.learning_rate", 0.0,
     "config.optimizers.model.learning_rate=0.0 must be positive"),
    ("optimizers.model.algorithm", "newton",
     "config.optimizers.model.algorithm='newton' is not one of"),
])
def test_validate_rejects_out_of_range_values(field, value, message):
    config = _config()
    *path, leaf = field.split(".")
    node = config
    for part in path:
        node = node[part]
    with node.unlocked():
        node[leaf] = value
    with pytest.raises(errors.UsageError) as raised:
        config_lib.validate(config)
    assert message in str(raised.value)


def test_base_config_declares_one_adam_optimizer_named_model():
    config = config_lib.base_config()
    assert list(config.optimizers) == ["model"]
    assert config.optimizers.model.algorithm == "adam"
    assert config.optimizers.model.learning_rate == 1e-3
    assert "learning_rate" not in config and "optimizer" not in config
    config_lib.validate(config)


def test_json_round_trip_restores_tuples_nested_optimizers_and_lock():
    config = config_lib.apply_overrides(_config(), {
        "hidden_units": "(3, 4)", "optimizers.model.learning_rate": "0.5"})
    restored = config_lib.from_json(config_lib.to_json(config), _config())
    assert restored == config
    assert restored.hidden_units == (3, 4)
    assert restored.optimizers.model.learning_rate == 0.5
    assert restored.is_locked


def _adam_config():
    config = config_lib.base_config()
    with config.unlocked():
        config.optimizers.model = optimizers.optimizer_config(
            "adam", 2e-4, beta_1=0.5, beta_2=0.99, clipnorm=1.0)
    config.lock()
    return config


def test_a_switched_algorithm_drops_the_old_ones_own_settings(capsys):
    config = config_lib.apply_overrides(_adam_config(), {
        "optimizers.model.beta_2": "0.9",
        "optimizers.model.algorithm": "sgd",
        "optimizers.model.momentum": "0.9"})
    # beta_1 was adam's alone; beta_2 the command line set, so it stays
    # (and validate refuses it for sgd); the shared settings stay.
    assert dict(config.optimizers.model) == {
        "algorithm": "sgd", "learning_rate": 2e-4, "clipnorm": 1.0,
        "beta_2": 0.9, "momentum": 0.9}
    assert capsys.readouterr().out.strip() == (
        "--config.optimizers.model.algorithm=sgd: dropped beta_1=0.5 "
        "(settings of adam); set those of sgd with "
        "--config.optimizers.model.SETTING=VALUE")
    assert config.is_locked
    with pytest.raises(errors.UsageError, match=r"config\.optimizers\.model: "
                       r".*beta_2"):
        config_lib.validate(config)

    config = config_lib.apply_overrides(_adam_config(), {
        "optimizers.model.algorithm": "sgd",
        "optimizers.model.nesterov": "true"})
    config_lib.validate(config)
    built = optimizers.build(config.optimizers.model)
    assert type(built).__name__ == "SGD" and built.nesterov is True
    assert built.clipnorm == 1.0
    assert "dropped beta_1=0.5, beta_2=0.99" in capsys.readouterr().out

    # The same algorithm again is no switch: nothing dropped.
    config = config_lib.apply_overrides(_adam_config(), {
        "optimizers.model.algorithm": "adam"})
    assert config.optimizers.model.beta_1 == 0.5
    assert "dropped" not in capsys.readouterr().out


def test_an_optimizer_entry_takes_new_settings_checked_by_keras():
    config = config_lib.apply_overrides(_config(), {
        "optimizers.model.amsgrad": "True",
        "optimizers.model.weight_decay": "0.01"})
    assert config.optimizers.model.amsgrad is True
    config_lib.validate(config)
    config = config_lib.apply_overrides(_config(), {
        "optimizers.model.amsgard": "1"})
    with pytest.raises(errors.UsageError,
                       match=r"config\.optimizers\.model: .*amsgard"):
        config_lib.validate(config)
    with pytest.raises(errors.UsageError,
                       match="optimizers.model.beta_1='.0.9, 0.5.': "
                       "expected a number"):
        config_lib.apply_overrides(_config(),
                                   {"optimizers.model.beta_1": "[0.9, 0.5]"})


def test_settings_of_one_algorithm_are_those_not_every_optimizer_takes():
    entry = optimizers.optimizer_config("rmsprop", 0.1, rho=0.8, momentum=0.5,
                                        weight_decay=0.1, global_clipnorm=2.0)
    assert optimizers.algorithm_settings(entry) == ["momentum", "rho"]


def test_json_round_trip_keeps_an_entrys_own_settings():
    config = config_lib.apply_overrides(_adam_config(), {
        "optimizers.model.algorithm": "sgd",
        "optimizers.model.momentum": "0.9"})
    restored = config_lib.from_json(config_lib.to_json(config),
                                    _adam_config())
    assert restored == config and "beta_1" not in restored.optimizers.model
    assert restored.is_locked
    with pytest.raises(KeyError):
        config_lib.from_json(
            '{"optimizers": {"other": {"algorithm": "sgd"}}}', _adam_config())


@pytest.mark.parametrize("field, value, message", [
    ("pretrain_epochs", -1, "config.pretrain_epochs=-1 must be non-negative"),
    ("weight_decay", -0.1, "config.weight_decay=-0.1 must be non-negative"),
])
def test_greedy_pretraining_fields_are_checked_by_name(field, value, message):
    config = config_lib.base_config(pretrain_epochs=2, weight_decay=0.0)
    config_lib.validate_greedy_pretraining(config)
    # Zero is allowed for both: no pretraining, no decay.
    config.pretrain_epochs = 0
    config_lib.validate_greedy_pretraining(config)
    config[field] = value
    with pytest.raises(errors.UsageError) as raised:
        config_lib.validate_greedy_pretraining(config)
    assert message in str(raised.value)


def test_make_tiny_sets_one_epoch_a_small_grid_and_the_fields():
    config = config_lib.base_config(hidden=32)
    assert config_lib.make_tiny(config, hidden=4) is config
    assert config.epochs == 1 and config.num_grid_samples == 16
    assert config.hidden == 4
    config_lib.make_tiny(config, epochs=2)
    assert config.epochs == 2


@pytest.mark.parametrize("check, good, bad, message", [
    (config_lib.require_positive, (1, 5), (0, -2, 2.0, True),
     "must be a positive integer"),
    (config_lib.require_non_negative, (0, 3, 0.5), (-1, -0.1),
     "must be non-negative"),
    (config_lib.require_odd, (1, 3, 7), (0, 2, -1, 3.0),
     "must be a positive odd integer"),
])
def test_field_checks_name_the_first_bad_field(check, good, bad, message):
    for value in good:
        check(config_lib.base_config(size=value, other=1), ("other", "size"))
    for value in bad:
        config = config_lib.base_config(size=value, other=1)
        with pytest.raises(errors.UsageError) as raised:
            check(config, ("other", "size"))
        assert str(raised.value) == f"config.size={value!r} {message}"


def test_require_odd_with_a_minimum():
    config_lib.require_odd(config_lib.base_config(size=3), ["size"], minimum=3)
    with pytest.raises(errors.UsageError,
                       match=r"config.size=1 must be an odd integer of at "
                       "least 3"):
        config_lib.require_odd(config_lib.base_config(size=1), ["size"],
                               minimum=3)
