"""PixelCNN++'s per-pixel fast sampler, piece by piece: the two-row rings,
and the logits of every step against the full pass's at every position
(odd sides, down- and up-sampling at two and three resolutions, colour, no
residual block). Drawn images equal to the full pass's are tested in
test_pixelcnn_pp.py and test_fast_samplers.py."""

import numpy as np
import pytest
import tensorflow as tf

from autoregressive_helpers import build
from zoo.autoregressive import pixelcnn_pp_sampler
from zoo.autoregressive.pixelcnn_pp_layers import ShiftedConv2D
from zoo.autoregressive.pixelcnn_pp_sampler import _Place


def _padded(features, left, right):
    """(B, H, W, F) with a zero row above and ``left``/``right`` zero
    columns: what a 2-row shifted convolution reads."""
    return np.pad(features, [(0, 0), (1, 0), (left, right), (0, 0)])


def test_a_ring_written_pixel_by_pixel_holds_each_pixels_window():
    """The ``ul`` stream's 2 x 2 down-right window at (i, j) is rows i - 1
    and i, columns j - 1 and j of the map, zeros outside it."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((2, 5, 7, 3)).astype(np.float32)
    layer = ShiftedConv2D(4, (2, 2), down_right=True)
    layer.build((None, 5, 7, 3))
    full = layer(features).numpy()
    padded = _padded(features, 1, 0)
    ring = None
    for i in range(5):
        for j in range(7):
            place = _Place(0, tf.constant(i), tf.constant(j), [7])
            ring = place.write(ring, features[:, i:i + 1, j:j + 1])
            window = place.window(ring, layer)
            np.testing.assert_array_equal(window,
                                          padded[:, i:i + 2, j:j + 2])
            np.testing.assert_allclose(layer.conv(window)[:, 0, 0],
                                       full[:, i, j], rtol=1e-5, atol=1e-5)


def test_a_ring_written_row_by_row_holds_each_rows_window():
    """The ``u`` stream's 2 x 3 window of row i: rows i - 1 and i, a zero
    column either side; at stride 2 the coarse row i // 2 at even rows."""
    rng = np.random.default_rng(1)
    features = rng.standard_normal((2, 5, 7, 3)).astype(np.float32)
    layer = ShiftedConv2D(4, (2, 3))
    down = ShiftedConv2D(4, (2, 3), strides=2)
    for conv in (layer, down):
        conv.build((None, 5, 7, 3))
    full, coarse = layer(features).numpy(), down(features).numpy()
    padded = _padded(features, 1, 1)
    ring = None
    for i in range(5):
        place = _Place(0, tf.constant(i), None, [7])
        ring = place.write(ring, features[:, i:i + 1])
        window = place.window(ring, layer)
        np.testing.assert_array_equal(window, padded[:, i:i + 2])
        np.testing.assert_allclose(layer.conv(window)[:, 0], full[:, i],
                                   rtol=1e-5, atol=1e-5)
        if i % 2 == 0:
            np.testing.assert_allclose(down.conv(window)[:, 0],
                                       coarse[:, i // 2], rtol=1e-5,
                                       atol=1e-5)


CASES = {
    # shape, levels, config overrides
    "gray_5x7_two_resolutions": ((5, 7, 1), 5, {"num_resolutions": 2}),
    "gray_5x7_three_resolutions": ((5, 7, 1), 5, {"num_resolutions": 3}),
    "gray_6x4_three_resolutions": ((6, 4, 1), 3, {"num_resolutions": 3}),
    "colour_3x5_two_resolutions": ((3, 5, 3), 4, {"num_resolutions": 2}),
    "gray_3x3_no_block": ((3, 3, 1), 4, {"num_resolutions": 2,
                                         "num_residual_blocks": 0}),
    "gray_1x1_two_resolutions": ((1, 1, 1), 4, {"num_resolutions": 2}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_steps_logits_equal_the_full_pass(case):
    """Step by step over a fixed image (the steps read only the values
    before their position), the logits of every position, channels
    included, equal the full pass's: every map's pixel (and coarse pixel,
    and ``u`` row) that a step reads was computed at the right step."""
    shape, num_levels, overrides = CASES[case]
    model = build("pixelcnn_pp", shape, num_levels,
                  overrides=dict({"num_residual_blocks": 2,
                                  "num_filters": 5, "num_components": 3},
                                 **overrides), scale=0.3)
    rng = np.random.default_rng(2)
    inputs = model.to_inputs(rng.integers(0, num_levels, (3,) + shape))
    full = tf.reshape(model.logits(inputs), [3, -1, num_levels]).numpy()
    if model.num_dims > 1:  # Logits that differ from position to position.
        assert np.abs(np.diff(full, axis=1)).max() > 1e-2
    state = pixelcnn_pp_sampler.initial_state(model, inputs)
    shapes = {key: value.shape for key, value in state.items()}
    for position in range(model.num_dims):
        logits, state = pixelcnn_pp_sampler.step_logits(
            model, inputs, state, tf.constant(position, tf.int64))
        np.testing.assert_allclose(logits, full[:, position], rtol=1e-4,
                                   atol=1e-4, err_msg=f"at {position}")
        assert {key: value.shape for key, value in state.items()} == shapes



def _ul_convs_by_resolution(model):
    """{id of a ``Conv`` the ``ul`` stream applies at a pixel: the
    resolution of the pixel it computes}, and {the state's key of a ``u``
    row a ``ul`` block reads: its resolution}."""
    resolutions = len(model.down_blocks)
    levels = {id(model.ul_input_above.conv): 0,
              id(model.ul_input_left.conv): 0,
              id(model.output_layer): 0}
    u_rows = {}
    for level in range(resolutions):
        blocks = (model.down_blocks[level]
                  + model.up_blocks[resolutions - 1 - level])
        for _, block in blocks:
            u_rows[f"{block.name}:u"] = level
            for conv in (block.conv_in.conv, block.conv_out.conv,
                         block.shortcut):
                levels[id(conv)] = level
        if level < resolutions - 1:  # It computes the coarse map's pixel.
            levels[id(model.down_samples[level][1].conv)] = level + 1
    return levels, u_rows


def test_a_step_computes_each_layer_once_at_its_resolutions_new_pixel(
        monkeypatch):
    """Step (i, j) applies every full-resolution ``ul`` layer once, a layer
    at resolution l once if 2^l divides i and j (the step completes its
    window) and never otherwise; a ``u`` row at resolution l changes at the
    first step of the image rows i that 2^l divides, only."""
    shape = (5, 7, 1)
    model = build("pixelcnn_pp", shape, 4, scale=0.3, overrides={
        "num_resolutions": 3, "num_residual_blocks": 1, "num_filters": 3})
    levels, u_rows = _ul_convs_by_resolution(model)
    calls = []
    pixel_conv = pixelcnn_pp_sampler._pixel_conv
    monkeypatch.setattr(
        pixelcnn_pp_sampler, "_pixel_conv",
        lambda conv, window: calls.append(id(conv)) or pixel_conv(conv,
                                                                  window))
    inputs = model.to_inputs(np.random.default_rng(4).integers(
        0, 4, (2,) + shape))
    state = pixelcnn_pp_sampler.initial_state(model, inputs)
    assert set(u_rows) == {key for key in state if key.endswith(":u")}
    assert set(u_rows.values()) == {0, 1, 2}
    for position in range(model.num_dims):
        row, column = divmod(position, shape[1])
        del calls[:]
        before = dict(state)
        _, state = pixelcnn_pp_sampler.step_logits(
            model, inputs, state, tf.constant(position, tf.int64))
        assert len(calls) == len(set(calls))  # each layer once at most
        assert sorted(calls) == sorted(
            conv for conv, level in levels.items()
            if row % 2 ** level == 0 and column % 2 ** level == 0)
        for key, level in u_rows.items():
            new = column == 0 and row % 2 ** level == 0
            changed = state[key] is not before[key]
            assert changed == new, (key, position)
