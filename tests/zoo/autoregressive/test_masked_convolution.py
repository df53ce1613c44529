"""The masked convolution: causality by gradients, masks by hand."""

import keras
import numpy as np
import pytest

from autoregressive_helpers import assert_causal
from autoregressive_helpers import dependencies
from zoo.autoregressive import layers


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_one_masked_layer_sees_only_earlier_values(mask_type, channels):
    """Mask A: group c at a pixel sees no input at or after (pixel, c);
    mask B: none after it, and (pixel, c) itself."""
    shape = (4, 5, channels)
    layer = layers.MaskedConv2D(2 * channels, 3, mask_type,
                                num_groups=channels)
    layer.build((None,) + shape)
    layer.bias.assign(np.full(layer.bias.shape, 0.1, np.float32))
    depends = dependencies(layer, shape)
    assert_causal(depends, strict=mask_type == "A")
    if mask_type == "B":
        assert np.all(np.diag(depends)), "mask B hides a value from itself"


@pytest.mark.parametrize("channels", [1, 3])
def test_a_stack_of_mask_a_then_b_layers_stays_causal(channels):
    shape = (5, 5, channels)
    inputs = keras.Input(shape)
    features = layers.MaskedConv2D(3 * channels, 5, "A", channels,
                                   activation="tanh")(inputs)
    for _ in range(2):
        features = layers.MaskedConv2D(3 * channels, 3, "B", channels,
                                       activation="tanh")(features)
    network = keras.Model(inputs, features)
    assert_causal(dependencies(network, shape), strict=True)


def test_masks_of_three_channels_at_the_centre():
    """R sees nothing of the current pixel, G sees R, B sees R and G (A);
    mask B adds each group to itself (van den Oord et al. 2016, 3.4)."""
    mask_a = layers.causal_mask((3, 3), 3, 3, "A", 3)
    mask_b = layers.causal_mask((3, 3), 3, 3, "B", 3)
    np.testing.assert_array_equal(mask_a[1, 1], [[0, 1, 1], [0, 0, 1],
                                                 [0, 0, 0]])
    np.testing.assert_array_equal(mask_b[1, 1], [[1, 1, 1], [0, 1, 1],
                                                 [0, 0, 1]])
    for mask in (mask_a, mask_b):
        assert np.all(mask[0] == 1) and np.all(mask[1, 0] == 1)
        assert np.all(mask[2] == 0) and np.all(mask[1, 2] == 0)


def test_groups_split_features_contiguously():
    np.testing.assert_array_equal(layers.channel_groups(6, 3),
                                  [0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="cannot be split"):
        layers.channel_groups(2, 3)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="odd"):
        layers.MaskedConv2D(4, 4, "A")
    with pytest.raises(ValueError, match="mask_type"):
        layers.MaskedConv2D(4, 3, "C")


# --- The fast samplers' ring caches. ---------------------------------------


@pytest.mark.parametrize("padding", [
    ((1, 0), (1, 1)),  # the gated PixelCNN's vertical stack, k = 3
    ((0, 0), (1, 0)),  # its horizontal stack, k = 3
    ((3, 0), (3, 3)),  # a vertical stack of k = 7: a ring of 4 rows
])
def test_write_row_lands_where_cached_window_reads_it(padding):
    """Rows written whole, one after the other into a ring, give every
    pixel's window as the whole map does (``image_window``), and the same
    cache as writing the row pixel by pixel."""
    (top, _), (left, right) = padding
    batch, height, width, features = 2, 6, 5, 3
    images = np.random.default_rng(0).standard_normal(
        (batch, height, width, features)).astype(np.float32)
    cache = layers.ring_cache(batch, width, features, padding)
    by_pixel = cache
    for row in range(height):
        cache = layers.write_row(cache, row, images[:, row], padding)
        for column in range(width):
            by_pixel = layers.write_pixel(by_pixel, row, column,
                                          images[:, row, column], padding)
        np.testing.assert_array_equal(cache, by_pixel, err_msg=f"row {row}")
        kernel_width = left + 1 + right
        for column in range(width):
            np.testing.assert_array_equal(
                layers.cached_window(cache, row, column, kernel_width),
                layers.image_window(images, row, column, kernel_width,
                                    padding),
                err_msg=f"pixel ({row}, {column})")
        # The whole row's window, as the vertical stack reads it.
        np.testing.assert_array_equal(
            layers.cached_window(cache, row, 0, left + width + right),
            layers.image_window(images, row, 0, left + width + right,
                                padding))
        assert cache.shape == (top + 1, left + width + right, batch, features)
