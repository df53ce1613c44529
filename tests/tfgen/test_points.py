"""Data beyond images: a model trained on 2-D points, end to end.

The Gaussian RBM's visible units are real-valued, so it models points in the
plane as they come (the ``identity`` preprocessing); the run goes through the
command line's path and ends with its samples plotted beside the data.
"""

import numpy as np
import tensorflow as tf

from tfgen import train


def test_gaussian_rbm_models_and_plots_ring8(tmp_path, data_dir):
    prepared = train.prepare(
        "gaussian_rbm", variant="tiny", dataset="ring8",
        overrides={"preprocessing": "identity"}, workdir=tmp_path / "run",
        data_dir=data_dir)
    results = train.execute(prepared, verbose=0)
    model = prepared.model
    assert results["dataset"] == "ring8"
    assert np.isfinite(results["test_nll"])
    assert (tmp_path / "run" / "samples.png").stat().st_size > 1000
    assert model.capability_inputs("log_prob")["images"].spec.shape \
        .as_list() == [None, 2]
    samples = model.sample(seed=tf.range(5, dtype=tf.int64))["images"]
    assert samples.shape == (5, 2)
    # Points keep their units: three standard deviations below the mean
    # of each coordinate is a negative point (the ring is centred at the
    # origin, radius 2), which an image's [0, 1] clip would have lost.
    low = model.to_images(tf.constant([[-3.0, -3.0]]))
    np.testing.assert_allclose(
        low, [model.pixel_mean.numpy() - 3.0 * model.pixel_std.numpy()],
        rtol=1e-6)
    assert np.all(np.asarray(low) < -1.0)
