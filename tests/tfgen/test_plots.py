"""Tests of tfgen.plots: exact tiling of image grids, atomic PNG files, and
the pictures of a model chosen from what it declares."""

import os

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import config as config_lib
from tfgen import data
from tfgen import plots
from tfgen.data import DataInfo
from tfgen.model import CapabilityInput
from tfgen.model import GenerativeModel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _distinct_images(count, height=3, width=2, channels=1):
    """Images whose every pixel value names its image and position."""
    values = np.arange(count * height * width * channels, dtype=np.float32)
    return values.reshape(count, height, width, channels) / values.size


def _assert_only_png(folder, name):
    assert sorted(os.listdir(folder)) == [name]  # no temporary file left
    with open(os.path.join(folder, name), "rb") as stream:
        assert stream.read(8) == PNG_SIGNATURE
    assert os.path.getsize(os.path.join(folder, name)) > 100


def test_image_grid_puts_image_k_at_row_k_div_cols_column_k_mod_cols():
    images = _distinct_images(7)  # (7, 3, 2, 1)
    grid = plots.image_grid(images, num_columns=3)
    assert grid.shape == (3 * 3, 3 * 2, 1) and grid.dtype == np.float32
    for k in range(7):
        row, column = divmod(k, 3)
        np.testing.assert_array_equal(
            grid[row * 3:(row + 1) * 3, column * 2:(column + 1) * 2],
            images[k])
    np.testing.assert_array_equal(grid[6:, 2:], 0.0)  # the two unused tiles


def test_image_grid_defaults_to_a_square_and_keeps_colour_channels():
    images = np.random.RandomState(0).uniform(size=(10, 4, 5, 3))
    grid = plots.image_grid(images)  # ceil(sqrt(10)) = 4 columns, 3 rows
    assert grid.shape == (3 * 4, 4 * 5, 3)
    np.testing.assert_allclose(grid[4:8, 5:10], images[5], rtol=1e-6)
    assert plots.image_grid(images[:, :, :, 0]).shape == (12, 20, 1)


def test_image_grid_rescales_symmetric_images():
    images = np.array([-1.0, 0.0, 0.5, 1.0], np.float32).reshape(4, 1, 1, 1)
    grid = plots.image_grid(images, num_columns=4)
    np.testing.assert_allclose(grid[0, :, 0], [0.0, 0.5, 0.75, 1.0])
    # Unit-range images are left as they are.
    np.testing.assert_allclose(
        plots.image_grid(np.abs(images), num_columns=4)[0, :, 0],
        [1.0, 0.0, 0.5, 1.0])


@pytest.mark.parametrize("images, num_columns", [
    (np.zeros((0, 2, 2, 1)), None), (np.zeros((2, 2)), None),
    (np.zeros((2, 2, 2, 1)), 0)])
def test_image_grid_rejects_bad_input(images, num_columns):
    with pytest.raises(ValueError):
        plots.image_grid(images, num_columns)


def test_interleave_rows_puts_each_row_of_reconstructions_under_its_originals():
    originals = np.arange(6, dtype=np.float32).reshape(6, 1, 1, 1) / 10
    reconstructions = originals + 0.5
    rows = plots.interleave_rows(originals, reconstructions, 3)
    np.testing.assert_allclose(
        rows.ravel(), [0.0, 0.1, 0.2, 0.5, 0.6, 0.7,
                       0.3, 0.4, 0.5, 0.8, 0.9, 1.0])
    grid = plots.image_grid(rows, num_columns=3)  # (4 rows, 3 columns)
    assert grid.shape[:2] == (4, 3)
    np.testing.assert_allclose(grid[1, :, 0], [0.5, 0.6, 0.7])


@pytest.mark.parametrize("count, columns", [(5, 3), (4, 0)])
def test_interleave_rows_rejects_ragged_rows(count, columns):
    images = np.zeros((count, 2, 2, 1), np.float32)
    with pytest.raises(ValueError, match="rows of"):
        plots.interleave_rows(images, images, columns)


