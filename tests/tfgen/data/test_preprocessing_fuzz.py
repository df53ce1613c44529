"""``tfgen.data.preprocessing.preprocess``, fuzzed with Hypothesis.

For every preprocessing, random gray-level images (empty datasets, every
integer dtype a dataset may hold, levels at both ends) and random valid
arguments give images of the documented dtype and range, one per example;
a bad argument (an unknown preprocessing, a ``num_levels`` below 2, a seed
or epoch that is not an integer) is refused with a ``UsageError`` naming
it. The cases ``preprocess`` does not refuse yet are listed last, as
strict expected failures.

Arguments are passed by keyword and ``epoch`` only where ``preprocess``
takes it, so the tests hold while its signature grows.
"""

import inspect
import math
import re

import hypothesis
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst
import numpy as np
import pytest
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen.data import preprocessing

TAKES_EPOCH = "epoch" in inspect.signature(
    preprocessing.preprocess).parameters
SETTINGS = hypothesis.settings(
    max_examples=60, deadline=None, database=None, derandomize=True,
    print_blob=False, report_multiple_bugs=False,
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large])
INT64 = np.iinfo(np.int64)

# The dtypes a dataset's gray levels come in (TFDS: uint8).
_LEVEL_DTYPES = (np.uint8, np.uint16, np.int32, np.int64)
# What each preprocessing makes of levels 0..num_levels-1: dtype and range.
_OUTPUT = {
    "binarize_static": (np.float32, 0.0, 1.0),
    "binarize_dynamic": (np.float32, 0.0, 1.0),
    "unit": (np.float32, 0.0, 1.0),
    "symmetric": (np.float32, -1.0, 1.0),
    "levels": (np.int32, 0, None),  # up to num_levels - 1
    "identity": (np.float32, None, None),  # the values as stored
}


def _dataset(levels):
    return tf.data.Dataset.from_tensor_slices(
        {"image": levels, "label": np.arange(len(levels), dtype=np.int64)})


def _preprocessed(levels, **arguments):
    """The images ``preprocess`` makes of ``levels``, stacked (numpy)."""
    dataset = preprocessing.preprocess(_dataset(levels), **arguments)
    examples = list(dataset.as_numpy_iterator())
    for index, example in enumerate(examples):
        assert example["label"] == index and example["label"].dtype == np.int64
    return [example["image"] for example in examples]


