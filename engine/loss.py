"""Losses, as torch.nn: ``loss = fn(pred, target)`` returns a float, ``fn.backward()`` returns dLoss/dpred.

MSELoss:  mean (or sum) of (pred − target)²; dL/dpred = 2(pred − target) / N_elements (or without /N).
          3Blue1Brown's "cost" is the sum of squares: ``MSELoss("sum")``.
CrossEntropyLoss: −mean_n log softmax(z_n)[y_n] on logits, computed as z_y − logsumexp(z) with the row max
          subtracted first, so logits of 1000 neither overflow nor lose the answer;
          dL/dz = (softmax(z) − onehot(y)) / N.

A target is data (checked: shape, dtype, finiteness, class range); a non-finite ``pred`` is a diverged
network, not a user error, and yields a non-finite loss as torch would.
"""

from __future__ import annotations

import math

import numpy as np

_REDUCTIONS = ("mean", "sum")
_SMALLEST_TOTAL = 1e-280  # Σ e^(z − m) below this has lost digits to underflow: shift by each row's max


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
    """``CrossEntropyLoss(reduction="mean" | "sum")``: logits ``(N, C)``, integer class targets ``(N,)`` in
    [0, C). ``self.probs`` (N, C): the softmax probabilities of the last call."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction("CrossEntropyLoss", reduction)

    def __call__(self, logits: np.ndarray, target: np.ndarray) -> float:
        return self.forward(logits, target)

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        if (logits.__class__ is not np.ndarray or target.__class__ is not np.ndarray or logits.ndim != 2
                or logits.dtype.kind != "f" or target.shape != logits.shape[:1] or target.dtype.kind not in "iu"
                or logits.size == 0):
            self._reject(logits, target)
        n, c = logits.shape
        low, high = np.minimum.reduce(target), np.maximum.reduce(target)
        if low < 0 or high >= c:
            raise ValueError(f"CrossEntropyLoss: target holds classes {int(low)}..{int(high)}; "
                             f"expected classes in [0, {c - 1}] for {c} logits")
        # log p_y = (z_y − m) − log Σ e^(z − m) for any shift m. One shift for the whole batch (its largest
        # logit) is a whole-array pass; per-row maxima reduce and broadcast along short rows, several times
        # slower. A row far below the batch's largest logit (by ~700) would underflow to Σ = 0: then, and for
        # non-finite logits, the per-row maxima are used.
        # (ufunc reductions directly: .max()/.sum() add a Python wrapper per call, which shows at small batches)
        shift = np.maximum.reduce(logits, axis=None)
        exp = np.subtract(logits, shift)
        np.exp(exp, out=exp)
        total = np.dot(exp, np.ones(c, dtype=exp.dtype))  # row sums as a matrix-vector product: no short-row loop
        rows = np.arange(n)
        if not total.min() > _SMALLEST_TOTAL:
            shift = np.maximum.reduce(logits, axis=1, keepdims=True)
            np.exp(np.subtract(logits, shift, out=exp), out=exp)
            total = np.add.reduce(exp, axis=1)
            shift = shift[:, 0]
        loss = float(np.log(total).sum() - np.add.reduce(logits[rows, target] - shift))
        if self.reduction == "mean":
            loss /= n
        # e^(z − m) and 1/Σ kept apart: backward scales them in one pass, where normalising here would take two
        self.logits, self.target, self._exp, self._inverse_total, self._rows = logits, target, exp, 1.0 / total, rows
        self._probs = None
        return loss

    @property
    def probs(self) -> np.ndarray:
        """The softmax probabilities (N, C) of the last call."""
        if self._probs is None:
            self._probs = self._exp * self._inverse_total[:, None]
        return self._probs

    def _reject(self, logits, target) -> None:
        if not isinstance(logits, np.ndarray) or logits.ndim != 2 or logits.dtype.kind != "f" or logits.size == 0:
            got = (f"shape {logits.shape} and dtype {logits.dtype}" if isinstance(logits, np.ndarray)
                   else f"a {type(logits).__name__}")
            raise ValueError(f"CrossEntropyLoss: logits have {got}; expected a float array (N, C) with N, C ≥ 1")
        if not isinstance(target, np.ndarray) or target.dtype.kind not in "iu":
            got = f"dtype {target.dtype}" if isinstance(target, np.ndarray) else f"a {type(target).__name__}"
            raise ValueError(f"CrossEntropyLoss: target has {got}; expected integer class indices (N,)")
        raise ValueError(f"CrossEntropyLoss: target has shape {target.shape}; expected ({logits.shape[0]},) "
                         f"to match logits {logits.shape}")

    def backward(self) -> np.ndarray:
        """dLoss/dlogits (N, C) = (softmax − onehot) / N (without /N for "sum")."""
        scale = 1.0 / len(self.target) if self.reduction == "mean" else 1.0
        grad = self._exp * (self._inverse_total * scale)[:, None]
        grad[self._rows, self.target] -= scale
        return grad

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(reduction={self.reduction!r})"
