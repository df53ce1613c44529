"""The model contract shared by every family.

Every model in the zoo is a ``GenerativeModel``: a ``keras.Model`` subclass
with its own ``train_step`` and ``test_step``, built as
``ModelClass(config, data_info)`` (every variable created in ``__init__``,
from the dataset's shapes, never by calling the model on data) and trained by
``model.fit``. The base class owns the plumbing that every model would
otherwise write again, so that a model file holds the maths of its paper:

- optimizers, named in ``config.optimizers`` (``tfgen.optimizers``) with the
  variables each updates (``optimizer_variables``); the base builds,
  compiles and checkpoints them. One optimizer, ``model``, over every
  trainable variable is the default;
- a step helper: ``minimize(tape, loss)`` or ``apply_gradients(gradients)``
  take the gradient, scale it across replicas, add weight decay if asked
  and apply the named optimizer;
- metrics declared by name (``metric_names``), created, updated
  (``update_metrics``) and reset by the base;
- named random streams (``stream("sample")``; ``tfgen.rng``) for the
  stateless draws of capabilities, and ``training_noise`` (from
  ``noise_seed``) for training noise, the same on one device or several;
- conditioning on labels, declared once (``labelled_capabilities``): those
  capabilities get a ``labels`` input, checked against the number of
  classes, in their signatures, sample grids and evaluation.

A model declares its capabilities in the class attribute ``capabilities``.
Each is a public method of the base (``sample``, ``log_prob``, ...) that
takes named tensors batched along the first dimension, checks and casts them
against ``capability_inputs`` and calls the model's ``_sample``,
``_log_prob``, ... (as TFP distributions call ``_log_prob``), which return a
dict of named tensors computed with TensorFlow ops only, so that the export
layer can trace them into SavedModel signatures.

Outputs named ``images`` are intensities in the data's range: [0, 1] (for
integer levels, the level divided by ``num_levels - 1``), [-1, 1] for the
``symmetric`` preprocessing, any value for data that are not images.

Capabilities: ``sample``, ``log_prob`` (exact, or a documented bound or
estimate), ``encode``, ``decode``, ``reconstruct``, ``complete``,
``free_energy``, ``classify``, ``discriminate``.
"""

import dataclasses
import functools
import threading

import keras
import tensorflow as tf

from tfgen import distribute
from tfgen import errors
from tfgen import optimizers as optimizers_lib
from tfgen import rng

CAPABILITIES = ("sample", "log_prob", "encode", "decode", "reconstruct",
                "complete", "free_energy", "classify", "discriminate")

# Capabilities whose one input is a batch of the dataset's examples.
_DATA_INPUT_CAPABILITIES = ("log_prob", "encode", "reconstruct",
                            "free_energy", "classify", "discriminate")

# The name of the input that carries a batch of the dataset's examples.
DATA_INPUT = "images"

# Stage names of greedy layer-wise training: pretrain_layer_0, 1, ...
_PRETRAIN_STAGE = "pretrain_layer_"


def layerwise_stages(num_layers, pretrain_epochs, finetune_epochs):
    """Stages of greedy layer-wise pretraining, then fine-tuning.

    Args:
        num_layers: layers pretrained one after the other.
        pretrain_epochs: epochs of each layer's stage.
        finetune_epochs: epochs of the last stage.

    Returns:
        ``[("pretrain_layer_0", pretrain_epochs), ...,
        ("finetune", finetune_epochs)]``, for ``training_stages``.
    """
    return ([(f"{_PRETRAIN_STAGE}{layer}", int(pretrain_epochs))
             for layer in range(num_layers)]
            + [("finetune", int(finetune_epochs))])


def pretrained_layer(stage):
    """The layer a ``layerwise_stages`` stage pretrains, or None (finetune)."""
    if stage.startswith(_PRETRAIN_STAGE):
        return int(stage[len(_PRETRAIN_STAGE):])
    return None


