"""Input checks shared by layers: every user-causable error is a ValueError naming the layer,
what it got and what it expects."""

from __future__ import annotations

import numbers

import numpy as np


# From this many values on, one BLAS dot product of x with itself proves finiteness faster than testing value by
# value (a NaN or an infinity makes it non-finite); below it (a CNN's batch of images, an MLP's activations) the
# value-by-value test is faster, with the data in cache or not (measured, float32 and float64).
DOT_PRODUCT_FROM = 1 << 17


def all_finite(x: np.ndarray) -> bool:
    """Whether every value of the float array ``x`` is finite. Large contiguous arrays: a dot product of ``x`` with
    itself, and only a non-finite result (a bad value, or finite values whose squares overflow) takes the
    value-by-value check."""
    if x.size >= DOT_PRODUCT_FROM and x.flags.c_contiguous:
        flat = x.reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            square_sum = np.dot(flat, flat)
        if np.isfinite(square_sum):
            return True
    return bool(np.logical_and.reduce(np.isfinite(x), axis=None))


def positive_int(where: str, field: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {field} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def pair(where: str, field: str, value, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (as torch's ``kernel_size=3`` or ``(3, 2)``)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{where}: {field} must be an int or a pair of ints, got {value!r}")
        return (positive_int(where, field, value[0], minimum), positive_int(where, field, value[1], minimum))
    v = positive_int(where, field, value, minimum)
    return (v, v)


def probability(where: str, field: str, value, allow_one: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or value > 1 or (value == 1 and not allow_one):
        upper = "1]" if allow_one else "1)"
        raise ValueError(f"{where}: {field} must be a number in [0, {upper}, got {value!r}")
    return float(value)


def real(where: str, field: str, value, low=-np.inf, high=np.inf, low_open=False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{where}: {field} must be a finite number in {bracket}{low}, {high}], got {value!r}")
    return float(value)


def array(where: str, x, ndim: int | tuple[int, ...], last_dim: int | None = None,
          name: str = "input", dtype=None, layout: str | None = None, finite: bool = True) -> np.ndarray:
    """Check a floating input array: its type, number of dimensions, trailing size and (unless ``finite`` is
    False) finiteness. Layers inside a Sequential pass False: the model's input is checked once, and a diverging
    network's inf activations reach the loss; ``Module.__call__`` checks a layer called on its own.

    ``layout`` is a human name of the expected shape, e.g. ``"(N, C, H, W)"``, used in messages.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{where}: {name} must be a numpy array, got {type(x).__name__}")
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    shape_text = layout or " or ".join(f"{d}-D" for d in ndims)
    if x.ndim not in ndims:
        raise ValueError(f"{where}: {name} has shape {x.shape}; expected {shape_text}")
    if x.dtype.kind != "f":
        raise ValueError(f"{where}: {name} has dtype {x.dtype}; expected float32 or float64")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{where}: {name} has dtype {x.dtype}; expected {np.dtype(dtype)} (the module's dtype)")
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(f"{where}: {name} has shape {x.shape}; expected last dimension {last_dim} {shape_text}")
    if any(s == 0 for s in x.shape):
        raise ValueError(f"{where}: {name} has shape {x.shape}; expected no empty dimension")
    if finite and not all_finite(x):
        raise ValueError(f"{where}: {name} contains NaN or infinite values; expected finite numbers")
    return x
