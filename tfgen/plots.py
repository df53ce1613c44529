"""Plots shared by every family: image grids and 2-D latent spaces.

``write_model_plots`` draws a trained model's pictures, chosen from what the
model declares (``chosen_plots``); the functions below it draw one figure
each from arrays.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, so no
display, no global figure state, and safe from any thread). Every file is
written atomically: saved under a temporary name in the destination folder
and then renamed, so a reader never sees half a PNG.
"""

import math
import os
import pathlib
import statistics
import uuid

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tfgen import data
from tfgen import evaluation


def grid_sample_arguments(model, num_samples):
    """The ``sample`` arguments of a model's sample grid.

    Seeds 0 .. num_samples - 1, so the grids of successive epochs show the
    same draws evolving. A model whose ``sample`` takes labels gets one
    class per column (label = seed mod number of classes).

    Returns:
        ``(arguments, num_columns)``: the keyword arguments of
        ``model.sample`` and the grid's columns (None: square grid).
    """
    seeds = np.arange(num_samples, dtype=np.int64)
    if "labels" not in model.capability_inputs("sample"):
        return {"seed": seeds}, None
    classes = int(model.data_info.num_classes)
    return {"seed": seeds, "labels": seeds % classes}, classes


def display_units(values, preprocessing, num_levels=None):
    """Examples as [0, 1] intensities for a picture, clipped.

    ``data.unit_intensities`` (same arguments), clipped: a linear
    decoder's overshoot would otherwise make ``image_grid`` read the whole
    batch as [-1, 1] images.
    """
    return np.clip(data.unit_intensities(values, preprocessing, num_levels),
                   0.0, 1.0)


# The pictures write_model_plots can draw, in the order it draws them.
MODEL_PLOTS = ("samples", "reconstructions", "completions",
               "latent_manifold", "latent_codes")

# Test images whose lower half the completions picture fills in, and the
# completions drawn for each (their seeds differ).
_NUM_COMPLETED = 8
_COMPLETIONS_PER_IMAGE = 2

# Samples and test points drawn in a points dataset's picture.
_NUM_POINTS = 1000


def chosen_plots(model):
    """The pictures of a trained model, chosen from what it declares.

    Nothing is guessed from the shapes of tensors:

    - ``samples``: the model declares ``sample``, and its data are images
      (a grid) or points in the plane (a scatter beside the data);
    - ``reconstructions``: it declares ``reconstruct`` and models images;
    - ``completions``: it declares ``complete`` and models images (test
      images' lower halves filled in, given their upper halves);
    - ``latent_codes``: it declares ``encode`` and ``code_size`` is 2 (the
      test set's codes coloured by label);
    - ``latent_manifold``: besides, it declares a prior over its codes
      (``code_prior()``) and a ``decode`` that takes codes alone, and models
      images (the decoder over the prior's quantiles).

    Args:
        model: a ``GenerativeModel``.

    Returns:
        A tuple of names from ``MODEL_PLOTS``, in its order.
    """
    capabilities = model.capabilities
    info = model.data_info
    chosen = set()
    if "sample" in capabilities and (info.is_image
                                     or info.event_shape == (2,)):
        chosen.add("samples")
    if "reconstruct" in capabilities and info.is_image:
        chosen.add("reconstructions")
    if "complete" in capabilities and info.is_image:
        chosen.add("completions")
    if ("encode" in capabilities and model.code_size == 2
            and set(model.capability_inputs("encode")) <= set(
                evaluation.BATCH_INPUTS)):
        chosen.add("latent_codes")
        if (info.is_image and "decode" in capabilities
                and model.code_prior() is not None
                and set(model.capability_inputs("decode")) == {"codes"}):
            chosen.add("latent_manifold")
    return tuple(name for name in MODEL_PLOTS if name in chosen)