# The batch rows of the train step this thread is tracing, for
# apply_gradients under a distribution strategy (``__init_subclass__``).
_STEP = threading.local()


@dataclasses.dataclass(frozen=True)
class CapabilityInput:
    """One named input of a capability, as the export layer sees it.

    Attributes:
        spec: shape (batch first, ``None``) and dtype.
        minimum: smallest valid value, or ``None``; a served request outside
            ``[minimum, maximum]`` is rejected with an InvalidArgument error
            naming the input.
        maximum: largest valid value, or ``None``.
    """

    spec: tf.TensorSpec
    minimum: float = None
    maximum: float = None


def draw_labels(instance_seed, seed, num_classes):
    """Labels uniform over ``num_classes``, one per row seed, int64 (B,).

    The ``labels`` stream of the model whose ``config.seed`` is
    ``instance_seed``: a model's ``sample`` without labels and the
    evaluation of its export draw the same labels for the same seeds.
    """
    classes = int(num_classes)
    uniform = rng.Stream(instance_seed, "labels").uniform_rows(
        seed, [])  # (B,)
    return tf.minimum(tf.cast(tf.floor(uniform * classes), tf.int64),
                      classes - 1)


class GenerativeModel(keras.Model):
    """Base class of every model in the zoo.

    Subclasses set ``capabilities`` (and ``metric_names``,
    ``labelled_capabilities`` where they have them), create every variable
    in ``__init__``, implement ``train_step``, ``test_step`` and one
    ``_<capability>`` method per capability, and override
    ``capability_inputs`` for inputs the base does not know (``decode``'s
    codes have the width ``code_size``).

    Class attributes:
        capabilities: the capability names the model serves.
        metric_names: names of the ``keras.metrics.Mean`` trackers the base
            creates; ``update_metrics`` feeds them.
        labelled_capabilities: capabilities that take the class ``labels``
            besides their other inputs (a conditional model lists every
            capability; a deep belief net clamps labels in ``sample``
            only).

    Attributes:
        config: the model's locked ``ConfigDict``.
        data_info: ``tfgen.data.DataInfo`` of the dataset it models.
        instance_seed: ``config.seed``, the seed of every named stream.
        noise_seed: the ``keras.random.SeedGenerator`` of training noise;
            its state is a model variable, so checkpoints carry it.
        code_size: width of the codes of ``encode`` and ``decode``, or None.
        optimizers: ``{name: keras optimizer}`` after ``compile_for_training``.

    Args:
        config: the model's locked ``ConfigDict``.
        data_info: ``tfgen.data.DataInfo`` of the dataset it models.
        **kwargs: passed to ``keras.Model``.

    Raises:
        ValueError: the class declares an unknown capability, or one without
            its ``_<capability>`` method.
        UsageError: labels are declared but the dataset has no classes.
    """

    capabilities = ()
    metric_names = ()
    labelled_capabilities = ()
    # What ``log_prob`` returns: "exact"; "lower_bound" (a stochastic lower
    # bound, below log p in expectation: an ELBO, an importance-weighted
    # bound); or "estimate" (-F(v) - log Z with log Z estimated, whose
    # standard error ``log_prob_stderr`` states). None without log_prob.
    log_prob_kind = None

    def __init__(self, config, data_info, **kwargs):
        super().__init__(**kwargs)
        cls = type(self)
        unknown = set(cls.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"{cls.__name__} declares unknown capabilities "
                             f"{sorted(unknown)}")
        missing = [capability for capability in cls.capabilities
                   if getattr(cls, f"_{capability}") is getattr(
                       GenerativeModel, f"_{capability}")]
        if missing:
            raise ValueError(f"{cls.__name__} declares {missing} without "
                             f"implementing {[f'_{c}' for c in missing]}")
        kinds = (None,) if "log_prob" not in cls.capabilities else (
            "exact", "lower_bound", "estimate")
        if cls.log_prob_kind not in kinds:
            raise ValueError(f"{cls.__name__}.log_prob_kind="
                             f"{cls.log_prob_kind!r} must be one of {kinds}")
        stray = set(cls.labelled_capabilities) - set(cls.capabilities)
        if stray:
            raise ValueError(f"{cls.__name__} labels capabilities it does not "
                             f"declare: {sorted(stray)}")
        if cls.labelled_capabilities and not data_info.num_classes:
            raise errors.UsageError(
                f"{cls.__name__} is conditioned on labels, but "
                f"config.dataset={config.dataset!r} has no classes")
        self.config = config
        self.data_info = data_info
        self.instance_seed = int(config.seed)
        self.noise_seed = keras.random.SeedGenerator(
            self.instance_seed, name="noise_seed")
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in cls.metric_names}
        self.code_size = None
        self.optimizers = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("train_step")
        if step is not None and not getattr(step, "records_rows", False):
            # Each step's batch size, for apply_gradients and noise under a
            # distribution strategy (replicas may hold unequal shares).
            @functools.wraps(step)
            def train_step(self, batch):
                # Per thread: under MirroredStrategy each replica's step is
                # traced in a thread of its own, at the same time.
                outer = getattr(_STEP, "rows", None)
                _STEP.rows = tf.shape(tf.nest.flatten(batch)[0])[0]
                try:
                    return step(self, batch)
                finally:
                    _STEP.rows = outer

            train_step.records_rows = True
            cls.train_step = train_step

    # --- Randomness. ---------------------------------------------------------

    def stream(self, name):
        """The named stateless stream ``name`` of this model (``tfgen.rng``)."""
        return rng.Stream(self.instance_seed, name)

    def training_noise(self, shape, *, distribution="uniform",
                       batch_axis=0):
        """Training noise from ``noise_seed``: uniform on [0, 1) or normal.

        Under a distribution strategy with several replicas, the noise is
        drawn for the whole global batch along ``batch_axis`` and this
        replica's rows are sliced from it, so every example gets the noise it
        would get on one device. Noise that is not per example (persistent
        chains') takes ``batch_axis=None``: every replica draws the same.

        Args:
            shape: the shape of this replica's noise (a list of ints or
                scalar tensors, or a 1-D tensor).
            distribution: ``"uniform"`` or ``"normal"`` (standard).
            batch_axis: the axis of ``shape`` over this replica's examples,
                or None.

        Returns:
            A float32 tensor of ``shape``.
        """
        draw = {"uniform": keras.random.uniform,
                "normal": keras.random.normal}[distribution]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if batch_axis is None or replicas == 1:
            return draw(shape, seed=self.noise_seed)
        shape = tf.cast(tf.stack(shape) if isinstance(shape, (list, tuple))
                        else shape, tf.int32)
        offset, total = distribute.replica_rows(shape[batch_axis])
        axis = tf.one_hot(batch_axis, tf.size(shape), dtype=tf.int32)
        whole = draw(shape + axis * (total - shape[batch_axis]),
                     seed=self.noise_seed)
        return tf.slice(whole, axis * offset, shape)

    # --- Optimizers and the step helper. -------------------------------------

    def optimizer_variables(self):
        """Returns ``{optimizer name: [variables it updates]}``.

        Each name must have an entry in ``config.optimizers``. The default
        is one optimizer, ``model``, over every trainable variable; models
        with several (pretraining and fine-tuning, a generator and a
        discriminator) override this, and a model fitted in closed form
        returns ``{}`` (its config's ``optimizers`` is then empty).
        """
        return {optimizers_lib.DEFAULT: list(self.trainable_variables)}

    def compile_for_training(self):
        """Builds the named optimizers and compiles the model for ``fit``.

        Raises:
            UsageError: ``config.optimizers`` does not name exactly the
                optimizers of ``optimizer_variables``, or an entry is bad.
        """
        names = list(self.optimizer_variables())
        optimizers_lib.validate(self.config, required=names)
        extra = sorted(set(self.config.optimizers) - set(names))
        if extra:
            raise errors.UsageError(
                f"config.optimizers has {extra}, which {type(self).__name__} "
                f"does not use; its optimizers: {names}")
        self.optimizers = {name: optimizers_lib.build(
            self.config.optimizers[name]) for name in names}
        # Keras's own attribute holds the first (None for a model fitted
        # in closed form); all of them are applied through apply_gradients
        # and checkpointed by checkpoint_variables.
        self.compile(optimizer=self.optimizers[names[0]] if names else None,
                     steps_per_execution=self.config.steps_per_execution,
                     jit_compile=self.config.jit_compile)

    def build_for_training(self):
        """Creates every optimizer's slots on the variables it updates.

        Needed before a checkpoint is restored into a fresh model. The
        model's own variables exist from ``__init__`` on.

        Raises:
            ValueError: the model created no variables in ``__init__``.
        """
        if not self.built or not self.variables:
            raise ValueError(f"{type(self).__name__} must create its variables "
                             "in __init__ (from keras.Input specs) and set "
                             "self.built = True")
        if not self.optimizers:
            self.compile_for_training()
        for name, variables in self.optimizer_variables().items():
            optimizer = self.optimizers[name]
            if not optimizer.built:
                optimizer.build(list(variables))

    def minimize(self, tape, loss, variables=None, *,
                 optimizer=optimizers_lib.DEFAULT, weight_decay=0.0,
                 unconnected_gradients=tf.UnconnectedGradients.NONE):
        """One step of a named optimizer down the gradient of ``loss``.

        Args:
            tape: the ``tf.GradientTape`` that recorded ``loss``.
            loss: this replica's scalar loss, a mean over its examples.
            variables: the variables to update; by default all of the
                optimizer's (``optimizer_variables``).
            optimizer: the optimizer's name.
            weight_decay: adds ``weight_decay * W`` to the gradient of every
                weight matrix (rank 2; not the biases): an L2 penalty.
            unconnected_gradients: as for ``tape.gradient``; ``ZERO`` keeps
                moving the variables a loss does not reach under momentum.
        """
        if variables is None:
            variables = self.optimizer_variables()[optimizer]
        variables = list(variables)
        gradients = tape.gradient(loss, variables,
                                  unconnected_gradients=unconnected_gradients)
        self.apply_gradients(gradients, variables, optimizer=optimizer,
                             weight_decay=weight_decay)

    def apply_gradients(self, gradients, variables=None, *,
                        optimizer=optimizers_lib.DEFAULT, weight_decay=0.0):
        """Applies this replica's gradients with a named optimizer.

        Keras sums the replicas' updates under a distribution strategy, so
        each replica's gradient is weighted by its share of the global batch
        (its rows over all replicas' rows, the step's batch the base records
        around ``train_step``): the step is then that of the mean over the
        global batch, as on one device. Gradients in
        closed form (an RBM's) come here directly; ``minimize`` takes them
        from a tape.

        Args:
            gradients: one per variable (None: not updated).
            variables: as for ``minimize``.
            optimizer: the optimizer's name.
            weight_decay: as for ``minimize``.
        """
        if variables is None:
            variables = self.optimizer_variables()[optimizer]
        variables = list(variables)
        gradients = list(gradients)
        if weight_decay:
            gradients = [
                gradient + weight_decay * variable
                if gradient is not None and len(variable.shape) == 2
                else gradient
                for gradient, variable in zip(gradients, variables)]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            # Keras sums the replicas' updates: each weighs by its share of
            # the global batch, so the sum is the global batch's mean.
            rows = getattr(_STEP, "rows", None)
            if rows is None:
                share = 1.0 / replicas
            else:
                _, total = distribute.replica_rows(rows)
                share = tf.cast(rows, tf.float32) / tf.cast(total,
                                                            tf.float32)
            gradients = [None if gradient is None else gradient * tf.cast(
                share, gradient.dtype) for gradient in gradients]
        named = self.optimizers[optimizer]
        if not named.built:
            # On all its variables: built on this step's alone, it would
            # refuse the others later (a staged model updates a few at once).
            named.build(list(self.optimizer_variables()[optimizer]))
        named.apply(gradients, variables)

    # --- Metrics. ------------------------------------------------------------

    @property
    def metrics(self):
        """The trackers of ``metric_names``, which ``fit`` resets each epoch."""
        return list(self.trackers.values())

    def update_metrics(self, values):
        """Adds a step's values to the named trackers.

        Args:
            values: ``{metric name: tensor}``; a tensor of several values
                (one per example) adds each to the metric's mean.

        Returns:
            ``{name: running mean}`` of the metrics updated, what a
            ``train_step`` or ``test_step`` returns.

        Raises:
            ValueError: a name is not one of ``metric_names``.
        """
        unknown = sorted(set(values) - set(self.trackers))
        if unknown:
            raise ValueError(f"{type(self).__name__} reports {unknown}, which "
                             f"are not in its metric_names "
                             f"{tuple(self.trackers)}")
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    # --- What the training loop calls. ----------------------------------

    def adapt(self, train_batches):
        """Fits data statistics the model keeps (per-pixel means, say).

        Called by the training loop before a checkpoint is restored (a
        restored run then keeps the statistics it was trained with), like
        ``keras.layers.Normalization.adapt``. Default: nothing.

        Args:
            train_batches: the batched training dataset.
        """
        del train_batches

    def training_stages(self):
        """Returns ``[(stage_name, epochs), ...]``, run in order by ``fit``.

        The one training loop runs every stage with ``model.fit`` and the
        shared callbacks, calling ``begin_stage`` first; epochs are counted
        across stages, so checkpoints and resumption span them. A model
        trained in stages (a deep belief net's greedy layers, then its
        fine-tuning) overrides this and ``begin_stage``; the default is one
        stage of ``config.epochs`` epochs.
        """
        return [("train", int(self.config.epochs))]

    def begin_stage(self, name):
        """Called before a stage's epochs run (or resume).

        Records the stage in ``current_stage``, which a staged model's
        ``train_step`` reads when it is traced (the loop traces anew at each
        stage). Models that need more override this and call it.

        Args:
            name: a stage name from ``training_stages``.

        Raises:
            ValueError: ``name`` is not one of the model's stages.
        """
        names = [stage for stage, _ in self.training_stages()]
        if name not in names:
            raise ValueError(f"unknown {type(self).__name__} stage {name!r}; "
                             f"stages: {names}")
        self.current_stage = name

    def after_training(self, train_batches):
        """Called once after the last epoch, before evaluation and export.

        For what the capabilities need that only a trained model can compute
        (an RBM's log-partition estimate, say). Default: nothing.

        Args:
            train_batches: the batched training dataset.
        """
        del train_batches

    def distribution_problem(self):
        """Why this model, so configured, cannot train on several replicas.

        Under a distribution strategy each replica holds a part of every
        batch, and the base makes gradients and training noise add up to
        one device's (``apply_gradients``, ``training_noise``). A step that
        needs the whole batch at once (the examples compared with each
        other, several updates one after another) would train wrong, so
        such a model returns the reason here and the training loop refuses
        the strategy with it. Default: None (it can).
        """
        return None

    def report(self):
        """Returns ``{name: number}`` the model adds to ``metrics.json``.

        For numbers computed by ``after_training`` that no metric carries,
        such as an estimated log-partition function and its error bar.
        Default: ``log_partition`` and ``log_partition_stderr`` for a model
        with an estimated log Z (``add_log_partition``), else nothing.
        """
        if self._has_log_partition():
            return {"log_partition": float(self.log_partition.numpy()),
                    "log_partition_stderr": self.log_prob_stderr()}
        return {}

    def checkpoint_variables(self):
        """Returns ``{group: [variables]}``: the state a checkpoint must hold.

        Every model variable (weights, and state such as the noise seed or
        persistent chains) and every named optimizer's variables, so a
        resumed run continues where it stopped.
        """
        groups = {"model": list(self.variables)}
        for name, optimizer in self.optimizers.items():
            groups[f"optimizer_{name}"] = list(optimizer.variables)
        return groups

    # --- An estimated log-partition function. --------------------------

    def add_log_partition(self):
        """Creates ``log_partition`` and ``log_partition_stderr``.

        For an energy-based model whose ``log_prob`` is -F(v) - log Z with
        log Z estimated after training (annealed importance sampling, or
        enumeration when the model is small): non-trainable scalars, zero
        until ``store_log_partition``, kept by checkpoints and exports;
        ``log_prob_stderr`` and ``report`` then state them. Called in
        ``__init__``.
        """
        self.log_partition = self.add_weight(
            shape=(), name="log_partition", trainable=False,
            initializer="zeros")
        self.log_partition_stderr = self.add_weight(
            shape=(), name="log_partition_stderr", trainable=False,
            initializer="zeros")

    def store_log_partition(self, log_partition, stderr=0.0):
        """Keeps an estimate of log Z and its standard error (0: exact)."""
        self.log_partition.assign(log_partition)
        self.log_partition_stderr.assign(stderr)

    def _has_log_partition(self):
        return isinstance(getattr(self, "log_partition_stderr", None),
                          keras.Variable)

    def log_prob_stderr(self):
        """The standard error, in nats, shared by every ``log_prob`` value.

        Zero for exact values and bounds; a model with an estimated log Z
        (``add_log_partition``) states that estimate's.
        """
        if self._has_log_partition():
            return float(self.log_partition_stderr.numpy())
        return 0.0

    def code_prior(self):
        """The prior over ``encode``'s codes, a TFP distribution, or None.

        Models that sample codes from a prior (the VAEs) return it; the
        plots then draw the decoder over its quantiles when codes are 2-D.
        """
        return None

    # --- Metric bookkeeping, compiled. -------------------------------------

    def reset_metrics(self):
        """Zeroes every metric, in one compiled call when called eagerly.

        ``fit`` and ``evaluate`` call it at each epoch's start. Keras makes
        one eager assignment per metric variable, about 0.25 ms per
        ``keras.metrics.Mean`` on 2 CPU cores: as much as a whole epoch of
        a small model that makes many updates per step (``rbm``'s
        ``config.minibatch_size``). Inside a traced function or under a
        distribution strategy (whose replicas each hold their own metric
        variables) Keras's own version runs.
        """
        function = self._compiled_metric_function("reset")
        if function is None:
            super().reset_metrics()
        else:
            function()

    def get_metrics_result(self):
        """Returns ``{name: value}`` of every metric (see ``reset_metrics``).

        Keras's own version (one ``result()`` per metric) is the reference;
        a metric whose result is a dict adds its entries.
        """
        function = self._compiled_metric_function("result")
        if function is None:
            return super().get_metrics_result()
        return function()

    def _compiled_metric_function(self, kind):
        """The traced reset or result function of the current metrics.

        None where Keras's own eager methods must run: inside a traced
        function (the ops then join that graph) or under a distribution
        strategy. Traced again whenever the metrics or their variables
        change (Keras builds some lazily); only the latest of each kind is
        kept.
        """
        if not tf.executing_eagerly() or tf.distribute.has_strategy():
            return None
        metrics = list(self.metrics)
        key = tuple((id(metric), tuple(id(variable)
                                       for variable in metric.variables))
                    for metric in metrics)
        # Not a tracked attribute: Keras tracks what is set on a layer.
        cache = self.__dict__.get("_metric_functions")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_metric_functions", cache)
        cached_key, function = cache.get(kind, (None, None))
        if cached_key != key:
            if kind == "reset":
                def run():
                    for metric in metrics:
                        metric.reset_state()
            else:
                def run():
                    results = {}
                    for metric in metrics:
                        result = metric.result()
                        if isinstance(result, dict):
                            results.update(result)
                        else:
                            results[metric.name] = result
                    return results
            # A concrete function: a call skips tf.function's dispatch.
            function = tf.function(run, autograph=False).get_concrete_function()
            cache[kind] = (key, function)
        return function

    # --- What the export layer reads. -----------------------------------

    @property
    def data_input(self):
        """The ``CapabilityInput`` of a batch of the dataset's examples.

        Integer levels for the ``levels`` preprocessing, else float32 in
        [0, 1] ([-1, 1] for ``symmetric``); unbounded floats for data that
        are not images.
        """
        info, preprocessing = self.data_info, self.config.preprocessing
        shape = (None,) + tuple(info.event_shape)
        if preprocessing == "levels":
            return CapabilityInput(tf.TensorSpec(shape, tf.int32),
                                   0, info.num_levels - 1)
        if not info.is_image:
            return CapabilityInput(tf.TensorSpec(shape, tf.float32))
        low = -1.0 if preprocessing == "symmetric" else 0.0
        return CapabilityInput(tf.TensorSpec(shape, tf.float32), low, 1.0)

    @property
    def label_input(self):
        """The ``CapabilityInput`` of labels: int64 (B,) in [0, classes)."""
        return CapabilityInput(tf.TensorSpec([None], tf.int64), 0,
                               int(self.data_info.num_classes) - 1)

    def capability_inputs(self, capability):
        """Returns ``{input_name: CapabilityInput}`` of a capability.

        The defaults: ``images`` for the capabilities of a batch of data;
        ``seed`` (one int64 per requested sample) for ``sample``; ``codes``
        of width ``code_size`` for ``decode``; ``images``, ``mask`` (1 where
        a pixel is known, 0 where it is to be filled in) and ``seed`` for
        ``complete``; and ``labels`` for every capability in
        ``labelled_capabilities``.

        Raises:
            ValueError: the capability is not one the model declares, or has
                no default inputs (the subclass must override).
        """
        if capability not in self.capabilities:
            raise ValueError(f"{type(self).__name__} has no capability "
                             f"{capability!r}; it has {self.capabilities}")
        seed = CapabilityInput(tf.TensorSpec([None], tf.int64))
        if capability == "sample":
            inputs = {"seed": seed}
        elif capability in _DATA_INPUT_CAPABILITIES:
            inputs = {DATA_INPUT: self.data_input}
        elif capability == "decode" and self.code_size:
            inputs = {"codes": CapabilityInput(
                tf.TensorSpec([None, int(self.code_size)], tf.float32))}
        elif capability == "complete":
            data = self.data_input
            inputs = {DATA_INPUT: data,
                      "mask": CapabilityInput(tf.TensorSpec(
                          data.spec.shape, tf.float32), 0.0, 1.0),
                      "seed": seed}
        else:
            raise ValueError(f"{type(self).__name__} must define the inputs "
                             f"of its capability {capability!r}")
        if capability in self.labelled_capabilities:
            inputs["labels"] = self.label_input
        return inputs

    def draw_labels(self, seed):
        """Labels drawn uniformly from each row's seed, int64 (B,).

        What ``sample`` uses when a model that clamps labels is called
        without them: an ancestral sample of a uniform p(y).
        """
        return draw_labels(self.instance_seed, seed,
                           self.data_info.num_classes)

    def _run_capability(self, capability, arguments):
        """Checks and casts a capability's inputs, then calls its method.

        Raises:
            ValueError: the model lacks the capability, an input is missing
                or unknown.
            InvalidArgumentError: a label outside [0, num_classes).
        """
        inputs = self.capability_inputs(capability)
        given = {name: value for name, value in arguments.items()
                 if value is not None}
        unknown = sorted(set(given) - set(inputs))
        if unknown:
            raise ValueError(f"{type(self).__name__}.{capability} takes "
                             f"{list(inputs)}, not {unknown}")
        checked = {}
        for name, capability_input in inputs.items():
            if name in given:
                value = tf.cast(given[name], capability_input.spec.dtype)
            elif name == "labels" and capability == "sample":
                value = self.draw_labels(checked["seed"])
            else:
                raise ValueError(f"{type(self).__name__}.{capability} needs "
                                 f"its input {name!r}")
            if name == "labels":
                message = (f"labels must lie in [0, "
                           f"{self.data_info.num_classes - 1}]")
                tf.debugging.assert_non_negative(value, message=message)
                tf.debugging.assert_less(
                    value, tf.constant(self.data_info.num_classes,
                                       value.dtype), message=message)
            checked[name] = value
        return getattr(self, f"_{capability}")(**checked)

    # The public capabilities: each checks its inputs and calls the model's
    # _<capability>. ``labels`` reaches only the labelled capabilities.

    def sample(self, seed, labels=None):
        """Draws one example per seed; row i depends on ``seed[i]`` alone."""
        return self._run_capability("sample", {"seed": seed,
                                               "labels": labels})

    def log_prob(self, images, labels=None):
        """Returns ``{"log_prob": (B,)}`` in nats: exact, a bound or an
        estimate, as the model's ``_log_prob`` documents."""
        return self._run_capability("log_prob", {DATA_INPUT: images,
                                                 "labels": labels})

    def encode(self, images, labels=None):
        """Returns ``{"codes": (B, code_size), ...}``."""
        return self._run_capability("encode", {DATA_INPUT: images,
                                               "labels": labels})

    def decode(self, codes, labels=None):
        """Returns ``{"images": ...}`` for codes (B, code_size)."""
        return self._run_capability("decode", {"codes": codes,
                                               "labels": labels})

    def reconstruct(self, images, labels=None):
        """Returns ``{"images": ...}``, the reconstruction of each example."""
        return self._run_capability("reconstruct", {DATA_INPUT: images,
                                                    "labels": labels})

    def complete(self, images, mask, seed, labels=None):
        """Fills in the pixels where ``mask`` is 0, keeping the others."""
        return self._run_capability("complete", {
            DATA_INPUT: images, "mask": mask, "seed": seed, "labels": labels})

    def free_energy(self, images, labels=None):
        """Returns ``{"free_energy": (B,)}``, an unnormalized -log p."""
        return self._run_capability("free_energy", {DATA_INPUT: images,
                                                    "labels": labels})

    def classify(self, images):
        """Returns ``{"labels": int64 (B,), "probabilities": (B, K)}``."""
        return self._run_capability("classify", {DATA_INPUT: images})

    def discriminate(self, images, labels=None):
        """Returns the discriminator's raw ``{"scores": (B,)}`` and, where
        its loss makes it a classifier, ``{"probabilities": (B,)}`` of
        being real data."""
        return self._run_capability("discriminate", {DATA_INPUT: images,
                                                     "labels": labels})

    # What the models implement, one per declared capability.

    def _sample(self, **inputs):
        raise NotImplementedError

    def _log_prob(self, **inputs):
        raise NotImplementedError

    def _encode(self, **inputs):
        raise NotImplementedError

    def _decode(self, **inputs):
        raise NotImplementedError

    def _reconstruct(self, **inputs):
        raise NotImplementedError

    def _complete(self, **inputs):
        raise NotImplementedError

    def _free_energy(self, **inputs):
        raise NotImplementedError

    def _classify(self, **inputs):
        raise NotImplementedError

    def _discriminate(self, **inputs):
        raise NotImplementedError
