"""PixelCNN: causality and the blind spot by gradients, normalization."""

import numpy as np
import pytest
import tensorflow as tf

from autoregressive_helpers import assert_causal
from autoregressive_helpers import build
from autoregressive_helpers import dependencies
from autoregressive_helpers import every_image
from tfgen import errors
from tfgen import registry
from tfgen.data import DataInfo


@pytest.mark.parametrize("shape", [(4, 4, 1), (3, 3, 3)],
                         ids=["gray", "colour"])
def test_logits_depend_only_on_earlier_values(shape):
    """The logits of (pixel, channel) d: zero gradient on inputs d, d+1..."""
    model = build("pixelcnn", shape, num_levels=4,
                  overrides={"hidden_channels": 12, "output_channels": 24})
    assert_causal(dependencies(model.logits, shape), strict=True)


@pytest.mark.parametrize("num_blocks", [1, 3])
def test_blind_spot_to_the_upper_right(num_blocks):
    """Pixel (6, 0) of a 7x7 image cannot see (5, 4..6), just above and to
    the right, although it sees (4, 4), farther up: the stack's blind spot
    (van den Oord et al. 2016, Conditional PixelCNN, figure 1), which
    more layers do not fill."""
    shape = (7, 7, 1)
    model = build("pixelcnn", shape, num_levels=2,
                  overrides={"num_residual_blocks": num_blocks})
    depends = dependencies(model.logits, shape)
    position = 6 * 7 + 0
    sees = depends[position].reshape(7, 7)
    assert not sees[5, 4:].any(), "no blind spot above and to the right"
    assert sees[4, 4] and sees[5, :4].all()
    assert not sees.ravel()[position:].any()


@pytest.mark.parametrize(
    "shape,num_levels,preprocessing",
    [((2, 2, 1), 2, "binarize_dynamic"), ((2, 2, 1), 3, "levels"),
     ((1, 2, 3), 2, "binarize_static"), ((1, 2, 3), 3, "levels")],
    ids=["binary_2x2", "levels3_2x2", "binary_1x2x3", "levels3_1x2x3"])
def test_log_prob_sums_to_one_over_a_tiny_space(shape, num_levels,
                                                preprocessing):
    model = build("pixelcnn", shape, num_levels, preprocessing,
                  overrides={"hidden_channels": 3, "output_channels": 6},
                  scale=1.0)
    binarized = preprocessing != "levels"
    images = every_image(shape, 2 if binarized else num_levels, binarized)
    log_probs = np.asarray(model.log_prob(images=tf.constant(images))[
        "log_prob"], np.float64)
    # Not uniform: random weights make the test one of the maths.
    assert log_probs.std() > 0.1
    np.testing.assert_allclose(np.logaddexp.reduce(log_probs), 0.0,
                               atol=1e-5)


def test_bad_configs_name_their_field():
    spec = registry.get("pixelcnn")
    info = DataInfo(name="rgb", event_shape=(4, 4, 3), num_levels=4)
    for field, value in [("hidden_channels", 2), ("first_kernel_size", 4),
                         ("num_residual_blocks", -1),
                         ("preprocessing", "unit")]:
        config = spec.get_config("tiny")
        with config.unlocked():
            config[field] = value
        with pytest.raises(errors.UsageError, match=f"config.{field}="):
            spec.build(config, info)