def test_save_image_grid_writes_a_png_atomically(tmp_path):
    path = tmp_path / "grid" / "samples.png"  # the folder is created
    returned = plots.save_image_grid(_distinct_images(5), path, title="five")
    assert returned == str(path)
    _assert_only_png(path.parent, "samples.png")
    # Overwriting keeps one file.
    plots.save_image_grid(_distinct_images(2), path)
    _assert_only_png(path.parent, "samples.png")


def test_plot_latent_manifold_decodes_standard_normal_quantiles(tmp_path):
    seen = []

    def decode(codes):
        seen.append(codes)
        return np.tile(codes[:, :1, None, None], (1, 3, 3, 1)) / 4 + 0.5

    path = plots.plot_latent_manifold(decode, tmp_path / "manifold.png",
                                      grid_size=5, extent=0.9)
    _assert_only_png(tmp_path, "manifold.png")
    assert path == str(tmp_path / "manifold.png")
    codes = seen[0]
    assert codes.shape == (25, 2) and codes.dtype == np.float32
    # Quantiles of N(0, 1) at 5 evenly spaced levels from 5% to 95%.
    expected = stats.norm.ppf(np.linspace(0.05, 0.95, 5))
    np.testing.assert_allclose(codes[:5, 0], expected, atol=1e-5)
    np.testing.assert_allclose(codes[::5, 1], expected[::-1], atol=1e-5)


def test_plot_latent_codes_writes_a_png(tmp_path):
    codes = np.random.RandomState(0).normal(size=(100, 2))
    labels = np.arange(100) % 10
    plots.plot_latent_codes(codes, labels, tmp_path / "codes.png",
                            title="codes")
    _assert_only_png(tmp_path, "codes.png")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_latent_codes(np.zeros((3, 4)), [0, 1, 2],
                                tmp_path / "bad.png")


def test_a_failed_plot_leaves_no_file(tmp_path, monkeypatch):
    def broken(codes):
        raise RuntimeError("decoder failed")

    with pytest.raises(RuntimeError):
        plots.plot_latent_manifold(broken, tmp_path / "manifold.png")

    def half_written(figure, stream, **kwargs):
        stream.write(PNG_SIGNATURE)
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="disk full"):
        plots.save_image_grid(np.zeros((2, 3, 3, 1)), tmp_path / "grid.png")
    assert os.listdir(tmp_path) == []  # neither the PNG nor a temporary


def _capture_figures(monkeypatch):
    """Keeps each figure a plot function saves, to inspect what it drew."""
    captured = []
    save = plots._save  # pylint: disable=protected-access

    def keep(figure, path):
        captured.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    return captured


def test_plot_image_rows_draws_each_row_padded_and_labelled(tmp_path,
                                                            monkeypatch):
    captured = _capture_figures(monkeypatch)
    images = _distinct_images(5)  # (5, 3, 2, 1)
    path = plots.plot_image_rows([images[:3], images[3:]],
                                 tmp_path / "rows.png",
                                 row_labels=["first", "second"], title="t")
    assert path == str(tmp_path / "rows.png")
    _assert_only_png(tmp_path, "rows.png")
    axes = captured[0].axes[0]
    drawn = np.asarray(axes.images[0].get_array())  # (2*3, 3*2)
    expected = np.zeros((6, 6), np.float32)
    for k, (row, column) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0),
                                       (1, 1)]):
        expected[row * 3:(row + 1) * 3, column * 2:(column + 1) * 2] = (
            images[k, ..., 0])
    np.testing.assert_allclose(drawn, expected)  # (1, 2) is a black pad
    assert [label.get_text() for label in axes.get_yticklabels()] == [
        "first", "second"]