@st.composite
def _levels(draw, num_levels):
    """Gray-level images ``(N, H, W, C)`` of levels 0..num_levels-1."""
    dtype = draw(st.sampled_from([dtype for dtype in _LEVEL_DTYPES
                                  if np.iinfo(dtype).max >= num_levels - 1]))
    shape = (draw(st.integers(0, 3)), draw(st.integers(1, 3)),
             draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    return draw(npst.arrays(dtype, shape,
                            elements=st.integers(0, num_levels - 1)))


def _seeds():
    return st.one_of(st.integers(INT64.min, INT64.max),
                     st.integers(INT64.min, INT64.max).map(np.int64),
                     st.integers(0, 2**32 - 1).map(np.uint32))


def _arguments(draw, preprocessing_name, num_levels):
    arguments = dict(preprocessing=preprocessing_name, num_levels=num_levels,
                     seed=draw(_seeds()))
    if TAKES_EPOCH and draw(st.booleans()):
        arguments["epoch"] = draw(st.integers(0, INT64.max))
    return arguments


@SETTINGS
@hypothesis.given(data=st.data())
def test_valid_arguments_give_images_in_the_documented_range(data):
    name = data.draw(st.sampled_from(config_lib.PREPROCESSINGS),
                     label="preprocessing")
    num_levels = data.draw(st.one_of(
        st.integers(2, 300), st.integers(2, 2**40),
        st.integers(2, 300).map(np.int64)), label="num_levels")
    levels = data.draw(_levels(min(int(num_levels), 2**16)), label="levels")
    if name == "identity" and data.draw(st.booleans()):
        num_levels = None  # What points, which have no levels, pass.
    arguments = _arguments(data.draw, name, num_levels)
    images = _preprocessed(levels, **arguments)
    assert len(images) == len(levels)
    dtype, low, high = _OUTPUT[name]
    if name == "levels":
        high = int(num_levels) - 1
    for image, level in zip(images, levels):
        assert image.dtype == dtype and image.shape == level.shape
        assert np.all(np.isfinite(image))
        if low is not None:
            assert image.min() >= low and image.max() <= high, (
                image.min(), image.max())
        if name.startswith("binarize"):
            assert set(np.unique(image)) <= {0.0, 1.0}
        if name in ("levels", "identity"):
            np.testing.assert_array_equal(image, level)


# Each argument, and values of it that preprocess refuses.
_BAD_ARGUMENTS = {
    "preprocessing": st.one_of(
        st.text(max_size=10).filter(
            lambda text: text not in config_lib.PREPROCESSINGS),
        st.sampled_from([None, 3, "Unit", "unit ", ("unit",)])),
    "num_levels": st.one_of(st.integers(max_value=1),
                            st.sampled_from([None, True, False])),
    "seed": st.one_of(
        st.floats(allow_nan=True), st.text(max_size=5),
        st.sampled_from([None, True, False, 1.0, np.float32(2)])),
}
if TAKES_EPOCH:
    _BAD_ARGUMENTS["epoch"] = st.one_of(
        st.integers(max_value=-1), st.floats(allow_nan=True),
        st.sampled_from([None, True, "1", 1.0]))


def _names(message, argument):
    return re.search(rf"(?<!\w){argument}(?!\w)", message) is not None


@SETTINGS
@hypothesis.given(data=st.data())
def test_a_bad_argument_is_refused_naming_it(data):
    name = data.draw(st.sampled_from(config_lib.PREPROCESSINGS),
                     label="preprocessing")
    arguments = _arguments(data.draw, name, 17)
    bad = data.draw(st.sampled_from(sorted(_BAD_ARGUMENTS)), label="bad")
    value = data.draw(_BAD_ARGUMENTS[bad], label="its value")
    # identity has no levels: it reads neither num_levels nor the seed's
    # value, but it still checks the seed's type.
    hypothesis.assume(not (name == "identity" and bad == "num_levels"))
    arguments[bad] = value
    levels = np.zeros((2, 2, 2, 1), np.uint8)
    with pytest.raises(errors.UsageError) as raised:
        _preprocessed(levels, **arguments)
    assert _names(str(raised.value), bad), (bad, value, str(raised.value))


# --- Arguments and levels past what preprocess takes. ----------------------

def _assert_refused(argument, **arguments):
    """Asserts a UsageError naming ``argument``; other errors propagate."""
    try:
        _preprocessed(np.zeros((1, 2, 2, 1), np.uint8), **arguments)
    except errors.UsageError as error:
        assert _names(str(error), argument), str(error)
        return
    raise AssertionError(f"{argument}={arguments[argument]!r} was accepted")



@pytest.mark.parametrize("num_levels", [2.5, "17", "abc", math.nan,
                                        math.inf])
def test_a_num_levels_that_is_no_integer_is_refused(num_levels):
    _assert_refused("num_levels", preprocessing="unit",
                    num_levels=num_levels, seed=0)


@pytest.mark.parametrize("argument, value", [
    ("seed", 2**63), ("seed", -2**63 - 1), ("seed", np.uint64(2**64 - 1)),
    ("epoch", 2**63)])
def test_a_seed_or_epoch_past_int64_is_refused(argument, value):
    if argument == "epoch" and not TAKES_EPOCH:
        pytest.skip("preprocess takes no epoch")
    arguments = {"preprocessing": "binarize_dynamic", "num_levels": 17,
                 "seed": 0, argument: value}
    _assert_refused(argument, **arguments)


@pytest.mark.parametrize("name", ["unit", "symmetric", "levels"])
@pytest.mark.parametrize("level", [-3, 17, 255])
def test_out_of_range_levels_are_refused_or_kept_in_range(name, level):
    levels = np.full((1, 2, 2, 1), level, np.int32)
    try:
        images = _preprocessed(levels, preprocessing=name, num_levels=17,
                               seed=0)
    except (errors.UsageError, tf.errors.InvalidArgumentError) as error:
        assert _names(str(error), "levels") or _names(str(error), "image")
        return
    _, low, high = _OUTPUT[name]
    high = 16 if name == "levels" else high
    assert low <= images[0].min() and images[0].max() <= high
