"""Finite-difference gradient checking, a first-class tool (as in early tinygrad).

``gradcheck_module`` compares a module's backward pass with central differences of a random
linear functional ``L = sum(forward(x) * g)``: for every input element and every parameter
element, dL/dθ ≈ (L(θ+h) − L(θ−h)) / 2h. Run in float64.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_grad(f: Callable[[], float], array: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of scalar ``f()`` w.r.t. ``array``, perturbed in place."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat = array.reshape(-1)  # a view: perturbing it perturbs ``array``
    g = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        g[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max |a − n| / max(|a|, |n|, 1e-8) over all elements — scale-free, as in CS231n."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-8)
    return float(np.max(np.abs(analytic - numeric) / scale)) if analytic.size else 0.0


def gradcheck_module(module, *inputs: np.ndarray, seed: int = 0, h: float = 1e-6,
                     forward: Callable | None = None, backward: Callable | None = None) -> dict[str, float]:
    """Relative error of ``module.backward`` against finite differences, per input and parameter.

    ``forward(*inputs)`` defaults to ``module(*inputs)``, ``backward(grad_out)`` to ``module.backward``;
    pass them for modules with several outputs (e.g. an RNN's ``(output, h_n)``). Returns
    ``{"input0": err, ..., "<param name>": err}``. Stochastic modules (dropout) must be checked with
    their mask fixed by the caller.
    """
    rng = np.random.default_rng(seed)
    forward = forward or (lambda *xs: module(*xs))
    backward = backward or module.backward
    out = forward(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    weights = tuple(rng.standard_normal(o.shape) for o in outs)

    def loss() -> float:
        o = forward(*inputs)
        o = o if isinstance(o, tuple) else (o,)
        return float(sum(np.sum(a * w) for a, w in zip(o, weights)))

    module.zero_grad()
    forward(*inputs)
    grads_in = backward(*weights) if len(weights) > 1 else backward(weights[0])
    grads_in = grads_in if isinstance(grads_in, tuple) else (grads_in,)
    analytic_params = {name: p.grad.copy() for name, p in module.named_parameters()}

    errors: dict[str, float] = {}
    for i, x in enumerate(inputs):
        if grads_in[i] is None:
            continue
        errors[f"input{i}"] = relative_error(grads_in[i], numerical_grad(loss, x, h))
    for name, p in module.named_parameters():
        errors[name] = relative_error(analytic_params[name], numerical_grad(loss, p.data, h))
    return errors


def gradcheck_loss(loss_fn, pred: np.ndarray, target: np.ndarray, h: float = 1e-6) -> float:
    """Relative error of ``loss_fn.backward()`` (dLoss/dpred) against finite differences."""
    loss_fn(pred, target)
    analytic = loss_fn.backward()
    numeric = numerical_grad(lambda: float(loss_fn(pred, target)), pred, h)
    return relative_error(analytic, numeric)
