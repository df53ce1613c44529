"""Config overrides and the train command's flags, fuzzed with Hypothesis.

Every value a user may type, of the field's type or not (negative, huge,
NaN, Inf, empty, text where a number goes, a float where an int goes), is
either accepted, and then lies in the config as typed and survives its JSON
round trip and the model's construction, or refused with one
``errors.UsageError`` (one line on stderr, exit status 2 on the command
line) naming the field or flag. No other exception escapes.

The command line's own path is taken, in process and without training:
``tfgen.cli.parse_flags`` (on a copy of the absl flags) and
``tfgen.train.make_config``, then ``tfgen.training.build_model`` on the
digits' metadata, where each model checks its own fields; only the dataset
is not loaded.
"""

import ast
import collections
import contextlib
import copy
import io
import math
import re
import zlib

from absl import flags
import hypothesis
from hypothesis import strategies as st
import ml_collections
import pytest

from tfgen import cli
from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen import train
from tfgen import training
from tfgen.data import DataInfo
import zoo  # noqa: F401  (fills the registry)

MODEL_NAMES = registry.names()
# The metadata of digits, every tiny config's dataset: nothing is loaded.
DIGITS = DataInfo(name="digits", event_shape=(8, 8, 1), num_levels=17,
                  num_classes=10,
                  split_sizes={"train": 1257, "validation": 180, "test": 360})
# The largest size (widths, layers, steps) a model is built with: larger
# ones are parsed and validated, but not built, as a model that large takes
# seconds to build (60 LSTM layers: 9 s) or exhausts memory.
LARGEST_BUILT = 16
# Examples per model of the override test, and of the flags test: the file
# takes about 30 s on one core (building a tiny model takes 0.05 to 0.8 s).
OVERRIDE_EXAMPLES = 50
FLAG_EXAMPLES = 200
SETTINGS = hypothesis.settings(
    deadline=None, database=None, derandomize=True,
    print_blob=False, report_multiple_bugs=False,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])


def _flat_fields(config, prefix=""):
    """``{dotted name: value}`` of every leaf field of a config."""
    fields = {}
    for key, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            fields.update(_flat_fields(value, f"{prefix}{key}."))
        else:
            fields[f"{prefix}{key}"] = value
    return fields


FIELDS = {name: _flat_fields(registry.get(name).get_config("tiny"))
          for name in MODEL_NAMES}

_INTEGERS = st.one_of(st.integers(-3, 70), st.integers(),
                      st.sampled_from([2**31, 2**32, 2**63, -2**63, 10**30]))
_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e308, 1.0, 0.5, 0.999999]))


def _texts_like(value):
    """Texts a user might type for a field holding ``value``."""
    if isinstance(value, bool):
        typed = st.sampled_from(["true", "False", "yes", "NO", "1", "0", "2",
                                 "maybe", ""])
    elif isinstance(value, int):
        typed = st.one_of(_INTEGERS.map(str), _FLOATS.map(repr))
    elif isinstance(value, float):
        typed = st.one_of(
            _FLOATS.map(repr), _INTEGERS.map(str),
            st.sampled_from(["nan", "inf", "-inf", "1e400", "float('nan')"]))
    elif isinstance(value, tuple):
        typed = st.one_of(
            st.lists(_INTEGERS, max_size=4).map(
                lambda items: str(tuple(items))),
            st.lists(st.integers(-2, 40), max_size=4).map(str),
            _INTEGERS.map(str), st.sampled_from(["()", "(1.5,)", "('a',)"]))
    else:
        typed = st.text(max_size=12)
    # Anything at all: what a typo makes of any field.
    return st.one_of(typed, st.text(max_size=12))


# The fields every config shares (the training loop's), drawn as often as
# the model's own.
SHARED_FIELDS = sorted(_flat_fields(config_lib.base_config()))


def _field_and_text(data, name):
    """Draws a field of the model's tiny config (or a made-up one) and a
    text for it."""
    fields = FIELDS[name]
    field = data.draw(st.one_of(
        st.sampled_from([field for field in SHARED_FIELDS if field in fields]),
        st.sampled_from(sorted(set(fields) - set(SHARED_FIELDS))
                        or sorted(fields)),
        st.sampled_from(["latnet_dim", "optimizers.nope.learning_rate",
                         "optimizers", "seed.x", "Seed"])), label="field")
    text = data.draw(_texts_like(fields.get(field)), label="text")
    return field, text


def _expected_value(text, current):
    """The value an accepted override must leave in the config."""
    if isinstance(current, str):
        return text
    if isinstance(current, bool):
        return text.lower() in ("true", "1", "yes")
    value = ast.literal_eval(text)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, tuple):
        return tuple(value) if isinstance(value, (list, tuple)) else (value,)
    return value


def _same(value, expected):
    if isinstance(value, float) and math.isnan(value):
        return isinstance(expected, float) and math.isnan(expected)
    return value == expected and type(value) is type(expected)


def _names(message, *names):
    """Whether ``message`` names one of ``names`` (a field, a flag)."""
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message)
               for name in names if name)


# Counts that building a model does not allocate.
_NOT_SIZES = ("epochs", "seed", "parzen_samples", "num_grid_samples",
              "batch_size", "steps_per_execution", "sample_every_epochs")


def _too_large_to_build(config):
    for key, value in _flat_fields(config).items():
        values = value if isinstance(value, tuple) else (value,)
        if key not in _NOT_SIZES and any(
                isinstance(item, int) and abs(item) > LARGEST_BUILT
                for item in values):
            return True
    return False


