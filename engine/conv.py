"""Convolution and pooling on ``(N, C, H, W)`` batches, shaped and named as torch.nn.

Conv2d is im2col and a matmul: a strided view gathers, for every output pixel, the ``C·kH·kW`` input
values under the kernel (one copy, engine.im2col), and the kernel flattened to ``(C_out, C·kH·kW)`` multiplies
them, one image at a time (OpenBLAS runs such small products faster than one large one); the bias rides along as
one more kernel column against a row of ones. Backward: the kernel's
gradient is one matmul of the output gradient with those same columns. The input's gradient goes back tap by
tap: kernel offset (i, j) sends ``W[:, :, i, j]ᵀ · g`` to the input pixels (i, j) away from each output pixel,
which, with each padded image laid out flat and g placed on the pixels its windows start at, is one matmul and
one contiguous shifted add per offset (kH·kW of them; in float64, kH larger ones; pixels shared by overlapping
windows sum). No Python loop
over pixels or images.

AvgPool2d is separable: the sum over a ``kH × kW`` window is one over ``kW`` columns, then one over ``kH``
rows, each a few whole-array operations. MaxPool2d reads all windows through one strided view and visits the
kH·kW positions of a window in row-major order, one output-sized maximum each; it keeps each window's
winner (torch's ``return_indices``) and routes the gradient there; on ties the first in row-major order wins,
as in torch.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _checks
from .im2col import image_columns, pixel_columns, window_view
from .activations import ReLU
from .init import INIT_SCHEMES, calculate_gain, init_bias, init_weight
from .module import Module
from .parameter import Parameter, check_dtype
from .random import resolve_rng

_LAYOUT = "(N, C, H, W)"


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """PyTorch's formula: ``floor((size + 2·padding − kernel) / stride) + 1`` (may be ≤ 0)."""
    return (size + 2 * padding - kernel) // stride + 1


def _input_shape(where: str, input_shape) -> tuple[int, int, int, int]:
    """``input_shape`` as a tuple of four positive ints ``(N, C, H, W)``, else ValueError."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ValueError(f"{where}: input shape must be {_LAYOUT}, got {input_shape!r}") from None
    if len(shape) != 4 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                                  for s in shape):
        raise ValueError(f"{where}: input has shape {shape}; expected {_LAYOUT} with every size >= 1")
    return tuple(int(s) for s in shape)


def _spatial_output(where: str, hw: tuple[int, int], kernel, stride, padding=(0, 0)) -> tuple[int, int]:
    """(H_out, W_out) by PyTorch's formula; ValueError when the window does not fit the (padded) input."""
    padded = (hw[0] + 2 * padding[0], hw[1] + 2 * padding[1])
    if padded[0] < kernel[0] or padded[1] < kernel[1]:
        size = f"(H, W) = {hw}" + (f", padded to {padded}," if any(padding) else "")
        raise ValueError(f"{where}: input of spatial size {size} is smaller than kernel_size {tuple(kernel)}; "
                         f"expected H + 2·padding >= kH and W + 2·padding >= kW (an empty output otherwise)")
    return (conv_output_size(hw[0], kernel[0], stride[0], padding[0]),
            conv_output_size(hw[1], kernel[1], stride[1], padding[1]))


def _check_grad(where: str, grad_output, output) -> np.ndarray:
    if output is None:
        raise ValueError(f"{where}: backward called before forward; expected a forward pass first")
    if not isinstance(grad_output, np.ndarray) or grad_output.shape != output.shape:
        got = grad_output.shape if isinstance(grad_output, np.ndarray) else type(grad_output).__name__
        raise ValueError(f"{where}: grad_output has shape {got}; expected {output.shape} (the output's shape)")
    return grad_output


