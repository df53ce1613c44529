"""What the PixelRNN layer tests share: a layer's dependencies by its
Jacobian.

Dependencies are read off the exact Jacobian of a layer's output with
respect to its input, on random inputs and random weights: a masked path
contributes an exact zero, any open path a nonzero almost surely.
"""

import numpy as np
import tensorflow as tf


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
