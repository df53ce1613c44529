"""The model contract shared by every family.

Every model in the zoo is a ``GenerativeModel``: a ``keras.Model`` subclass
with its own ``train_step`` and ``test_step``, built as
``ModelClass(config, data_info)`` and trained by ``model.fit``. It declares
its capabilities in the class attribute ``capabilities``; each capability is
a method of the same name that takes named tensors (batched along the first
dimension) and returns a dict of named tensors, using only TensorFlow ops so
that the export layer can trace it into a SavedModel signature.

Capabilities: ``sample``, ``log_prob`` (exact, or a documented bound or
estimate), ``encode``, ``decode``, ``reconstruct``, ``complete``,
``free_energy``, ``classify``, ``discriminate``.
"""

import dataclasses

import keras
import tensorflow as tf

CAPABILITIES = ("sample", "log_prob", "encode", "decode", "reconstruct",
                "complete", "free_energy", "classify", "discriminate")

# Capabilities whose one input is a batch of images named "images".
_IMAGE_INPUT_CAPABILITIES = ("log_prob", "encode", "reconstruct",
                             "free_energy", "classify", "discriminate")


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


class GenerativeModel(keras.Model):
    """Base class of every model in the zoo.

    Subclasses set ``capabilities``, implement ``train_step``, ``test_step``
    and one method per capability, and override ``capability_inputs`` for
    capabilities whose inputs are not images (``decode``'s codes, say).

    Args:
        config: the model's locked ``ConfigDict``.
        data_info: ``tfgen.data.DataInfo`` of the dataset it models.
        **kwargs: passed to ``keras.Model``.
    """

    capabilities = ()

    def __init__(self, config, data_info, **kwargs):
        super().__init__(**kwargs)
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"{type(self).__name__} declares unknown "
                             f"capabilities {sorted(unknown)}")
        self.config = config
        self.data_info = data_info
        # The instance seed of every stateless sampler (see tfgen.rng).
        self.instance_seed = int(config.seed)

    # --- What the training loop calls. ----------------------------------

    def compile_for_training(self, optimizer=None):
        """Compiles the model for ``fit`` with the config's settings.

        Args:
            optimizer: the optimizer to use; by default the one the config
                names (``optimizer``, ``learning_rate``). Models that need
                another (SGD with momentum, say) pass it; models with several
                optimizers (GANs) override this method.
        """
        if optimizer is None:
            optimizer = keras.optimizers.get({
                "class_name": self.config.optimizer,
                "config": {"learning_rate": self.config.learning_rate},
            })
        self.compile(optimizer=optimizer,
                     steps_per_execution=self.config.steps_per_execution,
                     jit_compile=self.config.jit_compile)

    def build_for_training(self, batch):
        """Creates every variable (weights and optimizer slots) from a batch.

        Needed before a checkpoint is restored into a fresh model. The
        default runs the model's ``call`` on the batch's images and builds the
        optimizer on the trainable variables.

        Args:
            batch: one element of the training dataset (a dict of tensors).
        """
        self(batch["image"])
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.trainable_variables)

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

    def report(self):
        """Returns ``{name: number}`` the model adds to ``metrics.json``.

        For numbers computed by ``after_training`` that no metric carries,
        such as an estimated log-partition function and its error bar.
        Default: nothing.
        """
        return {}

    def checkpoint_variables(self):
        """Returns ``{group: [variables]}``: the state a checkpoint must hold.

        The default holds every model variable (weights, and state such as
        seed generators or persistent chains) and the optimizer's slots, so a
        resumed run continues where it stopped. Models with several
        optimizers add theirs.
        """
        groups = {"model": list(self.variables)}
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None:
            groups["optimizer"] = list(optimizer.variables)
        return groups

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
    def image_input(self):
        """The ``CapabilityInput`` of a batch of images of the dataset."""
        info, preprocessing = self.data_info, self.config.preprocessing
        shape = (None,) + tuple(info.image_shape)
        if preprocessing == "levels":
            return CapabilityInput(tf.TensorSpec(shape, tf.int32),
                                   0, info.num_levels - 1)
        low = -1.0 if preprocessing == "symmetric" else 0.0
        return CapabilityInput(tf.TensorSpec(shape, tf.float32), low, 1.0)

    def capability_inputs(self, capability):
        """Returns ``{input_name: CapabilityInput}`` of a capability.

        The default covers the image capabilities (input ``images``) and
        ``sample`` (input ``seed``, one int64 per requested sample).

        Raises:
            ValueError: the capability is not one the model declares, or has
                no default inputs (the subclass must override).
        """
        if capability not in self.capabilities:
            raise ValueError(f"{type(self).__name__} has no capability "
                             f"{capability!r}; it has {self.capabilities}")
        if capability == "sample":
            return {"seed": CapabilityInput(tf.TensorSpec([None], tf.int64))}
        if capability in _IMAGE_INPUT_CAPABILITIES:
            return {"images": self.image_input}
        raise ValueError(f"{type(self).__name__} must define the inputs of "
                         f"its capability {capability!r}")
