"""The loss landscape: the session's cost over a plane of two parameters, every other one held where it is.

``compute`` evaluates the cost on a grid centred on the current values, and its exact gradient (the engine's
backward) at a coarser grid of arrow points; it works on a copy, so the model is never touched.
``LandscapePath`` keeps the path descent has taken through the plane. app/landscape_feed.py puts it on the
wire (docs/protocol.md, "landscape").
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from engine import CrossEntropyLoss, MSELoss
from engine.inspect import linear_positions

from . import network

MAX_SPAN = 100.0
NICE = (1.0, 1.5, 2.0, 3.0, 5.0)  # spans are one of these times a power of ten


class WeightChoiceError(ValueError):
    """A chosen parameter that does not exist; ``field`` like "weights[1].neuron"."""

    def __init__(self, field: str, received, allowed: str):
        self.field, self.received, self.allowed = field, received, allowed
        super().__init__(f"landscape: {field} is {received!r}; allowed: {allowed}")


@dataclass(frozen=True)
class WeightRef:
    """A weight ``[layer, neuron, input]`` or a bias ``[layer, neuron]`` (input None) of Linear ``layer``."""

    layer: int
    neuron: int
    input: int | None = None

    @property
    def is_bias(self) -> bool:
        return self.input is None

    def parameter(self, model):
        linear = network.linears(model)[self.layer]
        return (linear.bias, (self.neuron,)) if self.is_bias else (linear.weight, (self.neuron, self.input))

    def value(self, model) -> float:
        p, index = self.parameter(model)
        return float(p.data[index])

    def to_wire(self) -> list[int]:
        return [self.layer, self.neuron] if self.is_bias else [self.layer, self.neuron, self.input]

    def label(self, model) -> str:
        """"w[0][3,1] · 0.weight[3, 1]": the page's short name, then the PyTorch state_dict entry."""
        position = linear_positions(model)[self.layer]
        if self.is_bias:
            return f"b[{self.layer}][{self.neuron}] · {position}.bias[{self.neuron}]"
        return f"w[{self.layer}][{self.neuron},{self.input}] · {position}.weight[{self.neuron}, {self.input}]"


