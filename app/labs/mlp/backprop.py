"""3Blue1Brown's backpropagation calculus for one example, with the live numbers (the digits view's
step-through; docs/protocol.md, "Backprop step-through").

For output neuron j and a weight w_jk into it, a_k being the previous layer's activation:
    z_j = Σ_k w_jk a_k + b_j,   a_j = σ(z_j),   C₀ = Σ_j (a_j − y_j)²            (mse, the video's cost)
    ∂C₀/∂w_jk = a_k · σ′(z_j) · 2(a_j − y_j) = a_k · δ_j,        ∂C₀/∂b_j = δ_j
    ∂C₀/∂a_k  = Σ_j w_jk δ_j          (what each output wants of a_k, added up)
With cross-entropy over softmax outputs p: C₀ = −log p_y and δ_j = ∂C₀/∂z_j = p_j − y_j.
Every number is computed here in float64 from the network's own values; tests/app/test_backprop.py checks
them against the engine's backward.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from engine.activations import activation_from_name
from engine.inspect import linear_positions, mlp_records

COSTS = ("mse", "cross_entropy")


@dataclass
class StepThrough:
    """The output layer's step-through. C outputs, H inputs to the output layer; float64 arrays."""

    cost: str                       # "mse" or "cross_entropy"
    output_activation: str          # "sigmoid", "tanh", "linear", ... or "softmax" (cross-entropy)
    weight: np.ndarray              # (C, H)
    bias: np.ndarray                # (C,)
    prev_activation: np.ndarray     # (H,) a_k
    pre_activation: np.ndarray      # (C,) z_j
    output: np.ndarray              # (C,) a_j (p_j for cross-entropy)
    target: np.ndarray              # (C,) y_j (one-hot for classes)
    activation_slope: np.ndarray | None  # (C,) σ′(z_j); None for cross-entropy
    output_grad: np.ndarray | None  # (C,) ∂C₀/∂a_j = 2(a_j − y_j); None for cross-entropy
    delta: np.ndarray               # (C,) ∂C₀/∂z_j
    cost_terms: np.ndarray          # (C,) each output's part of C₀
    cost_value: float               # C₀
    weight_grad: np.ndarray         # (C, H) ∂C₀/∂w_jk
    bias_grad: np.ndarray           # (C,) ∂C₀/∂b_j
    prev_activation_grad_parts: np.ndarray  # (C, H) w_jk δ_j: output j's wish for a_k
    prev_activation_grad: np.ndarray        # (H,) ∂C₀/∂a_k, the parts added up


def output_layer_step(prev_activation, weight, bias, target, activation: str = "sigmoid",
                      cost: str = "mse") -> StepThrough:
    """The step-through from the output layer's inputs and parameters. ``target``: (C,) values, or for
    cross-entropy a class index or a one-hot (C,). ValueError names what is wrong."""
    if cost not in COSTS:
        raise ValueError(f"backprop: cost must be one of {list(COSTS)}, got {cost!r}")
    weight = np.asarray(weight, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    a_prev = np.asarray(prev_activation, dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(f"backprop: weight has shape {weight.shape}; expected (C, H)")
    c, h = weight.shape
    if a_prev.shape != (h,):
        raise ValueError(f"backprop: prev_activation has shape {a_prev.shape}; expected ({h},)")
    if bias.shape != (c,):
        raise ValueError(f"backprop: bias has shape {bias.shape}; expected ({c},)")
    z = weight @ a_prev + bias
    if cost == "cross_entropy":
        y = _one_hot(target, c)
        e = np.exp(z - z.max())
        p = e / e.sum()
        delta = p - y
        terms = -y * np.log(np.maximum(p, np.finfo(np.float64).tiny))
        output, slope, output_grad, activation = p, None, None, "softmax"
    else:
        if activation == "softmax":
            raise ValueError("backprop: activation 'softmax' goes with cost 'cross_entropy', not 'mse'")
        module = activation_from_name(activation)
        activation = module.name
        y = np.atleast_1d(np.asarray(target, dtype=np.float64))
        if y.shape != (c,):
            raise ValueError(f"backprop: target has shape {y.shape}; expected ({c},)")
        output = np.asarray(module.function(z), dtype=np.float64)
        slope = np.asarray(module.derivative(z), dtype=np.float64)
        output_grad = 2.0 * (output - y)
        delta = slope * output_grad
        terms = (output - y) ** 2
    parts = weight * delta[:, None]
    return StepThrough(cost, activation, weight, bias, a_prev, z, output, y, slope, output_grad, delta, terms,
                       float(terms.sum()), np.outer(delta, a_prev), delta.copy(), parts, parts.sum(axis=0))


def _one_hot(target, classes: int) -> np.ndarray:
    t = np.asarray(target)
    if t.ndim == 0:
        if t.dtype.kind not in "iu" or not 0 <= int(t) < classes:
            raise ValueError(f"backprop: target class is {target!r}; expected an integer in [0, {classes - 1}]")
        return np.eye(classes)[int(t)]
    t = t.astype(np.float64)
    if t.shape != (classes,):
        raise ValueError(f"backprop: target has shape {t.shape}; expected ({classes},)")
    if not (np.isin(t, (0.0, 1.0)).all() and t.sum() == 1.0):
        raise ValueError(f"backprop: a cross-entropy target must be one-hot or a class index, got {t.tolist()}")
    return t


def step_through(model, x, target, cost: str = "mse") -> StepThrough:
    """The step-through of ``model`` (an engine MLP) for one input ``x`` (F,), read in eval mode from a copy:
    the model itself (weights, gradients, what its last pass kept, its mode) is left as it was."""
    positions = linear_positions(model)
    if not positions:
        raise ValueError("backprop: the model has no Linear layer")
    view = copy.deepcopy(model).eval()
    first = view[positions[0]].in_features
    x = np.asarray(x, dtype=view.dtype).reshape(-1)
    if x.size != first:
        raise ValueError(f"backprop: x has {x.size} values; expected {first}")
    view(x[None, :])
    last = mlp_records(view)[-1]
    activation = "softmax" if cost == "cross_entropy" else last.activation_name
    return output_layer_step(last.input[0], last.weight.data, last.bias.data, target, activation, cost)

