"""SavedModel signatures traced from a model's declared capabilities.

``build_serving_module(model)`` wraps a trained ``tfgen.model.GenerativeModel``
in a trackable object that ``tf.saved_model.save`` writes as a SavedModel
that TensorFlow Serving serves and that other programs reuse TF-Hub style:

- one ``tf.function`` per declared capability (``module.sample``,
  ``module.encode``, ...), whose inputs are the named, batched tensors of
  ``model.capability_inputs(capability)`` and whose outputs are the named
  tensors the capability returns;
- a ``serving_default`` signature, the model's main use: ``sample`` if the
  model declares it, else ``decode``, else its first capability;
- ``__call__`` (the same function as ``serving_default``), ``variables``,
  ``trainable_variables``, ``non_trainable_variables`` and
  ``regularization_losses``, the attributes ``hub.KerasLayer`` reads.

A served request is checked inside the graph before the capability runs,
and fails with an InvalidArgument error that names the input when:

- an input that declares a ``minimum`` or ``maximum`` lies outside it (the
  message names the capability and the valid range; NaN lies outside every
  range);
- a float input without a two-sided range holds NaN or an infinity (a latent
  code, data that are not images): "input codes of decode must be finite";
- the inputs of a capability that takes several disagree on the batch size;
- an input's shape is not the declared one (TF Serving passes a request's
  tensors to the graph without comparing shapes): "Shape of tensor codes
  [2,3] is not compatible with expected shape [?,2]".

Its outputs are checked as well: a float output that is not finite although
every input was (a code so large that the network overflows float32) fails
with an InvalidArgument error naming the output, the capability and its
inputs, instead of answering NaN. A request with an empty batch is answered
with empty outputs without running the model (some ops fail on an empty
batch). An input of the wrong dtype never reaches the graph: TensorFlow
refuses it when binding the arguments, naming the input, or by its position
("input #0(zero-based) was expected to be a int64 tensor").
``benchmarks/signature_fuzz.py`` checks all of this on every registered
model. The graph holds TensorFlow ops only: no Python callbacks, printing or
file I/O.

The module learns what a model can do from ``model.capabilities`` and
``model.capability_inputs``, never from its class.
"""

import inspect
import keyword
import math

import tensorflow as tf

# The preference order of the serving_default signature's capability.
_DEFAULT_CAPABILITY_PREFERENCE = ("sample", "decode")

SERVING_DEFAULT = "serving_default"

# Attributes of the saved object that a capability must not replace.
_RESERVED_ATTRIBUTES = frozenset((
    "variables", "trainable_variables", "non_trainable_variables",
    "regularization_losses", "capabilities", "default_capability",
    "serving_signatures", "signatures", SERVING_DEFAULT))


def default_capability(capabilities):
    """Returns the capability that ``serving_default`` serves.

    Args:
        capabilities: the capability names a model declares, in order.

    Returns:
        ``"sample"`` if declared, else ``"decode"`` if declared, else the first
        declared capability.

    Raises:
        ValueError: ``capabilities`` is empty.
    """
    if not capabilities:
        raise ValueError("a model with no capabilities has nothing to serve")
    for preferred in _DEFAULT_CAPABILITY_PREFERENCE:
        if preferred in capabilities:
            return preferred
    return capabilities[0]


def _describe_range(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f"[{minimum}, {maximum}]"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}"


def _bound_in_dtype(value, dtype, round_up):
    """Returns a range bound as a constant comparable with a ``dtype`` tensor.

    An integer input compared with a fractional bound keeps exactly the
    integers inside the range, so the bound is rounded inward.
    """
    if dtype.is_integer:
        value = math.ceil(value) if round_up else math.floor(value)
    return tf.constant(value, dtype=dtype)


