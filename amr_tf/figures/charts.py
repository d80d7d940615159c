"""Figures of the experiments (PNG), beside `amr_tf.figures.drawing`'s.

Images are float arrays in [-1, 1] as everywhere in amr_tf. Figures are
`matplotlib.figure.Figure`s, as in `amr_tf.figures.drawing`: no pyplot state.
"""

import textwrap

import numpy as np
from matplotlib.figure import Figure

from amr_tf.figures import drawing

# Characters per line of a point-mix panel's title (3.2 in at 9 pt).
PANEL_TITLE_CHARACTERS = 36


def save_point_mix_panels(path, panels):
    """One scatter per run of data (blue) and decoded mixes (orange).

    Args:
        panels: list of (title, data (N, 2), decoded mixes (M, 2)); titles
            are wrapped to their panel's width, and the figure is cropped
            to what it draws.
    """
    figure = Figure(figsize=(3.2 * len(panels), 3.4), dpi=80)
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, (title, data, decoded) in zip(axes[0], panels):
        drawing.draw_point_mixes(axis, data, decoded,
                                   textwrap.fill(title, PANEL_TITLE_CHARACTERS))
        axis.set_xticks([])
        axis.set_yticks([])
    drawing.save_figure(figure, path, crop=True)


def save_bar_chart(path, values, ylabel, reference=None, reference_label=None):
    """Bars of {name: value} in [0, 1], with an optional dashed reference."""
    figure = Figure(figsize=(5, 3), dpi=80)
    axis = figure.subplots()
    axis.bar(list(values), list(values.values()), color="tab:orange")
    if reference is not None:
        axis.axhline(reference, color="tab:blue", linestyle="--",
                     label=reference_label)
        axis.legend(fontsize=8)
    axis.set_ylabel(ylabel)
    axis.set_ylim(0, 1)
    axis.tick_params(axis="x", labelsize=8)
    drawing.save_figure(figure, path)


def save_curves(path, curves, ylabel, styles=None):
    """Line plot of {name: [[iteration, value], ...]} on a log scale."""
    styles = styles or {}
    figure = Figure(figsize=(5, 3), dpi=80)
    axis = figure.subplots()
    for name, curve in curves.items():
        if curve:
            iterations, values = np.asarray(curve, np.float64).T
            axis.plot(iterations, values, styles.get(name, ":"), label=name)
    axis.set_xlabel("iteration")
    axis.set_ylabel(ylabel)
    axis.set_yscale("log")
    axis.legend(fontsize=7)
    drawing.save_figure(figure, path)


def save_image_grid(path, images, column_labels, row_labels, title=None):
    """A grid of images with labelled columns and rows.

    Args:
        images: (rows, columns, H, W, C) in [-1, 1].
        column_labels, row_labels: one string per column / row.
    """
    grid = drawing.tile(images)
    height, width = images.shape[2] + 1, images.shape[3] + 1
    figure = Figure(
        figsize=(grid.shape[1] / 30 + 1.5, grid.shape[0] / 30 + 0.9), dpi=100)
    axis = figure.subplots()
    axis.imshow(grid, interpolation="nearest")
    axis.set_xticks([width * (i + 0.5) for i in range(images.shape[1])])
    axis.set_xticklabels(column_labels, fontsize=7)
    axis.set_yticks([height * (i + 0.5) for i in range(images.shape[0])])
    axis.set_yticklabels(row_labels, fontsize=7)
    axis.tick_params(length=0)
    if title:
        axis.set_title(title, fontsize=9)
    drawing.save_figure(figure, path, crop=True)


def save_mask_heatmap(path, probabilities, row_labels, title=None):
    """The class mixer's p (rows: attribute combinations, columns: channels)."""
    rows, channels = probabilities.shape
    figure = Figure(figsize=(max(4.0, channels / 5 + 1.5), rows / 3 + 1.0),
                    dpi=80)
    axis = figure.subplots()
    image = axis.imshow(probabilities, vmin=0, vmax=1, cmap="gray",
                        aspect="auto", interpolation="nearest")
    axis.set_yticks(range(rows))
    axis.set_yticklabels(row_labels, fontsize=7)
    axis.set_xlabel("latent channel")
    figure.colorbar(image, ax=axis, label="p (share of the first source)")
    if title:
        axis.set_title(title, fontsize=9)
    drawing.save_figure(figure, path)


def save_training_curves(path, curves, smoothing=10):
    """One panel per loss term, one line per run, a colour per method.

    Args:
        curves: {method: [{term: float [n, 2] of (iteration, value)}, ...]},
            a dict of terms per run of the method.
        smoothing: points of the moving average drawn (raw values are
            noisy batch losses); fewer for a shorter curve.
    """
    terms = list(dict.fromkeys(term for runs in curves.values()
                               for run in runs for term in run))
    figure = Figure(figsize=(3.6 * len(terms), 3.0), dpi=80)
    axes = figure.subplots(1, len(terms), squeeze=False)[0]
    colours = [f"C{index}" for index in range(len(curves))]
    for axis, term in zip(axes, terms):
        for colour, (method, runs) in zip(colours, curves.items()):
            for index, run in enumerate(runs):
                curve = run.get(term)
                if curve is None or not len(curve):
                    continue
                width = min(smoothing, len(curve))
                kernel = np.ones(width) / width
                axis.plot(curve[width - 1:, 0],
                          np.convolve(curve[:, 1], kernel, mode="valid"),
                          color=colour, linewidth=0.8,
                          label=method if index == 0 else None)
        if term.endswith("reconstruction"):
            axis.set_yscale("log")
        axis.set_title(term, fontsize=9)
        axis.set_xlabel("iteration")
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=6)
    drawing.save_figure(figure, path)
