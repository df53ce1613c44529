"""Fuzzes every exported signature of every registered model.

From the repository root (``python benchmarks/signature_fuzz.py`` works as
well; it needs the ``test`` extra, for ``hypothesis``):

    python -m benchmarks.signature_fuzz [--fuzz_models=vae,pixelcnn]
        [--fuzz_examples=200] [--fuzz_seed=N]

Each model is built fresh in its tiny config, untrained, on a mock 8x8
dataset of 17 levels and 10 classes (no data is read), and wrapped by
``export.signatures.build_serving_module`` exactly as its SavedModel would
be. Hypothesis then sends requests to its signatures, one capability per
request, each input a ``tf.Tensor`` as a served request carries it (a
tensor TensorFlow cannot bind to the signature goes to the graph as it is,
as TF Serving sends it): random batch sizes from 0 to ``MAX_BATCH``; half
the requests valid, as the inputs' declared specs and ranges describe
them (range edges and, for seeds, the int64 extremes included), the others
with one input spoiled by one fault:

* ``non_finite``: NaN, +Inf or -Inf in some elements of a float input;
* ``out_of_range``: a value past a declared range (a label of 10 of 10
  classes, a level of 17, an image value of -1e30);
* ``huge``: finite values up to float32's largest in an input with no
  two-sided range (a latent code of 1e30);
* ``wrong_dtype``, ``wrong_shape`` (a rank more or less, an inner size
  off by one, a scalar), ``batch_mismatch`` (one input of another batch
  size), ``missing`` (an input left out), ``unexpected`` (an input the
  capability does not take).

Every call must end one of two ways:

* served: the outputs the signature declares, of its dtypes and shapes,
  one row per request row, every float finite;
* rejected: ``tf.errors.InvalidArgumentError`` (the in-graph checks of
  ``export.signatures``), ``TypeError`` or ``ValueError`` (TensorFlow's
  binding of the arguments), whose message names the spoiled input, by
  name or by its position (TensorFlow's own dtype check says "input
  #0(zero-based)"). A ``huge`` request may instead be rejected by the
  check of the outputs, naming the output that overflowed.

A spoiled request (but ``huge``) must be rejected as an input: a message
that blames an output for a NaN input means the check of the inputs let it
through. A valid request must be served, or rejected naming one of its
inputs: a model may ask more of an input than its declared range (the
Bernoulli RBM's ``log_prob`` takes binary images only). Anything else (a
NaN answer, a wrongly shaped one, another exception, a message naming no
input) raises ``SignatureFuzzError`` with the request, after Hypothesis has
shrunk it to a small one. Examples are derandomized (``--fuzz_seed`` picks
others), so a run is reproducible.

Prints one JSON line (per model: requests tried, served, rejected, and the
same per fault; the command, commit, core count and date) and a markdown
table. ``tests/export/test_signature_fuzz.py`` runs it on every model with
a few examples each. Bad flags print one line on stderr and exit with
status 2.
"""

import dataclasses
import json
import math
import pathlib
import re
import sys

from absl import app
from absl import flags
import hypothesis
from hypothesis import strategies as st
import numpy as np

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tfgen import cli  # noqa: E402
from tfgen import errors  # noqa: E402

# TensorFlow's start-up lines, and the failed CUDA start it logs once on a
# machine without a GPU, would bury a bad flag's one line: held here, as
# tfgen.cli.parse_flags holds them.
with cli.native_stderr_held():
    import tensorflow as tf  # noqa: E402

    tf.config.list_physical_devices("GPU")

from tfgen.data import DataInfo  # noqa: E402

# Flag names of their own: the tests import every benchmark in one process.
flags.DEFINE_list("fuzz_models", None,
                  "Models to fuzz (default: every registered model).")
flags.DEFINE_integer("fuzz_examples", 100, "Requests per model.",
                     lower_bound=1)