def _check_range(capability, name, tensor, capability_input):
    """Returns ``tensor``, gated on graph-side checks of its declared range."""
    minimum, maximum = capability_input.minimum, capability_input.maximum
    if minimum is None and maximum is None:
        return tensor
    # Quotes would come back escaped in the error message, so there are none.
    message = (f"input {name} of {capability} must lie in "
               f"{_describe_range(minimum, maximum)}")
    checks = []
    # NaN fails both comparisons, so a NaN input is rejected as well.
    if minimum is not None:
        checks.append(tf.debugging.assert_greater_equal(
            tensor, _bound_in_dtype(minimum, tensor.dtype, round_up=True),
            message=message, name=f"check_{name}_minimum"))
    if maximum is not None:
        checks.append(tf.debugging.assert_less_equal(
            tensor, _bound_in_dtype(maximum, tensor.dtype, round_up=False),
            message=message, name=f"check_{name}_maximum"))
    # Eagerly the asserts have already raised and return None; in a graph the
    # capability must not start before they pass.
    checks = [check for check in checks if check is not None]
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def _check_shape(name, tensor, capability_input):
    """Returns ``tensor``, gated on a graph-side check of its shape.

    A concrete function called from Python refuses a tensor of the wrong
    shape, but TF Serving (and a Python call that falls back to the flat
    signature) hands the tensor to the graph as it is, whose ops trust the
    declared shape: a wrong rank could be served as a wrongly shaped answer.
    EnsureShape fails with "Shape of tensor <name> [...] is not compatible
    with expected shape [...]".
    """
    return tf.ensure_shape(tensor, capability_input.spec.shape,
                           name=f"check_{name}_shape")


def _check_finite(capability, name, tensor, capability_input):
    """Returns ``tensor``, gated on a graph-side check that it is finite.

    Only float inputs whose declared range does not already exclude NaN and
    the infinities (a range with both ends does) are checked.
    """
    if not tensor.dtype.is_floating or (
            capability_input.minimum is not None
            and capability_input.maximum is not None):
        return tensor
    # CheckNumerics passes the tensor through, failing on NaN or Inf.
    return tf.debugging.assert_all_finite(
        tensor, message=f"input {name} of {capability} must be finite",
        name=f"check_{name}_finite")


def _check_batch_sizes(capability, tensors):
    """Returns ``tensors``, gated on their first dimensions being equal."""
    if len(tensors) < 2:
        return tensors
    names = list(tensors)
    message = (f"inputs {_describe_names(names)} of {capability} must have "
               f"the same batch size")
    first = tf.shape(tensors[names[0]], out_type=tf.int64)[0]
    checks = [tf.debugging.assert_equal(
        tf.shape(tensors[name], out_type=tf.int64)[0], first,
        message=message, name=f"check_{name}_batch_size")
        for name in names[1:]]
    checks = [check for check in checks if check is not None]
    with tf.control_dependencies(checks):
        return {name: tf.identity(tensor) for name, tensor in tensors.items()}


def _check_outputs_finite(capability, outputs, input_names):
    """Returns ``outputs``, each float one checked to be finite.

    The inputs are finite when this runs (or the request has failed
    already), so a non-finite output means the inputs took the network
    past float32's range; the error names the output and the inputs rather
    than answering NaN.
    """
    checked = {}
    for name, tensor in outputs.items():
        if tensor.dtype.is_floating:
            tensor = tf.debugging.assert_all_finite(
                tensor, message=(
                    f"output {name} of {capability} is not finite for "
                    f"finite inputs {_describe_names(input_names)}: an input "
                    f"is too large in magnitude for the model"),
                name=f"check_output_{name}_finite")
        checked[name] = tensor
    return checked


def _unless_empty(batch_size, run, output_specs):
    """Returns ``run()``'s outputs, or empty ones for an empty batch.

    Some ops (convolutions, scatters, matrix products of reshaped rows)
    fail on an empty batch, so an empty request is answered with outputs of
    batch size 0 without running the model. ``run`` fills ``output_specs``
    with its outputs' specs when traced, which ``tf.cond`` does before it
    traces the empty branch.
    """
    def empty():
        return {name: tf.zeros([0] + [size or 0 for size in
                                      spec.shape.as_list()[1:]], spec.dtype)
                for name, spec in output_specs.items()}

    return tf.cond(batch_size > 0, run, empty)


