"""The coloured-shapes set (channels are concrete) and random-shift augmentation."""

import numpy as np
import pytest

import engine
from engine.datasets import make_color_shapes, random_shift, shift_images, train_test_split
from engine.datasets.shapes import COLORS, SHAPES


def test_images_are_rgb_balanced_seeded_and_named():
    data = make_color_shapes(200, image_size=12, seed=4)
    assert data.images.shape == (200, 3, 12, 12) and data.images.dtype == np.float64
    assert data.labels.dtype == np.int64 and 0 <= data.images.min() and data.images.max() <= 1
    assert data.classes[:4] == ("red circle", "red square", "red triangle", "yellow circle") and len(data.classes) == 9
    counts = np.bincount(data.labels, minlength=9)
    assert counts.max() - counts.min() <= 1
    again = make_color_shapes(200, image_size=12, seed=4)
    np.testing.assert_array_equal(again.images, data.images)
    np.testing.assert_array_equal(again.labels, data.labels)
    assert not np.array_equal(make_color_shapes(200, image_size=12, seed=5).images, data.images)


def test_each_colour_lights_its_channels():
    """Red lights R only, yellow R and G, blue B: the brightest value of each channel says so."""
    data = make_color_shapes(300, label="color", noise=0.0, seed=1)
    assert data.classes == tuple(COLORS)
    brightest = data.images.max(axis=(2, 3))  # (N, 3): R, G, B
    red, yellow, blue = (brightest[data.labels == k] for k in range(3))
    assert (red[:, 0] > 0.55).all() and (red[:, 1:] < 0.3).all()
    assert (yellow[:, :2] > 0.55).all() and (yellow[:, 2] < 0.3).all()
    assert (blue[:, 2] > 0.6).all() and (blue[:, 0] < 0.3).all()


def test_shape_labels_come_in_every_colour_and_shapes_differ_in_outline():
    data = make_color_shapes(600, label="shape", noise=0.0, seed=2)
    assert data.classes == SHAPES
    ink = data.images.max(axis=1) > 0.4  # (N, H, W): the shape's pixels, whatever its colour
    dominant = data.images.max(axis=(2, 3)).argmax(axis=1)  # 0 red/yellow, 2 blue
    for k in range(len(SHAPES)):
        assert {0, 2} <= set(dominant[data.labels == k]), "every shape comes in red or yellow and in blue"
    # How much of its bounding box a shape fills: a square (any rotation) > a circle > a triangle.
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    box = rows.sum(axis=1) * cols.sum(axis=1)
    fill = ink.sum(axis=(1, 2)) / box
    square, circle, triangle = (np.median(fill[data.labels == SHAPES.index(s)]) for s in ("square", "circle",
                                                                                              "triangle"))
    assert circle > triangle and square > triangle


def test_a_small_cnn_learns_colour_and_shape_together():
    data = make_color_shapes(900, image_size=12, seed=0)
    x_train, y_train, x_test, y_test = train_test_split(data.images, data.labels, train_fraction=0.8, seed=0)
    model = engine.builders.sequential(
        [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
         {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Linear", "out_features": 9}],
        (3, 12, 12), rng=0)
    opt, loss_fn, rng = engine.Adam(model.parameters(), lr=0.01), engine.CrossEntropyLoss(), np.random.default_rng(0)
    for _ in range(300):
        batch = rng.integers(0, len(x_train), 32)
        opt.zero_grad()
        loss_fn(model(x_train[batch]), y_train[batch])
        model.backward(loss_fn.backward())
        opt.step()
    model.eval()
    # Chance is 1/9; knowing only the colour, or only the shape, caps accuracy at 1/3.
    assert (model(x_test).argmax(axis=1) == y_test).mean() > 0.8


@pytest.mark.parametrize("kwargs, message", [
    (dict(label="size"), r"label must be one of \['both', 'shape', 'color'\], got 'size'"),
    (dict(n_samples=0), r"n_samples must be an integer in \[1, 100000\], got 0"),
    (dict(image_size=4), r"image_size must be an integer in \[8, 64\], got 4"),
    (dict(noise=0.5), r"noise must be a number in \[0, 0.3\], got 0.5"),
    (dict(seed=-1), "seed must be a non-negative integer"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_color_shapes(**kwargs)


# --- augmentation -------------------------------------------------------------------------------------------------

def test_shift_images_moves_each_image_by_its_offsets_and_fills_zeros():
    x = np.arange(2 * 1 * 4 * 5, dtype=np.float64).reshape(2, 1, 4, 5) + 1
    moved = shift_images(x, np.array([[1, 0], [0, -2]]))
    np.testing.assert_array_equal(moved[0, 0, 1:], x[0, 0, :3])  # down one row
    assert not moved[0, 0, 0].any()
    np.testing.assert_array_equal(moved[1, 0, :, :3], x[1, 0, :, 2:])  # left two columns
    assert not moved[1, 0, :, 3:].any()
    np.testing.assert_array_equal(shift_images(x, np.zeros((2, 2), int)), x)
    assert not np.shares_memory(moved, x)


def test_random_shift_is_seeded_per_image_within_the_range_and_keeps_dtype():
    dot = np.zeros((400, 2, 9, 9), np.float32)
    dot[:, :, 4, 4] = 1.0  # one lit pixel: where it lands gives the shift
    moved = random_shift(dot, 2, rng=3)
    assert moved.dtype == np.float32 and moved.shape == dot.shape
    ys, xs = np.nonzero(moved[:, 0] == 1)[1:]
    shifts = np.stack([ys - 4, xs - 4], axis=1)
    assert len(shifts) == 400 and np.abs(shifts).max() == 2
    assert len({tuple(s) for s in shifts}) == 25  # every offset of the 5×5 in 400 draws
    np.testing.assert_array_equal(moved[:, 0], moved[:, 1])  # channels move together
    np.testing.assert_array_equal(random_shift(dot, 2, rng=3), moved)
    assert random_shift(dot, 0) is dot
    engine.manual_seed(1)
    first = random_shift(dot, 1)
    engine.manual_seed(1)
    np.testing.assert_array_equal(random_shift(dot, 1), first)  # rng=None follows manual_seed


@pytest.mark.parametrize("call, message", [
    (lambda x: random_shift(x, -1), r"random_shift: max_shift must be an integer >= 0, got -1"),
    (lambda x: random_shift(x, 6), r"a shift of 6 pixels would move a 6×6 image out of sight"),
    (lambda x: shift_images(x, np.zeros((3, 2), int)), r"shifts must be integers of shape \(2, 2\)"),
    (lambda x: shift_images(x[0], np.zeros((2, 2), int)), r"images has shape \(1, 6, 6\); expected \(N, C, H, W\)"),
])
def test_bad_augmentation_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.ones((2, 1, 6, 6)))
