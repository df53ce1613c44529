"""What every autoregressive model shares: the exact likelihood and the sampler.

An autoregressive model factorizes the distribution of an image x of
D = H * W * C values in raster order, channels inner (R, then G, then B of a
pixel before the next pixel), as van den Oord, Kalchbrenner & Kavukcuoglu
(2016), "Pixel Recurrent Neural Networks", equation (1)-(2):

    p(x) = prod_d p(x_d | x_1, ..., x_{d-1}),

each conditional a categorical distribution over the ``num_levels`` values
of one channel of one pixel (2 for binarized data, ``data_info.num_levels``
for integer levels: 17 on ``digits``, 256 on 8-bit images). A causal network
gives every conditional's logits in one pass, so ``log_prob`` is exact: the
sum of the D conditionals' log-probabilities, in nats per image; training
minimizes its mean, and the metrics report it in nats (``nll``) and in bits
per dimension (``bits_per_dim`` = nats / (D ln 2)).

Sampling is sequential: value d is drawn from p(x_d | x_<d) once the values
before it are known. ``sample`` and ``complete`` run as one chain
(``tfgen.chains.run_chain``) of D steps inside the graph, so an exported
SavedModel returns finished images for one request.

The interface of a subclass:

- ``logits(inputs)``: REQUIRED. ``inputs`` are float32 (B, H, W, C)
  intensities ``level / (num_levels - 1)`` in [0, 1]; returns float32 logits
  (B, H, W, C, num_levels). The logits of value d must not depend on inputs
  d, d+1, ... (raster order, channels inner): the tests check it by
  gradients, which is why the network takes floats.
- ``fast_sampler_state(inputs)`` and ``fast_sampler_logits(inputs, state,
  position)``: OPTIONAL, a fast sampler. The chain carries ``state`` (a
  tensor or nested structure of tensors of fixed shapes) from step to step;
  at step ``position`` (int64 scalar, the flat index of the value drawn)
  ``fast_sampler_logits`` returns ``(logits (B, num_levels), new_state)``,
  given ``inputs`` holding every value before ``position`` (drawn or known)
  and, from ``position`` on, the known values of ``complete`` and zeros (a
  causal network ignores them; ``position_coordinates`` gives the value's
  row, column and channel). A model that can carry the activations of
  earlier positions (a recurrent network's rows, a convolution's cached
  columns) implements both and keeps the base's loop, noise and masking.
  The sampler (``sampler_state`` / ``sampler_logits``, the base's) runs
  them when ``config.fast_sampling`` is on (the default) and the model has
  them; otherwise it runs the whole network each step (``state`` is
  empty): correct for every causal ``logits``, D times the cost of one
  pass.
- Conditioning on class labels: a model that lists capabilities in
  ``labelled_capabilities`` (an attribute of the class or, when a config
  field switches conditioning on, of the instance) receives their
  ``labels``, int64 (B,), checked by the core, as a keyword argument of
  ``logits(inputs, labels=labels)``, ``sampler_state(inputs,
  labels=labels)`` and ``sampler_logits(inputs, state, position,
  labels=labels)``; training and evaluation pass the batch's ``label``
  when ``log_prob`` is labelled. Unconditional models never receive the
  keyword, so they define these methods without it; their likelihood is
  log p(x), a conditional model's log p(x | y).
- ``validate_config(config)`` (a function of this module) checks the
  fields this base reads; a model's own validation calls it.
  ``autoregressive_config(**fields)`` is the family's base config (17 gray
  levels of ``digits``).

Attributes a subclass may set: ``capabilities`` (``sample``, ``log_prob``
and ``complete`` by default) and ``weight_decay`` (L2 on the rank-2
weights in ``train_step``; 0 by default).

``complete`` keeps the known values (``mask`` 1) and draws the others from
their conditionals given every value before them, known or drawn; a causal
model cannot condition on known values later in raster order.
"""

import math

import tensorflow as tf

from tfgen import chains
from tfgen import config as config_lib
from tfgen import errors
from tfgen.model import GenerativeModel

BINARIZED = ("binarize_static", "binarize_dynamic")
PREPROCESSINGS = BINARIZED + ("levels",)

# The smallest uniform draw turned into Gumbel noise: -log(-log(u)) is finite.
_MIN_UNIFORM = 1e-20