def _describe_names(names):
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _validated_inputs(model, capability):
    """Returns the capability's ``{name: CapabilityInput}``, checked.

    Raises:
        ValueError: the declared inputs cannot make a batched signature.
    """
    inputs = model.capability_inputs(capability)
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(f"{type(model).__name__}.capability_inputs"
                         f"({capability!r}) must return a non-empty dict of "
                         f"CapabilityInput, got {inputs!r}")
    for name, capability_input in inputs.items():
        where = f"input {name!r} of capability {capability!r}"
        # Signature inputs become Python keyword arguments of the function.
        if (not isinstance(name, str) or not name.isidentifier()
                or keyword.iskeyword(name)):
            raise ValueError(f"{where}: the name must be a Python identifier")
        spec = getattr(capability_input, "spec", None)
        if not isinstance(spec, tf.TensorSpec):
            raise ValueError(f"{where}: expected a CapabilityInput holding a "
                             f"tf.TensorSpec, got {capability_input!r}")
        if spec.shape.rank is None or spec.shape.rank < 1:
            raise ValueError(f"{where}: the shape {spec.shape} must have a "
                             f"batch dimension first")
        if spec.shape[0] is not None:
            raise ValueError(f"{where}: the batch dimension of {spec.shape} "
                             f"must be None so that any batch size is served")
        has_range = (capability_input.minimum is not None
                     or capability_input.maximum is not None)
        if has_range and not (spec.dtype.is_integer or spec.dtype.is_floating):
            raise ValueError(f"{where}: a range needs a numeric dtype, not "
                             f"{spec.dtype.name}")
    return inputs


def _capability_function(model, capability):
    """Returns a ``tf.function`` serving one capability of ``model``.

    Its parameters are the capability's input names, in declaration order,
    so that the function's signature inputs carry those names and a caller
    may pass the tensors by name or by position.
    """
    inputs = _validated_inputs(model, capability)
    method = getattr(model, capability)
    parameters = inspect.Signature([
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for name in inputs])

    def serve(*args, **kwargs):
        arguments = parameters.bind(*args, **kwargs).arguments
        checked = {}
        for name, capability_input in inputs.items():
            tensor = _check_shape(name, arguments[name], capability_input)
            tensor = _check_finite(capability, name, tensor, capability_input)
            checked[name] = _check_range(capability, name, tensor,
                                         capability_input)
        checked = _check_batch_sizes(capability, checked)
        output_specs = {}

        def run():
            outputs = method(**checked)
            if not isinstance(outputs, dict) or not outputs:
                raise ValueError(f"{type(model).__name__}.{capability} must "
                                 f"return a non-empty dict of named tensors, "
                                 f"got {type(outputs).__name__}")
            for output_name in outputs:
                if not isinstance(output_name, str) or not output_name:
                    raise ValueError(f"{type(model).__name__}.{capability} "
                                     f"returned an output with the invalid "
                                     f"name {output_name!r}")
            outputs = {name: tf.convert_to_tensor(tensor)
                       for name, tensor in outputs.items()}
            output_specs.update({name: tf.TensorSpec.from_tensor(tensor)
                                 for name, tensor in outputs.items()})
            return outputs

        first = next(iter(checked.values()))
        outputs = _unless_empty(tf.shape(first)[0], run, output_specs)
        return _check_outputs_finite(capability, outputs, list(inputs))

    serve.__signature__ = parameters
    serve.__name__ = capability
    serve.__doc__ = f"Serves {type(model).__name__}.{capability}."
    return tf.function(serve, input_signature=[
        tf.TensorSpec(capability_input.spec.shape, capability_input.spec.dtype,
                      name=name)
        for name, capability_input in inputs.items()])


def _tf_variables(variables):
    """Returns the ``tf.Variable`` behind each (Keras or TensorFlow) variable.

    A Keras 3 variable saved as itself is written as a second copy of its
    ``tf.Variable``; the TF2 loader reconciles the two, but the TF1 session
    loader that TF Serving uses restores the copy while the signatures read
    the original, which then fails as "Could not find variable". Saving the
    ``tf.Variable`` the traced functions capture avoids the copy.

    Raises:
        ValueError: a variable is not backed by a ``tf.Variable``.
    """
    unwrapped = []
    for variable in variables:
        # Outside an autocast scope a Keras variable's value is its
        # tf.Variable.
        backing = variable if isinstance(variable, tf.Variable) else getattr(
            variable, "value", None)
        if not isinstance(backing, tf.Variable):
            name = getattr(variable, "path", variable)
            raise ValueError(f"variable {name!r} is not backed by a "
                             f"tf.Variable; export needs the TensorFlow "
                             f"backend")
        unwrapped.append(backing)
    return unwrapped


