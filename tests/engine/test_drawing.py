"""engine.datasets.center_and_scale: a drawing made to look like MNIST's or optdigits' digits."""

import numpy as np
import pytest

from engine import SGD, MSELoss, builders
from engine.datasets import center_and_scale, load_digits, load_mnist_subset


def stroke(points, size=280, width=24.0):
    """A polyline drawn with a round pen of diameter ``width`` on a blank (size, size) canvas, anti-aliased
    (points are (row, column) in canvas pixels)."""
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    distance = np.full((size, size), np.inf)
    for (r0, c0), (r1, c1) in zip(points[:-1], points[1:]):
        d = np.array([r1 - r0, c1 - c0], dtype=float)
        t = np.clip(((rows - r0) * d[0] + (cols - c0) * d[1]) / max(d @ d, 1e-12), 0, 1)
        distance = np.minimum(distance, np.hypot(rows - (r0 + t * d[0]), cols - (c0 + t * d[1])))
    return np.clip(width / 2 - distance + 0.5, 0.0, 1.0)


def ink_extent(digit, axis):
    """Number of rows (axis=1) or columns (axis=0) from the first to the last one holding ink."""
    lines = np.flatnonzero(digit.any(axis=axis))
    return lines[-1] - lines[0] + 1


def centre_of_mass(digit):
    rows = np.arange(digit.shape[0])
    return (digit.sum(axis=1) @ rows / digit.sum(), digit.sum(axis=0) @ rows / digit.sum())


# --- MNIST style (28×28) --------------------------------------------------------------------------

def test_a_one_drawn_in_a_corner_is_centred_and_scaled_as_mnist():
    drawing = stroke([(20, 60), (130, 52)])  # a short, slightly slanted "1" in the top-left corner
    digit = center_and_scale(drawing, 28)
    assert digit.shape == (28, 28) and digit.dtype == np.float64
    assert digit.min() >= 0.0 and digit.max() <= 1.0 and digit.max() > 0.9
    assert ink_extent(digit, axis=1) == 20  # its height scaled to MNIST's 20-pixel box
    assert ink_extent(digit, axis=0) <= 6  # still a thin upright stroke
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5  # MNIST puts the centre of mass at (14, 14)


def test_a_wide_stroke_fills_twenty_columns_and_sits_mid_field():
    digit = center_and_scale(stroke([(200, 30), (215, 250)]), 28)
    assert ink_extent(digit, axis=0) == 20
    assert ink_extent(digit, axis=1) <= 5
    assert abs(centre_of_mass(digit)[0] - 14) <= 0.5


@pytest.mark.parametrize("index", [0, 777, 1500, 2222, 3001, 4999])
def test_a_shifted_enlarged_mnist_digit_comes_back_as_the_original(index):
    images, _ = load_mnist_subset()
    original = images[index]
    canvas = np.zeros((400, 400))
    canvas[91:371, 17:297] = np.kron(original, np.ones((10, 10)))  # 10× larger, off-centre
    np.testing.assert_allclose(center_and_scale(canvas, 28), original, atol=1e-9)


def test_the_same_drawing_at_another_size_gives_nearly_the_same_digit():
    curve = [(40, 60), (30, 140), (60, 200), (120, 150), (200, 80), (240, 140), (230, 220)]  # a "2"-ish path
    small = center_and_scale(stroke(curve, size=280, width=24), 28)
    large = center_and_scale(stroke([(2 * r, 2 * c) for r, c in curve], size=560, width=48), 28)
    assert np.abs(small - large).mean() < 0.02


# --- optdigits style (8×8) ------------------------------------------------------------------------

def test_a_32_pixel_bitmap_drawn_large_gives_its_block_counts():
    rng = np.random.default_rng(0)
    bitmap = np.zeros((32, 32), dtype=bool)
    bitmap[:, 4:28] = rng.random((32, 24)) < 0.4
    bitmap[0, 10] = bitmap[31, 20] = bitmap[12, 4] = bitmap[20, 27] = True  # the box: all rows, columns 4..27
    canvas = np.zeros((300, 260))
    canvas[30:286, 50:242] = np.kron(bitmap[:, 4:28], np.ones((8, 8)))  # 8× larger, the box off-centre
    expected = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)) / 16
    np.testing.assert_array_equal(center_and_scale(canvas, 8), expected)


