"""Every exported signature of every registered model, fuzzed.

``benchmarks.signature_fuzz`` sends Hypothesis's requests (random batch
sizes, empty ones included; NaN, Inf, huge and out-of-range values; wrong
dtypes, shapes and batch sizes; missing and unexpected inputs) to each
capability of a fresh tiny model wrapped for export; each must be served
(finite outputs, one row per request row) or rejected with an error naming
its input. The fuzzer itself is tested by sabotage: with one check of
``export.signatures`` taken out, it must report the request that slips
through.
"""

import pytest
import tensorflow as tf

from benchmarks import signature_fuzz
from export import signatures
from tfgen import registry
import zoo  # noqa: F401  (fills the registry)

# Requests per model: the 27 models in about a minute on one core
# (most requests take milliseconds; an autoregressive sample a few tens).
MAX_EXAMPLES = 40
# Requests to one capability of a sabotaged signature: enough for the
# derandomized examples to hit the fault the missing check let through.
SABOTAGE_EXAMPLES = 60


@pytest.mark.parametrize("name", registry.names())
def test_every_request_is_served_or_rejected_naming_its_input(name):
    counts = signature_fuzz.fuzz_model(name, max_examples=MAX_EXAMPLES)
    assert counts.tried == MAX_EXAMPLES
    assert counts.served + counts.rejected == counts.tried
    # Both ends are reached: valid requests are served, spoiled ones refused.
    assert counts.by_fault[signature_fuzz.VALID]["served"] > 0
    assert counts.rejected > 0


def test_checks_name_the_input_and_the_capability():
    model, module = signature_fuzz.build_module("cgan")
    codes = tf.zeros([2, model.code_size])
    labels = tf.constant([0, 1], tf.int64)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="input codes of decode must be finite"):
        module.decode(codes=codes + float("nan"), labels=labels)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="inputs codes and labels of decode must have "
                             "the same batch size"):
        module.decode(codes=codes, labels=labels[:1])
    empty = module.decode(codes=codes[:0], labels=labels[:0])["images"]
    assert empty.shape == (0,) + model.data_info.image_shape


def _passes_through(index):
    """A check of export.signatures that returns its ``index``-th argument
    unchecked."""
    return lambda *args: args[index]


def _no_empty_batch_guard(batch_size, run, output_specs):
    del batch_size, output_specs
    return run()


# check taken out -> (replacement, model, capability, the request that
# slips through, as the report describes it)
SABOTAGES = {
    "_check_finite": (_passes_through(2), "vae", "decode",
                      "non_finite in codes"),
    "_check_range": (_passes_through(2), "pixelcnn", "log_prob",
                     "out_of_range in images"),
    "_check_shape": (_passes_through(1), "vae", "decode",
                     "wrong_shape in codes"),
    "_check_batch_sizes": (_passes_through(1), "cgan", "decode",
                           "batch_mismatch in"),
    "_unless_empty": (_no_empty_batch_guard, "pixelcnn", "sample",
                      "(batch 0, valid)"),
}


@pytest.mark.parametrize("check", sorted(SABOTAGES))
def test_fuzzer_reports_what_a_missing_check_lets_through(monkeypatch, check):
    replacement, name, capability, expected = SABOTAGES[check]
    monkeypatch.setattr(signatures, check, replacement)
    _, module = signature_fuzz.build_module(name)
    with pytest.raises(signature_fuzz.SignatureFuzzError) as raised:
        signature_fuzz.fuzz_model(name, max_examples=SABOTAGE_EXAMPLES,
                                  module=module, capabilities=[capability])
    # The report holds the request, to reproduce it.
    assert f"request {capability} (batch " in str(raised.value)
    assert expected in str(raised.value)


def _overflowing_decode(model):
    """Makes ``model.decode`` NaN for codes whose squares overflow float32
    (|code| > 1.8e19) and exact otherwise, as a network with no saturating
    output would be."""
    decode = model._decode

    def overflowing(codes, **inputs):
        outputs = decode(codes, **inputs)
        squares = tf.reduce_sum(codes * codes, axis=1)  # (B,): inf if huge
        overflow = tf.reshape(0.0 * squares, [-1, 1, 1, 1])  # NaN if inf
        return {**outputs, "images": outputs["images"] + overflow}

    model._decode = overflowing


def test_overflowing_output_is_rejected_naming_it():
    model, _ = signature_fuzz.build_module("vae")
    _overflowing_decode(model)
    module = signatures.build_serving_module(model)
    counts = signature_fuzz.fuzz_model(
        "vae", max_examples=SABOTAGE_EXAMPLES, module=module,
        capabilities=["decode"])
    assert counts.by_fault[signature_fuzz.HUGE]["rejected"] > 0
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="output images of decode is not finite for "
                             "finite inputs codes"):
        module.decode(codes=tf.fill([1, model.code_size], 1e30))


def test_fuzzer_reports_an_overflowing_output_served(monkeypatch):
    monkeypatch.setattr(signatures, "_check_outputs_finite",
                        _passes_through(1))
    model, _ = signature_fuzz.build_module("vae")
    _overflowing_decode(model)
    module = signatures.build_serving_module(model)
    with pytest.raises(signature_fuzz.SignatureFuzzError,
                       match="output images is not finite"):
        signature_fuzz.fuzz_model("vae", max_examples=SABOTAGE_EXAMPLES,
                                  module=module, capabilities=["decode"])


@pytest.mark.parametrize("message, name, position, named", [
    ("input codes of decode must be finite : Tensor had NaN values",
     "codes", 0, True),
    ("Shape of tensor codes [2,3] is not compatible with expected shape "
     "[?,2].", "codes", 0, True),
    ("cannot compute __inference_sample_412 as input #1(zero-based) was "
     "expected to be a int64 tensor but is a float tensor", "labels", 1,
     True),
    ("cannot compute __inference_sample_412 as input #0(zero-based) was "
     "expected to be a int64 tensor but is a float tensor", "labels", 1,
     False),
    ("Input to reshape is a tensor with 192 values, but the requested "
     "shape has 128", "codes", 0, False),
    # A word that holds the name is not the name.
    ("node decode_codes_1 failed", "codes", 0, False),
])
def test_names_input(message, name, position, named):
    assert signature_fuzz.names_input(message, name, position) is named


def test_error_reason_drops_what_names_every_input():
    binding = TypeError(
        "Binding inputs to tf.function failed due to `Can not cast "
        "TensorSpec(shape=(2, 3), dtype=tf.float32, name='codes') to "
        "TensorSpec(shape=(None, 2), dtype=tf.float32, name='codes')`. "
        "Received args: () and kwargs: {'codes': 1, 'labels': 2} for "
        "signature: (codes: TensorSpec(), labels: TensorSpec())")
    assert "labels" not in signature_fuzz.error_reason(binding)
    assertion = ("Graph execution error:\n\nDetected at node check defined "
                 "at (most recent call last):\n  File \"x.py\", line 1, in "
                 "draw_labels\n\nassertion failed: [input seed of sample "
                 "must lie in [0, 9]] [Condition x >= y did not hold:] "
                 "[x (labels:0) = ] [-1]\n\t [[{{node check_labels}}]]")
    reason = signature_fuzz.error_reason(ValueError(assertion))
    assert reason == ("assertion failed: [input seed of sample must lie in "
                      "[0, 9]]")
