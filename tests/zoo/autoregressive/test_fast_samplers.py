"""Fast samplers: the same images as the full-pass sampler, at a step's cost.

A fast sampler (a model's ``fast_sampler_state`` / ``fast_sampler_logits``)
carries the activations of the values already drawn (Ramachandran et al.
2017, "Fast Generation for Convolutional Autoregressive Models"). It is
correct when it draws, for the same seeds and the same known values,
exactly the images of the base's default hook, which runs the whole network
at every step. Random weights make every conditional non-trivial, so a
cache written one pixel late, a window shifted by one or a layer skipped
changes the draws of most images.

The two compute the same sums in a different order, so logits may differ
by float rounding; an argmax of logits + Gumbel noise flips only when two
of them tie within a few ulps, which the fixed seeds below never meet.
"""


import numpy as np
import pytest
import tensorflow as tf

from autoregressive_helpers import build
from tfgen import registry
from zoo.autoregressive import layers

NUM_IMAGES = 8


def _has_fast_sampler(spec):
    return (spec.family == "autoregressive"
            and spec.model_class.has_fast_sampler())


FAST_SAMPLERS = [spec.name for spec in registry.specs()
                 if _has_fast_sampler(spec)]


def _use_full_passes(model, monkeypatch):
    """Turns ``model``'s fast sampler off: a full pass at every step."""
    monkeypatch.setattr(model, "fast_sampling", False)


def _starts(shape, num_levels, seed=0):
    """Levels and known masks: NUM_IMAGES samples, then as many
    completions of random images with about half the values known."""
    rng = np.random.default_rng(seed)
    levels = rng.integers(0, num_levels, (2 * NUM_IMAGES,) + shape)
    known = rng.random(levels.shape) < 0.5
    known[:NUM_IMAGES] = False
    return (tf.constant(levels, tf.int32), tf.constant(known),
            tf.range(2 * NUM_IMAGES, dtype=tf.int64))


def _assert_non_trivial(images, num_levels):
    """Most levels drawn, and no two images alike."""
    images = np.asarray(images)
    assert len(np.unique(images)) > num_levels // 2
    assert len({image.tobytes() for image in images}) == len(images)


@pytest.mark.parametrize("name", FAST_SAMPLERS)
def test_every_fast_sampler_draws_the_full_pass_images(name, monkeypatch):
    """Every registered model with a fast sampler, whoever wrote it."""
    shape, num_levels = (4, 5, 1), 5
    model = build(name, shape, num_levels, scale=0.5)
    levels, known, seeds = _starts(shape, num_levels)
    draw = tf.function(model.draw_unknown)
    fast = draw(levels, known, seeds)
    _use_full_passes(model, monkeypatch)
    slow = tf.function(model.draw_unknown)(levels, known, seeds)
    np.testing.assert_array_equal(fast, slow)
    _assert_non_trivial(fast, num_levels)


def test_every_autoregressive_model_has_a_fast_sampler():
    """The six of the family; a new one without a fast sampler shows here."""
    assert FAST_SAMPLERS == [spec.name for spec in registry.specs()
                             if spec.family == "autoregressive"]
    assert {"fvbn", "pixelcnn", "gated_pixelcnn", "pixelcnn_pp", "row_lstm",
            "diagonal_bilstm"} <= set(FAST_SAMPLERS)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("name", FAST_SAMPLERS)
