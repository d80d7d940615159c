"""Figures of a trained model: interpolation grids and spiral mixes.

Images are float arrays in [-1, 1] of shape (N, H, W, C); grids are uint8
(rows * H, columns * W, 3) arrays ready for PNG or TensorBoard.

Figures are `matplotlib.figure.Figure`s written with `savefig`: no pyplot,
no backend switch, so importing this module leaves a notebook's matplotlib
as it was. A PNG is `figsize * dpi` pixels.
"""

import numpy as np
from matplotlib.figure import Figure


def to_uint8(images):
    """[-1, 1] floats (..., C) -> uint8 RGB (..., 3)."""
    images = np.asarray(images, dtype=np.float32)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def tile(images, padding=1):
    """(rows, columns, H, W, C) images -> one uint8 grid with white gutters."""
    images = to_uint8(images)
    rows, columns, height, width, _ = images.shape
    grid = np.full(
        (rows * (height + padding) + padding,
         columns * (width + padding) + padding, 3),
        255, np.uint8,
    )
    for r in range(rows):
        for c in range(columns):
            top = padding + r * (height + padding)
            left = padding + c * (width + padding)
            grid[top:top + height, left:left + width] = images[r, c]
    return grid


def pixel_interpolation(images_a, images_b, alphas):
    """alpha * a + (1 - alpha) * b for each alpha; (N, T, H, W, C)."""
    alphas = np.asarray(alphas, np.float32).reshape(1, -1, 1, 1, 1)
    return alphas * images_a[:, None] + (1.0 - alphas) * images_b[:, None]


def save_figure(figure, path, crop=False):
    """Writes `figure` to `path`: laid out tightly at its size or, with
    `crop`, cropped or grown to what it draws (for fixed-aspect image grids,
    beside which tight_layout cuts long row labels off)."""
    if crop:
        figure.savefig(path, bbox_inches="tight", pad_inches=0.05)
    else:
        figure.tight_layout()
        figure.savefig(path)


def save_interpolation_figure(path, rows, row_labels, title=None):
    """Writes a PNG of interpolation strips, one labelled row per method.

    Args:
        path: output PNG path.
        rows: (P, M, T, H, W, C) array: P pairs, M methods, T steps.
        row_labels: M names, e.g. ["pixel", "AMR (mixup)"].
        title: optional figure title.
    """
    pairs, methods, steps = rows.shape[:3]
    grid = tile(rows.reshape((pairs * methods, steps) + rows.shape[3:]))
    height = rows.shape[3] + 1
    figure = Figure(
        figsize=(max(4.0, grid.shape[1] / 40 + 1.5), grid.shape[0] / 40 + 0.6),
        dpi=100,
    )
    axis = figure.subplots()
    axis.imshow(grid, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([height * (i + 0.5) for i in range(pairs * methods)])
    axis.set_yticklabels(list(row_labels) * pairs, fontsize=8)
    axis.tick_params(length=0)
    if title:
        axis.set_title(title, fontsize=9)
    save_figure(figure, path, crop=True)


def draw_point_mixes(axis, data, mixes, title=None):
    """Scatters data points (blue) and decoded mixes (orange) on an axis."""
    axis.scatter(data[:, 0], data[:, 1], s=3, c="tab:blue", label="data")
    axis.scatter(mixes[:, 0], mixes[:, 1], s=3, c="tab:orange",
                 label="decoded mixes")
    axis.set_aspect("equal")
    axis.legend(loc="upper right", fontsize=8)
    if title:
        axis.set_title(title, fontsize=9)


def save_point_mixes_figure(path, data, mixes, title=None):
    """Writes a scatter PNG: data points (blue) and decoded mixes (orange)."""
    figure = Figure(figsize=(5, 5), dpi=100)
    draw_point_mixes(figure.subplots(), data, mixes, title)
    save_figure(figure, path)