def _build(name, config, names):
    """Builds the model as ``tfgen.training.prepare`` does; a refusal must be
    a UsageError naming one of ``names``."""
    if _too_large_to_build(config):
        return
    try:
        training.build_model(registry.get(name), config, DIGITS)
    except errors.UsageError as error:
        assert _names(str(error), *names), (names, str(error))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_override_is_applied_or_refused_naming_its_field(name):
    outcomes = collections.Counter()

    @hypothesis.settings(SETTINGS, max_examples=OVERRIDE_EXAMPLES)
    @hypothesis.given(data=st.data())
    def check(data):
        field, text = _field_and_text(data, name)
        try:
            _, config = train.make_config(name, variant="tiny",
                                          overrides={field: text})
        except errors.UsageError as error:
            assert _names(str(error), field, field.rpartition(".")[2]), (
                field, text, str(error))
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1
        current = FIELDS[name][field]
        value = config
        for part in field.split("."):
            value = value[part]
        assert _same(value, _expected_value(text, current)), (field, text,
                                                              value)
        restored = config_lib.from_json(config_lib.to_json(config),
                                        registry.get(name).get_config("tiny"))
        assert config_lib.to_json(restored) == config_lib.to_json(config)
        assert restored.is_locked
        _build(name, config, [field, field.rpartition(".")[2]])

    # Each model its own examples, the same on every run.
    hypothesis.seed(zlib.crc32(name.encode()))(check)()
    assert outcomes["accepted"] and outcomes["refused"], outcomes


def _parse_command_line(argv, monkeypatch):
    """Parses ``argv`` as ``tfgen.train`` does, on a copy of the flags.

    Returns:
        ``(flag_values, overrides, error_line)``: the parsed flags and
        ``--config`` overrides, or the one line printed before exit 2.
    """
    flag_values = copy.deepcopy(flags.FLAGS)
    overrides = {}
    stderr = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(flags, "FLAGS", flag_values)
        patch.setattr(cli, "CONFIG_OVERRIDES", overrides)
        with contextlib.redirect_stderr(stderr):
            try:
                cli.parse_flags(argv)
            except SystemExit as exit_:
                assert exit_.code == 2, exit_.code
                lines = stderr.getvalue().splitlines()
                assert len(lines) == 1 and lines[0].startswith("error: "), (
                    lines)
                return None, None, lines[0]
    return flag_values, overrides, None


_FLAG_TEXTS = st.one_of(_INTEGERS.map(str), _FLOATS.map(repr),
                        st.text(max_size=8))


def test_train_flags_are_accepted_or_refused_naming_the_flag(monkeypatch):
    outcomes = collections.Counter()

    @hypothesis.settings(SETTINGS, max_examples=FLAG_EXAMPLES)
    @hypothesis.given(data=st.data())
    def check(data):
        name = data.draw(st.sampled_from(MODEL_NAMES), label="model")
        model = data.draw(st.one_of(st.just(name), st.text(max_size=8)),
                          label="--model")
        argv = ["tfgen.train", f"--model={model}"]
        # What an error may name: the flags and field given a drawn value.
        suspects = [] if model == name else ["--model", "model"]
        drawn = {}
        for flag, texts in (
                ("epochs", st.one_of(st.integers(0, 3).map(str),
                                     _FLAG_TEXTS)),
                ("seed", st.one_of(st.integers(0, 2**32 - 1).map(str),
                                   _FLAG_TEXTS)),
                ("dataset", st.one_of(st.sampled_from(
                    ["digits", "mnist", "ring8", "nope", ""]),
                    st.text(max_size=8))),
                ("config_variant", st.sampled_from(["huge", "", "TINY"]))):
            if data.draw(st.booleans(), label=f"--{flag}?"):
                drawn[flag] = data.draw(texts, label=f"--{flag}")
                argv.append(f"--{flag}={drawn[flag]}")
                # --seed and --epochs set config.seed and config.epochs.
                suspects += [f"--{flag}", flag]
        # The tiny config, unless another variant was drawn: the default
        # configs are as quick to check, but not to build.
        argv.insert(1, "--config_variant=tiny")
        if data.draw(st.booleans(), label="--config?"):
            field, text = _field_and_text(data, name)
            argv.append(f"--config.{field}={text}")
            suspects += [field, field.rpartition(".")[2]]
        # One command line in four has a stray argument.
        if data.draw(st.sampled_from([False, False, False, True]),
                     label="stray argument?"):
            argv.append("stray")
            suspects.append("stray")
        flag_values, overrides, error_line = _parse_command_line(
            argv, monkeypatch)
        if error_line is not None:
            assert _names(error_line, *suspects), (argv, error_line)
            outcomes["refused by the parser"] += 1
            return
        try:
            spec, config = train.make_config(
                flag_values.model, variant=flag_values.config_variant,
                overrides=overrides, dataset=flag_values.dataset,
                epochs=flag_values.epochs, seed=flag_values.seed)
        except errors.UsageError as error:
            assert _names(str(error), *suspects), (argv, str(error))
            outcomes["refused by the config"] += 1
            return
        outcomes["accepted"] += 1
        for flag in ("epochs", "seed", "dataset"):
            if flag in drawn:
                assert config[flag] == flag_values[flag].value, (argv, flag)
        if config.dataset == "digits" and flag_values.config_variant == "tiny":
            _build(spec.name, config, suspects)

    check()
    assert len(outcomes) == 3, outcomes
