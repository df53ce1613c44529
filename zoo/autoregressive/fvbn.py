"""Fully visible belief net: a logistic regression per value on the ones before.

Frey (1998), "Graphical Models for Machine Learning and Digital
Communication", and Neal (1992), "Connectionist learning of belief
networks": the simplest autoregressive model of an image. Value d (raster
order, channels inner) is a softmax regression on the intensities of the
values before it,

    p(x_d = l | x_<d) = softmax_l(b_dl + sum_{i<d} W_idl x_i),

a logistic regression for binarized data (two levels; one logit of the two
is redundant but harmless), a softmax over the gray levels otherwise. The
weights are those of a dense layer masked by MADE's mask for no hidden
layer (``tfgen.layers.autoregressive_masks``; Germain et al. 2015), the
strictly triangular one: output d sees inputs 1 .. d-1. It has no hidden
units, so it is the baseline every deeper autoregressive model must beat.

Its sampler uses the base's hook for a fast sampler: the logits are linear
in the inputs, so the chain carries their running sums instead of running
the whole layer at every step.
"""

import tensorflow as tf

from tfgen import config as config_lib
from tfgen import registry
from tfgen.layers import autoregressive_masks
from zoo.autoregressive import base


def get_config(variant=None):
    """Returns the fully visible belief net's locked config.

    ``python -m tfgen.train --model=fvbn`` trains on ``digits`` (1,257
    training images, 17 gray levels) for 40 epochs, evaluates and exports
    in 35-45 s on 2 CPU cores, end to end (about 28 s of training).
    Expected on the 360 test images: -log p(x) about 90.2 nats, 2.03
    bits/dim (90.10 at seed 0, 90.25 at seed 1; independent pixels: 108.0
    nats).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("fvbn", variant)
    config = base.autoregressive_config(
        weight_decay=1e-4,  # L2 on the regression weights, not the biases
    )
    config.batch_size = 32
    config.epochs = 40
    config.optimizers.model.learning_rate = 1e-2
    if variant == "tiny":
        config_lib.make_tiny(config)
    config.lock()
    return config


def _validate(config):
    """Raises ``UsageError`` naming the field of a bad config."""
    base.validate_config(config)
    config_lib.require_non_negative(config, ("weight_decay",))


@registry.register("fvbn", family="autoregressive",
                   get_config=get_config,
                   paper=("fully visible belief net (Neal 1992; Frey 1998), "
                          "MADE mask of Germain et al. 2015"))
class FVBN(base.AutoregressiveModel):
    """Fully visible belief net: one masked dense layer to every logit.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo`` of an image dataset.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        self.weight_decay = float(config.weight_decay)
        dims, levels = self.num_dims, self.num_levels
        (mask,) = autoregressive_masks(dims, ())  # (D, D): input i -> d > i
        # (D, D * L): input i to level l of value d; rank 2, so the base's
        # weight decay reaches it.
        self.mask = tf.constant(mask[:, :, None].repeat(levels, axis=2)
                                .reshape(dims, dims * levels))
        self.kernel = self.add_weight(shape=(dims, dims * levels),
                                      initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(dims * levels,),
                                    initializer="zeros", name="bias")
        self.built = True

    def logits(self, inputs):
        """Returns (B, H, W, C, num_levels) logits of every conditional."""
        flat = tf.reshape(inputs, [-1, self.num_dims])  # (B, D)
        logits = flat @ (self.kernel * self.mask) + self.bias  # (B, D * L)
        return tf.reshape(logits, tf.concat(
            [tf.shape(inputs), [self.num_levels]], axis=0))

    # --- The fast sampler: the base's hook. -------------------------------
    # The logits are linear in the inputs, so the chain carries every
    # logit's running sum b + sum_{i < d} W_i x_i and adds one input's row
    # per step: O(D L) a step instead of the full pass's O(D^2 L).

    def fast_sampler_state(self, inputs):
        """The bias: the logits before any value is drawn, (B, D * L)."""
        return tf.zeros([tf.shape(inputs)[0], 1]) + self.bias

    def fast_sampler_logits(self, inputs, state, position):
        """Adds value ``position - 1``'s term; reads ``position``'s logits."""
        previous = tf.maximum(position - 1, 0)
        value = tf.gather(tf.reshape(inputs, [-1, self.num_dims]), previous,
                          axis=1)  # (B,)
        value *= tf.cast(position > 0, value.dtype)
        row = (tf.gather(self.kernel, previous)
               * tf.gather(self.mask, previous))  # (D * L,)
        state += value[:, None] * row
        logits = tf.reshape(state, [-1, self.num_dims, self.num_levels])
        return tf.gather(logits, position, axis=1), state  # (B, L)
