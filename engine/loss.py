"""Losses, as torch.nn: ``loss = fn(pred, target)`` returns a float, ``fn.backward()`` returns dLoss/dpred.

MSELoss:  mean (or sum) of (pred − target)²; dL/dpred = 2(pred − target) / N_elements (or without /N).
          3Blue1Brown's "cost" is the sum of squares: ``MSELoss("sum")``.
CrossEntropyLoss: −mean_n log softmax(z_n)[y_n] on logits (N, C), or over every position of (N, C, d1, …), computed
          as z_y − logsumexp(z) with large logits shifted first, so logits of 1000 neither overflow nor lose the
          answer; dL/dz = (softmax(z) − onehot(y)) / N (N: every position).

A target is data (checked: shape, dtype, finiteness, class range); a non-finite ``pred`` is a diverged
network, not a user error, and yields a non-finite loss as torch would.
"""

from __future__ import annotations

import math

import numpy as np

_REDUCTIONS = ("mean", "sum")
# Per float dtype: (a) logits all below this, Σ e^z cannot overflow (float64: for fewer than e^109 classes, float32:
# e^28), so no shift is needed; (b) Σ e^(z − m) below this has lost digits to underflow: shift by each row's max
_NO_SHIFT_BELOW = {np.dtype(np.float64): 600.0, np.dtype(np.float32): 60.0}
_SMALLEST_TOTAL = {np.dtype(np.float64): 1e-280, np.dtype(np.float32): 1e-30}


def _check_reduction(where: str, reduction) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {list(_REDUCTIONS)}, got {reduction!r}")
    return reduction