flags.DEFINE_integer("fuzz_seed", None,
                     "Seed of the requests (default: Hypothesis's "
                     "derandomized examples).")
FLAGS = flags.FLAGS

# The conformance suite's mock dataset: 8x8 images of 17 levels, 10 classes.
MOCK_INFO = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                     num_classes=10,
                     split_sizes={"train": 32, "validation": 8, "test": 8})
# Largest batch of a request; 0 (an empty batch) is drawn as well.
MAX_BATCH = 4

VALID = "valid"
HUGE = "huge"
NON_FINITE = "non_finite"
OUT_OF_RANGE = "out_of_range"
WRONG_DTYPE = "wrong_dtype"
WRONG_SHAPE = "wrong_shape"
BATCH_MISMATCH = "batch_mismatch"
MISSING = "missing"
UNEXPECTED = "unexpected"
# A request is valid, or has one of the other faults in one input.
FAULTS = (VALID, HUGE, NON_FINITE, OUT_OF_RANGE, WRONG_DTYPE, WRONG_SHAPE,
          BATCH_MISMATCH, MISSING, UNEXPECTED)

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_DTYPES = (tf.float16, tf.float32, tf.float64, tf.int32, tf.int64, tf.uint8,
           tf.bool, tf.string)
# Names of inputs some capability takes, sent where they are not expected.
_UNEXPECTED_NAMES = ("labels", "seed", "codes", "images", "mask", "extra")
# The errors a rejection may raise.
REJECTIONS = (tf.errors.InvalidArgumentError, TypeError, ValueError)


class SignatureFuzzError(AssertionError):
    """A request neither served correctly nor rejected naming its input."""


@dataclasses.dataclass
class Counts:
    """Requests sent to one model's signatures, and how each ended.

    Attributes:
        model: the registered model's name.
        tried: requests sent.
        served: requests answered (valid ones, and ``huge`` ones the model
            computes finitely).
        rejected: requests refused with an error naming the input.
        by_fault: ``{fault: {"tried": n, "served": n, "rejected": n}}``.
    """

    model: str
    tried: int = 0
    served: int = 0
    rejected: int = 0
    by_fault: dict = dataclasses.field(default_factory=dict)

    def add(self, fault, outcome):
        """Counts one request with ``fault`` that ended as ``outcome``."""
        self.tried += 1
        setattr(self, outcome, getattr(self, outcome) + 1)
        counts = self.by_fault.setdefault(
            fault, {"tried": 0, "served": 0, "rejected": 0})
        counts["tried"] += 1
        counts[outcome] += 1


@dataclasses.dataclass
class Request:
    """One call of one signature: its keyword tensors and its fault."""

    capability: str
    batch: int
    fault: str
    target: str
    inputs: dict

    def describe(self):
        """One line: the capability, the fault and each input's summary."""
        parts = []
        for name, tensor in self.inputs.items():
            summary = f"{name}: {tensor.dtype.name}{list(tensor.shape)}"
            if tensor.dtype.is_floating or tensor.dtype.is_integer:
                values = tensor.numpy().astype(np.float64).ravel()
                numbers = values[~np.isnan(values)]
                if numbers.size:
                    summary += (f" in [{numbers.min():.4g}, "
                                f"{numbers.max():.4g}]")
                if numbers.size < values.size:
                    summary += f" with {values.size - numbers.size} NaN"
            parts.append(summary)
        fault = self.fault if self.fault == VALID else (
            f"{self.fault} in {self.target}")
        return (f"{self.capability} (batch {self.batch}, {fault}): "
                f"{{{', '.join(parts)}}}")


def build_module(name):
    """A fresh registered model, tiny config, wrapped for serving.

    Returns:
        ``(model, module)``: the model and its ``ServingModule``.
    """
    from export import signatures
    from tfgen import registry
    from tfgen import training
    import zoo  # noqa: F401  (fills the registry)

    spec = registry.get(name)
    model = training.build_model(spec, spec.get_config("tiny"), MOCK_INFO)
    return model, signatures.build_serving_module(model)


