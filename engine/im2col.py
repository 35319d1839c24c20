"""im2col for Conv2d: every output pixel's receptive field as one row or column of a matrix, in one copy.

Two layouts of the same numbers, each multiplied image by image with the flattened kernel:

- image-major ``(N, C·kH·kW [+ 1], H_out·W_out)``, read straight from the ``(N, C, H, W)`` input; the copy's
  contiguous runs are rows of W_out pixels (the kernel flattened as ``(C_out, C, kH, kW)``).
- pixel-major ``(N, H_out·W_out, kH·kW·C [+ 1])``, read from a channels-last ``(N, H, W, C)`` copy of the input;
  the copy's contiguous runs are the kW·C values of one kernel row (the kernel flattened as ``(C_out, kH, kW, C)``).

With ``bias``, a last row (column) of ones lets the matmul add the bias as one more kernel column. Padding is
zeros, as torch's.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def window_view(x: np.ndarray, shape, strides) -> np.ndarray:
    """A read-only strided view of ``x`` (``as_strided``'s); for a contiguous ``x`` built directly on its buffer,
    several µs cheaper per call than as_strided's pure-Python route. Never write through it: its windows overlap."""
    if x.flags.c_contiguous:
        return np.ndarray(shape, x.dtype, x, 0, strides)
    return as_strided(x, shape, strides, writeable=False)


def image_columns(x: np.ndarray, kernel, stride, padding, out_hw, bias: bool) -> np.ndarray:
    """``x`` (N, C, H, W) → (N, C·kH·kW [+ 1], H_out·W_out): entry ``[n, (c, i, j), (y, x)]`` is
    ``padded[n, c, y·sH + i, x·sW + j]``."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (h_out, w_out) = kernel, stride, padding, out_hw
    if ph or pw:
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
    else:
        padded = x
    k = c * kh * kw
    cols = np.empty((n, k + bias, h_out * w_out), x.dtype)
    s = padded.strides
    windows = window_view(padded, (n, c, kh, kw, h_out, w_out), (s[0], s[1], s[2], s[3], s[2] * sh, s[3] * sw))
    cols[:, :k].reshape(n, c, kh, kw, h_out, w_out)[...] = windows
    if bias:
        cols[:, k] = 1.0
    return cols


def pixel_columns(x: np.ndarray, kernel, stride, padding, out_hw, bias: bool) -> np.ndarray:
    """``x`` (N, C, H, W) → (N, H_out·W_out, kH·kW·C [+ 1]): entry ``[n, (y, x), (i, j, c)]`` is
    ``padded[n, c, y·sH + i, x·sW + j]``."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (h_out, w_out) = kernel, stride, padding, out_hw
    padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), x.dtype)  # channels last
    padded[:, ph:ph + h, pw:pw + w] = x.transpose(0, 2, 3, 1)
    k = c * kh * kw
    cols = np.empty((n, h_out * w_out, k + bias), x.dtype)
    s = padded.strides
    windows = window_view(padded, (n, h_out, w_out, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]))
    cols[:, :, :k].reshape(n, h_out, w_out, kh, kw, c)[...] = windows
    if bias:
        cols[:, :, k] = 1.0
    return cols
