"""Model builders: the playground's networks in one call."""

from __future__ import annotations

import numpy as np

from . import _checks
from .activations import activation_from_name
from .container import Sequential
from .dropout import Dropout
from .linear import Linear
from .parameter import check_dtype
from .random import resolve_rng


def mlp(sizes, activation: str = "tanh", output_activation: str | None = None, *, dropout: float = 0.0,
        init: str = "default", rng=None, dtype=np.float64) -> Sequential:
    """A multilayer perceptron: ``sizes`` like [2, 8, 8, 1] gives
    Linear(2, 8), act, [Dropout], Linear(8, 8), act, [Dropout], Linear(8, 1)[, output act].

    Input (N, sizes[0]) → output (N, sizes[-1]). ``activation`` and ``output_activation`` are names from
    ``engine.activations.ACTIVATIONS`` (``output_activation=None`` leaves the output linear, as the losses
    expect logits). Every weight is drawn, layer by layer, from ``rng`` (seed or Generator).
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ValueError(f"mlp: sizes must be a list of at least two layer widths, got {sizes!r}")
    widths = [_checks.positive_int("mlp", f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    activation_from_name(activation)  # fail before building anything
    if output_activation is not None:
        activation_from_name(output_activation)
    dropout = _checks.probability("mlp", "dropout", dropout)
    dtype = check_dtype(dtype, "mlp")
    dropout_rng = rng  # None stays None: the masks then follow manual_seed, as torch's do
    rng = resolve_rng(rng)
    modules = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        last = i == len(widths) - 2
        act = output_activation if last else activation
        modules.append(Linear(fan_in, fan_out, init=init, nonlinearity=_gain_name(act), rng=rng, dtype=dtype))
        if act is not None:
            modules.append(activation_from_name(act))
        if not last and dropout > 0:
            modules.append(Dropout(dropout, rng=dropout_rng))
    return Sequential(*modules)


def _gain_name(activation: str | None) -> str:
    """The name engine.init's gain table knows for an activation name (its aliases included)."""
    return "linear" if activation is None else activation_from_name(activation).name