def write_model_plots(model, folder, test_split, *, num_samples, name=None):
    """Draws ``chosen_plots(model)`` into ``folder`` as PNG files.

    Args:
        model: a trained ``GenerativeModel``.
        folder: where the files go (``samples.png``,
            ``reconstructions.png``, ``completions.png``,
            ``latent_manifold.png``, ``latent_codes.png``).
        test_split: the unbatched test split, as the training loop loads it.
        num_samples: images in the sample grid (``config.num_grid_samples``).
        name: the model's name in the titles (its registered ``--model``
            name; default: the Keras name).

    Returns:
        ``{plot name: path written}``.
    """
    folder = pathlib.Path(folder)
    name = name or model.name
    config, info = model.config, model.data_info
    preprocessing = config.preprocessing
    test_batches = test_split.batch(int(config.batch_size))
    chosen = chosen_plots(model)
    written = {}
    if "samples" in chosen:
        count = num_samples if info.is_image else _NUM_POINTS
        arguments, columns = grid_sample_arguments(model, count)
        samples = np.asarray(model.sample(**arguments)["images"])
        if info.is_image:
            title = ("samples, one class per column" if columns
                     else "samples")
            written["samples"] = save_image_grid(
                display_units(samples, preprocessing), folder / "samples.png",
                num_columns=columns, title=f"{name} {title}")
        else:
            real, _ = data.dataset_arrays(
                test_split.take(_NUM_POINTS).batch(_NUM_POINTS))
            written["samples"] = plot_points(
                real, samples, folder / "samples.png",
                title=f"{name}: test points and samples")
    if "reconstructions" in chosen:
        count = min(num_samples, 32)
        columns = min(count, 8)
        batch = next(iter(test_split.batch(count // columns * columns)))
        reconstructions = model.reconstruct(**evaluation.capability_arguments(
            model, "reconstruct", batch))["images"]
        rows = interleave_rows(
            display_units(batch["image"], preprocessing, info.num_levels),
            display_units(reconstructions, preprocessing), columns)
        written["reconstructions"] = save_image_grid(
            rows, folder / "reconstructions.png", num_columns=columns,
            title=f"{name}: test images (odd rows), reconstructions")
    if "completions" in chosen:
        written["completions"] = plot_completions(
            model, test_split, folder / "completions.png", name=name)
    if "latent_manifold" in chosen:
        prior = model.code_prior()
        written["latent_manifold"] = plot_latent_manifold(
            lambda codes: display_units(
                model.decode(codes=codes)["images"], preprocessing),
            folder / "latent_manifold.png",
            quantiles=lambda probabilities: prior_quantiles(prior,
                                                            probabilities),
            title=f"{name}: decoder over the prior's quantiles")
    if "latent_codes" in chosen:
        codes, labels = [], []
        for batch in test_batches:
            codes.append(np.asarray(model.encode(
                **evaluation.capability_arguments(model, "encode", batch))[
                    "codes"]))
            labels.append(np.asarray(batch["label"]))
        written["latent_codes"] = plot_latent_codes(
            np.concatenate(codes), np.concatenate(labels),
            folder / "latent_codes.png",
            title=f"{name}: test codes")
    return written


def upper_half_mask(images):
    """1 on the upper half of each image's rows, 0 below, float32 like the
    images (B, H, W, C): what ``complete`` keeps and what it fills in."""
    images = np.asarray(images)
    mask = np.zeros(images.shape, np.float32)
    mask[:, :images.shape[1] // 2] = 1.0
    return mask


def plot_completions(model, test_split, path, *, name=None):
    """Test images, their upper halves, and the model's completions.

    Rows: the test images; their upper halves (the unknown pixels drawn at
    the middle of the range); then ``_COMPLETIONS_PER_IMAGE`` completions
    of each, from different seeds (``complete`` with the images, the mask
    of ``upper_half_mask`` and, for a conditional model, their labels).

    ``name`` (default: the Keras name) heads the title.

    Returns:
        ``path``.
    """
    preprocessing, info = model.config.preprocessing, model.data_info
    name = name or model.name
    batch = next(iter(test_split.batch(_NUM_COMPLETED)))
    images = np.asarray(batch["image"])
    count = images.shape[0]
    mask = upper_half_mask(images)
    arguments = {"images": images, "mask": mask}
    if "labels" in model.capability_inputs("complete"):
        arguments["labels"] = np.asarray(batch["label"])
    originals = display_units(images, preprocessing, info.num_levels)
    kept = np.where(mask > 0.5, originals, 0.5)
    rows, labels = [originals, kept], ["test images", "upper halves"]
    for draw in range(_COMPLETIONS_PER_IMAGE):
        seeds = np.arange(draw * count, (draw + 1) * count, dtype=np.int64)
        rows.append(display_units(
            model.complete(seed=seeds, **arguments)["images"], preprocessing))
        labels.append(f"completion {draw + 1}")
    return plot_image_rows(rows, path, row_labels=labels,
                           title=f"{name}: lower halves filled in")


def image_grid(images, num_columns=None):
    """Tiles a batch of images into one image, row by row.

    Args:
        images: array-like (N, H, W, C) or (N, H, W), values in [0, 1] or,
            when any value is negative, in [-1, 1] (rescaled to [0, 1]).
        num_columns: tiles per row; defaults to ceil(sqrt(N)).

    Returns:
        float32 array (rows * H, cols * W, C) in [0, 1]; image k is the tile
        at row k // cols, column k % cols; unused tiles are 0.

    Raises:
        ValueError: the batch is empty or not of rank 3 or 4, or
            ``num_columns`` is not positive.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W, 1)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (N, H, W[, C]) batch, "
                         f"got shape {images.shape}")
    if images.min() < 0:
        images = (images + 1.0) / 2.0
    images = np.clip(images, 0.0, 1.0)
    count, height, width, channels = images.shape
    if num_columns is not None and num_columns < 1:
        raise ValueError(f"num_columns={num_columns} must be positive")
    num_rows, num_columns = _tiles(count, num_columns)
    grid = np.zeros((num_rows, num_columns, height, width, channels),
                    np.float32)
    grid.reshape(-1, height, width, channels)[:count] = images
    # (rows, cols, H, W, C) -> (rows, H, cols, W, C) -> (rows*H, cols*W, C)
    return grid.transpose(0, 2, 1, 3, 4).reshape(
        num_rows * height, num_columns * width, channels)


def interleave_rows(originals, reconstructions, num_columns):
    """Rows of originals, each followed by the row of their reconstructions.

    Args:
        originals: (N, H, W, C), N a multiple of ``num_columns``.
        reconstructions: (N, H, W, C), in the same order.
        num_columns: images per row.

    Returns:
        (2N, H, W, C): ``num_columns`` originals, their reconstructions, the
        next ``num_columns`` originals, and so on; ``image_grid(...,
        num_columns)`` draws them as alternating rows.

    Raises:
        ValueError: the shapes differ, or N is not a multiple of
            ``num_columns``.
    """
    originals = np.asarray(originals, np.float32)
    reconstructions = np.asarray(reconstructions, np.float32)
    if originals.shape != reconstructions.shape:
        raise ValueError(f"originals {originals.shape} and reconstructions "
                         f"{reconstructions.shape} differ in shape")
    if num_columns < 1 or len(originals) % num_columns:
        raise ValueError(f"{len(originals)} images do not fill rows of "
                         f"{num_columns}")
    shape = (-1, num_columns) + originals.shape[1:]
    pairs = np.stack([originals.reshape(shape),
                      reconstructions.reshape(shape)], axis=1)
    return pairs.reshape((-1,) + originals.shape[1:])


def save_image_grid(images, path, num_columns=None, title=None):
    """Writes ``image_grid(images, num_columns)`` as a PNG.

    Args:
        images: as for ``image_grid``.
        path: the PNG to write; its folder is created if missing.
        num_columns: as for ``image_grid``.
        title: optional title above the grid.

    Returns:
        ``path``.
    """
    images = np.asarray(images, np.float32)
    grid = image_grid(images, num_columns)  # (rows*H, cols*W, C)
    # Each image pixel gets several screen pixels, whatever the image size.
    scale = max(4.0 / max(grid.shape[:2]), 0.04)
    figure = _new_figure((grid.shape[1] * scale,
                          grid.shape[0] * scale + (0.4 if title else 0.0)))
    axes = figure.add_axes([0, 0, 1, 1] if not title else
                           [0, 0, 1, 1 - 0.4 / figure.get_figheight()])
    _show(axes, grid, _tiles(images.shape[0], num_columns))
    if title:
        figure.suptitle(title, fontsize=10)
    return _save(figure, path)


def standard_normal_quantiles(probabilities):
    """Quantiles of N(0, 1) on both axes: float64 (G, 2)."""
    normal = statistics.NormalDist()
    values = np.array([normal.inv_cdf(p) for p in probabilities])
    return np.stack([values, values], axis=1)


def prior_quantiles(prior, probabilities, *, num_draws=20000):
    """Each axis's quantiles of a prior over 2-D codes.

    A Gaussian's marginals are Gaussian, so its quantiles are exact: mean_i
    + stddev_i * Phi^-1(p). Any other prior's are read from ``num_draws``
    draws of a fixed seed.

    Args:
        prior: a TFP distribution with event shape (2,).
        probabilities: array-like (G,) in (0, 1).
        num_draws: draws for a prior that is not Gaussian.

    Returns:
        float64 (G, 2): column i holds the quantiles of code i.
    """
    import tensorflow as tf
    import tensorflow_probability as tfp

    probabilities = np.asarray(probabilities, np.float64)
    if isinstance(prior,
                  tfp.distributions.MultivariateNormalLinearOperator):
        return (np.asarray(prior.mean(), np.float64)
                + np.asarray(prior.stddev(), np.float64)
                * standard_normal_quantiles(probabilities))
    draws = np.asarray(prior.sample(
        num_draws, seed=tf.constant([0, 0], tf.int32)), np.float64)
    return np.quantile(draws, probabilities, axis=0)


def plot_latent_manifold(decode_fn, path, *, grid_size=15, extent=0.9,
                         quantiles=standard_normal_quantiles, title=None):
    """Draws the decoder over a grid of a 2-D latent space.

    As in Kingma & Welling (2014), figure 4: evenly spaced points of the unit
    square are mapped through the inverse CDF of the prior (the standard
    normal unless ``quantiles`` says otherwise), so the grid covers the
    prior's mass evenly rather than its tails.

    Args:
        decode_fn: maps float32 codes (N, 2) to images (N, H, W[, C]) with
            values in [0, 1] or [-1, 1] (a model's ``decode``, unwrapped).
        path: the PNG to write.
        grid_size: number of points along each axis.
        extent: central probability mass covered along each axis, in (0, 1);
            the grid runs from the (1 - extent)/2 to the (1 + extent)/2
            quantile.
        quantiles: maps probabilities (G,) to each code's quantiles (G, 2)
            (``prior_quantiles`` of a model's prior).
        title: optional title.

    Returns:
        ``path``.

    Raises:
        ValueError: ``grid_size`` < 2 or ``extent`` outside (0, 1).
    """
    if grid_size < 2:
        raise ValueError(f"grid_size={grid_size} must be at least 2")
    if not 0.0 < extent < 1.0:
        raise ValueError(f"extent={extent} must lie in (0, 1)")
    probabilities = np.linspace((1 - extent) / 2, (1 + extent) / 2, grid_size)
    axes_values = np.asarray(quantiles(probabilities), np.float32)  # (G, 2)
    values, values_2 = axes_values[:, 0], axes_values[:, 1]
    # Rows run from high z2 (top) to low z2, columns from low z1 to high z1.
    z1, z2 = np.meshgrid(values, values_2[::-1])
    codes = np.stack([z1.ravel(), z2.ravel()], axis=1)  # (grid_size**2, 2)
    images = np.asarray(decode_fn(codes))
    grid = image_grid(images, num_columns=grid_size)
    figure = _new_figure((6, 6.4 if title else 6))
    axes = figure.add_subplot()
    # Axes in tile units, row 0 at the top, so ticks mark the grid's codes.
    _show(axes, grid, (grid_size, grid_size),
          extent=(-0.5, grid_size - 0.5, grid_size - 0.5, -0.5))
    ticks = np.arange(grid_size)[:: max(1, grid_size // 5)]
    axes.set_xticks(ticks, [f"{values[i]:.2f}" for i in ticks])
    axes.set_yticks(ticks, [f"{values_2[::-1][i]:.2f}" for i in ticks])
    axes.set_xlabel("z1")
    axes.set_ylabel("z2")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return _save(figure, path)


def plot_latent_codes(codes, labels, path, *, title=None):
    """Scatters 2-D codes (e.g. posterior means), coloured by label.

    Args:
        codes: array-like (N, 2).
        labels: array-like (N,) of integer classes; up to 20 distinct classes
            get a legend, more get a colorbar.
        path: the PNG to write.
        title: optional title.

    Returns:
        ``path``.

    Raises:
        ValueError: codes are not (N, 2), or labels do not match them.
    """
    codes = np.asarray(codes, np.float32)
    labels = np.asarray(labels).reshape(-1)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must have shape (N, 2), got {codes.shape}")
    if labels.shape[0] != codes.shape[0]:
        raise ValueError(
            f"{labels.shape[0]} labels for {codes.shape[0]} codes")
    figure = _new_figure((6, 5))
    axes = figure.add_subplot()
    classes = np.unique(labels)
    if len(classes) <= 20:
        for index, label in enumerate(classes):
            chosen = labels == label
            axes.scatter(codes[chosen, 0], codes[chosen, 1], s=6,
                         color=_CLASS_COLOURS[index % len(_CLASS_COLOURS)],
                         label=str(label))
        axes.legend(title="label", markerscale=2, fontsize=8,
                    loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        points = axes.scatter(codes[:, 0], codes[:, 1], s=6, c=labels,
                              cmap="viridis")
        figure.colorbar(points, ax=axes, label="label")
    axes.set_xlabel("z1")
    axes.set_ylabel("z2")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return _save(figure, path)



def plot_image_rows(rows, path, *, row_labels, title=None):
    """Draws rows of images, each row named on its left.

    For comparisons read across a row (an original and its reconstructions
    by several models) or along it (a query and its nearest neighbours).

    Args:
        rows: a sequence of array-likes (N_i, H, W[, C]), all images of the
            same size, values as for ``image_grid``; a row shorter than the
            longest is padded with black tiles on its right.
        path: the PNG to write.
        row_labels: one string per row.
        title: optional title.

    Returns:
        ``path``.

    Raises:
        ValueError: no rows, an empty row, images of different sizes, or
            labels that do not match the rows.
    """
    rows = [np.asarray(row, np.float32) for row in rows]
    if not rows or any(row.shape[0] == 0 for row in rows):
        raise ValueError("rows must be a non-empty list of non-empty batches")
    if len(row_labels) != len(rows):
        raise ValueError(f"{len(row_labels)} row_labels for {len(rows)} rows")
    rows = [row[..., None] if row.ndim == 3 else row for row in rows]
    if len({row.shape[1:] for row in rows}) != 1:
        raise ValueError("every image must have the same (H, W, C), got "
                         f"{sorted({row.shape[1:] for row in rows})}")
    num_columns = max(row.shape[0] for row in rows)
    padded = np.zeros((len(rows), num_columns) + rows[0].shape[1:],
                      np.float32)  # (rows, cols, H, W, C)
    symmetric = min(row.min() for row in rows) < 0
    for index, row in enumerate(rows):
        # Pad with the value image_grid maps to black.
        padded[index] = -1.0 if symmetric else 0.0
        padded[index, :row.shape[0]] = row
    grid = image_grid(padded.reshape((-1,) + rows[0].shape[1:]),
                      num_columns=num_columns)  # (rows*H, cols*W, C)
    height = 0.6 * len(rows) + (0.4 if title else 0.1)
    width = 0.6 * num_columns + 0.15 * max(len(label) for label in row_labels)
    figure = _new_figure((width, height))
    axes = figure.add_subplot()
    # Axes in tile units, so that each row's label sits at its centre.
    extent = (-0.5, num_columns - 0.5, len(rows) - 0.5, -0.5)
    _show(axes, grid, (len(rows), num_columns), extent=extent)
    axes.set_yticks(np.arange(len(rows)), list(row_labels), fontsize=8)
    axes.set_xticks([])
    axes.tick_params(length=0)
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout(pad=0.2)
    return _save(figure, path)


def plot_latent_codes_side_by_side(panels, path, *, title=None):
    """Scatters several models' 2-D codes, coloured by label, in one figure.

    As ``plot_latent_codes`` for each model, one panel per model, sharing one
    legend: the way Hinton & Salakhutdinov (2006), figure 3, set the codes
    of PCA beside those of a deep autoencoder.

    Args:
        panels: a sequence of ``(name, codes, labels)``: the panel's title,
            array-like codes (N, 2) and integer labels (N,). Up to 20
            classes get distinct colours and a legend; more share colours.
        path: the PNG to write.
        title: optional title above the panels.

    Returns:
        ``path``.

    Raises:
        ValueError: no panels, codes that are not (N, 2), or labels that do
            not match them.
    """
    if not panels:
        raise ValueError("panels must not be empty")
    checked = []
    for name, codes, labels in panels:
        codes = np.asarray(codes, np.float32)
        labels = np.asarray(labels).reshape(-1)
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(
                f"{name}: codes must have shape (N, 2), got {codes.shape}")
        if labels.shape[0] != codes.shape[0]:
            raise ValueError(
                f"{name}: {labels.shape[0]} labels for {codes.shape[0]} codes")
        checked.append((name, codes, labels))
    classes = np.unique(np.concatenate([labels for _, _, labels in checked]))
    colours = {label: _CLASS_COLOURS[index % len(_CLASS_COLOURS)]
               for index, label in enumerate(classes)}
    figure = _new_figure((4.0 * len(checked) + 0.8, 4.2 if title else 3.9))
    for index, (name, codes, labels) in enumerate(checked):
        axes = figure.add_subplot(1, len(checked), index + 1)
        for label in classes:
            chosen = labels == label
            axes.scatter(codes[chosen, 0], codes[chosen, 1], s=5,
                         color=colours[label], label=str(label))
        axes.set_title(name, fontsize=10)
        axes.set_xlabel("code 1")
        axes.set_ylabel("code 2")
    if len(classes) <= 20:
        figure.legend(*axes.get_legend_handles_labels(), title="label",
                      markerscale=2, fontsize=8, loc="center right")
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout(rect=(0, 0, 1 - 0.7 / figure.get_figwidth(), 1))
    return _save(figure, path)


# matplotlib's tab20 colours: distinct for up to 20 classes.
_CLASS_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78",
    "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
    "#dbdb8d", "#9edae5"]


def _tiles(count, num_columns):
    """(rows, columns) of the tiles ``image_grid`` lays ``count`` images in."""
    num_columns = min(num_columns or math.ceil(math.sqrt(count)), count)
    return math.ceil(count / num_columns), num_columns


def _new_figure(size):
    """A figure of ``size`` inches with its own Agg canvas (no pyplot)."""
    figure = Figure(figsize=size)
    FigureCanvasAgg(figure)
    return figure


def _show(axes, grid, tiles, extent=None):
    """Draws a (rows, cols, C) grid in [0, 1] without smoothing.

    Thin coloured lines separate the ``tiles = (rows, cols)`` images: small
    images touching each other otherwise read as one picture.
    """
    if grid.shape[-1] == 1:
        axes.imshow(grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0,
                    interpolation="nearest", extent=extent)
    else:
        axes.imshow(grid, interpolation="nearest", extent=extent)
    num_rows, num_columns = tiles
    if extent is None:  # pixel coordinates
        height, width = grid.shape[0] / num_rows, grid.shape[1] / num_columns
        left, right = -0.5, grid.shape[1] - 0.5
        bottom, top = grid.shape[0] - 0.5, -0.5
    else:  # tile coordinates
        height = width = 1.0
        left, right, bottom, top = extent
    style = dict(colors="#4060a0", linewidths=0.6)
    axes.vlines(left + width * np.arange(1, num_columns), top, bottom, **style)
    axes.hlines(top + height * np.arange(1, num_rows), left, right, **style)
    if extent is None:
        axes.set_axis_off()


def _save(figure, path):
    """Writes a figure as a PNG atomically and returns ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # A unique hidden name in the same folder, so that the rename is atomic
    # and a reader polling the folder never picks the file up half-written.
    temporary = os.path.join(
        folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as stream:
            figure.savefig(stream, format="png", dpi=100)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def plot_points(real, samples, path, *, title=None):
    """Scatters 2-D data points and a model's samples side by side.

    Args:
        real: array-like (N, 2), points of the dataset.
        samples: array-like (M, 2), points the model drew.
        path: the PNG to write.
        title: the figure's title.

    Returns:
        The path written.

    Raises:
        ValueError: either array is not (N, 2).
    """
    real = np.asarray(real, np.float64)
    samples = np.asarray(samples, np.float64)
    for name, points in (("real", real), ("samples", samples)):
        if points.ndim != 2 or points.shape[1] != 2 or not len(points):
            raise ValueError(f"{name} must be a non-empty (N, 2) array, got "
                             f"shape {points.shape}")
    figure = _new_figure((8.0, 4.2))
    both = np.concatenate([real, samples])
    low, high = both.min(axis=0), both.max(axis=0)
    margin = 0.05 * np.maximum(high - low, 1e-6)
    for index, (points, name) in enumerate(((real, "data"),
                                            (samples, "samples"))):
        axes = figure.add_subplot(1, 2, index + 1)
        axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
        axes.set_xlim(low[0] - margin[0], high[0] + margin[0])
        axes.set_ylim(low[1] - margin[1], high[1] + margin[1])
        axes.set_aspect("equal")
        axes.set_title(name)
    if title:
        figure.suptitle(title)
    return _save(figure, path)