def autoregressive_config(**model_fields):
    """The base config of an autoregressive model: 17 gray levels of digits.

    Args:
        **model_fields: the model's own hyperparameters.

    Returns:
        An unlocked ``ConfigDict``; the caller sets the rest and locks it.
    """
    config = config_lib.base_config(**model_fields)
    config.preprocessing = "levels"
    # Sample by the model's fast sampler where it has one; False: a full
    # pass of the network per value (the same images, D times the work).
    config.fast_sampling = True
    return config


def validate_config(config):
    """Checks the fields every autoregressive model reads.

    Raises:
        UsageError: the preprocessing gives no discrete values, or a shared
            field is out of range.
    """
    config_lib.validate(config)
    if config.preprocessing not in PREPROCESSINGS:
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r}: an autoregressive "
            f"model takes discrete values, one of {', '.join(PREPROCESSINGS)}")


class AutoregressiveModel(GenerativeModel):
    """Base of the autoregressive family: exact likelihood, one sampler.

    Subclasses implement ``logits`` (and optionally the fast sampler's
    ``fast_sampler_state`` / ``fast_sampler_logits``); see the module
    docstring.

    Attributes:
        image_shape: (H, W, C).
        num_levels: values per channel: 2 for binarized data, else the
            dataset's ``num_levels``.
        num_dims: D = H * W * C.
        fast_sampling: ``config.fast_sampling``.

    Args:
        config: the model's locked config (``validate_config`` is applied).
        data_info: ``tfgen.data.DataInfo`` of an image dataset.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is bad, or the data are not images.
    """

    capabilities = ("sample", "log_prob", "complete")
    metric_names = ("nll", "bits_per_dim")
    log_prob_kind = "exact"
    # L2 penalty on the weight matrices (rank 2) in train_step.
    weight_decay = 0.0

    def __init__(self, config, data_info, **kwargs):
        validate_config(config)
        if not data_info.is_image:
            raise errors.UsageError(
                f"config.dataset={config.dataset!r} holds events of shape "
                f"{data_info.event_shape}; {type(self).__name__} models "
                "images (height, width, channels)")
        super().__init__(config, data_info, **kwargs)
        self.image_shape = tuple(data_info.image_shape)
        self.binarized = config.preprocessing in BINARIZED
        self.num_levels = 2 if self.binarized else int(data_info.num_levels)
        if self.num_levels < 2:
            raise errors.UsageError(
                f"config.dataset={config.dataset!r} has {self.num_levels} "
                "levels; a categorical likelihood needs at least 2")
        self.num_dims = math.prod(self.image_shape)
        # Read by ``sampler_state`` / ``sampler_logits`` when traced.
        self.fast_sampling = bool(config.fast_sampling)

    # --- What a subclass implements. -------------------------------------

    def logits(self, inputs, labels=None):
        """The logits of every conditional, (B, H, W, C, num_levels).

        Args:
            inputs: float32 (B, H, W, C) intensities in [0, 1].
            labels: int64 (B,) classes; passed (as a keyword) to a model
                conditioned on labels only.
        """
        raise NotImplementedError

    # A model with a fast sampler overrides both (see the module docstring).
    fast_sampler_state = None
    fast_sampler_logits = None

    @classmethod
    def has_fast_sampler(cls):
        """Whether the class implements the fast sampler's hooks."""
        return cls.fast_sampler_logits is not None

    # --- The sampler's steps. ---------------------------------------------

    @property
    def runs_fast_sampler(self):
        """Whether ``sampler_*`` run the fast hooks (the model has them and
        ``fast_sampling`` is on) rather than full passes."""
        return self.fast_sampling and self.has_fast_sampler()

    def sampler_state(self, inputs, labels=None):
        """The sampler's initial state: the fast sampler's, else none (an
        empty tuple).

        Args:
            inputs: float32 (B, H, W, C), the chain's start (known values,
                zeros elsewhere).
            labels: int64 (B,); a conditional model's only.
        """
        if self.runs_fast_sampler:
            return self.fast_sampler_state(inputs, **_given(labels))
        return ()

    def sampler_logits(self, inputs, state, position, labels=None):
        """Logits of value ``position`` given the values before it: the fast
        sampler's, else a full pass of ``logits`` read at one position.

        Args:
            inputs: float32 (B, H, W, C): values before ``position`` drawn
                or known; from it on, known values and zeros.
            state: the structure ``sampler_state`` returned, as updated by
                the previous step.
            position: int64 scalar, the flat index (raster order, channels
                inner) of the value to draw.
            labels: int64 (B,); a conditional model's only.

        Returns:
            ``(logits, state)``: float32 (B, num_levels) and the next state,
            of the same structure and shapes.
        """
        if self.runs_fast_sampler:
            return self.fast_sampler_logits(inputs, state, position,
                                            **_given(labels))
        logits = tf.reshape(self.logits(inputs, **_given(labels)),
                            [-1, self.num_dims, self.num_levels])
        return tf.gather(logits, position, axis=1), state  # (B, L)

    # --- Labels. --------------------------------------------------------------

    @property
    def conditioned_on_labels(self):
        """Whether training and ``log_prob`` condition on the labels."""
        return "log_prob" in self.labelled_capabilities

    def batch_labels(self, batch):
        """The batch's ``label`` for a conditional model, else None."""
        if not self.conditioned_on_labels:
            return None
        return tf.cast(batch["label"], tf.int64)

    # --- Conversions. -----------------------------------------------------

    def position_coordinates(self, position):
        """(row, column, channel) of a flat position, int64 scalars."""
        height, width, channels = self.image_shape
        position = tf.cast(position, tf.int64)
        return (position // (width * channels),
                (position // channels) % width, position % channels)

    def to_levels(self, images):
        """Images as the dataset gives them -> int32 levels (B, H, W, C)."""
        if self.binarized:
            return tf.cast(tf.round(tf.cast(images, tf.float32)), tf.int32)
        return tf.cast(images, tf.int32)

    def to_inputs(self, levels):
        """int32 levels -> float32 intensities level / (num_levels - 1)."""
        return tf.cast(levels, tf.float32) / float(self.num_levels - 1)

    # --- Likelihood. --------------------------------------------------------

    def conditional_log_probs(self, levels, labels=None):
        """log p(x_d | x_<d) of every value, float32 (B, H, W, C).

        Args:
            levels: int32 (B, H, W, C) in [0, num_levels).
            labels: int64 (B,) classes of a conditional model, or None.
        """
        log_probs = tf.nn.log_softmax(self.logits(self.to_inputs(levels),
                                                  **_given(labels)))
        return tf.reduce_sum(
            log_probs * tf.one_hot(levels, self.num_levels), axis=-1)

    def _log_prob(self, images, labels=None):
        """Returns ``{"log_prob": (B,)}``, the exact log p(x) in nats
        (log p(x | y) given a conditional model's labels)."""
        return {"log_prob": tf.reduce_sum(
            self.conditional_log_probs(self.to_levels(images), labels),
            axis=[1, 2, 3])}

    def bits_per_dim(self, nats):
        """Nats per image -> bits per dimension: nats / (D ln 2)."""
        return nats / (self.num_dims * math.log(2.0))

    def _metric_values(self, nll):
        return {"nll": nll, "bits_per_dim": self.bits_per_dim(nll)}

    def train_step(self, batch):
        levels = self.to_levels(batch["image"])  # (B, H, W, C)
        labels = self.batch_labels(batch)
        with tf.GradientTape() as tape:
            nll = -tf.reduce_sum(self.conditional_log_probs(levels, labels),
                                 axis=[1, 2, 3])  # (B,)
            loss = tf.reduce_mean(nll)
        self.minimize(tape, loss, weight_decay=self.weight_decay)
        return self.update_metrics(self._metric_values(nll))

    def test_step(self, batch):
        nll = -self._log_prob(batch["image"],
                              self.batch_labels(batch))["log_prob"]
        return self.update_metrics(self._metric_values(nll))

    # --- Sampling. ----------------------------------------------------------

    @property
    def sample_block_size(self):
        """Steps whose noise is drawn at once: one image row (W * C)."""
        return self.image_shape[1] * self.image_shape[2]

    def _sample(self, seed, labels=None):
        """Returns ``{"images": (B, H, W, C)}``, row i drawn from seed[i]
        (and labels[i] for a conditional model)."""
        shape = tf.concat([tf.shape(seed)[:1], self.image_shape], axis=0)
        levels = tf.zeros(shape, tf.int32)
        return {"images": self.to_inputs(self._draw(
            levels, tf.zeros(shape, tf.bool), seed, labels))}

    def _complete(self, images, mask, seed, labels=None):
        """Returns ``{"images": ...}``: mask 1 kept, mask 0 drawn."""
        known = mask > 0.5
        levels = tf.where(known, self.to_levels(images), 0)
        return {"images": self.to_inputs(self._draw(levels, known, seed,
                                                    labels))}

    def _draw(self, levels, known, seed, labels=None):
        """Runs the sampler, compiled once when called eagerly."""
        if not tf.executing_eagerly():
            return self.draw_unknown(levels, known, seed, labels)
        # Eagerly, a while loop runs step by step in Python; one traced
        # function (one with labels, one without), kept out of Keras's
        # attribute tracking, runs it in the graph instead.
        key = "_compiled_draw" if labels is None else "_compiled_draw_labels"
        function = self.__dict__.get(key)
        if function is None:
            image = [None] + list(self.image_shape)
            signature = [tf.TensorSpec(image, tf.int32),
                         tf.TensorSpec(image, tf.bool),
                         tf.TensorSpec([None], tf.int64)]
            if labels is not None:
                signature.append(tf.TensorSpec([None], tf.int64))
            function = tf.function(self.draw_unknown,
                                   input_signature=signature)
            object.__setattr__(self, key, function)
        arguments = [levels, known, tf.cast(seed, tf.int64)]
        if labels is not None:
            arguments.append(tf.cast(labels, tf.int64))
        return function(*arguments)

    def draw_unknown(self, levels, known, seed, labels=None):
        """Draws every unknown value in turn from its conditional.

        One ``tfgen.chains.run_chain`` over the D positions: step d gets the
        logits of value d from ``sampler_logits`` (the fast sampler's or a
        full pass, by ``fast_sampling``, read when traced) and draws it by the
        Gumbel-max trick, argmax(logits + g) with g = -log(-log u), from the
        uniforms ``stream("sample").uniform_rows(seed, ...)`` of its block,
        unless it is known.

        Args:
            levels: int32 (B, H, W, C); the known values, anything elsewhere.
            known: bool (B, H, W, C), True where the value is kept.
            seed: int64 (B,); row i's draws depend on seed[i] alone.
            labels: int64 (B,) classes of a conditional model, or None.

        Returns:
            int32 (B, H, W, C) levels.
        """
        batch = tf.shape(levels)[0]
        block_size = self.sample_block_size
        stream = self.stream("sample")
        flat_levels = tf.reshape(levels, [batch, self.num_dims])  # (B, D)
        flat_known = tf.reshape(known, [batch, self.num_dims])

        def images_of(flat):
            return self.to_inputs(tf.reshape(
                flat, tf.concat([[batch], self.image_shape], axis=0)))

        # Values not yet drawn are zeros: a causal network ignores them, a
        # fast sampler's state may rely on them being fixed.
        start = tf.where(flat_known, flat_levels, 0)

        def noise(block):
            return stream.uniform_rows(seed, [block_size, self.num_levels],
                                       step=block)  # (B, block, L)

        def step(position, state, uniforms):
            flat, carried = state
            logits, carried = self.sampler_logits(
                images_of(flat), carried, position,
                **_given(labels))  # (B, L)
            gumbel = -tf.math.log(-tf.math.log(
                tf.maximum(uniforms, _MIN_UNIFORM)))
            drawn = tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)
            value = tf.where(tf.gather(flat_known, position, axis=1),
                             tf.gather(flat, position, axis=1), drawn)  # (B,)
            at = tf.one_hot(position, self.num_dims, dtype=tf.int32)  # (D,)
            return flat * (1 - at) + value[:, None] * at, carried

        flat, _ = chains.run_chain(
            (start, self.sampler_state(images_of(start), **_given(labels))),
            self.num_dims,
            step, noise=noise, block_size=block_size)
        return tf.reshape(flat, tf.shape(levels))


def _given(labels):
    """``{"labels": labels}``, or no keyword at all for an unconditional
    model, whose hooks need not take ``labels``."""
    return {} if labels is None else {"labels": labels}