# --- Requests. ---------------------------------------------------------------


def _integer_bounds(capability_input):
    """The valid ``(low, high)`` of an integer input, inclusive."""
    dtype_info = np.iinfo(capability_input.spec.dtype.as_numpy_dtype)
    low, high = capability_input.minimum, capability_input.maximum
    return (dtype_info.min if low is None else math.ceil(low),
            dtype_info.max if high is None else math.floor(high))


def _has_two_sided_range(capability_input):
    return (capability_input.minimum is not None
            and capability_input.maximum is not None)


def _valid_values(data, capability_input, shape, rng):
    """Valid numpy values of an input, of ``shape``."""
    spec = capability_input.spec
    dtype = spec.dtype.as_numpy_dtype
    if spec.dtype.is_integer:
        low, high = _integer_bounds(capability_input)
        if data.draw(st.booleans(), label="integer edges"):
            # The edges: 0 and -1 too where the range holds them (seeds).
            edges = [value for value in (low, high, 0, -1)
                     if low <= value <= high]
            return rng.choice(np.array(edges, dtype), size=shape)
        return rng.integers(low, high, size=shape, dtype=dtype, endpoint=True)
    low, high = capability_input.minimum, capability_input.maximum
    if _has_two_sided_range(capability_input):
        values = rng.uniform(low, high, size=shape)
        if data.draw(st.booleans(), label="float edges"):
            values = np.where(rng.random(shape) < 0.5, low, high)
        return values.astype(dtype)
    values = rng.standard_normal(shape)
    return np.clip(values, low, high).astype(dtype)


def _spoil_some(values, spoiled, rng):
    """``values`` with a random nonempty subset replaced by ``spoiled``."""
    values = values.copy()
    if values.size:
        flat = values.reshape(-1)
        count = rng.integers(1, flat.size, endpoint=True)
        flat[rng.choice(flat.size, size=count, replace=False)] = spoiled
    return values


def _out_of_range_value(data, capability_input):
    """A value past one end of an input's declared range."""
    spec = capability_input.spec
    low, high = capability_input.minimum, capability_input.maximum
    if spec.dtype.is_integer:
        dtype_info = np.iinfo(spec.dtype.as_numpy_dtype)
        low, high = _integer_bounds(capability_input)
        candidates = [dtype_info.min, dtype_info.max]
        if capability_input.minimum is not None:
            candidates.append(low - 1)
        if capability_input.maximum is not None:
            candidates.append(high + 1)
    else:
        candidates = [-_FLOAT32_MAX, _FLOAT32_MAX]
        if low is not None:
            candidates += [_next_float32(low, -np.inf), low - 1.0, -1e30]
        if high is not None:
            candidates += [_next_float32(high, np.inf), high + 1.0, 1e30]
    candidates = [value for value in candidates
                  if (low is not None and value < low)
                  or (high is not None and value > high)]
    return data.draw(st.sampled_from(candidates), label="out-of-range value")


def _next_float32(value, direction):
    """The float32 next to ``value`` towards ``direction``, if normal.

    TensorFlow's CPU kernels flush subnormal floats to zero, so the
    subnormal next to 0 is 0 to them, inside the range; the smallest normal
    float32 past 0 is taken instead.
    """
    following = np.nextafter(np.float32(value), np.float32(direction))
    tiny = np.finfo(np.float32).tiny
    if abs(following) < tiny:
        following = np.float32(np.copysign(tiny, following))
    return following


def _wrong_shapes(spec, batch):
    """Shapes of an input that its declared spec does not accept."""
    inner = spec.shape.as_list()[1:]
    shapes = [[], [batch] + inner + [1], [batch] + inner + [2]]
    if inner:
        shapes += [[batch] + inner[:-1],
                   [batch] + inner[:-1] + [inner[-1] + 1],
                   [batch] + [inner[0] + 1] + inner[1:]]
    else:
        shapes.append([batch, 2])
    return [shape for shape in shapes
            if not spec.shape.is_compatible_with(shape)]