class ServingModule(tf.__internal__.tracking.AutoTrackable):
    """The trackable root of a model's SavedModel.

    Build it with ``build_serving_module`` and save it with
    ``tf.saved_model.save(module, path,
    signatures=module.serving_signatures())``.

    Attributes:
        default_capability: the capability behind ``serving_default`` and
            ``__call__``.
        variables: every variable of the model.
        trainable_variables: the model's trainable variables.
        non_trainable_variables: the model's other variables.
        regularization_losses: an empty list (no capability adds a
            regularizer), kept for ``hub.KerasLayer``.
    """

    def __init__(self, model, serving_default=None):
        super().__init__()
        capabilities = tuple(getattr(model, "capabilities", ()) or ())
        if not capabilities:
            raise ValueError(f"{type(model).__name__} declares no "
                             f"capabilities, so there is nothing to export")
        if serving_default is None:
            serving_default = default_capability(capabilities)
        elif serving_default not in capabilities:
            raise ValueError(f"serving_default={serving_default!r} is not a "
                             f"capability of {type(model).__name__}; it has "
                             f"{capabilities}")
        for capability in capabilities:
            if (not isinstance(capability, str) or not capability.isidentifier()
                    or capability.startswith("_")
                    or capability in _RESERVED_ATTRIBUTES):
                raise ValueError(f"{type(model).__name__} declares the "
                                 f"capability {capability!r}, which cannot "
                                 f"name a signature and an attribute")
        self._remember(model, capabilities, serving_default)

        # A Keras 3 model assigned as an attribute here is not tracked by the
        # SavedModel saver, so its variables are listed explicitly.
        self.variables = _tf_variables(model.variables)
        self.trainable_variables = _tf_variables(model.trainable_variables)
        self.non_trainable_variables = _tf_variables(
            model.non_trainable_variables)
        self.regularization_losses = []
        for capability in capabilities:
            setattr(self, capability, _capability_function(model, capability))
        self.__call__ = getattr(self, serving_default)

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _remember(self, model, capabilities, serving_default):
        # Python bookkeeping, kept out of the saved object graph.
        self._model = model
        self._capabilities = capabilities
        self._default_capability = serving_default

    @property
    def capabilities(self):
        """The capabilities served, in the model's declaration order."""
        return self._capabilities

    @property
    def default_capability(self):
        """The capability behind ``serving_default`` and ``__call__``."""
        return self._default_capability

    def serving_signatures(self):
        """Returns the signatures to save, tracing each capability once.

        Returns:
            ``{signature_name: ConcreteFunction}``: one signature per
            capability, named after it, and ``serving_default``.

        Raises:
            ValueError: tracing a capability created variables (the model
                did not create them all in ``__init__``), so the SavedModel
                would lack them.
        """
        signatures = {
            capability: getattr(self, capability).get_concrete_function()
            for capability in self._capabilities}
        if len(self._model.variables) != len(self.variables):
            raise ValueError(f"{type(self._model).__name__} created variables "
                             f"while its capabilities were traced; a model "
                             f"creates every variable in __init__ (from "
                             f"keras.Input specs or add_weight), so that the "
                             f"SavedModel holds them all")
        signatures[SERVING_DEFAULT] = signatures[self._default_capability]
        return signatures


def build_serving_module(model, serving_default=None):
    """Wraps a model's capabilities for export as a SavedModel.

    Args:
        model: a ``tfgen.model.GenerativeModel`` (or anything with
            ``capabilities``, ``capability_inputs`` and one method per
            capability returning a dict of named tensors).
        serving_default: the capability behind ``serving_default`` and
            ``__call__``; by default ``sample``, else ``decode``, else the
            first declared capability.

    Returns:
        A ``ServingModule``.

    Raises:
        ValueError: the model declares no capabilities, declares inputs that
            cannot make a batched signature, or ``serving_default`` is not one
            of its capabilities.
    """
    return ServingModule(model, serving_default=serving_default)


def save(model, export_dir, serving_default=None):
    """Writes a model's SavedModel, every capability a signature, to a folder.

    This writes in place; ``export.publish`` writes under a TF Serving base
    path without ever exposing a half-written version.

    Args:
        model: as for ``build_serving_module``.
        export_dir: the folder to write; it must not exist or be empty.
        serving_default: as for ``build_serving_module``.

    Returns:
        The ``ServingModule`` that was saved.

    Raises:
        ValueError: as for ``build_serving_module`` and
            ``ServingModule.serving_signatures``.
    """
    module = build_serving_module(model, serving_default=serving_default)
    tf.saved_model.save(module, str(export_dir),
                        signatures=module.serving_signatures())
    return module
