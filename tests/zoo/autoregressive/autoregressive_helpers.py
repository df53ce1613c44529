"""What the autoregressive family's tests share: dependencies by gradients.

``dependencies`` says which inputs each output position depends on, by the
Jacobian of a network's outputs: a zero entry is an input the output cannot
see, whatever the weights, when the masks are right. Positions are flat
indices in raster order with channels inner, the order of the
factorization.
"""

import itertools

import numpy as np
import tensorflow as tf

from tfgen import registry
from tfgen.data import DataInfo
import zoo  # noqa: F401


def dependencies(function, image_shape, seed=0):
    """Which inputs each output position depends on, (D, D) bool.

    Args:
        function: maps float32 (1, H, W, C) inputs to (1, H, W, C, K)
            outputs, K features per position (a model's logits), or to
            (1, H, W, C * K) features split in C contiguous groups.
        image_shape: (H, W, C).
        seed: of the random inputs in [0, 1] the Jacobian is taken at.

    Returns:
        ``depends[d, i]``: output position d's gradient with respect to
        input i is not exactly zero.
    """
    dims = int(np.prod(image_shape))
    inputs = tf.constant(np.random.default_rng(seed).random(
        (1,) + tuple(image_shape)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = function(inputs)
    jacobian = tape.jacobian(outputs, inputs)  # (1, ..., 1, H, W, C)
    jacobian = np.reshape(np.asarray(jacobian), (dims, -1, dims))
    return np.abs(jacobian).sum(axis=1) > 0  # (D, D)


def assert_causal(depends, strict=True):
    """Output d sees no input after d (nor d itself if ``strict``), and
    every output but the first sees some input before it."""
    dims = len(depends)
    for position in range(dims):
        first_hidden = position if strict else position + 1
        seen_late = np.flatnonzero(depends[position, first_hidden:])
        assert seen_late.size == 0, (
            f"position {position} depends on inputs "
            f"{(seen_late + first_hidden).tolist()}")
        if position > 0:
            assert depends[position, :position].any(), (
                f"position {position} depends on no earlier input")


def build(name, image_shape, num_levels, preprocessing="levels", seed=0,
          overrides=None, scale=0.3):
    """A model of ``name``'s tiny config with random weights of ``scale``.

    Random (not trained) weights make every conditional non-trivial, so a
    sum over a space or a Jacobian tests the maths rather than zeros.
    """
    spec = registry.get(name)
    config = spec.get_config("tiny")
    with config.unlocked():
        config.preprocessing = preprocessing
        for key, value in (overrides or {}).items():
            config[key] = value
    info = DataInfo(name="tiny", event_shape=image_shape,
                    num_levels=num_levels, split_sizes={"train": 16})
    model = spec.build(config, info)
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(scale * rng.standard_normal(variable.shape).astype(
            np.float32))
    return model


def every_image(image_shape, num_levels, binarized):
    """Every image of a tiny space, (L ** D, H, W, C), as the data give it."""
    dims = int(np.prod(image_shape))
    images = np.array(list(itertools.product(range(num_levels), repeat=dims)))
    images = images.reshape((-1,) + tuple(image_shape))
    return images.astype(np.float32 if binarized else np.int32)