def _cast(values, dtype):
    """``values`` as a tensor of another ``dtype``."""
    if dtype == tf.string:
        return tf.constant(values.astype(str))
    if dtype == tf.bool:
        return tf.constant(values != 0)
    with np.errstate(invalid="ignore", over="ignore"):
        return tf.constant(values.astype(dtype.as_numpy_dtype))


def _applicable_faults(inputs):
    """``{fault: [input names it can spoil]}`` of a capability's inputs
    (for ``unexpected``, the names of inputs it does not take)."""
    names = list(inputs)
    floats = [name for name in names if inputs[name].spec.dtype.is_floating]
    faults = {
        HUGE: [name for name in floats
               if not _has_two_sided_range(inputs[name])],
        NON_FINITE: floats,
        OUT_OF_RANGE: [name for name in names
                       if inputs[name].minimum is not None
                       or inputs[name].maximum is not None],
        WRONG_DTYPE: names,
        WRONG_SHAPE: names,
        BATCH_MISMATCH: names if len(names) > 1 else [],
        MISSING: names,
        UNEXPECTED: [name for name in _UNEXPECTED_NAMES if name not in names],
    }
    return {fault: targets for fault, targets in faults.items() if targets}


def draw_request(data, model, capability):
    """Draws one request of ``capability`` from Hypothesis's ``data``."""
    inputs = model.capability_inputs(capability)
    faults = _applicable_faults(inputs)
    # Half the requests are valid; the others spoil one input.
    fault, target = VALID, None
    if data.draw(st.booleans(), label="spoiled"):
        fault = data.draw(st.sampled_from(list(faults)), label="fault")
        target = data.draw(st.sampled_from(faults[fault]), label="input")
    # A spoiled value needs a row to lie in.
    spoils_values = fault in (NON_FINITE, OUT_OF_RANGE, HUGE)
    batch = data.draw(st.integers(1 if spoils_values else 0, MAX_BATCH),
                      label="batch")
    rng = np.random.default_rng(
        data.draw(st.integers(0, 2**32 - 1), label="values seed"))
    request = {}
    for name, capability_input in inputs.items():
        spec = capability_input.spec
        rows = batch
        if name == target and fault == BATCH_MISMATCH:
            rows = data.draw(st.integers(0, MAX_BATCH + 1).filter(
                lambda size: size != batch), label="its batch")
        shape = [rows] + spec.shape.as_list()[1:]
        if name == target and fault == WRONG_SHAPE:
            shape = data.draw(st.sampled_from(_wrong_shapes(spec, batch)),
                              label="its shape")
        values = _valid_values(data, capability_input, shape, rng)
        if name == target and fault == NON_FINITE:
            values = _spoil_some(values, data.draw(st.sampled_from(
                [np.nan, np.inf, -np.inf]), label="non-finite value"), rng)
        elif name == target and fault == OUT_OF_RANGE:
            values = _spoil_some(values, _out_of_range_value(
                data, capability_input), rng)
        elif name == target and fault == HUGE:
            # Up to float32's largest (3.4e38, where 1e39 times the value
            # would pass it), which Hypothesis tries first.
            magnitude = 10.0 ** data.draw(st.sampled_from((39, 30, 20, 10, 4)),
                                          label="magnitude exponent")
            values = np.clip(values.astype(np.float64) * magnitude,
                             -_FLOAT32_MAX, _FLOAT32_MAX).astype(values.dtype)
        if name == target and fault == WRONG_DTYPE:
            dtype = data.draw(st.sampled_from(
                [dtype for dtype in _DTYPES if dtype != spec.dtype]),
                label="its dtype")
            request[name] = _cast(values, dtype)
        elif not (name == target and fault == MISSING):
            request[name] = tf.constant(values, dtype=spec.dtype)
    if fault == UNEXPECTED:
        request[target] = tf.zeros([batch], tf.int64)
    return Request(capability, batch, fault, target, request)


