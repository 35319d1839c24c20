"""One output pixel of a convolution or a pool, taken apart — what CNN Explainer shows, with the live numbers.

``convolution_at`` gives, for one output position of a Conv2d after a forward pass, the receptive-field patch per
input channel (padding shown as such), the kernel, their elementwise products, the sum, the bias, the
pre-activation and the activation after it; the pre-activation *is* the layer's output there. ``pooling_at`` gives
a pool's window, the input that won the max (or the equal shares of an average) and where the gradient of that
output goes back — the routing the layer's backward pass uses. Both read what the last forward kept (references
to ``input`` / ``output``); nothing here runs in the training hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks
from .activations import Activation
from .container import Sequential
from .conv import AvgPool2d, Conv2d, MaxPool2d


@dataclass(frozen=True)
class ConvolutionAt:
    """Output pixel ``(out_channel, y, x)`` of sample ``sample`` at the Conv2d at position ``index``.

    ``patch`` (C_in, kH, kW): the input under the kernel, zeros where it hangs over the border; ``padding``
    (kH, kW) bool marks those; ``rows`` (kH,), ``cols`` (kW,) are the input coordinates the patch covers (below 0
    or past the edge in the padding). ``kernel`` (C_in, kH, kW) is ``weight[out_channel]``; ``products`` =
    patch ⊙ kernel; ``channel_sums`` (C_in,) their sum per input channel; ``total`` the sum of all products;
    ``pre_activation`` = total + bias (the layer's output there, ``output``); ``activation`` its value after the
    activation module that follows (``activation_name``; the pre-activation itself when none follows).
    """

    index: int
    sample: int
    out_channel: int
    y: int
    x: int
    rows: np.ndarray
    cols: np.ndarray
    padding: np.ndarray
    patch: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    total: float
    bias: float
    pre_activation: float
    output: float
    activation_name: str
    activation: float


@dataclass(frozen=True)
class PoolingAt:
    """Output pixel ``(channel, y, x)`` of sample ``sample`` at the pool at position ``index``.

    ``window`` (kH, kW) is the input it reads, at input ``rows`` (kH,) and ``cols`` (kW,); ``output`` its value.
    ``kind`` is "max" or "avg". ``shares`` (kH, kW) is ∂output/∂window: 1 at the winner and 0 elsewhere for max
    (``winner``, the input coordinates (row, col) of the maximum; the first in row-major order on ties, as torch),
    1/(kH·kW) everywhere for an average. ``grad_output`` is dC/d(output) from the last backward (None before one)
    and ``grad_window`` = shares · grad_output: what this output pixel sends back to each input of its window.
    """

    index: int
    sample: int
    channel: int
    y: int
    x: int
    kind: str
    rows: np.ndarray
    cols: np.ndarray
    window: np.ndarray
    output: float
    winner: tuple[int, int] | None
    shares: np.ndarray
    grad_output: float | None
    grad_window: np.ndarray | None


def _layer(model, index, kinds, where: str):
    if not isinstance(model, Sequential):
        raise ValueError(f"{where}: model must be a Sequential, got {type(model).__name__}")
    allowed = [i for i, m in enumerate(model) if isinstance(m, kinds)]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or int(index) not in allowed:
        names = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"{where}: index must be the position of a {names} in the model, one of {allowed}, "
                         f"got {index!r}")
    layer = model[int(index)]
    if layer.__dict__.get("output") is None:
        raise ValueError(f"{where}: layer {index} has not run a forward pass yet; run the model on an input first")
    return layer


def _position(where: str, output_shape, sample, channel, y, x, channel_field: str) -> tuple[int, int, int, int]:
    """Checked (sample, channel, y, x) inside an output of shape (N, C, H_out, W_out)."""
    values = []
    for field, value, count in zip(("sample", channel_field, "y", "x"), (sample, channel, y, x), output_shape):
        values.append(_checks.positive_int(where, field, value, minimum=0))
        if values[-1] >= count:
            raise ValueError(f"{where}: {field} must be an integer in [0, {count - 1}], got {value!r}")
    return tuple(values)


def convolution_at(model: Sequential, index: int, out_channel: int, y: int, x: int,
                   sample: int = 0) -> ConvolutionAt:
    """The convolution at output ``(out_channel, y, x)`` of the Conv2d at position ``index``, for sample ``sample``
    of the last forward pass (e.g. the probe image's)."""
    where = "convolution_at"
    conv = _layer(model, index, (Conv2d,), where)
    n, co, y, x = _position(where, conv.output.shape, sample, out_channel, y, x, "out_channel")
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    image = conv.input[n]  # (C_in, H, W)
    _, h, w = image.shape
    rows, cols = y * sh - ph + np.arange(kh), x * sw - pw + np.arange(kw)
    inside_rows, inside_cols = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    patch = np.zeros((image.shape[0], kh, kw), image.dtype)
    patch[:, inside_rows[:, None] & inside_cols[None, :]] = \
        image[:, rows[inside_rows]][:, :, cols[inside_cols]].reshape(image.shape[0], -1)
    kernel = conv.weight.data[co].copy()
    products = patch * kernel
    total = float(products.sum())
    bias = float(conv.bias.data[co]) if conv.bias is not None else 0.0
    pre_activation = total + bias
    after = model[int(index) + 1] if int(index) + 1 < len(model) else None
    if isinstance(after, Activation):
        name = after.name
        activation = float(after.function(np.array(pre_activation))) if hasattr(after, "function") else \
            float(after.output[n, co, y, x])
    else:
        name, activation = "linear", pre_activation
    return ConvolutionAt(int(index), n, co, y, x, rows, cols, ~(inside_rows[:, None] & inside_cols[None, :]),
                         patch, kernel, products, products.sum(axis=(1, 2)), total, bias, pre_activation,
                         float(conv.output[n, co, y, x]), name, activation)


def pooling_at(model: Sequential, index: int, channel: int, y: int, x: int, sample: int = 0) -> PoolingAt:
    """The pool at output ``(channel, y, x)`` of the MaxPool2d/AvgPool2d at position ``index``, for sample
    ``sample`` of the last forward pass; with the gradient routing of the last backward pass, if one ran since."""
    where = "pooling_at"
    pool = _layer(model, index, (MaxPool2d, AvgPool2d), where)
    n, c, y, x = _position(where, pool.output.shape, sample, channel, y, x, "channel")
    (kh, kw), (sh, sw) = pool._kernel, pool._stride
    rows, cols = y * sh + np.arange(kh), x * sw + np.arange(kw)
    window = pool.input[n, c][rows[:, None], cols[None, :]]
    if isinstance(pool, MaxPool2d):
        kind = "max"
        flat = int(pool.indices[n, c, y, x])  # the layer's own record of its winner
        winner = (flat // pool.input.shape[3], flat % pool.input.shape[3])
        shares = np.zeros((kh, kw), window.dtype)
        shares[winner[0] - rows[0], winner[1] - cols[0]] = 1.0
    else:
        kind, winner = "avg", None
        shares = np.full((kh, kw), 1.0 / (kh * kw), window.dtype)
    grad = pool.__dict__.get("grad_output")
    grad_output = float(grad[n, c, y, x]) if grad is not None and grad.shape == pool.output.shape else None
    return PoolingAt(int(index), n, c, y, x, kind, rows, cols, window, float(pool.output[n, c, y, x]), winner,
                     shares, grad_output, None if grad_output is None else shares * grad_output)