def _index(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_weights(model, weights) -> tuple[WeightRef, WeightRef]:
    """Two distinct parameters of ``model`` from [layer, neuron, input] / [layer, neuron] (or WeightRefs);
    WeightChoiceError naming the first field that is wrong."""
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__") or len(weights) != 2:
        raise WeightChoiceError("weights", weights, "two parameters")
    layers = network.linears(model)
    refs = []
    for i, w in enumerate(weights):
        if isinstance(w, WeightRef):
            w = tuple(w.to_wire())
        where = f"weights[{i}]"
        if isinstance(w, (str, bytes)) or not hasattr(w, "__len__") or len(w) not in (2, 3):
            raise WeightChoiceError(where, w, "[layer, neuron, input] for a weight or [layer, neuron] for a bias")
        layer, neuron, inp = w[0], w[1], (w[2] if len(w) == 3 else None)
        if not _index(layer) or not 0 <= layer < len(layers):
            raise WeightChoiceError(f"{where}.layer", layer, f"an integer in [0, {len(layers) - 1}]")
        linear = layers[layer]
        if not _index(neuron) or not 0 <= neuron < linear.out_features:
            raise WeightChoiceError(f"{where}.neuron", neuron, f"an integer in [0, {linear.out_features - 1}]")
        if inp is not None and (not _index(inp) or not 0 <= inp < linear.in_features):
            raise WeightChoiceError(f"{where}.input", inp, f"an integer in [0, {linear.in_features - 1}]")
        ref = WeightRef(int(layer), int(neuron), None if inp is None else int(inp))
        if refs and ref == refs[0]:
            raise WeightChoiceError(where, w, "a parameter other than weights[0]")
        refs.append(ref)
    return refs[0], refs[1]


def _cost(name: str, output: np.ndarray, target: np.ndarray, backward: bool = False):
    """The session's cost (app.training.Trainer.cost): mse summed over outputs, both averaged over examples."""
    if name == "cross_entropy":
        fn = CrossEntropyLoss()
        loss = fn(output, target)
        return (loss, fn.backward()) if backward else loss
    if name != "mse":
        raise ValueError(f"landscape: loss must be 'mse' or 'cross_entropy', got {name!r}")
    fn = MSELoss(reduction="sum")
    n = len(output)
    loss = fn(output, target) / n
    return (loss, fn.backward() / n) if backward else loss


def snapshot(model):
    """A copy to compute on (in another thread while the original trains)."""
    view = copy.deepcopy(model)
    view.eval()
    return view


def _loss_and_gradient(view, X, T, cost, refs, values, gradient: bool):
    """Cost (and ∂C/∂ of the two parameters) with the two set to ``values``, on ``view`` (a snapshot)."""
    params = [r.parameter(view) for r in refs]
    for (p, index), v in zip(params, values):
        p.data[index] = v
    output = view(X)
    if not gradient:
        return _cost(cost, output, T), None
    loss, grad = _cost(cost, output, T, backward=True)
    view.zero_grad()
    view.backward(grad)
    return loss, np.array([p.grad[index] for p, index in params], dtype=np.float64)


def losses(model, X, T, cost: str, weights, deltas) -> np.ndarray:
    """The cost with the two parameters moved by each row of ``deltas`` (M, 2) from where they are."""
    refs = check_weights(model, weights)
    view = snapshot(model)
    centre = np.array([r.value(view) for r in refs])
    return np.array([_loss_and_gradient(view, X, T, cost, refs, centre + d, False)[0] for d in np.asarray(deltas)])


@dataclass
class LandscapeView:
    """``loss`` (R, R): row i at w2 = axes[1][i], column j at w1 = axes[0][j]; ``gradient`` (A, A, 2):
    ∇C = (∂C/∂w1, ∂C/∂w2) at (arrow_axes[0][j], arrow_axes[1][i])."""

    refs: tuple[WeightRef, WeightRef]
    labels: tuple[str, str]
    centre: np.ndarray
    axes: tuple[np.ndarray, np.ndarray]
    loss: np.ndarray
    arrow_axes: tuple[np.ndarray, np.ndarray]
    gradient: np.ndarray
    current_loss: float
    current_gradient: np.ndarray


def compute(model, X, T, cost: str, weights, resolution: int = 25, arrows: int = 9, spans=None) -> LandscapeView:
    """The landscape around the current values of ``weights`` over examples ``X`` (N, F) with targets ``T``.

    ``resolution`` and ``arrows`` are odd (the current point is the centre); ``spans`` the half-widths of the
    two axes (default ``default_span`` of each value)."""
    if not _index(resolution) or resolution < 3 or resolution % 2 == 0:
        raise ValueError(f"landscape: resolution must be an odd integer ≥ 3, got {resolution!r}")
    if not _index(arrows) or arrows < 1 or arrows % 2 == 0:
        raise ValueError(f"landscape: arrows must be an odd integer ≥ 1, got {arrows!r}")
    if cost not in ("mse", "cross_entropy"):
        raise ValueError(f"landscape: loss must be 'mse' or 'cross_entropy', got {cost!r}")
    refs = check_weights(model, weights)
    view = snapshot(model)
    centre = np.array([r.value(view) for r in refs])
    spans = np.array([default_span(v) for v in centre] if spans is None else spans, dtype=np.float64)
    if spans.shape != (2,) or not np.all(np.isfinite(spans)) or not np.all(spans > 0):
        raise ValueError(f"landscape: spans must be two positive numbers, got {spans.tolist()}")
    X = np.asarray(X, dtype=view.dtype)
    with np.errstate(all="ignore"):
        axes = tuple(c + np.linspace(-s, s, resolution) for c, s in zip(centre, spans))
        axes[0][resolution // 2], axes[1][resolution // 2] = centre  # exactly the current point
        loss = np.empty((resolution, resolution))
        for i, w2 in enumerate(axes[1]):
            for j, w1 in enumerate(axes[0]):
                loss[i, j] = _loss_and_gradient(view, X, T, cost, refs, (w1, w2), False)[0]
        arrow_axes = tuple(c + np.linspace(-s, s, arrows) for c, s in zip(centre, spans))
        arrow_axes[0][arrows // 2], arrow_axes[1][arrows // 2] = centre
        gradient = np.empty((arrows, arrows, 2))
        for i, w2 in enumerate(arrow_axes[1]):
            for j, w1 in enumerate(arrow_axes[0]):
                gradient[i, j] = _loss_and_gradient(view, X, T, cost, refs, (w1, w2), True)[1]
        current_loss, current_gradient = _loss_and_gradient(view, X, T, cost, refs, centre, True)
    labels = (refs[0].label(view), refs[1].label(view))
    return LandscapeView(refs, labels, centre, axes, loss, arrow_axes, gradient, float(current_loss),
                         current_gradient)


def default_weights(model, X, T, cost: str) -> tuple[WeightRef, WeightRef]:
    """The first layer's two weights with the steepest cost now (|∂C/∂w| over all of ``X``)."""
    view = snapshot(model)
    weight = network.linears(view)[0].weight
    if weight.data.size < 2:
        raise ValueError("landscape: the first layer has fewer than two weights")
    loss, grad = _cost(cost, view(np.asarray(X, dtype=view.dtype)), T, backward=True)
    view.zero_grad()
    view.backward(grad)
    order = np.argsort(-np.abs(weight.grad), axis=None, kind="stable")[:2]
    width = weight.data.shape[1]
    return tuple(WeightRef(0, int(k // width), int(k % width)) for k in order)


def default_span(value: float) -> float:
    """The half-width of an axis around ``value``: 2|value| at least 1, up to a nice number, at most MAX_SPAN."""
    want = max(1.0, 2.0 * abs(float(value))) if math.isfinite(value) else MAX_SPAN
    if want >= MAX_SPAN:
        return MAX_SPAN
    scale = 10.0 ** math.floor(math.log10(want))
    for step in NICE + (10.0,):
        if step * scale >= want - 1e-12:
            return min(MAX_SPAN, step * scale)
    return MAX_SPAN


def spans_with_path(centre: np.ndarray, path: "LandscapePath") -> np.ndarray:
    """Half-widths that show the path too: each axis at least its default span and 1.1× the path's reach."""
    _, values = path.arrays()
    spans = np.array([default_span(c) for c in centre])
    if len(values):
        with np.errstate(all="ignore"):
            reach = np.nanmax(np.abs(values - centre), axis=0) * 1.1
        spans = np.minimum(MAX_SPAN, np.maximum(spans, np.where(np.isfinite(reach), reach, MAX_SPAN)))
    return spans


class LandscapePath:
    """(step, w1, w2) of the chosen pair as training goes: at most ``capacity`` + 1 points, the first and the
    newest always kept, older stretches thinned to every other point when full."""

    def __init__(self, capacity: int = 500):
        self.capacity = capacity
        self.points: list[tuple[int, float, float]] = []

    def record(self, step: int, w1: float, w2: float) -> None:
        point = (int(step), float(w1), float(w2))
        if self.points and self.points[-1][0] == point[0]:
            self.points[-1] = point  # same step (an edited weight): the newest values
            return
        self.points.append(point)
        if len(self.points) > self.capacity:
            self.points = self.points[:-1][::2] + [self.points[-1]]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """steps (n,) int, values (n, 2)."""
        if not self.points:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
        steps, w1, w2 = zip(*self.points)
        return np.array(steps, dtype=np.int64), np.column_stack([w1, w2])

    def clear(self) -> None:
        self.points = []