def test_a_drawn_zero_fills_the_8x8_box_like_load_digits_zeros():
    ring = [(140 + 90 * np.sin(t), 140 + 60 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 60)]
    digit = center_and_scale(stroke(ring, width=30), 8)
    assert digit.shape == (8, 8)
    np.testing.assert_array_equal(digit * 16, np.round(digit * 16))  # counts of 16 pixels, as load_digits
    assert ink_extent(digit, axis=1) == 8  # every optdigits digit spans all eight rows
    assert digit[3:5, 3:5].max() == 0.0  # the hole stays open
    images, labels = load_digits()
    zeros = images[labels == 0].mean(axis=0)
    others = images[labels != 0].mean(axis=0)
    assert np.abs(digit - zeros).mean() < np.abs(digit - others).mean()


def test_a_wide_stroke_fills_the_eight_columns_centred_vertically():
    digit = center_and_scale(stroke([(100, 20), (100, 260)]), 8)
    assert ink_extent(digit, axis=0) == 8
    inked = np.flatnonzero(digit.any(axis=1))
    assert inked[0] + inked[-1] == 7  # symmetric about the middle


# --- what a network trained on the dataset makes of a drawing ----------------------------------------------

DRAWN = {  # polylines (row, column) on a 280×280 canvas, as a hand would draw each digit
    0: [[(140 + 95 * np.sin(t), 140 + 65 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 60)]],
    1: [[(40, 150), (240, 140)]],
    2: [[(80, 80), (40, 140), (70, 200), (140, 160), (240, 80), (240, 210)]],
    3: [[(50, 80), (40, 150), (80, 200), (130, 140), (180, 200), (230, 150), (240, 80)]],
    4: [[(40, 170), (170, 70), (170, 220)], [(90, 180), (250, 180)]],
    6: [[(40, 190), (120, 90), (200, 110), (230, 160), (190, 200), (140, 170), (140, 110)]],
    7: [[(50, 80), (50, 200), (240, 120)]],
    9: [[(110, 200), (60, 140), (90, 90), (130, 130), (110, 200), (240, 190)]],
}


def test_drawn_digits_are_read_right_by_3b1b_network_trained_on_the_8x8_digits():
    images, labels = load_digits()
    X, T = images.reshape(-1, 64), np.eye(10)[labels]
    model = builders.mlp([64, 16, 16, 10], activation="sigmoid", output_activation="sigmoid", rng=0)
    optimizer, cost = SGD(list(model.parameters()), lr=3.0), MSELoss(reduction="sum")
    rng = np.random.default_rng(0)
    for _ in range(20):  # the playground's digits preset, about 0.3 s
        order = rng.permutation(len(X))
        for start in range(0, len(X), 10):
            batch = order[start:start + 10]
            cost(model(X[batch]), T[batch])
            model.zero_grad()
            model.backward(cost.backward() / len(batch))
            optimizer.step()
    model.eval()
    for digit, lines in DRAWN.items():
        drawing = np.max([stroke(line, width=0.17 * 280) for line in lines], axis=0)  # the page's pen for 8×8
        assert model(center_and_scale(drawing, 8).reshape(1, 64)).argmax() == digit, f"a drawn {digit}"


# --- blank drawings and bad input -----------------------------------------------------------------

@pytest.mark.parametrize("size", [8, 28])
def test_a_blank_drawing_gives_a_blank_digit(size):
    np.testing.assert_array_equal(center_and_scale(np.zeros((280, 280)), size), np.zeros((size, size)))
    dust = np.full((50, 60), 1e-4)  # below half an 8-bit grey level: not ink
    np.testing.assert_array_equal(center_and_scale(dust, size), np.zeros((size, size)))


def test_lists_and_integer_arrays_are_accepted():
    drawing = [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    digit = center_and_scale(drawing, 28)
    assert digit.shape == (28, 28) and digit.max() == 1.0


@pytest.mark.parametrize("image, size, words", [
    (np.zeros((28, 28)), 10, "size must be 28 (MNIST style) or 8"),
    (np.zeros((28, 28)), True, "size must be"),
    (np.zeros(784), 28, "expected a 2-D array"),
    (np.zeros((1, 28, 28)), 28, "expected a 2-D array"),
    (np.zeros((0, 28)), 28, "expected each side in [1, 4096]"),
    (np.full((5, 5), np.nan), 28, "NaN or infinite"),
    (np.full((5, 5), 1.5), 28, "values in [1.5, 1.5]; expected numbers in [0, 1]"),
    (-np.ones((5, 5)), 8, "expected numbers in [0, 1]"),
    (np.full((5, 5), 255, dtype=np.uint8), 28, "expected numbers in [0, 1]"),
    (np.array([["a", "b"]]), 28, "expected real numbers"),
    ([[0, 1], [0]], 28, "image must be a 2-D array"),
])
def test_bad_input_is_a_value_error_saying_what_is_allowed(image, size, words):
    with pytest.raises(ValueError, match="center_and_scale") as error:
        center_and_scale(image, size)
    assert words in str(error.value)