# --- Outcomes. ---------------------------------------------------------------


def error_reason(error):
    """The part of an error's message that says what was wrong.

    Drops what names every input whatever went wrong: the traceback of an
    InvalidArgumentError, the tensors of an assertion's condition, and the
    arguments and signature a failed binding lists after its reason.
    """
    text = getattr(error, "message", None) or str(error)
    bound = re.search(r"failed due to `(.*?)`", text, re.DOTALL)
    if bound:
        return bound.group(1)
    lines = [line for line in text.splitlines()
             if line.strip()
             and not line.startswith(("  File ", "Graph execution error",
                                      "Detected at node"))
             and not line.lstrip().startswith("[[")]
    return re.sub(r"\] \[Condition .*", "]", " ".join(lines))


def names_input(reason, name, position):
    """Whether a rejection's reason names the input ``name``.

    By name, as a word ("input codes of decode must be finite", "Shape of
    tensor codes [2,3] is not compatible", TensorFlow's binding: "name=
    'codes'", "argument 'labels'"), or by ``position``, as TensorFlow's
    dtype check of a call does ("input #0(zero-based) was expected to be a
    int64 tensor").
    """
    if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", reason):
        return True
    return position is not None and (
        f"input #{position}(zero-based)" in reason)


def named_output(reason):
    """The output a rejection by the check of the outputs names, or None."""
    found = re.search(r"\boutput (\w+) of \w+ is not finite", reason)
    return found.group(1) if found else None


def _served_problem(request, signature, outputs):
    """What is wrong with a served answer, or None."""
    expected = signature.structured_outputs
    if set(outputs) != set(expected):
        return f"outputs {sorted(outputs)}, declared {sorted(expected)}"
    for name, tensor in outputs.items():
        spec = expected[name]
        if tensor.dtype != spec.dtype:
            return (f"output {name} is {tensor.dtype.name}, not "
                    f"{spec.dtype.name}")
        if not tensor.shape.is_compatible_with(spec.shape):
            return f"output {name} has shape {tensor.shape}, not {spec.shape}"
        if tensor.shape.rank == 0 or tensor.shape[0] != request.batch:
            return (f"output {name} has shape {tensor.shape} for a batch of "
                    f"{request.batch}")
        if tensor.dtype.is_floating and not np.all(
                np.isfinite(tensor.numpy())):
            return f"output {name} is not finite"
    return None


def outcome_of(request, signature, positions):
    """Calls the signature with the request: ``"served"`` or ``"rejected"``.

    Args:
        request: a ``Request``.
        signature: the capability's concrete function.
        positions: ``{input name: index}`` of the signature's inputs.

    Raises:
        SignatureFuzzError: the call neither served the request correctly
            nor rejected it naming its spoiled input.
    """
    def fail(problem):
        raise SignatureFuzzError(f"{problem}; request {request.describe()}")

    try:
        outputs = signature(**request.inputs)
    except REJECTIONS as error:
        reason = error_reason(error)
        output = named_output(reason)
        if request.fault == HUGE and output in signature.structured_outputs:
            return "rejected"
        # A model may ask more of an input than its declared range (binary
        # images of a Bernoulli RBM's log_prob): a valid request rejected
        # naming one of its inputs is a rejection too.
        suspects = (list(request.inputs) if request.fault == VALID
                    else [request.target])
        named = any(names_input(reason, name, positions.get(name))
                    for name in suspects)
        # A spoiled input blamed on an output ("not finite for finite
        # inputs") slipped past the checks of the inputs.
        if output is not None or not named:
            fail(f"the rejection does not name the input "
                 f"{' or '.join(suspects)}: {type(error).__name__}: {reason}")
        return "rejected"
    except Exception as error:  # pylint: disable=broad-except
        fail(f"the call raised {type(error).__name__}: {error}")
    if request.fault not in (VALID, HUGE):
        fail(f"a request with {request.fault} in {request.target} was served")
    problem = _served_problem(request, signature, outputs)
    if problem:
        fail(problem)
    return "served"