def test_sampling_runs_no_full_pass_unless_told(name, fast):
    """The base's switch: with ``config.fast_sampling`` (the default)
    ``sample`` and ``complete`` never trace ``logits``, the whole network;
    with it off they do, and never the fast hooks."""
    assert registry.get(name).get_config().fast_sampling
    shape = (3, 4, 1)
    model = build(name, shape, 3, overrides={"fast_sampling": fast})
    assert model.runs_fast_sampler == fast
    calls = []
    for method in ("logits", "fast_sampler_logits"):
        inner = getattr(model, method)

        def counted(*args, _inner=inner, _method=method, **kwargs):
            calls.append(_method)
            return _inner(*args, **kwargs)

        object.__setattr__(model, method, counted)
    seeds = tf.range(2, dtype=tf.int64)
    model.sample(seed=seeds)
    model.complete(images=tf.zeros((2,) + shape, tf.int32),
                   mask=tf.zeros((2,) + shape), seed=seeds)
    assert set(calls) == {"fast_sampler_logits" if fast else "logits"}
    del calls[:]
    model.log_prob(images=tf.zeros((2,) + shape, tf.int32))
    # The likelihood is one pass of the network (PixelCNN++ scores the
    # observed levels without the logits of every level), never the sampler.
    assert "fast_sampler_logits" not in calls


PIXELCNNS = {
    # shape, levels, preprocessing, config overrides
    "gray17_5x5_2blocks": ((5, 5, 1), 17, "levels",
                           {"num_residual_blocks": 2}),
    "binary_8x8_3blocks": ((8, 8, 1), 2, "binarize_dynamic",
                           {"num_residual_blocks": 3}),
    "gray17_6x9_kernel5_2blocks": ((6, 9, 1), 17, "levels",
                                   {"num_residual_blocks": 2,
                                    "first_kernel_size": 5}),
    "gray4_3x3_no_block": ((3, 3, 1), 4, "levels",
                           {"num_residual_blocks": 0}),
    "colour4_4x4_2blocks": ((4, 4, 3), 4, "levels",
                            {"num_residual_blocks": 2}),
    "colour_binary_3x5_1block": ((3, 5, 3), 2, "binarize_static",
                                 {"num_residual_blocks": 1}),
}


def _pixelcnn(shape, num_levels, preprocessing, overrides, fast):
    """A PixelCNN of random weights; the same weights for both samplers."""
    channels = shape[2]
    overrides = dict(overrides, hidden_channels=3 * channels,
                     output_channels=6 * channels, fast_sampling=fast)
    return build("pixelcnn", shape, num_levels, preprocessing,
                 overrides=overrides, scale=0.5)


@pytest.mark.parametrize("case", list(PIXELCNNS))
def test_pixelcnn_fast_sample_and_complete_equal_the_full_passes(case):
    """Through the public capabilities, with ``config.fast_sampling``."""
    shape, num_levels, preprocessing, overrides = PIXELCNNS[case]
    fast = _pixelcnn(shape, num_levels, preprocessing, overrides, True)
    slow = _pixelcnn(shape, num_levels, preprocessing, overrides, False)
    for variable, twin in zip(fast.variables, slow.variables):
        np.testing.assert_array_equal(variable, twin)
    levels, known, seeds = _starts(shape, num_levels, seed=1)
    samples = fast.sample(seed=seeds)["images"]
    np.testing.assert_array_equal(samples, slow.sample(seed=seeds)["images"])
    _assert_non_trivial(np.round(samples * (num_levels - 1)), num_levels)

    # As the data give them: levels, or 0/1 floats when binarized.
    images = levels if preprocessing == "levels" else tf.cast(levels,
                                                              tf.float32)
    mask = tf.cast(known, tf.float32)
    completed = fast.complete(images=images, mask=mask, seed=seeds)["images"]
    np.testing.assert_array_equal(
        completed, slow.complete(images=images, mask=mask,
                                 seed=seeds)["images"])
    np.testing.assert_array_equal(tf.boolean_mask(completed, known),
                                  tf.boolean_mask(fast.to_inputs(levels),
                                                  known))
    assert not np.array_equal(completed, samples)


# --- The cache functions of layers.py, by themselves. ---------------------


@pytest.mark.parametrize("kernel_size,mask_type,channels",
                         [(3, "B", 1), (5, "A", 1), (3, "A", 3),
                          ((3, 5), "B", 3)])
