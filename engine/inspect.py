"""Reading a network for the views: per-layer records after a pass, and every neuron over a 2-D grid.

Nothing here runs in the training hot path: records are references to what the last forward kept
(``m.input`` / ``m.output``), built only when a view asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks
from .activations import Activation
from .container import Sequential
from .linear import Linear
from .parameter import Parameter


@dataclass
class LayerRecord:
    """One Linear layer of an MLP after a forward pass (N = batch size). References, not copies.

    ``input`` (N, in), ``pre_activation`` z (N, out), ``activation`` a (N, out) — the output of the
    activation module right after the Linear, or z itself when there is none; ``weight`` (out, in) and
    ``bias`` (out,) are the Parameters (``.data``, ``.grad``); ``activation_name`` as in ACTIVATIONS.
    """

    index: int
    input: np.ndarray
    pre_activation: np.ndarray
    activation: np.ndarray
    weight: Parameter
    bias: Parameter | None
    activation_name: str


def linear_positions(model: Sequential) -> list[int]:
    """Positions in ``model`` of its Linear layers, in order."""
    if not isinstance(model, Sequential):
        raise ValueError(f"inspect: model must be a Sequential, got {type(model).__name__}")
    return [i for i, m in enumerate(model) if isinstance(m, Linear)]


def activation_after(model: Sequential, position: int) -> Activation | None:
    """The activation module directly after the module at ``position``, if any."""
    if position + 1 < len(model) and isinstance(model[position + 1], Activation):
        return model[position + 1]
    return None


def mlp_records(model: Sequential) -> list[LayerRecord]:
    """One LayerRecord per Linear layer, from the last forward pass (raises ValueError before any)."""
    records = []
    for k, position in enumerate(linear_positions(model)):
        linear = model[position]
        if "output" not in linear.__dict__:
            raise ValueError("inspect.mlp_records: the model has not run a forward pass yet; call model(x) first")
        act = activation_after(model, position)
        z = linear.output
        # An activation that has not run since this Linear did (e.g. just inserted) reads as identity.
        a = act.output if act is not None and act.__dict__.get("input") is z else z
        records.append(LayerRecord(k, linear.input, z, a, linear.weight, linear.bias,
                                   act.name if act is not None else "linear"))
    return records


def make_grid(resolution: int = 100, extent=(-6.0, 6.0)) -> np.ndarray:
    """``resolution²`` points (M, 2) covering [lo, hi]², row-major: y outer (ascending), x inner (ascending).

    Row r, column c of a (resolution, resolution) heatmap is point ``r·resolution + c``: x = xs[c], y = ys[r].
    """
    resolution = _checks.positive_int("make_grid", "resolution", resolution, minimum=2)
    if not hasattr(extent, "__len__") or len(extent) != 2:
        raise ValueError(f"make_grid: extent must be a pair (lo, hi), got {extent!r}")
    lo = _checks.real("make_grid", "extent[0]", extent[0])
    hi = _checks.real("make_grid", "extent[1]", extent[1])
    if not lo < hi:
        raise ValueError(f"make_grid: extent must have lo < hi, got {extent!r}")
    axis = np.linspace(lo, hi, resolution)
    xs, ys = np.meshgrid(axis, axis)  # xs varies along columns (inner), ys along rows (outer)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def grid_activations(model: Sequential, inputs: np.ndarray) -> list[np.ndarray]:
    """Every neuron's output over ``inputs`` (M, F), in ONE forward pass in eval mode.

    Returns one array (M, out_k) per Linear layer k: the post-activation output (z where no activation
    follows). ``inputs`` are cast to the model's dtype. The model's training mode and everything the last
    training pass kept (inputs, outputs, masks that backward and the views read) are restored afterwards,
    so this may run between a forward and its backward.
    """
    positions = linear_positions(model)
    if not positions:
        raise ValueError("inspect.grid_activations: the model has no Linear layer")
    first = model[positions[0]]
    inputs = _checks.array("inspect.grid_activations", np.asarray(inputs, dtype=model.dtype), ndim=2,
                           last_dim=first.in_features, layout=f"(M, {first.in_features})")
    # Shallow snapshots of each module's attributes: references only, so this costs nothing per element.
    saved = [(m, dict(m.__dict__)) for m in model.modules()]
    try:
        model.eval()
        model(inputs)
        outputs = []
        for position in positions:
            act = activation_after(model, position)
            outputs.append(act.output if act is not None else model[position].output)
        return outputs
    finally:
        for m, attributes in saved:
            m.__dict__.clear()
            m.__dict__.update(attributes)


DEAD_SLOPE = 0.01  # a unit whose slope σ'(z) is at most 1 % of its activation's peak slope learns (next to) nothing


def dead_units(pre_activation: np.ndarray, activation: Activation | None,
               threshold: float = DEAD_SLOPE) -> np.ndarray:
    """Which units of a layer are dead on these inputs: ``pre_activation`` z (N, out) → bool (out,), True where
    |σ'(z)| ≤ ``threshold`` × the activation's peak slope for every one of the N rows — no gradient flows back
    through them, so their incoming weights cannot change (ReLU with z ≤ 0 everywhere, or a tanh/sigmoid
    saturated on every input). A linear layer (``activation`` None or Identity) never has dead units."""
    z = np.asarray(pre_activation, dtype=np.float64)
    if activation is None or activation.name == "linear" or z.shape[0] == 0:
        return np.zeros(z.shape[1], dtype=bool)
    probe = np.linspace(-6.0, 6.0, 1201)
    peak = np.abs(activation.derivative(probe)).max()
    finite = np.where(np.isfinite(z), z, 0.0)
    return np.all(np.abs(activation.derivative(finite)) <= threshold * peak, axis=0)
