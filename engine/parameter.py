"""Parameters, and the flat buffer an optimizer updates in one operation.

A ``Parameter`` holds ``.data`` and ``.grad`` numpy arrays of the same shape and dtype.
Layers read ``p.data`` and accumulate into ``p.grad`` *in place* (``p.grad += ...``), never
rebinding either attribute, so that ``flatten_parameters`` can turn them into views of one
contiguous buffer: an optimizer step is then a handful of numpy operations over every weight
at once, whatever the number of layers.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

DEFAULT_DTYPE = np.float64
ALLOWED_DTYPES = (np.float32, np.float64)


def check_dtype(dtype, where: str) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise a ValueError naming ``where``."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise ValueError(f"{where}: dtype must be float32 or float64, got {dtype!r}") from error
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{where}: dtype must be float32 or float64, got {resolved}")
    return resolved


class Parameter:
    """A trainable array and its gradient, as ``torch.nn.Parameter`` (``.data``, ``.grad``)."""

    __slots__ = ("data", "grad", "__weakref__")

    def __init__(self, data: np.ndarray):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class FlatParameters:
    """One contiguous ``data`` and ``grad`` buffer shared by a list of parameters.

    After construction every ``p.data`` / ``p.grad`` is a reshaped view into ``self.data`` /
    ``self.grad`` at ``self.slices[i]``; values are preserved. Parameters of mixed dtype are
    promoted to the widest one (they never are in practice: a model has one dtype).
    """

    def __init__(self, params: Iterable[Parameter]):
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ValueError("optimizer: got an empty parameter list; expected at least one Parameter")
        for p in self.params:
            if not isinstance(p, Parameter):
                raise ValueError(f"optimizer: params must be Parameters, got {type(p).__name__}")
        dtype = np.result_type(*[p.data.dtype for p in self.params])
        sizes = [p.data.size for p in self.params]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.slices = [slice(int(offsets[i]), int(offsets[i + 1])) for i in range(len(sizes))]
        self.data = np.empty(int(offsets[-1]), dtype=dtype)
        self.grad = np.empty(int(offsets[-1]), dtype=dtype)
        for p, s in zip(self.params, self.slices):
            shape = p.data.shape
            self.data[s] = p.data.ravel()
            self.grad[s] = p.grad.ravel()
            p.data = self.data[s].reshape(shape)
            p.grad = self.grad[s].reshape(shape)

    def is_intact(self) -> bool:
        """True while every parameter still views this buffer (nobody rebound ``.data``/``.grad``)."""
        return all(
            p.data.base is self.data or np.shares_memory(p.data, self.data)
            for p in self.params
        ) and all(np.shares_memory(p.grad, self.grad) for p in self.params)

    def index_of(self, param: Parameter) -> int:
        for i, p in enumerate(self.params):
            if p is param:
                return i
        raise KeyError("parameter is not managed by this buffer")
