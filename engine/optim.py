"""Optimizers with torch.optim's update rules, over one flat parameter buffer; gradient clipping.

An optimizer flattens its parameters into ``engine.parameter.FlatParameters`` (every ``p.data``/``p.grad``
becomes a view of one contiguous array), so a step is a few numpy operations over every weight at once.
Hyperparameters live in ``param_groups[0]`` as in torch and are also plain attributes (``opt.lr = 0.1``),
read afresh at every step, so the page can change them between any two steps. Build the optimizer after
``model.to(dtype)`` (which rebinds every array); after surgery, ``set_params`` re-flattens.

SGD (torch.optim.SGD), with g = grad + weight_decay·w:
    buf = g                                   on the first step with momentum,
    buf = momentum·buf + (1 − dampening)·g    afterwards;
    g   = g + momentum·buf  (nesterov)  or  g = buf;       w −= lr·g
Adam (torch.optim.Adam, amsgrad=False), step t = 1, 2, ...:
    m = β1·m + (1 − β1)·g,  v = β2·v + (1 − β2)·g²
    w −= lr / (1 − β1^t) · m / (√v / √(1 − β2^t) + eps)
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from . import _checks
from .parameter import FlatParameters, Parameter


class _Hyperparameter:
    """An attribute stored in ``param_groups[0][name]``, validated on assignment."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, optimizer, owner=None):
        return self if optimizer is None else optimizer.param_groups[0][self.name]

    def __set__(self, optimizer, value):
        optimizer.param_groups[0][self.name] = optimizer._validate(self.name, value)