class Conv2d(Module):
    """2-D convolution (cross-correlation, as torch) of ``(N, C_in, H, W)`` into ``(N, C_out, H_out, W_out)``.

    ``weight`` is ``(C_out, C_in, kH, kW)``, ``bias`` ``(C_out,)``; ``H_out = floor((H + 2p − kH)/s) + 1``.
    ``init`` is one of engine.init.INIT_SCHEMES ("default" is torch's: weight and bias ~ U(±1/√fan_in),
    fan_in = C_in·kH·kW); ``nonlinearity`` picks the gain for the Xavier/He schemes, whose bias starts at zero.
    Inputs must already have the layer's dtype: nothing is cast silently.
    """

    kept = ("input", "output", "_cols")

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True,
                 *, init: str = "default", nonlinearity: str = "relu", rng=None, dtype=np.float64):
        super().__init__()
        where = "Conv2d"
        self.in_channels = _checks.positive_int(where, "in_channels", in_channels)
        self.out_channels = _checks.positive_int(where, "out_channels", out_channels)
        self.kernel_size = _checks.pair(where, "kernel_size", kernel_size)
        self.stride = _checks.pair(where, "stride", stride)
        self.padding = _checks.pair(where, "padding", padding, minimum=0)
        if init not in INIT_SCHEMES:
            raise ValueError(f"{where}: init must be one of {list(INIT_SCHEMES)}, got {init!r}")
        calculate_gain(nonlinearity)  # validates the name, whatever the scheme
        dtype = check_dtype(dtype, where)
        rng = resolve_rng(rng)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(init_weight(shape, init, rng, dtype, nonlinearity))
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        if bias:
            self.bias = Parameter(init_bias(fan_in, self.out_channels, rng, dtype) if init == "default"
                                  else np.zeros(self.out_channels, dtype=dtype))
        else:
            self.bias = None
        self.input = None
        self.output = None
        self._cols = None  # im2col of the last forward, for backward: engine.im2col's image- or pixel-major
        self._pixel_major = False
        self._where = repr(self)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + (", bias=False" if self.bias is None else "")

    def output_shape(self, input_shape) -> tuple[int, int, int, int]:
        """``(N, C_out, H_out, W_out)`` for an input of shape ``(N, C_in, H, W)``; ValueError if it would be empty."""
        return self._output_shape(_input_shape(self._where, input_shape))

    def _output_shape(self, shape: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        n, c, h, w = shape
        if c != self.in_channels:
            raise ValueError(f"{self._where}: input has {c} channels (shape {shape}); "
                             f"expected {self.in_channels} channels {_LAYOUT}")
        h_out, w_out = _spatial_output(self._where, (h, w), self.kernel_size, self.stride, self.padding)
        return (n, self.out_channels, h_out, w_out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` (N, C_in, H, W) → (N, C_out, H_out, W_out)."""
        weight = self.weight.data
        _checks.array(self._where, x, 4, dtype=weight.dtype, layout=_LAYOUT, finite=False)
        n, c_out, h_out, w_out = self._output_shape(x.shape)  # x.shape: four ints >= 1, checked above
        c = x.shape[1]
        # im2col (engine.im2col), one copy, along the longest contiguous run it can read: a row of W_out pixels
        # (image-major), or with several channels the kW·C_in values of one kernel row (pixel-major). Then one
        # matmul per image: OpenBLAS multiplies these small blocks faster one by one than as one large product.
        pixel_major = c > 1 and self.kernel_size[1] * c >= w_out
        cols = (pixel_columns if pixel_major else image_columns)(x, self.kernel_size, self.stride, self.padding,
                                                                 (h_out, w_out), self.bias is not None)
        kernel = (weight.transpose(0, 2, 3, 1) if pixel_major else weight).reshape(c_out, -1)
        if self.bias is not None:  # the columns' last row (column) of ones meets the bias
            kernel = np.concatenate([kernel, self.bias.data[:, None]], axis=1)
        if pixel_major:  # (N, H_out·W_out, rows) @ (rows, C_out), then to (N, C_out, H_out·W_out)
            out = np.ascontiguousarray(np.matmul(cols, np.ascontiguousarray(kernel.T)).transpose(0, 2, 1))
        else:  # (C_out, rows) @ (N, rows, H_out·W_out)
            out = np.matmul(kernel, cols)
        d = self.__dict__  # plain attributes: Module.__setattr__ bookkeeping costs more than it is worth here
        d["_cols"] = cols
        d["_pixel_major"] = pixel_major
        d["input"] = x
        d["output"] = out = out.reshape(n, c_out, h_out, w_out)
        return out

    can_skip_input_grad = True  # Sequential.backward(..., input_grad=False) asks the first layer to

    def backward(self, grad_output: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """``grad_output`` (N, C_out, H_out, W_out) → grad_input (N, C_in, H, W); accumulates weight/bias grads.

        ``input_grad=False`` skips grad_input (returns None), as torch does for an input that needs no gradient:
        the first layer's input is the data."""
        g = _check_grad(self._where, grad_output, self.output)
        n, c_out, h_out, w_out = g.shape
        weight = self.weight.data
        k = weight[0].size
        # dL/d[W | b] = Σ_n g_n · cols_nᵀ  (the ones of cols give the bias gradient), image by image. Which operand
        # goes first and transposed is what OpenBLAS runs fastest, measured on the course's CNN: image-major
        # columns, in float32 Σ_n cols_n · g_nᵀ, in float64 the first form; pixel-major, Σ_n g_n · cols_n in
        # float64, read as Σ_n (cols_nᵀ · g_nᵀ)ᵀ in float32.
        cols = self._cols
        gm = g.reshape(n, c_out, h_out * w_out)
        float32 = cols.dtype == np.float32
        if self._pixel_major:  # (N, H_out·W_out, rows): the kernel flattened as (C_out, kH, kW, C_in)
            grad_kernel = (np.add.reduce(np.matmul(cols.transpose(0, 2, 1), gm.transpose(0, 2, 1)), axis=0).T
                           if float32 else np.add.reduce(np.matmul(gm, cols), axis=0))
            self.weight.grad += grad_kernel[:, :k].reshape(c_out, *self.kernel_size, -1).transpose(0, 3, 1, 2)
        else:  # (N, rows, H_out·W_out)
            grad_kernel = (np.add.reduce(np.matmul(cols, gm.transpose(0, 2, 1)), axis=0).T if float32
                           else np.add.reduce(np.matmul(gm, cols.transpose(0, 2, 1)), axis=0))
            self.weight.grad += grad_kernel[:, :k].reshape(weight.shape)
        if self.bias is not None:
            self.bias.grad += grad_kernel[:, k]
        return self._grad_input(g) if input_grad else None

    def _grad_input(self, g: np.ndarray) -> np.ndarray:
        """dL/dx for ``g`` (N, C_out, H_out, W_out): for each kernel offset (i, j), ``W[:, :, i, j]ᵀ · g`` lands on
        the input pixels (y·sH + i, x·sW + j) of the padded input. The batch is laid out flat, ``(C, N·Ph·Pw)``,
        images Ph rows of Pw apart, with g on the pixel where its window starts: offset (i, j) is then a shift by
        ``i·Pw + j`` along that one axis. Only the unpadded pixels' gradients are kept, so rows and images may be
        closer than the padded size: whatever runs past a row's (an image's) end lands in the next one's padding,
        never in a pixel kept (Pw = W + pW, Ph = H + pH, and room for every window start).

        In float32 that is one small product and one shifted add per offset. In float64 OpenBLAS prefers fewer,
        larger products (measured on the course's CNN): the starts are laid out kW times, shifted by j = 0..kW−1,
        so one product with the kernel as ``(kH·C_in, kW·C_out)`` sums each kernel row's offsets, and kH shifted
        adds by ``i·Pw`` finish."""
        n, c_out, h_out, w_out = g.shape
        _, c, h, w = self.input.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        rows, pitch = max(h + ph, sh * (h_out - 1) + 1), max(w + pw, sw * (w_out - 1) + 1)
        length = n * rows * pitch + kw - 1  # + room for the starts shifted by j
        starts = np.zeros((c_out, length), g.dtype)  # g at each window's top-left pixel, zeros elsewhere
        starts[:, :n * rows * pitch].reshape(c_out, n, rows, pitch)[:, :, 0:sh * h_out:sh, 0:sw * w_out:sw] = \
            g.transpose(1, 0, 2, 3)
        weight = self.weight.data
        grad = np.zeros((c, length + (kh - 1) * pitch + kw - 1), g.dtype)
        if g.dtype == np.float64:
            stacked = np.zeros((kw, c_out, length), g.dtype)
            for j in range(kw):
                stacked[j, :, j:] = starts[:, :length - j]
            kernel_rows = np.ascontiguousarray(weight.transpose(2, 1, 3, 0)).reshape(kh * c, kw * c_out)
            products = (kernel_rows @ stacked.reshape(kw * c_out, length)).reshape(kh, c, length)  # [i, c, pixel]
            for i in range(kh):
                grad[:, i * pitch:i * pitch + length] += products[i]
        else:
            # (kH, kW, C_in, C_out), contiguous: OpenBLAS multiplies a strided view several times slower
            taps = np.ascontiguousarray(weight.transpose(2, 3, 1, 0))
            product = np.empty((c, length), g.dtype)  # one buffer for every offset's product: it stays in cache
            matmul, add = np.matmul, np.add
            for i in range(kh):
                for j in range(kw):
                    shift = i * pitch + j
                    target = grad[:, shift:shift + length]
                    add(target, matmul(taps[i, j], starts, out=product), out=target)
        grad = grad[:, :n * rows * pitch].reshape(c, n, rows, pitch)[:, :, ph:ph + h, pw:pw + w]
        return np.ascontiguousarray(grad.transpose(1, 0, 2, 3))


class _Pool2d(Module):
    """Shared by MaxPool2d and AvgPool2d: kernel/stride as torch (stride=None → kernel_size), shape checks.

    torch's other options keep their defaults here: no padding, dilation 1, ceil_mode False.
    """

    kept = ("input", "output", "grad_output")
    grad_output = None  # until a backward

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        name = type(self).__name__
        self._kernel = _checks.pair(name, "kernel_size", kernel_size)
        self._stride = self._kernel if stride is None else _checks.pair(name, "stride", stride)
        # As torch, the attributes keep the form given (an int stays an int).
        self.kernel_size = kernel_size if isinstance(kernel_size, numbers.Integral) else self._kernel
        self.stride = self.kernel_size if stride is None else (
            stride if isinstance(stride, numbers.Integral) else self._stride)
        self.input = None
        self.output = None
        self._where = repr(self)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def output_shape(self, input_shape) -> tuple[int, int, int, int]:
        """``(N, C, H_out, W_out)`` for ``(N, C, H, W)``, ``H_out = floor((H − kH)/sH) + 1``; ValueError if empty."""
        return self._output_shape(_input_shape(self._where, input_shape))

    def _output_shape(self, shape: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return (*shape[:2], *_spatial_output(self._where, shape[2:], self._kernel, self._stride))

    def _check_input(self, x) -> tuple[int, int, int, int]:
        """Validate ``x`` (N, C, H, W) and return the output shape."""
        _checks.array(self._where, x, 4, layout=_LAYOUT, finite=False)
        return self._output_shape(x.shape)

    def _spans(self, h_out: int, w_out: int) -> tuple[int, int]:
        """Length of the strided slice that picks one row (column) per output row (column)."""
        return self._stride[0] * (h_out - 1) + 1, self._stride[1] * (w_out - 1) + 1


class MaxPool2d(_Pool2d):
    """Max over each ``kH × kW`` window: ``(N, C, H, W)`` → ``(N, C, H_out, W_out)``.

    After forward, ``indices`` (N, C, H_out, W_out) is the flat index ``y·W + x`` of each window's
    winner in its plane, as torch's ``return_indices``; on ties the first in row-major order wins
    and alone receives the gradient, as in torch.
    """

    kept = ("input", "output", "grad_output", "_offset")

    def __init__(self, kernel_size, stride=None):
        super().__init__(kernel_size, stride)
        self._offset = None  # (N, C, H_out, W_out): winner's flat offset from its window's top-left pixel
        self._base = (None, None)  # (input shape, flat input index of every window's top-left pixel)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` (N, C, H, W) → (N, C, H_out, W_out)."""
        n, c, h_out, w_out = self._check_input(x)
        w = x.shape[3]
        (kh, kw), (sh, sw) = self._kernel, self._stride
        # Every window at once, a view (N, C, H_out, kH, W_out, kW): entry [n, c, y, i, x, j] is x[n, c, y·sH + i,
        # x·sW + j]. Its positions (i, j) are visited in row-major order, each one output-sized maximum with the
        # running maximum (the only pass over the strided view); a position beats the running maximum exactly when
        # the new maximum differs from the old one (finite input: no NaN), so the first of equal values stays, as
        # in torch. The winner is the last position that beat the running maximum; its flat offset i·W + j grows
        # with the visiting order, so the winner's offset is a running max of offset·better (no select).
        s = x.strides
        # With many positions (kH·kW ≥ 9) the planes go innermost instead, a view (H_out, kH, W_out, kW, N·C) of the
        # contiguous x: each pass then runs N·C long instead of W_out (4 on ConvNetJS's second pool), and one copy
        # puts the result back to (N, C, H_out, W_out) (measured: faster for 3×3 and 4×4 windows, slower for 2×2).
        planes = kh * kw >= 9 and x.flags.c_contiguous
        if planes:
            windows = window_view(x, (h_out, kh, w_out, kw, n * c), (s[2] * sh, s[2], s[3] * sw, s[3], s[1]))
            windows = windows.transpose(1, 3, 0, 2, 4)  # [i, j] is one position's (H_out, W_out, N·C)
        else:
            windows = window_view(x, (n, c, h_out, kh, w_out, kw), (s[0], s[1], s[2] * sh, s[2], s[3] * sw, s[3]))
            windows = windows.transpose(3, 5, 0, 1, 2, 4)  # [i, j] is one position's (N, C, H_out, W_out)
        out = windows[0, 0].copy()
        previous = np.empty_like(out)  # the running maximum before this position (two buffers, swapped)
        # The smallest integer type that holds the largest offset: the offset passes are as many bytes narrower.
        offset_type = np.min_scalar_type((kh - 1) * w + kw - 1)
        offset = np.zeros(out.shape, offset_type)
        scaled = np.empty(out.shape, offset_type)  # better · (i·W + j)
        better = np.empty(out.shape, np.bool_)
        flag = better.view(np.uint8) if offset_type == np.uint8 else better  # 0/1, a product without a cast
        maximum, not_equal, multiply = np.maximum, np.not_equal, np.multiply
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    out, previous = previous, out
                    maximum(previous, windows[i, j], out=out)
                    not_equal(out, previous, out=better)
                    maximum(offset, multiply(flag, offset_type.type(i * w + j), out=scaled), out=offset)
        if planes:
            out = np.ascontiguousarray(out.reshape(h_out, w_out, n, c).transpose(2, 3, 0, 1))
            offset = offset.reshape(h_out, w_out, n, c).transpose(2, 3, 0, 1)
        d = self.__dict__  # plain attributes: Module.__setattr__ bookkeeping costs more than it is worth here
        d["_offset"] = offset
        d["input"] = x
        d["output"] = out
        d["grad_output"] = None  # set by the backward of this pass (engine.conv_inspect reads it)
        return out

    @property
    def indices(self) -> np.ndarray:
        """(N, C, H_out, W_out) flat index within each H×W plane of every window's maximum (torch's convention)."""
        if self._offset is None:
            raise ValueError(f"{self._where}: indices exist after a forward pass; expected a forward pass first")
        h, w = self.input.shape[2:]
        return self._window_base(self.input.shape) % (h * w) + self._offset

    def _window_base(self, input_shape) -> np.ndarray:
        """(N, C, H_out, W_out) flat index into the whole input of each window's top-left pixel (cached)."""
        shape, base = self._base
        if shape != input_shape:
            n, c, h, w = input_shape
            _, _, h_out, w_out = self._output_shape(input_shape)
            planes = (np.arange(n * c) * (h * w)).reshape(n, c, 1, 1)
            base = planes + (np.arange(h_out) * (self._stride[0] * w))[:, None] + np.arange(w_out) * self._stride[1]
            self.__dict__["_base"] = (input_shape, base)
        return base

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """``grad_output`` (N, C, H_out, W_out) → grad_input (N, C, H, W), routed to each window's winner."""
        g = _check_grad(self._where, grad_output, self.output)
        self.__dict__["grad_output"] = g
        return self._route(g)

    def backward_with(self, previous: Module, grad_output: np.ndarray) -> np.ndarray | None:
        """The backward of ``previous`` and then of this pool in one, when ``previous`` is the ReLU whose output
        this pool read: dL/d(the ReLU's input) (N, C, H, W), else None (run the two backwards one by one).

        Sequential's backward asks. ReLU passes a gradient where its input z > 0, and the pool sends each window's
        gradient to its winner, whose ReLU output max(z, 0) is the window's output: so z > 0 at the winner exactly
        when the pool's output is > 0. Masking the small (N, C, H_out, W_out) gradient before routing it gives
        the same numbers, bit for bit, as ReLU's backward over the whole (N, C, H, W) array after the pool's."""
        if previous.__class__ is not ReLU or previous.__dict__.get("output") is not self.input:
            return None
        g = _check_grad(self._where, grad_output, self.output)
        self.__dict__["grad_output"] = g
        return self._route(g * (self.output > 0))

    def _route(self, g: np.ndarray) -> np.ndarray:
        """``g`` (N, C, H_out, W_out) sent to each window's winner: (N, C, H, W), zeros elsewhere."""
        shape = self.input.shape
        winners = (self._window_base(shape) + self._offset).ravel()
        if self._stride[0] >= self._kernel[0] and self._stride[1] >= self._kernel[1]:
            # Windows that do not overlap have distinct winners: each gradient is written once, in place.
            grad_input = np.zeros(self.input.size, g.dtype)
            grad_input[winners] = g.ravel()
            return grad_input.reshape(shape)
        # bincount sums repeated indices, so overlapping windows (stride < kernel) accumulate.
        grad_input = np.bincount(winners, weights=g.ravel(), minlength=self.input.size)
        return grad_input.reshape(shape).astype(g.dtype, copy=False)


class AvgPool2d(_Pool2d):
    """Mean over each ``kH × kW`` window: ``(N, C, H, W)`` → ``(N, C, H_out, W_out)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` (N, C, H, W) → (N, C, H_out, W_out)."""
        n, c, h_out, w_out = self._check_input(x)
        (kh, kw), (sh, sw) = self._kernel, self._stride
        span_h, span_w = self._spans(h_out, w_out)
        row_sum = x[..., 0:span_w:sw].copy()
        for j in range(1, kw):
            row_sum += x[..., j:j + span_w:sw]
        out = row_sum[:, :, 0:span_h:sh].copy()
        for i in range(1, kh):
            out += row_sum[:, :, i:i + span_h:sh]
        out *= 1.0 / (kh * kw)
        d = self.__dict__  # plain attributes: Module.__setattr__ bookkeeping costs more than it is worth here
        d["input"] = x
        d["output"] = out
        d["grad_output"] = None  # set by the backward of this pass (engine.conv_inspect reads it)
        return out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """``grad_output`` (N, C, H_out, W_out) → grad_input (N, C, H, W): each window shares its gradient evenly."""
        g = _check_grad(self._where, grad_output, self.output)
        self.__dict__["grad_output"] = g
        n, c, h, w = self.input.shape
        h_out, w_out = g.shape[2:]
        (kh, kw), (sh, sw) = self._kernel, self._stride
        span_h, span_w = self._spans(h_out, w_out)
        share = g * (1.0 / (kh * kw))
        grad_rows = np.zeros((n, c, h, w_out), g.dtype)
        for i in range(kh):
            grad_rows[:, :, i:i + span_h:sh] += share
        grad_input = np.zeros((n, c, h, w), g.dtype)
        for j in range(kw):
            grad_input[..., j:j + span_w:sw] += grad_rows
        return grad_input