@pytest.mark.parametrize("rows, labels, match", [
    ([], [], "non-empty"),
    ([np.zeros((2, 3, 3))], ["a", "b"], "2 row_labels for 1 rows"),
    ([np.zeros((2, 3, 3)), np.zeros((2, 4, 3))], ["a", "b"], "same"),
])
def test_plot_image_rows_rejects_bad_rows(tmp_path, rows, labels, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_image_rows(rows, tmp_path / "rows.png", row_labels=labels)
    assert os.listdir(tmp_path) == []


def test_side_by_side_codes_draw_one_panel_per_model(tmp_path, monkeypatch):
    captured = _capture_figures(monkeypatch)
    rng = np.random.RandomState(0)
    labels = np.arange(30) % 3
    panels = [("pca", rng.normal(size=(30, 2)), labels),
              ("deep_ae", rng.normal(size=(30, 2)), labels)]
    plots.plot_latent_codes_side_by_side(panels, tmp_path / "codes.png",
                                         title="codes")
    _assert_only_png(tmp_path, "codes.png")
    figure = captured[0]
    assert [axes.get_title() for axes in figure.axes] == ["pca", "deep_ae"]
    for axes, (_, codes, _) in zip(figure.axes, panels):
        # One scatter per class, holding exactly that class's codes.
        for label, points in zip(range(3), axes.collections):
            np.testing.assert_allclose(points.get_offsets(),
                                       codes[labels == label], rtol=1e-6)
    # One legend for the figure, with the classes, same colours in both.
    assert [text.get_text() for text in figure.legends[0].get_texts()] == [
        "0", "1", "2"]
    np.testing.assert_array_equal(
        [c.get_facecolor() for c in figure.axes[0].collections],
        [c.get_facecolor() for c in figure.axes[1].collections])
    with pytest.raises(ValueError, match=r"vae: codes must have shape"):
        plots.plot_latent_codes_side_by_side(
            [("vae", np.zeros((3, 4)), [0, 1, 2])], tmp_path / "bad.png")


# --- A trained model's pictures, chosen from what it declares. -------------

IMAGES_INFO = DataInfo("mock", (2, 2, 1), 2, 10,
                       {"train": 8, "validation": 4, "test": 8})
POINTS_INFO = DataInfo("points", (2,), None, 0,
                       {"train": 8, "validation": 4, "test": 8})


def _config(preprocessing="binarize_static"):
    config = config_lib.base_config()
    config.preprocessing = preprocessing
    config.batch_size = 4
    config.num_grid_samples = 4
    config.lock()
    return config


class Coder(GenerativeModel):
    """Encodes an image to its first ``width`` pixels; decodes a code by
    filling the image with the sigmoid of its first number.

    ``code_size`` and the prior are set per instance, so that the tests can
    vary what the model declares and nothing else.
    """

    capabilities = ("sample", "encode", "decode", "reconstruct")

    def __init__(self, config, data_info, *, code_size=2, width=2,
                 prior=None):
        super().__init__(config, data_info)
        self.code_size = code_size
        self.width = width
        self.prior = prior
        self.decoded = []  # every batch of codes decode saw
        self.offset = self.add_weight(shape=(), initializer="zeros",
                                      name="offset")
        self.built = True

    def code_prior(self):
        return self.prior

    def _encode(self, images, labels=None):
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        return {"codes": flat[:, :self.width] + self.offset}

    def _decode(self, codes, labels=None):
        self.decoded.append(np.asarray(codes))
        value = tf.sigmoid(codes[:, :1])[:, :, None, None]  # (B, 1, 1, 1)
        return {"images": tf.broadcast_to(value, [tf.shape(codes)[0], 2, 2,
                                                  1])}

    def _sample(self, seed, labels=None):
        return self._decode(self.stream("sample").normal_rows(
            seed, [self.width]), labels)

    def _reconstruct(self, images, labels=None):
        return {"images": tf.cast(images, tf.float32)}

    def capability_inputs(self, capability):
        if capability == "decode" and not self.code_size:
            # Codes of the width encode returns, undeclared as code_size.
            return {"codes": CapabilityInput(
                tf.TensorSpec([None, self.width], tf.float32))}
        return super().capability_inputs(capability)


class LabelledCoder(Coder):
    """The same, with every capability taking labels (as ``cvae``)."""

    labelled_capabilities = Coder.capabilities


class PointSampler(GenerativeModel):
    """Samples points in the plane and reconstructs them."""

    capabilities = ("sample", "reconstruct")

    def __init__(self, config, data_info):
        super().__init__(config, data_info)
        self.built = True

    def _sample(self, seed):
        return {"images": self.stream("sample").normal_rows(seed, [2])}

    def _reconstruct(self, images):
        return {"images": images}


class Completer(GenerativeModel):
    """Fills unknown pixels with the parity of the row's seed."""

    capabilities = ("complete",)

    def __init__(self, config, data_info):
        super().__init__(config, data_info)
        self.built = True

    def _complete(self, images, mask, seed):
        parity = tf.cast(seed % 2, tf.float32)[:, None, None, None]
        return {"images": mask * images + (1.0 - mask) * parity}


def _normal_prior(loc, scale):
    return tfp.distributions.MultivariateNormalDiag(
        loc=tf.constant(loc, tf.float32), scale_diag=tf.constant(scale,
                                                                 tf.float32))


@pytest.mark.parametrize("make, expected", [
    (lambda: Coder(_config(), IMAGES_INFO, prior=_normal_prior([0, 0],
                                                               [1, 1])),
     ("samples", "reconstructions", "latent_manifold", "latent_codes")),
    # No prior over the codes: no manifold to draw.
    (lambda: Coder(_config(), IMAGES_INFO),
     ("samples", "reconstructions", "latent_codes")),
    # Codes of another size: no 2-D pictures, whatever the prior.
    (lambda: Coder(_config(), IMAGES_INFO, code_size=3, width=3,
                   prior=_normal_prior([0, 0, 0], [1, 1, 1])),
     ("samples", "reconstructions")),
    # 2-D codes that the model does not declare as code_size: not guessed
    # from the shape of what encode returns.
    (lambda: Coder(_config(), IMAGES_INFO, code_size=None,
                   prior=_normal_prior([0, 0], [1, 1])),
     ("samples", "reconstructions")),
    # decode needs labels as well as codes: codes drawn, no manifold.
    (lambda: LabelledCoder(_config(), IMAGES_INFO,
                           prior=_normal_prior([0, 0], [1, 1])),
     ("samples", "reconstructions", "latent_codes")),
    # Points, not images: a scatter of samples, no image grids.
    (lambda: PointSampler(_config("identity"), POINTS_INFO), ("samples",)),
    (lambda: Completer(_config(), IMAGES_INFO), ("completions",)),
])
def test_plots_are_chosen_from_what_the_model_declares(make, expected):
    assert plots.chosen_plots(make()) == expected


def _split(info, count=8):
    rng = np.random.RandomState(0)
    images = (rng.uniform(size=(count,) + info.event_shape) < 0.5).astype(
        np.float32)
    return tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": np.arange(count, dtype=np.int64) % 10})


def test_model_plots_write_what_was_chosen_and_the_prior_sets_the_grid(
        tmp_path):
    model = Coder(_config(), IMAGES_INFO,
                  prior=_normal_prior([1.0, -2.0], [2.0, 0.5]))
    written = plots.write_model_plots(model, tmp_path, _split(IMAGES_INFO),
                                      num_samples=4)
    assert tuple(written) == plots.chosen_plots(model)
    for name, path in written.items():
        assert path == str(tmp_path / f"{name}.png")
        with open(path, "rb") as stream:
            assert stream.read(8) == PNG_SIGNATURE
    # The manifold decodes the prior's quantiles, here N(1, 2^2) along z1
    # and N(-2, 0.5^2) along z2, at 15 levels from 5% to 95%.
    codes = next(batch for batch in model.decoded if len(batch) == 15 * 15)
    levels = stats.norm.ppf(np.linspace(0.05, 0.95, 15))
    np.testing.assert_allclose(codes[:15, 0], 1.0 + 2.0 * levels, atol=1e-5)
    # Rows run from the top (high z2) down.
    np.testing.assert_allclose(codes[::15, 1], (-2.0 + 0.5 * levels)[::-1],
                               atol=1e-5)


def test_titles_name_the_model_as_registered(tmp_path, monkeypatch):
    titles = []
    monkeypatch.setattr(plots, "plot_points", lambda real, samples, path,
                        title=None: titles.append(title) or str(path))
    model = PointSampler(_config("identity"), POINTS_INFO)
    split = _split(POINTS_INFO)
    plots.write_model_plots(model, tmp_path, split, num_samples=4,
                            name="registered")
    plots.write_model_plots(model, tmp_path, split, num_samples=4)
    assert titles == ["registered: test points and samples",
                      f"{model.name}: test points and samples"]


def test_points_get_a_scatter_of_samples_beside_the_data(tmp_path,
                                                         monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "plot_points", lambda real, samples, path,
                        **kwargs: drawn.append((real, samples)) or str(path))
    model = PointSampler(_config("identity"), POINTS_INFO)
    split = _split(POINTS_INFO)
    written = plots.write_model_plots(model, tmp_path, split, num_samples=4)
    assert list(written) == ["samples"]
    real, samples = drawn[0]
    np.testing.assert_array_equal(
        real, np.stack([b["image"] for b in split.as_numpy_iterator()]))
    np.testing.assert_array_equal(samples, model.sample(
        seed=np.arange(len(samples)))["images"])


def test_prior_quantiles_of_a_prior_that_is_not_gaussian():
    prior = tfp.distributions.Independent(tfp.distributions.Uniform(
        low=[0.0, 0.0], high=[1.0, 2.0]), reinterpreted_batch_ndims=1)
    probabilities = np.linspace(0.05, 0.95, 5)
    quantiles = plots.prior_quantiles(prior, probabilities)
    # 20,000 draws: a quantile's standard error is at most 0.007 here.
    np.testing.assert_allclose(quantiles, np.stack(
        [probabilities, 2 * probabilities], axis=1), atol=0.03)


def test_display_units_clip_what_the_squared_error_keeps():
    # Linear decoders overshoot [0, 1]; a picture clips them rather than
    # letting one negative pixel rescale the whole grid, but the
    # reconstruction error counts them.
    overshoot = np.array([-0.2, 0.5, 1.3], np.float32)
    np.testing.assert_allclose(plots.display_units(overshoot, "unit"),
                               [0.0, 0.5, 1.0])
    np.testing.assert_allclose(
        data.unit_intensities(overshoot, "unit"), overshoot)
    np.testing.assert_allclose(
        plots.display_units(np.array([0, 8, 16]), "levels", 17),
        [0.0, 0.5, 1.0])
    # A capability's output is already in [0, 1] for level data.
    np.testing.assert_allclose(
        plots.display_units(np.array([0.25]), "levels"), [0.25])
    np.testing.assert_allclose(
        plots.display_units(np.array([-1.0, 0.0, 1.0]), "symmetric"),
        [0.0, 0.5, 1.0])


def test_completions_keep_the_upper_halves_and_fill_the_rest_per_seed(
        tmp_path, monkeypatch):
    drawn = {}

    def capture(rows, path, *, row_labels, title=None):
        drawn.update(rows=[np.asarray(row) for row in rows],
                     labels=list(row_labels))
        return str(path)

    monkeypatch.setattr(plots, "plot_image_rows", capture)
    info = DataInfo("mock", (4, 3, 1), 2, 10,
                    {"train": 8, "validation": 4, "test": 8})
    model = Completer(_config(), info)
    written = plots.write_model_plots(model, tmp_path, _split(info),
                                      num_samples=4)
    assert written == {"completions": str(tmp_path / "completions.png")}
    originals, kept, first, second = drawn["rows"]
    assert drawn["labels"] == ["test images", "upper halves",
                               "completion 1", "completion 2"]
    expected = next(iter(_split(info).batch(8)))["image"].numpy()
    np.testing.assert_array_equal(originals, expected)
    # The two upper rows are known: kept as they are; the lower two are
    # shown at mid-range, then filled by each completion's seed
    # (seeds 0..7, then 8..15: parities 0, 1, 0, ...).
    np.testing.assert_array_equal(kept[:, :2], expected[:, :2])
    np.testing.assert_array_equal(kept[:, 2:], 0.5)
    parity = (np.arange(8) % 2).astype(np.float32)[:, None, None, None]
    for completion in (first, second):
        np.testing.assert_array_equal(completion[:, :2], expected[:, :2])
        np.testing.assert_array_equal(
            completion[:, 2:], np.broadcast_to(parity, (8, 2, 3, 1)))
