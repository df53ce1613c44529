"""What the PixelRNN tests share: dependencies by the exact Jacobian.

A layer's (``dependencies``) or a model's (``logit_dependencies``)
dependencies are read off the exact Jacobian of its output with respect to
its input, on random inputs and random weights: a masked path contributes
an exact zero, any open path a nonzero almost surely. ``build`` and
``randomize`` make the models (``row_lstm``, ``diagonal_bilstm``) whose
tests ``test_pixel_rnns`` runs over both.
"""

import keras
import numpy as np
import tensorflow as tf

from tfgen import registry
from tfgen.data import DataInfo
import zoo  # noqa: F401

MODELS = ("row_lstm", "diagonal_bilstm")


def dependencies(layer, height, width, features, channels=1, seed=0):
    """Which input (pixel, group) each output (pixel, group) depends on.

    Returns:
        A bool array (H*W*channels, H*W*channels) indexed in raster order,
        channel groups within a pixel (feature j in group j % channels):
        entry [i, j] is True where output i has a nonzero gradient with
        respect to input j.
    """
    inputs = tf.random.stateless_normal([1, height, width, features],
                                        seed=[seed, 1])
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs)
    jacobian = np.abs(tape.jacobian(outputs, inputs).numpy())
    jacobian = jacobian[0, :, :, :, 0]  # (H, W, F_out, H, W, F_in)
    # (H, W, F_out, H, W, F_in) -> (H, W, groups, H, W, groups)
    out_features, in_features = jacobian.shape[2], jacobian.shape[5]
    grouped = np.zeros((height, width, channels, height, width, channels))
    for j in range(out_features):
        for i in range(in_features):
            grouped[:, :, j % channels, :, :, i % channels] += (
                jacobian[:, :, j, :, :, i])
    size = height * width * channels
    return grouped.reshape(size, size) > 0


def assert_causal(depends, mask_type):
    """Nothing at or after i (mask A) or after i (mask B); something before."""
    size = depends.shape[0]
    later = np.triu(np.ones((size, size), bool),
                    k=1 if mask_type == "B" else 0)
    assert not np.any(depends & later), np.argwhere(depends & later)[:5]
    assert np.any(depends & ~later)


def build(name, height, width, channels=1, num_levels=17,
          preprocessing="levels", seed=0, **overrides):
    """Model ``name``'s tiny config with ``overrides`` on a mock dataset."""
    spec = registry.get(name)
    config = spec.get_config("tiny")
    with config.unlocked():
        config.preprocessing = preprocessing
        config.update(overrides)
    info = DataInfo(name="mock", event_shape=(height, width, channels),
                    num_levels=num_levels, num_classes=None,
                    split_sizes={"train": 8, "validation": 8, "test": 8})
    keras.utils.set_random_seed(seed)
    return spec.build(config, info)


def randomize(model, scale=0.7, seed=0, biases=True):
    """Random weights, far from the near-uniform conditionals of Glorot's;
    ``biases=False`` zeroes the biases, so that no ReLU is shut for every
    input of a dependency test."""
    for index, variable in enumerate(model.trainable_variables):
        value = scale * tf.random.stateless_normal(variable.shape,
                                                   seed=[seed, index])
        if len(variable.shape) == 1 and not biases:
            value = tf.zeros_like(value)
        variable.assign(value)


def logit_dependencies(model, seed=0, num_inputs=16):
    """(D, D) bool: value i's logits have a nonzero gradient wrt input j
    (raster order, channels inner) at one of ``num_inputs`` random inputs
    (a ReLU may close a path at one input; causality must hold at all).

    Row i is the gradient of a random combination of value i's logits: a
    masked path gives an exact zero, an open one a nonzero almost surely.
    One traced loop over the rows is faster than ``tape.jacobian``.
    """
    # Centred inputs (the network is defined beyond [0, 1]) open more ReLUs.
    inputs = tf.random.stateless_uniform((num_inputs,) + model.image_shape,
                                         seed=[seed, 7], minval=-1.0)
    size = model.num_dims
    weights = tf.random.stateless_normal([model.num_levels], seed=[seed, 8])

    def row(position):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logits = tf.reshape(model.logits(inputs),
                                [num_inputs, size, model.num_levels])
            target = tf.reduce_sum(logits[:, position] * weights)
        gradient = tape.gradient(target, inputs)  # (N, H, W, C)
        return tf.reduce_sum(tf.abs(gradient), axis=0)

    rows = tf.function(lambda: tf.map_fn(
        row, tf.range(size), fn_output_signature=tf.float32))()
    return tf.reshape(rows, [size, size]).numpy() > 0
