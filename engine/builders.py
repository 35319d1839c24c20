"""Model builders: the playground's networks in one call."""

from __future__ import annotations

import numpy as np

from . import _checks
from .activations import ACTIVATIONS, activation_from_name
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


def sequential(layers, input_shape, *, max_parameters: int | None = None, init: str = "default", rng=None,
               dtype=np.float64) -> Sequential:
    """A Sequential from layer specs, checked before any weight is drawn.

    ``layers`` is a list of dicts of torch's constructor arguments, e.g. ``{"type": "Conv2d", "out_channels": 8,
    "kernel_size": 5, "padding": 2}``, ``{"type": "ReLU"}``, ``{"type": "MaxPool2d", "kernel_size": 2}``,
    ``{"type": "Dropout", "p": 0.5}``, ``{"type": "Flatten"}``, ``{"type": "Linear", "out_features": 10}``
    (types: ``engine.summary.LAYER_TYPES``). ``in_channels`` / ``in_features`` may be left out: they are what comes
    in from the layer before (``input_shape`` is one sample's, ``(C, H, W)`` or ``(F,)``); given, they must match.
    ``engine.summary.summary`` runs first, so an architecture that cannot run, or one with more than
    ``max_parameters`` parameters, is refused with a ValueError naming the layer and the numbers, and nothing is
    allocated. Weights are drawn layer by layer from ``rng``; each layer's Xavier/He gain follows the activation
    right after it.
    """
    from .conv import AvgPool2d, Conv2d, MaxPool2d
    from .dropout import Flatten
    from .summary import summary

    table = summary(layers, input_shape, max_parameters=max_parameters)
    dtype = check_dtype(dtype, "sequential")
    dropout_rng = rng
    rng = resolve_rng(rng)
    shapes = [tuple(input_shape)] + [row.output_shape for row in table.rows]
    modules = []
    for index, spec in enumerate(layers):
        kind, shape = spec["type"], shapes[index]
        after = layers[index + 1]["type"] if index + 1 < len(layers) else None
        gain = next((cls.name for cls in ACTIVATIONS.values() if cls.__name__ == after), "linear")
        if kind == "Conv2d":
            modules.append(Conv2d(shape[0], spec["out_channels"], spec["kernel_size"], spec.get("stride", 1),
                                  spec.get("padding", 0), spec.get("bias", True), init=init, nonlinearity=gain,
                                  rng=rng, dtype=dtype))
        elif kind == "Linear":
            modules.append(Linear(shape[-1], spec["out_features"], spec.get("bias", True), init=init,
                                  nonlinearity=gain, rng=rng, dtype=dtype))
        elif kind in ("MaxPool2d", "AvgPool2d"):
            modules.append((MaxPool2d if kind == "MaxPool2d" else AvgPool2d)(spec["kernel_size"], spec.get("stride")))
        elif kind == "Dropout":
            modules.append(Dropout(spec.get("p", 0.5), rng=dropout_rng))
        elif kind == "Flatten":
            modules.append(Flatten(spec.get("start_dim", 1), spec.get("end_dim", -1)))
        else:
            cls = next(cls for cls in ACTIVATIONS.values() if cls.__name__ == kind)
            modules.append(cls(**{k: v for k, v in spec.items() if k != "type"}))
    return Sequential(*modules)
