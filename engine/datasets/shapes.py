"""Coloured shapes: small RGB images ``(3, H, W)``, generated offline and seeded, so that channels are concrete.

A red circle lights the red channel and little else; a yellow one lights red *and* green. The class is the
shape and the colour together ("red circle", "green triangle", ...) by default: to tell red from yellow a kernel
must weigh the channels differently, so the first layer's kernels turn into colour detectors you can see (a
strong red slice, a negative green one) next to the edge detectors the shapes need — which is what a channel is.
``label="shape"`` makes colour a distraction to be ignored (kernels then look alike in every channel);
``label="color"`` makes shape one (a 1×1 convolution would do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.datasets._common import generator, size

SHAPES = ("circle", "square", "triangle")
# Colours that share channels, so that no single channel tells them apart: red (R), yellow (R+G), blue (B).
COLORS = {"red": (0.9, 0.15, 0.1), "yellow": (0.9, 0.85, 0.1), "blue": (0.15, 0.35, 0.95)}
LABELS = ("both", "shape", "color")
SUPERSAMPLE = 4  # sub-pixels per pixel side: edges are anti-aliased, as a photo's would be


@dataclass(frozen=True)
class ImageSet:
    """``images`` (N, 3, H, W) float64 in [0, 1] (channels red, green, blue), ``labels`` (N,) int64 in
    0..K-1, ``classes`` the K class names in label order."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


def _classes(label: str) -> tuple[str, ...]:
    if label == "shape":
        return SHAPES
    if label == "color":
        return tuple(COLORS)
    return tuple(f"{color} {shape}" for color in COLORS for shape in SHAPES)


def _masks(shapes: np.ndarray, rng: np.random.Generator, side: int) -> np.ndarray:
    """(N, side, side) coverage in [0, 1] of each image's shape: random centre, size and tilt, always whole
    inside the image; computed on a SUPERSAMPLE× finer grid and averaged down."""
    n, fine = len(shapes), side * SUPERSAMPLE
    radius = rng.uniform(0.3, 0.42, n) * side  # circumradius, in pixels
    centre = rng.uniform(radius[:, None] + 0.5, side - radius[:, None] - 0.5, (n, 2))
    angle = np.radians(rng.uniform(-15, 15, n))  # upright, give or take: a triangle stays a triangle at 12 px
    grid = (np.arange(fine) + 0.5) / SUPERSAMPLE  # sub-pixel centres, in pixels
    dy = grid[None, :, None] - centre[:, 0, None, None]
    dx = grid[None, None, :] - centre[:, 1, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # coordinates in the shape's own rotated frame
    r = radius[:, None, None]
    inside = np.empty((n, fine, fine), bool)
    circle, square, triangle = (shapes == k for k in range(len(SHAPES)))
    inside[circle] = (u * u + v * v <= (0.85 * r) ** 2)[circle]  # a little smaller: same area as the others
    inside[square] = (np.maximum(np.abs(u), np.abs(v)) <= r / np.sqrt(2))[square]
    # Equilateral triangle: inside all three half-planes whose normals point at 90°, 210° and 330°.
    edges = [np.cos(a) * u + np.sin(a) * v for a in (np.pi / 2, 7 * np.pi / 6, 11 * np.pi / 6)]
    inside[triangle] = (np.maximum(np.maximum(edges[0], edges[1]), edges[2]) <= 0.6 * r)[triangle]  # 1.2·r tall
    return inside.reshape(n, side, SUPERSAMPLE, side, SUPERSAMPLE).mean(axis=(2, 4))


def make_color_shapes(n_samples: int = 1200, image_size: int = 16, label: str = "both", noise: float = 0.05,
                      seed=0) -> ImageSet:
    """``n_samples`` images of one coloured shape each on a dark, noisy background, classes balanced exactly
    (each class gets ``n // K`` images, the first ``n % K`` classes one more), rows shuffled.

    Each shape has a random position, size (circumradius 30–42 % of the side) and tilt (±15°); each colour a random
    brightness (75–100 %) and a small tint per channel, so colour is a region of RGB space, not one point.
    ``noise`` is the standard deviation of Gaussian pixel noise, in [0, 0.3]. Same arguments, same arrays.
    """
    where = "make_color_shapes"
    if label not in LABELS:
        raise ValueError(f"{where}: label must be one of {list(LABELS)}, got {label!r}")
    n = size(where, "n_samples", n_samples, minimum=1, maximum=100_000)
    side = size(where, "image_size", image_size, minimum=8, maximum=64)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 0.3:
        raise ValueError(f"{where}: noise must be a number in [0, 0.3], got {noise!r}")
    rng = generator(where, seed)
    classes = _classes(label)
    labels = rng.permutation(np.arange(n) % len(classes)).astype(np.int64)
    # Every image draws its shape and its colour; the label fixes one or both of them.
    n_shapes, n_colors = len(SHAPES), len(COLORS)
    shape_of = rng.integers(0, n_shapes, n)
    color_of = rng.integers(0, n_colors, n)
    if label == "shape":
        shape_of = labels
    elif label == "color":
        color_of = labels
    else:
        color_of, shape_of = labels // n_shapes, labels % n_shapes
    coverage = _masks(shape_of, rng, side)[:, None]  # (N, 1, H, W)
    palette = np.array(list(COLORS.values()))
    color = palette[color_of] * rng.uniform(0.75, 1.0, (n, 1)) + rng.uniform(-0.08, 0.08, (n, 3))
    background = rng.uniform(0.0, 0.15, (n, 3))
    images = background[:, :, None, None] * (1 - coverage) + color[:, :, None, None] * coverage
    images += rng.normal(0.0, noise, images.shape) if noise else 0.0
    return ImageSet(np.clip(images, 0.0, 1.0), labels, classes)