def test_masked_conv_at_a_pixel_equals_the_full_convolution(
        kernel_size, mask_type, channels):
    """From the image's window: what the first layer reads."""
    shape = (5, 6, channels)
    layer = layers.MaskedConv2D(2 * channels, kernel_size, mask_type,
                                num_groups=channels, activation="tanh")
    layer.build((None,) + shape)
    rng = np.random.default_rng(0)
    for variable in layer.variables:
        variable.assign(rng.standard_normal(variable.shape))
    inputs = tf.constant(rng.random((2,) + shape), tf.float32)
    full = layer(inputs).numpy()  # (2, H, W, F)
    for row in range(shape[0]):
        for column in range(shape[1]):
            window = layers.image_window(inputs, row, column,
                                         layer.kernel_size[1], layer.padding)
            np.testing.assert_allclose(
                layer.call_at_pixel(window), full[:, row, column],
                rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size", [3, (5, 3)])
def test_a_ring_cache_written_pixel_by_pixel_gives_the_full_convolution(
        kernel_size):
    """Written in raster order, the ring holds all a causal kernel reads:
    the rows it reaches above, the current row up to the current pixel;
    the rest (zeros, or a row the ring has passed) the mask hides."""
    shape = (6, 5, 2)
    layer = layers.MaskedConv2D(3, kernel_size, "B")
    layer.build((None,) + shape)
    layer.kernel.assign(np.random.default_rng(1).standard_normal(
        layer.kernel.shape))
    inputs = tf.constant(np.random.default_rng(2).random((3,) + shape),
                         tf.float32)
    full = layer(inputs).numpy()
    cache = layers.ring_cache(3, 5, 2, layer.padding)
    top = layer.kernel_size[0] // 2
    assert cache.shape == (top + 1, 5 + 2 * (layer.kernel_size[1] // 2), 3, 2)
    seen = np.asarray(layer.mask)[:top + 1, :, 0, 0] > 0  # (top + 1, kw)
    for row in range(6):
        for column in range(5):
            cache = layers.write_pixel(cache, row, column,
                                       inputs[:, row, column], layer.padding)
            window = layers.cached_window(cache, row, column,
                                          layer.kernel_size[1])
            # Every value the mask keeps is the image's, exactly.
            np.testing.assert_array_equal(
                tf.boolean_mask(window, seen),
                tf.boolean_mask(layers.image_window(
                    inputs, row, column, layer.kernel_size[1],
                    layer.padding), seen))
            np.testing.assert_allclose(
                layer.call_at_pixel(window), full[:, row, column],
                rtol=1e-5, atol=1e-5)


def test_an_unmasked_kernel_over_the_rows_above_and_the_current_one():
    """A gated PixelCNN's vertical stack: a 2 x 3 kernel over the row above
    and the current one, a column either side, from a ring of 2 rows."""
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.random((2, 4, 5, 3)), tf.float32)
    kernel = tf.constant(rng.standard_normal((2, 3, 3, 4)), tf.float32)
    padding = ((1, 0), (1, 1))
    full = tf.nn.conv2d(tf.pad(inputs, [[0, 0], [1, 0], [1, 1], [0, 0]]),
                        kernel, strides=1, padding="VALID").numpy()
    cache = layers.ring_cache(2, 5, 3, padding)
    assert cache.shape == (2, 7, 2, 3)
    for row in range(4):
        # A whole row is written before any of its pixels is read: the
        # kernel reaches right of the output pixel.
        for column in range(5):
            cache = layers.write_pixel(cache, row, column,
                                       inputs[:, row, column], padding)
        for column in range(5):
            np.testing.assert_allclose(
                layers.conv_window(layers.cached_window(cache, row, column,
                                                        3), kernel),
                full[:, row, column], rtol=1e-5, atol=1e-5)


def test_call_on_vector_is_for_1x1_layers_only():
    layer = layers.MaskedConv2D(2, 3, "B")
    layer.build((None, 3, 3, 1))
    with pytest.raises(ValueError, match="1x1"):
        layer.call_on_vector(tf.zeros((1, 1)))
