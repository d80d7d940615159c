"""Figures of amr_tf.figures.drawing and amr_tf.figures.charts: PNGs of the
declared pixel size (image grids cropped to what they draw), written without
touching matplotlib's global state."""

import os
import struct
import subprocess
import sys

import numpy as np
import tensorflow as tf

from amr_tf.figures import charts
from amr_tf.figures import drawing


def png_size(path):
    """(width, height) from a PNG's IHDR chunk."""
    with open(path, "rb") as png:
        header = png.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def grey_pixels(path):
    """A PNG's pixels as a (height, width) uint8 array, 255 white."""
    with open(path, "rb") as png:
        return tf.io.decode_png(png.read(), channels=1).numpy()[..., 0]


def assert_white_margin(image):
    """Nothing drawn touches the image's edges: it was not cut off."""
    for edge in (image[:, :2], image[:, -2:], image[:2], image[-2:]):
        assert edge.min() == 255


def test_import_keeps_the_backend_and_loads_no_pyplot():
    script = (
        "import sys, matplotlib\n"
        "before = matplotlib.get_backend()\n"
        "import amr_tf.figures.drawing, amr_tf.figures.charts\n"
        "print(before, matplotlib.get_backend(),\n"
        "      'matplotlib.pyplot' in sys.modules, amr_tf.figures.drawing.__file__)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True,
        check=True, env={**os.environ, "MPLBACKEND": "svg"},
    ).stdout.split()
    assert output == ["svg", "svg", "False", drawing.__file__]


def test_point_mixes_figure_is_figsize_times_dpi(tmp_path):
    points = np.random.default_rng(0).normal(size=(20, 2))
    path = tmp_path / "mixes.png"
    drawing.save_point_mixes_figure(path, points, points[::-1], title="t")
    assert png_size(path) == (500, 500)  # figsize (5, 5) at 100 dpi


def test_image_grids_keep_long_row_labels_whole(tmp_path):
    """Image grids are cropped to what they draw: a row label longer than
    the grid is not cut off, and a white margin surrounds everything."""
    long_label = "AMR (mixup), critic without spectral norm (extension)"
    rows = np.zeros((1, 2, 3, 8, 8, 1), np.float32)  # 1 pair, 2 methods, 3 steps
    drawing.save_interpolation_figure(
        tmp_path / "interpolation.png", rows, ["pixel", long_label], "t")
    charts.save_image_grid(tmp_path / "grid.png", rows[0], ["a", "b", "c"],
                            ["pixel", long_label])
    for name in ("interpolation.png", "grid.png"):
        image = grey_pixels(tmp_path / name)
        assert image.shape[1] > 2 * image.shape[0], name  # the label, wider than tall
        assert_white_margin(image)


def test_experiment_figures_sizes(tmp_path):
    charts.save_bar_chart(tmp_path / "bars.png", {"a": 0.2, "b": 0.7}, "share",
                           reference=0.38, reference_label="floor")
    charts.save_mask_heatmap(tmp_path / "mask.png", np.full((4, 10), 0.5),
                              ["00", "01", "10", "11"])
    assert png_size(tmp_path / "bars.png") == (400, 240)
    assert png_size(tmp_path / "mask.png") == (320, 186)  # (4, 4/3 + 1) in


def test_point_mix_panels_keep_long_titles_inside_the_figure(tmp_path):
    title = "AMR β=0, critic without spectral norm (extension): 91% on spiral"
    points = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    images = {}
    for name, last_title in (("short", "b"), ("long", title)):
        charts.save_point_mix_panels(
            tmp_path / f"{name}.png",
            [("a", points, points), (last_title, points, points)])
        images[name] = grey_pixels(tmp_path / f"{name}.png")
    assert_white_margin(images["long"])  # Cropped to the drawing, nothing cut.
    # Wrapped to its panel: the title widens nothing, it adds a line.
    assert images["long"].shape[1] == images["short"].shape[1]
    assert images["long"].shape[0] > images["short"].shape[0]