class Optimizer:
    """Base: owns the flat buffer and per-parameter state arrays (each the size of the flat buffer)."""

    state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Parameter], defaults: dict):
        self.flat = FlatParameters(params)
        self.param_groups = [{"params": self.flat.params}]
        for name, value in defaults.items():
            setattr(self, name, value)
        self.state: dict[str, np.ndarray | None] = {name: None for name in self.state_names}

    def _validate(self, name: str, value):
        return _checks.real(type(self).__name__, name, value, low=0.0)

    @property
    def params(self) -> list[Parameter]:
        return self.flat.params

    def zero_grad(self) -> None:
        """Set every gradient to zero in one operation over the flat buffer."""
        self.flat.grad.fill(0.0)

    def step(self) -> None:
        raise NotImplementedError

    # --- state for surgery and views
    def state_of(self, param: Parameter) -> dict[str, np.ndarray]:
        """Copies of ``param``'s optimizer state, each shaped like the parameter (zeros before any step)."""
        s = self.flat.slices[self.flat.index_of(param)]
        out = {}
        for name, buffer in self.state.items():
            values = np.zeros(param.data.shape, self.flat.data.dtype) if buffer is None else buffer[s]
            out[name] = values.reshape(param.data.shape).copy()
        return out

    def set_params(self, params: Iterable[Parameter], states: dict | None = None) -> None:
        """Manage ``params`` from now on (e.g. after surgery resized some of them), carrying state.

        ``states`` maps a Parameter (or its ``id``) to ``{state name: array shaped like it}``. A parameter
        absent from ``states`` keeps its current state if this optimizer managed it, else starts at zero.
        Parameter values are kept bit-for-bit (the new flat buffer copies them).
        """
        states = states or {}
        params = list(params)
        old = {id(p): self.state_of(p) for p in self.flat.params}
        self.flat = FlatParameters(params)
        self.param_groups[0]["params"] = self.flat.params
        started = {name: buffer is not None for name, buffer in self.state.items()}
        for name in self.state:
            if not started[name]:
                continue
            buffer = np.zeros_like(self.flat.data)
            for p, s in zip(self.flat.params, self.flat.slices):
                given = states.get(p, states.get(id(p), old.get(id(p))))
                if given is not None and name in given:
                    values = np.asarray(given[name])
                    if values.shape != p.data.shape:
                        raise ValueError(f"{type(self).__name__}.set_params: state {name!r} has shape "
                                         f"{values.shape}; expected the parameter's shape {p.data.shape}")
                    buffer[s] = values.reshape(-1)
            self.state[name] = buffer

    def __repr__(self) -> str:
        group = ", ".join(f"{k}={v}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({group})"


class SGD(Optimizer):
    """``SGD(params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)``."""

    state_names = ("momentum_buffer",)
    lr = _Hyperparameter()
    momentum = _Hyperparameter()
    dampening = _Hyperparameter()
    weight_decay = _Hyperparameter()
    nesterov = _Hyperparameter()

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum={momentum}, "
                             f"dampening={dampening}")

    def _validate(self, name, value):
        if name == "nesterov":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"SGD: nesterov must be True or False, got {value!r}")
            return bool(value)
        return super()._validate(name, value)

    def step(self) -> None:
        group = self.param_groups[0]
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        w, g = self.flat.data, self.flat.grad
        if weight_decay:
            g = g + weight_decay * w  # a new array: p.grad stays what backward computed
        if momentum:
            buf = self.state["momentum_buffer"]
            if buf is None:
                buf = self.state["momentum_buffer"] = g.copy()
            else:
                buf *= momentum
                dampening = group["dampening"]
                buf += g if dampening == 0 else (1.0 - dampening) * g
            g = g + momentum * buf if group["nesterov"] else buf
        w -= lr * g


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)``.

    ``step_count`` is t, shared by every entry (a parameter added by surgery joins at the current t, with
    zero moments); ``state_of`` gives "exp_avg" and "exp_avg_sq".
    """

    state_names = ("exp_avg", "exp_avg_sq")
    lr = _Hyperparameter()
    betas = _Hyperparameter()
    eps = _Hyperparameter()
    weight_decay = _Hyperparameter()

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self.step_count = 0
        self._scratch = None
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.state = {"exp_avg": np.zeros_like(self.flat.data), "exp_avg_sq": np.zeros_like(self.flat.data)}

    def _validate(self, name, value):
        if name == "betas":
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise ValueError(f"Adam: betas must be a pair of numbers in [0, 1), got {value!r}")
            betas = tuple(_checks.real("Adam", "betas", b, low=0.0, high=1.0) for b in value)
            if max(betas) >= 1.0:
                raise ValueError(f"Adam: betas must be a pair of numbers in [0, 1), got {value!r}")
            return betas
        value = super()._validate(name, value)
        if name == "eps" and value == 0:
            raise ValueError("Adam: eps must be > 0, got 0")
        return value

    def step(self) -> None:
        group = self.param_groups[0]
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        w, g = self.flat.data, self.flat.grad
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        if weight_decay:
            g = g + weight_decay * w
        self.step_count += 1
        t = self.step_count
        # one scratch array for every intermediate, reused from step to step: fresh temporaries of the buffer's
        # size would each be new memory to fault in and pull through the cache
        scratch = self._scratch
        if scratch is None or scratch.shape != w.shape:
            scratch = self._scratch = np.empty_like(w)
        # m.lerp_(g, 1 − β1) as torch writes it (same rounding as torch, not just the same maths)
        weight = 1.0 - beta1
        if weight < 0.5:
            step = np.subtract(g, m, out=scratch)
            step *= weight
            m += step
        else:
            m -= g
            m *= 1.0 - weight
            m += g
        v *= beta2
        square = np.multiply(g, 1.0 - beta2, out=scratch)  # v.addcmul_(g, g, value=1 − β2): (value·g)·g as torch
        square *= g
        v += square
        denom = np.sqrt(v, out=scratch)
        denom /= math.sqrt(1.0 - beta2 ** t)
        denom += eps
        update = np.divide(m, denom, out=scratch)
        update *= lr / (1.0 - beta1 ** t)
        w -= update


def _grads(params) -> list[np.ndarray]:
    grads = [p.grad for p in params]
    for i, p in enumerate(grads):
        if not isinstance(p, np.ndarray):
            raise ValueError(f"clip_grad: params[{i}] has no gradient array")
    return grads


def _one_buffer(grads: list[np.ndarray]) -> np.ndarray | None:
    """The flat buffer every gradient views, when they tile one exactly (an optimizer's), else None."""
    base = grads[0].base if grads else None
    if base is None or base.ndim != 1 or sum(g.size for g in grads) != base.size:
        return None
    return base if all(g.base is base for g in grads) else None


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale every gradient in place by max_norm/(total + 1e-6) if that is < 1, as torch; return the total
    norm (over all gradients together, before clipping). ``norm_type`` 2 or inf."""
    max_norm = _checks.real("clip_grad_norm_", "max_norm", max_norm, low=0.0)
    if norm_type not in (2, 2.0, math.inf):
        raise ValueError(f"clip_grad_norm_: norm_type must be 2 or inf, got {norm_type!r}")
    grads = _grads([params] if isinstance(params, Parameter) else list(params))
    if not grads:
        return 0.0
    flat = _one_buffer(grads)
    parts = [flat] if flat is not None else [g.reshape(-1) for g in grads]
    if norm_type == math.inf:
        total = max(float(np.abs(part).max()) for part in parts)
    else:
        total = math.sqrt(sum(float(np.dot(part, part)) for part in parts))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for part in parts:
            part *= coef
    return total


def clip_grad_value_(params, clip_value: float) -> None:
    """Clamp every gradient element to [−clip_value, clip_value], in place."""
    clip_value = _checks.real("clip_grad_value_", "clip_value", clip_value, low=0.0)
    grads = _grads([params] if isinstance(params, Parameter) else list(params))
    flat = _one_buffer(grads)
    for part in [flat] if flat is not None else grads:
        np.clip(part, -clip_value, clip_value, out=part)
