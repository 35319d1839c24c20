"""L1 and L2 penalties: add the penalty's gradient into each ``p.grad`` and return the penalty's value.

    l1_: rate·Σ|w|,    d/dw = rate·sign(w)   (sign(0) = 0)
    l2_: rate/2·Σw²,   d/dw = rate·w          (the same step as SGD's weight_decay=rate)

Call after ``backward`` and before ``step``; the app applies them to weights only, not biases.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .parameter import Parameter


def _params(where: str, params) -> list[Parameter]:
    params = [params] if isinstance(params, Parameter) else list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise ValueError(f"{where}: params[{i}] must be a Parameter, got {type(p).__name__}")
    return params


def l1_(params, rate: float) -> float:
    """Add rate·sign(w) into every ``p.grad``; return rate·Σ|w| over all ``params``."""
    rate = _checks.real("l1_", "rate", rate, low=0.0)
    penalty = 0.0
    for p in _params("l1_", params):
        penalty += float(np.abs(p.data).sum())
        if rate:
            grad = p.grad
            grad += rate * np.sign(p.data)
    return rate * penalty


def l2_(params, rate: float) -> float:
    """Add rate·w into every ``p.grad``; return rate/2·Σw² over all ``params``."""
    rate = _checks.real("l2_", "rate", rate, low=0.0)
    penalty = 0.0
    for p in _params("l2_", params):
        flat = p.data.reshape(-1)
        penalty += float(np.dot(flat, flat))
        if rate:
            grad = p.grad
            grad += rate * p.data
    return 0.5 * rate * penalty
