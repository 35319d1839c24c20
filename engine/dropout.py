"""Dropout and Flatten, as torch.nn.

Dropout zeroes each element with probability ``p`` while training and scales the survivors by
1/(1 − p) ("inverted" dropout), so evaluation is the identity and needs no rescaling.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .module import Module
from .random import resolve_rng


class Dropout(Module):
    """``Dropout(p=0.5, *, rng=None)``: any shape in, same shape out. ``rng=None`` draws from the engine's
    default generator at each call, so ``manual_seed`` governs it as torch's does."""

    def __init__(self, p: float = 0.5, *, rng=None):
        super().__init__()
        self.p = _checks.probability("Dropout", "p", p, allow_one=True)
        self.rng = None if rng is None else resolve_rng(rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.__class__ is not np.ndarray or x.dtype.kind != "f":
            raise ValueError(f"{self!r}: input must be a float numpy array, got "
                             f"{getattr(x, 'dtype', type(x).__name__)}")
        d = self.__dict__
        d["input"] = x
        if not self.training or self.p == 0.0:
            d["mask"] = None
            d["output"] = x
            return x
        rng = self.rng or resolve_rng(None)
        keep = 1.0 - self.p
        # mask holds 0 or 1/(1-p): forward and backward are then one multiply each.
        mask = (rng.random(x.shape) < keep).astype(x.dtype)
        if keep > 0:
            mask *= 1.0 / keep
        d["mask"] = mask
        d["output"] = y = x * mask
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output if self.mask is None else grad_output * self.mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """``Flatten(start_dim=1, end_dim=-1)``: (N, C, H, W) → (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for field, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"Flatten: {field} must be an integer, got {value!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.__class__ is not np.ndarray:
            raise ValueError(f"{self!r}: input must be a numpy array, got {type(x).__name__}")
        start = self.start_dim % x.ndim if -x.ndim <= self.start_dim < x.ndim else None
        end = self.end_dim % x.ndim if -x.ndim <= self.end_dim < x.ndim else None
        if start is None or end is None or start > end:
            raise ValueError(f"{self!r}: input has shape {x.shape}; expected dimensions start_dim={self.start_dim} "
                             f"through end_dim={self.end_dim} to exist, in order")
        y = x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])
        d = self.__dict__
        d["input"] = x
        d["output"] = y
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output.reshape(self.input.shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