class MSELoss:
    """``MSELoss(reduction="mean" | "sum")``: ``pred`` and ``target`` of the same shape and float dtype."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction("MSELoss", reduction)

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        if (pred.__class__ is not np.ndarray or target.__class__ is not np.ndarray or pred.shape != target.shape
                or pred.dtype != target.dtype or pred.dtype.kind != "f" or pred.size == 0):
            self._reject(pred, target)
        diff = pred - target
        flat = diff.reshape(-1)
        loss = float(np.dot(flat, flat))
        if self.reduction == "mean":
            loss /= diff.size
        if not math.isfinite(loss) and not np.isfinite(target).all():
            raise ValueError("MSELoss: target contains NaN or infinite values; expected finite numbers")
        self.pred, self.target, self.diff = pred, target, diff
        return loss

    def _reject(self, pred, target) -> None:
        for name, a in (("pred", pred), ("target", target)):
            if not isinstance(a, np.ndarray):
                raise ValueError(f"MSELoss: {name} must be a numpy array, got {type(a).__name__}")
            if a.dtype.kind != "f":
                raise ValueError(f"MSELoss: {name} has dtype {a.dtype}; expected float32 or float64")
        if pred.shape != target.shape:
            raise ValueError(f"MSELoss: target has shape {target.shape}; expected pred's shape {pred.shape}")
        if pred.dtype != target.dtype:
            raise ValueError(f"MSELoss: target has dtype {target.dtype}; expected pred's dtype {pred.dtype}")
        raise ValueError(f"MSELoss: pred has shape {pred.shape}; expected at least one element")

    def backward(self) -> np.ndarray:
        """dLoss/dpred, shaped like ``pred``."""
        scale = 2.0 / self.diff.size if self.reduction == "mean" else 2.0
        return self.diff * scale

    def __repr__(self) -> str:
        return f"MSELoss(reduction={self.reduction!r})"


class CrossEntropyLoss:
    """``CrossEntropyLoss(reduction="mean" | "sum")``, as torch: logits ``(N, C)`` with integer class targets
    ``(N,)`` in [0, C), or logits ``(N, C, d1, …)`` with targets ``(N, d1, …)`` (a class score per position, e.g.
    a sequence model's ``(N, C, L)``: ``loss(logits.transpose(0, 2, 1), target)``), the mean over every
    position. Any memory layout: the sums over classes follow it. ``self.probs``: the softmax probabilities of
    the last call, shaped like the logits."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction("CrossEntropyLoss", reduction)

    def __call__(self, logits: np.ndarray, target: np.ndarray) -> float:
        return self.forward(logits, target)

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        if (logits.__class__ is not np.ndarray or target.__class__ is not np.ndarray or logits.ndim < 2
                or logits.dtype.kind != "f" or target.dtype.kind not in "iu" or logits.size == 0
                or target.shape != (logits.shape[:1] if logits.ndim == 2 else logits.shape[:1] + logits.shape[2:])):
            self._reject(logits, target)
        c = logits.shape[1]
        low, high = np.minimum.reduce(target, axis=None), np.maximum.reduce(target, axis=None)
        if low < 0 or high >= c:
            raise ValueError(f"CrossEntropyLoss: target holds classes {int(low)}..{int(high)}; "
                             f"expected classes in [0, {c - 1}] for {c} logits")
        # each position's target logit: logits[n, y_n] (logits[n, y_n…, d…] with extra dimensions)
        if logits.ndim == 2:
            picked = (np.arange(len(target)), target)
        else:
            picked = tuple(np.arange(size).reshape((-1,) + (1,) * (target.ndim - 1 - k))
                           for k, size in enumerate(target.shape))
            picked = picked[:1] + (target,) + picked[1:]
        # log p_y = (z_y − m) − log Σ e^(z − m) for any shift m. One shift for the whole batch: with every logit
        # below _NO_SHIFT_BELOW (600; 60 in float32) no sum can overflow, so m = 0 (no pass at all), else the
        # batch's largest logit (a whole-array pass; per-row maxima reduce and broadcast along short rows, several
        # times slower). A row whose Σ underflows (all its logits far below m: ~650 in float64, ~70 in float32),
        # and non-finite logits, take the per-row maxima instead.
        # (ufunc reductions directly: .max()/.sum() add a Python wrapper per call, which shows at small batches)
        shift = np.maximum.reduce(logits, axis=None)
        if shift < _NO_SHIFT_BELOW.get(logits.dtype, -math.inf):
            shift = 0.0
            exp = np.exp(logits)
        else:
            exp = np.subtract(logits, shift)
            np.exp(exp, out=exp)
        total = _class_sums(exp)
        if not total.min() > _SMALLEST_TOTAL.get(logits.dtype, 1e-280):
            shift = np.maximum.reduce(logits, axis=1, keepdims=True)
            np.exp(np.subtract(logits, shift, out=exp), out=exp)
            total = np.add.reduce(exp, axis=1)
            shift = shift.squeeze(1)
        loss = float(np.add.reduce(np.log(total), axis=None) - np.add.reduce(logits[picked] - shift, axis=None))
        if self.reduction == "mean":
            loss /= target.size
        # e^(z − m) and 1/Σ kept apart: backward scales them in one pass, where normalising here would take two
        self.logits, self.target, self._exp, self._inverse_total, self._picked = logits, target, exp, 1.0 / total, picked
        self._probs = None
        return loss

    @property
    def probs(self) -> np.ndarray:
        """The softmax probabilities of the last call, shaped like its logits."""
        if self._probs is None:
            self._probs = self._exp * _class_axis(self._inverse_total)
        return self._probs

    def _reject(self, logits, target) -> None:
        if not isinstance(logits, np.ndarray) or logits.ndim < 2 or logits.dtype.kind != "f" or logits.size == 0:
            got = (f"shape {logits.shape} and dtype {logits.dtype}" if isinstance(logits, np.ndarray)
                   else f"a {type(logits).__name__}")
            raise ValueError(f"CrossEntropyLoss: logits have {got}; expected a float array (N, C) with N, C ≥ 1, "
                             "or (N, C, d1, …)")
        if not isinstance(target, np.ndarray) or target.dtype.kind not in "iu":
            got = f"dtype {target.dtype}" if isinstance(target, np.ndarray) else f"a {type(target).__name__}"
            raise ValueError(f"CrossEntropyLoss: target has {got}; expected integer class indices (N,)")
        expected = logits.shape[:1] + logits.shape[2:]
        raise ValueError(f"CrossEntropyLoss: target has shape {target.shape}; expected {expected} "
                         f"to match logits {logits.shape}")

    def backward(self) -> np.ndarray:
        """dLoss/dlogits, shaped (and laid out in memory) like the logits: (softmax − onehot) / positions
        (without the division for "sum")."""
        target = self.target
        scale = 1.0 / target.size if self.reduction == "mean" else 1.0
        inverse = self._inverse_total * scale
        grad = self._exp * (inverse[:, None] if target.ndim == 1 else _class_axis(inverse))
        grad[self._picked] -= scale
        return grad

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(reduction={self.reduction!r})"


def _class_axis(a: np.ndarray) -> np.ndarray:
    """``(N, d1, …) -> (N, 1, d1, …)``: a value per position, broadcast over the classes."""
    return a.reshape(a.shape[:1] + (1,) + a.shape[1:])


def _class_sums(exp: np.ndarray) -> np.ndarray:
    """Σ over the class axis (1) as a matrix-vector product in the array's own memory order: a reduction along
    many short rows, or along a middle axis, is several times slower."""
    ones = np.ones(exp.shape[1], dtype=exp.dtype)
    if exp.ndim == 2:
        return np.dot(exp, ones)  # BLAS reads either memory order
    axes = sorted(range(exp.ndim), key=lambda axis: -exp.strides[axis])  # outermost in memory first
    view = exp.transpose(axes)
    if axes[-1] == 1 and view.flags.c_contiguous:  # classes innermost: one product over every position
        sums = np.dot(view.reshape(-1, exp.shape[1]), ones).reshape(view.shape[:-1])
    elif axes[-1] == 1:
        sums = np.matmul(view, ones)
    elif axes[-2] == 1:
        sums = np.matmul(ones, view)
    else:
        return np.add.reduce(exp, axis=1)
    rest = [axis for axis in axes if axis != 1]  # the axes of sums, in memory order: back to the targets' order
    return sums.transpose(sorted(range(len(rest)), key=rest.__getitem__))
