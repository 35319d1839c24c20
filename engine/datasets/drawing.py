"""A user's drawing made to look like the dataset's digits, so a network trained on them can read it.

``center_and_scale(image, size)`` repeats how each shipped set was made from its scanned digits:

- ``size=28`` (MNIST, LeCun et al.): the digit's bounding box is scaled, aspect ratio kept, so its longer
  side is 20 pixels, with anti-aliasing (each new pixel is the mean of the drawing over its area, which
  is what gives MNIST its grey edges); the 20-pixel box is then placed in the 28×28 field with a whole-
  pixel shift that brings its centre of mass to the field's centre. (The shipped subset agrees: the
  centre of mass sits at row 14.0 ± 0.29, column 14.0 ± 0.29, the spread of rounding to whole pixels,
  and the box's longer side is 20 pixels in 4,999 of 5,000 digits.)
- ``size=8`` (UCI optdigits, Alpaydin & Kaynak): the bounding box is scaled, aspect ratio kept, so its
  longer side fills a 32×32 bitmap and the box is centred in it; each bitmap pixel is on when the
  drawing covers at least half of it; the 4×4 blocks' counts of on pixels (0..16) are the 8×8 digit,
  divided by 16 as ``load_digits`` does.

Pure numpy: the area-weighted resampling is one small matrix per axis (``rows @ image @ cols.T``).
"""

from __future__ import annotations

import math

import numpy as np

SIZES = (8, 28)
MNIST_BOX = 20       # MNIST: the longer side of the digit's box, in pixels of the 28×28 field
OPTDIGITS_BITMAP = 32  # optdigits: the bitmap the digit fills, counted in 4×4 blocks
OPTDIGITS_BLOCK = 4
# A canvas is 8-bit: anything below half a grey level would be stored as blank, so it is not ink.
INK_THRESHOLD = 0.5 / 255
MAX_SIDE = 4096


def center_and_scale(image, size: int = 28) -> np.ndarray:
    """A drawing as a dataset digit.

    ``image``: (H, W) array of ink in [0, 1] (0 blank, 1 full ink), any size from 1×1 to 4096×4096, e.g.
    a 280×280 canvas. ``size``: 28 (MNIST style, as ``load_mnist_subset``) or 8 (optdigits style, as
    ``load_digits``: multiples of 1/16). Returns (size, size) float64 in [0, 1]; all zeros when nothing
    is drawn. ValueError for another size, a non-2-D or empty array, or values outside [0, 1] or NaN.
    """
    image = _checked(image, size)
    ink = image > INK_THRESHOLD
    if not ink.any():
        return np.zeros((size, size))
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    box = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)  # [top, bottom) × [left, right), in drawing pixels
    if size == 28:
        return _mnist(image, box, size)
    return _optdigits(image, box)


def _checked(image, size) -> np.ndarray:
    where = "center_and_scale"
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size not in SIZES:
        raise ValueError(f"{where}: size must be 28 (MNIST style) or 8 (optdigits style), got {size!r}")
    try:
        array = np.asarray(image)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: image must be a 2-D array of numbers in [0, 1], got {type(image).__name__} "
                         f"({error})") from None
    if array.ndim != 2:
        raise ValueError(f"{where}: image has shape {array.shape}; expected a 2-D array (H, W)")
    if not (1 <= array.shape[0] <= MAX_SIDE and 1 <= array.shape[1] <= MAX_SIDE):
        raise ValueError(f"{where}: image has shape {array.shape}; expected each side in [1, {MAX_SIDE}]")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{where}: image has dtype {array.dtype}; expected real numbers in [0, 1]")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: image contains NaN or infinite values; expected numbers in [0, 1]")
    low, high = array.min(), array.max()
    if low < 0 or high > 1:
        raise ValueError(f"{where}: image has values in [{low:g}, {high:g}]; expected numbers in [0, 1]")
    return array


def _area_matrix(n_source: int, start: float, length: float, n_out: int) -> np.ndarray:
    """(n_out, n_source) weights: output pixel o is the mean of the source over
    [start + o·length/n_out, start + (o+1)·length/n_out) (source pixel i covers [i, i+1); outside is blank)."""
    edges = start + length * np.arange(n_out + 1) / n_out
    lo = np.maximum(edges[:-1, None], np.arange(n_source)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(1, n_source + 1)[None, :])
    return np.clip(hi - lo, 0.0, None) / (length / n_out)


def _resample(image: np.ndarray, box, extent: int, out_shape: tuple[int, int]) -> np.ndarray:
    """The box scaled so its longer side spans ``extent`` output pixels, centred in an output of
    ``out_shape`` (the shorter side gets equal blank margins)."""
    top, bottom, left, right = box
    scale = extent / max(bottom - top, right - left)  # output pixels per drawing pixel, both axes
    row_centre, col_centre = (top + bottom) / 2, (left + right) / 2
    rows = _area_matrix(image.shape[0], row_centre - out_shape[0] / scale / 2, out_shape[0] / scale, out_shape[0])
    cols = _area_matrix(image.shape[1], col_centre - out_shape[1] / scale / 2, out_shape[1] / scale, out_shape[1])
    return rows @ image @ cols.T


def _mnist(image: np.ndarray, box, size: int) -> np.ndarray:
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    longer = max(height, width)
    # The shorter side's box: enough whole pixels to hold it (its content centred), as MNIST's 20×n boxes.
    shape = tuple(MNIST_BOX if side == longer else min(MNIST_BOX, math.ceil(MNIST_BOX * side / longer - 1e-9))
                  for side in (height, width))
    digit = np.clip(_resample(image, box, MNIST_BOX, shape), 0.0, 1.0)
    mass = digit.sum()
    centre_row = (digit.sum(axis=1) @ np.arange(shape[0])) / mass
    centre_col = (digit.sum(axis=0) @ np.arange(shape[1])) / mass
    # Index coordinates: the field's centre is pixel (14, 14), where MNIST's centres of mass sit.
    offset_row = int(np.floor(size / 2 - centre_row + 0.5))
    offset_col = int(np.floor(size / 2 - centre_col + 0.5))
    out = np.zeros((size, size))
    _paste(out, digit, offset_row, offset_col)
    return out


def _paste(field: np.ndarray, patch: np.ndarray, row: int, col: int) -> None:
    """field[row:, col:] = patch, clipped to the field (a digit far off-centre loses its overhang)."""
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + patch.shape[0], field.shape[0]), min(col + patch.shape[1], field.shape[1])
    if r0 < r1 and c0 < c1:
        field[r0:r1, c0:c1] = patch[r0 - row:r1 - row, c0 - col:c1 - col]


def _optdigits(image: np.ndarray, box) -> np.ndarray:
    n = OPTDIGITS_BITMAP
    bitmap = _resample(image, box, n, (n, n)) >= 0.5 - 1e-9  # "on" where the drawing covers half the pixel
    b = OPTDIGITS_BLOCK
    counts = bitmap.reshape(n // b, b, n // b, b).sum(axis=(1, 3))
    return counts / float(b * b)