def fuzz_model(name, *, max_examples, seed=None, module=None,
               capabilities=None):
    """Fuzzes every signature of the registered model ``name``.

    Args:
        name: a registered model.
        max_examples: requests to send (Hypothesis's ``max_examples``).
        seed: seeds the requests; None, Hypothesis's derandomized ones.
        module: the ``ServingModule`` to fuzz (default: ``build_module``'s
            for ``name``; a test passes a sabotaged one).
        capabilities: the capabilities to send requests to (default: all,
            traced as ``serving_signatures`` traces them for export).

    Returns:
        The ``Counts`` of the requests.

    Raises:
        SignatureFuzzError: a request was neither served correctly nor
            rejected naming its input; the message holds the (shrunk)
            request.
    """
    if module is None:
        _, module = build_module(name)
    model = module._model  # pylint: disable=protected-access
    if capabilities is None:
        capabilities = list(module.capabilities)
        signatures = module.serving_signatures()
    else:
        capabilities = list(capabilities)
        signatures = {capability: getattr(module, capability)
                      .get_concrete_function() for capability in capabilities}
    counts = Counts(name)

    @hypothesis.settings(
        max_examples=max_examples, deadline=None, database=None,
        derandomize=True, print_blob=False, report_multiple_bugs=False,
        suppress_health_check=[hypothesis.HealthCheck.too_slow,
                               hypothesis.HealthCheck.data_too_large,
                               hypothesis.HealthCheck.filter_too_much])
    @hypothesis.given(data=st.data())
    def fuzz(data):
        capability = data.draw(st.sampled_from(capabilities),
                               label="capability")
        request = draw_request(data, model, capability)
        positions = {input_name: index for index, input_name in enumerate(
            model.capability_inputs(capability))}
        counts.add(request.fault, outcome_of(
            request, signatures[capability], positions))

    if seed is not None:
        fuzz = hypothesis.seed(seed)(fuzz)
    fuzz()
    return counts


# --- The command. ------------------------------------------------------------


def markdown_table(rows):
    """The per-model counts as a markdown table."""
    faults = [fault for fault in FAULTS
              if any(fault in row["by_fault"] for row in rows)]
    lines = ["| model | tried | served | rejected | "
             + " | ".join(f"{fault} (served/rejected)" for fault in faults)
             + " |",
             "|---" * (4 + len(faults)) + "|"]
    for row in rows:
        cells = []
        for fault in faults:
            counts = row["by_fault"].get(fault)
            cells.append(f"{counts['served']}/{counts['rejected']}"
                         if counts else "-")
        lines.append(f"| `{row['model']}` | {row['tried']} | {row['served']} "
                     f"| {row['rejected']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    try:
        with cli.native_stderr_held():
            from tfgen import registry
            from tfgen import results
            import zoo  # noqa: F401  (fills the registry)

            names = FLAGS.fuzz_models or registry.names()
            unknown = sorted(set(names) - set(registry.names()))
            if unknown:
                raise errors.UsageError(
                    f"--fuzz_models: unknown {unknown}; registered: "
                    f"{registry.names()}")
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    rows = []
    for name in names:
        try:
            counts = fuzz_model(name, max_examples=FLAGS.fuzz_examples,
                                seed=FLAGS.fuzz_seed)
        except SignatureFuzzError as error:
            cli.fail(f"{name}: {error}", 1)
        rows.append(dataclasses.asdict(counts))
    document = {"benchmark": "signature_fuzz", **results.provenance(),
                "max_examples": FLAGS.fuzz_examples, "seed": FLAGS.fuzz_seed,
                "models": rows}
    print(json.dumps(document))
    print()
    print(markdown_table(rows))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
