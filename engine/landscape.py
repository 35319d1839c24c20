"""The loss landscape over two chosen weights: the cost surface, its gradient arrows, and descent's path.

3Blue1Brown's picture of gradient descent is a ball rolling downhill on the cost surface. A network has
hundreds of weights, so we show a slice: pick two weights w1, w2, hold every other weight at its current
value, and evaluate the whole training set's cost over an R×R grid of (w1, w2) around where they are now.
The arrows are −∇C restricted to those two weights (the direction descent moves them); the path is where
they have actually been over the last training steps. Other weights move too, so the surface itself drifts
while training: this is a live slice, not a fixed terrain.

Everything here is a pure function of the model's current weights: the model is never written to (no
weight is set and restored, no module's kept ``input``/``output`` changes). The network is re-run by a
small functional forward over the Sequential's modules (Linear, the elementwise activations, Softmax,
Dropout as in eval mode) on a stacked batch of S settings at once: up to the first chosen weight's layer
the pass is the ordinary (N, F) one, and there the pre-activation gets the rank-one corrections
z' = z + Δw1·x[:, k1] e_n1 (+ Δw2·x[:, k2] e_n2), giving (S, N, out) from which the rest runs batched.
The arrows' gradient is exact (a functional backward through the same pass), not a finite difference.

The cost is the session's (docs/protocol.md, "Costs, targets and outputs"), without any regularization
penalty, as the frames' ``train_loss``: "mse" = Σ over the outputs of (a − y)², averaged over the N
examples, with float targets (N, C); "cross_entropy" = softmax cross-entropy on the logits, int targets (N,).

A weight is ``(layer, neuron, input)``: ``weight[neuron, input]`` of the ``layer``-th Linear (0-based),
PyTorch's (out, in) layout, as ``edit_weight`` addresses it; ``(layer, neuron)`` (input None) is that
neuron's bias, as ``edit_bias`` addresses it (a bias is a weight on a constant input of 1).
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass

import numpy as np

from engine import Dropout, Linear, Sequential
from engine.activations import Activation, Softmax
from engine.inspect import linear_positions

LOSSES = ("mse", "cross_entropy")
DEFAULT_RESOLUTION = 25
DEFAULT_ARROWS = 9
MAX_SPAN = 25.0
NICE_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5)  # spans round up to these × 10^k: stable axes while w drifts
CHUNK_ELEMENTS = 1 << 21  # settings per batched pass are capped so one activation array stays ≤ 16 MB


class WeightChoiceError(ValueError):
    """A weight choice that does not exist in the model; ``field`` is e.g. "weights[1].neuron"."""

    def __init__(self, field: str, received, allowed: str):
        self.field = field
        self.received = received
        self.allowed = allowed
        super().__init__(f"landscape: {field} is {received!r}; allowed: {allowed}")


@dataclass(frozen=True)
class WeightRef:
    """``weight[neuron, input]`` of Linear layer ``layer``, or ``bias[neuron]`` when ``input`` is None."""

    layer: int
    neuron: int
    input: int | None = None

    @property
    def is_bias(self) -> bool:
        return self.input is None

    def label(self, model: Sequential) -> str:
        """How every view names it: the PyTorch state_dict entry and its index, e.g. ``2.weight[0, 5]``."""
        position = linear_positions(model)[self.layer]
        if self.is_bias:
            return f"{position}.bias[{self.neuron}]"
        return f"{position}.weight[{self.neuron}, {self.input}]"

    def value(self, model: Sequential) -> float:
        linear = _linear(model, self.layer)
        if self.is_bias:
            return float(linear.bias.data[self.neuron])
        return float(linear.weight.data[self.neuron, self.input])

    def to_wire(self) -> list:
        """[layer, neuron, input], or [layer, neuron] for a bias."""
        return [self.layer, self.neuron] if self.is_bias else [self.layer, self.neuron, self.input]


@dataclass
class Landscape:
    """One evaluation. R = resolution, A = arrows per side.

    ``weights`` the two WeightRefs (w1 on the x axis, w2 on the y axis); ``labels`` their names;
    ``centre`` (2,) their current values; ``spans`` (2,) half-widths of the grid;
    ``axes`` (2, R) grid values of w1 and w2 (absolute, ascending, centre at index R // 2);
    ``loss`` (R, R): ``loss[i, j]`` is the cost at w1 = axes[0][j], w2 = axes[1][i] (rows are y, as a
    contour plot wants); ``arrow_axes`` (2, A) and ``gradient`` (A, A, 2): (∂C/∂w1, ∂C/∂w2) at
    w1 = arrow_axes[0][j], w2 = arrow_axes[1][i]; ``current_loss`` and ``current_gradient`` (2,) at the
    current weights. Non-finite costs (a diverging corner) stay NaN/inf: the view leaves them blank.
    """

    weights: tuple[WeightRef, WeightRef]
    labels: tuple[str, str]
    centre: np.ndarray
    spans: np.ndarray
    axes: np.ndarray
    loss: np.ndarray
    arrow_axes: np.ndarray
    gradient: np.ndarray
    current_loss: float
    current_gradient: np.ndarray


def snapshot(model: Sequential) -> Sequential:
    """A copy of ``model``'s modules and current weights, without the arrays its last pass kept (inputs,
    outputs, dropout masks): what a landscape needs, to compute while the original trains on."""
    memo = {id(value): None for m in model.modules() for value in m.__dict__.values() if isinstance(value, np.ndarray)}
    return copy.deepcopy(model, memo)


# --- choosing the two weights
def _linear(model: Sequential, layer: int) -> Linear:
    return model[linear_positions(model)[layer]]


def check_weights(model: Sequential, weights) -> tuple[WeightRef, WeightRef]:
    """Two distinct existing parameters from ``weights``: two WeightRefs or sequences (layer, neuron, input)
    for a weight, (layer, neuron) or (layer, neuron, None) for a bias.

    Raises WeightChoiceError (a ValueError) naming the field, e.g. "weights[1].input".
    """
    if not isinstance(weights, (list, tuple)) or len(weights) != 2:
        raise WeightChoiceError("weights", weights, "two weights, each (layer, neuron, input) or (layer, neuron)")
    positions = linear_positions(model)
    refs = []
    for i, w in enumerate(weights):
        fields = (w.layer, w.neuron, w.input) if isinstance(w, WeightRef) else w
        if not isinstance(fields, (list, tuple)) or len(fields) not in (2, 3):
            raise WeightChoiceError(f"weights[{i}]", w, "(layer, neuron, input) for a weight or (layer, neuron) "
                                                        "for a bias")
        fields = tuple(fields) + (None,) * (3 - len(fields))
        for name, v in zip(("layer", "neuron", "input"), fields):
            if (isinstance(v, bool) or not isinstance(v, numbers.Integral)) and not (name == "input" and v is None):
                raise WeightChoiceError(f"weights[{i}].{name}", v, "an integer" + (" or null (the bias)"
                                                                                   if name == "input" else ""))
        layer, neuron, inp = (None if v is None else int(v) for v in fields)
        if not 0 <= layer < len(positions):
            raise WeightChoiceError(f"weights[{i}].layer", layer, f"an integer in [0, {len(positions) - 1}]")
        linear = model[positions[layer]]
        out_features, in_features = linear.weight.data.shape
        if not 0 <= neuron < out_features:
            raise WeightChoiceError(f"weights[{i}].neuron", neuron,
                                    f"an integer in [0, {out_features - 1}] (layer {layer} has {out_features} neurons)")
        if inp is None and linear.bias is None:
            raise WeightChoiceError(f"weights[{i}].input", inp, f"an integer in [0, {in_features - 1}] "
                                                               f"(layer {layer} has no bias)")
        if inp is not None and not 0 <= inp < in_features:
            raise WeightChoiceError(f"weights[{i}].input", inp,
                                    f"an integer in [0, {in_features - 1}] (layer {layer} has {in_features} inputs)"
                                    + ("" if linear.bias is None else ", or null for the bias"))
        refs.append(WeightRef(layer, neuron, inp))
    if refs[0] == refs[1]:
        raise WeightChoiceError("weights[1]", refs[1].to_wire(), "a parameter other than weights[0]")
    return refs[0], refs[1]


def default_weights(model: Sequential, X: np.ndarray, target: np.ndarray, loss: str) -> tuple[WeightRef, WeightRef]:
    """The two first-layer weights with the largest |∂C/∂w| over the whole of ``X`` (N, F): the ones descent
    is moving fastest, so the picture shows something happening. Falls back to the next layer's weights when
    the first layer has a single weight; ValueError if the network has fewer than two weights."""
    positions = linear_positions(model)
    grads = _full_weight_gradient(model, X, target, loss, layers=range(min(2, len(positions))))
    refs = []
    for layer, g in enumerate(grads):
        order = np.argsort(-np.abs(g).ravel(), kind="stable")
        refs += [WeightRef(layer, *map(int, np.unravel_index(i, g.shape))) for i in order[:2 - len(refs)]]
        if len(refs) == 2:
            return refs[0], refs[1]
    raise ValueError("landscape: the network has fewer than two weights; allowed: a network with at least two")


def default_span(value: float) -> float:
    """Half-width of the grid around a weight's current ``value``: max(1, 2·|value|) rounded up to a
    1-1.5-2-3-5-7.5 step (so the axes stay put while w drifts), at most MAX_SPAN. Wide enough to show the
    valley the weight sits in and the hills around it, whatever the weight's scale."""
    return nice_ceil(max(1.0, 2.0 * abs(value)))


def nice_ceil(x: float) -> float:
    """The smallest of NICE_STEPS × 10^k that is ≥ ``x``, at most MAX_SPAN (MAX_SPAN for non-finite x)."""
    if not math.isfinite(x):
        return MAX_SPAN
    if x <= 0:
        return 1.0
    exponent = math.floor(math.log10(x))
    for scale in (10.0 ** exponent, 10.0 ** (exponent + 1)):
        for step in NICE_STEPS:
            if step * scale >= x * (1 - 1e-12):
                return min(MAX_SPAN, step * scale)
    return MAX_SPAN


# --- the cost
def _check_loss(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"landscape: loss is {loss!r}; allowed: one of {list(LOSSES)}")


def _cost(output: np.ndarray, target: np.ndarray, loss: str, want_grad: bool):
    """output (S, N, C) → (cost (S,), dC/doutput (S, N, C) or None)."""
    n = output.shape[1]
    if loss == "mse":
        diff = output - target  # target (N, C) broadcasts over the S settings
        cost = np.einsum("snc,snc->s", diff, diff) / n
        return cost, (diff * (2.0 / n) if want_grad else None)
    shifted = output - output.max(axis=2, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=2)
    rows = np.arange(n)
    cost = (np.log(total).sum(axis=1) - shifted[:, rows, target].sum(axis=1)) / n
    if not want_grad:
        return cost, None
    grad = exp / total[..., None]
    grad[:, rows, target] -= 1.0
    grad /= n
    return cost, grad


# --- the functional pass
def _softmax(z: np.ndarray, dim: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _linear_forward(h: np.ndarray, linear: Linear) -> np.ndarray:
    # 2-D np.dot as Linear.forward does, so an unshifted setting reproduces the model's numbers.
    w = linear.weight.data
    z = np.dot(h.reshape(-1, h.shape[-1]), w.T).reshape(h.shape[:-1] + (w.shape[0],))
    if linear.bias is not None:
        z += linear.bias.data
    return z


def _forward(model: Sequential, X: np.ndarray, shifts: dict, count: int, keep: bool):
    """Run ``model`` in eval mode on X (N, F) for ``count`` settings; ``shifts`` maps id(Linear) to
    [(neuron, input or None for the bias, deltas (S,))]. Returns the output (S, N, C) and, if ``keep``, the
    tape [(module, its input)] for ``_backward``."""
    h = X  # (N, F) until the first shifted layer, (S, N, F) after
    batched = False
    # Without a tape, the first shifted layer's output stays one (N, out) base plus the shifted neurons'
    # columns per setting (S, N, c) until the next Linear mixes them in: c ≪ out columns of work.
    columns = None
    tape = []
    for m in model:
        if keep:
            tape.append((m, h))
        if isinstance(m, Linear):
            mine = shifts.get(id(m), ())
            if columns is not None and mine:
                h, columns, batched = _materialize(h, columns, count), None, True
            z = _linear_forward(h, m)
            if columns is not None:
                cols, values = columns
                change = values - h[:, cols]  # exactly 0 for an unshifted setting
                w = m.weight.data[:, cols]
                mixed = np.dot(change.reshape(-1, len(cols)), w.T).reshape(count, len(h), -1)
                mixed += z
                z = mixed
                columns, batched = None, True
            elif mine and not batched and not keep:
                cols = sorted({neuron for neuron, _, _ in mine})
                values = np.repeat(z[None, :, cols], count, axis=0)
                for neuron, inp, delta in mine:
                    values[..., cols.index(neuron)] += delta[:, None] * _input_column(h, inp)
                columns = (cols, values)
            else:
                for neuron, inp, delta in mine:
                    if not batched:
                        z = np.repeat(z[None], count, axis=0)
                        batched = True
                    z[..., neuron] += delta[:, None] * _input_column(h, inp)
            h = z
        elif isinstance(m, Dropout):
            continue  # eval mode: the identity
        elif isinstance(m, Softmax):
            if columns is not None:
                h, columns, batched = _materialize(h, columns, count), None, True
            h = _softmax(h, m.dim)
        elif isinstance(m, Activation):
            h = m.function(h)
            if columns is not None:
                columns = (columns[0], m.function(columns[1]))
        else:
            raise ValueError(f"landscape: the model holds a {type(m).__name__}; allowed: Linear, elementwise "
                             f"activations, Softmax and Dropout (an MLP)")
    if columns is not None:
        h, batched = _materialize(h, columns, count), True
    if not batched:
        h = np.repeat(h[None], count, axis=0)
    return h, tape


def _input_column(h: np.ndarray, inp: int | None):
    """What a shift of weight[·, inp] is multiplied by: input column ``inp``, or 1 for the bias."""
    return 1.0 if inp is None else h[..., inp]


def _materialize(base: np.ndarray, columns, count: int) -> np.ndarray:
    """(N, F) base with per-setting columns → (S, N, F)."""
    cols, values = columns
    full = np.repeat(base[None], count, axis=0)
    full[..., cols] = values
    return full


def _backward(tape: list, grad: np.ndarray, shifts: dict) -> dict:
    """Back through the tape from dC/doutput (S, N, C); returns {(id(Linear), neuron, input): dC/dw (S,)}
    for every shifted parameter (the shifted layers use their shifted weights, so each setting is exact)."""
    wanted = sum(len(v) for v in shifts.values())
    found = {}
    g = grad
    for m, h in reversed(tape):
        if isinstance(m, Linear):
            for neuron, inp, _ in shifts.get(id(m), ()):
                column = g[..., neuron]  # (S, N)
                found[(id(m), neuron, inp)] = (column.sum(axis=-1) if inp is None else
                                               np.einsum("...n,...n->...", column, h[..., inp]).reshape(-1))
            if len(found) == wanted:
                return found
            g_in = np.matmul(g, m.weight.data)
            for neuron, inp, delta in shifts.get(id(m), ()):
                if inp is not None:  # the shifted weight also carries the gradient back to its input
                    g_in[..., inp] += delta[:, None] * g[..., neuron]
            g = g_in
        elif isinstance(m, Dropout):
            continue
        elif isinstance(m, Softmax):
            a = _softmax(h, m.dim)
            g = a * (g - (g * a).sum(axis=m.dim, keepdims=True))
        else:
            g = g * m.derivative(h)
    return found


def _full_weight_gradient(model: Sequential, X, target, loss: str, layers) -> list[np.ndarray]:
    """dC/dW (out, in) of the given Linear layers over all of X, without touching the model's grads."""
    _check_loss(loss)
    output, tape = _forward(model, X, {}, 1, keep=True)
    _, g = _cost(output, target, loss, want_grad=True)
    g = g[0]
    wanted = {id(_linear(model, k)): k for k in layers}
    grads = {}
    for m, h in reversed(tape):
        if isinstance(m, Linear):
            if id(m) in wanted:
                grads[wanted[id(m)]] = np.dot(g.T, h)
                if len(grads) == len(wanted):
                    break
            g = np.dot(g, m.weight.data)
        elif isinstance(m, Softmax):
            a = _softmax(h, m.dim)
            g = a * (g - (g * a).sum(axis=m.dim, keepdims=True))
        elif not isinstance(m, Dropout):
            g = g * m.derivative(h)
    return [grads[k] for k in sorted(grads)]


def _shifts(model: Sequential, refs, deltas: np.ndarray) -> dict:
    shifts: dict = {}
    for ref, column in zip(refs, deltas.T):
        shifts.setdefault(id(_linear(model, ref.layer)), []).append((ref.neuron, ref.input, column))
    return shifts


def _chunks(model: Sequential, X: np.ndarray, count: int):
    # Only layer outputs are ever batched (S, N, out): the (N, F) input never is.
    widest = max(m.weight.data.shape[0] for m in model if isinstance(m, Linear))
    size = max(1, CHUNK_ELEMENTS // (len(X) * widest))
    return [slice(i, min(i + size, count)) for i in range(0, count, size)]


def losses(model: Sequential, X: np.ndarray, target: np.ndarray, loss: str, weights, deltas: np.ndarray,
           gradient: bool = False):
    """The cost over X (N, F) with the two ``weights`` shifted by ``deltas`` (S, 2) from their current
    values, every other weight as it is. Returns cost (S,), and with ``gradient`` also (S, 2) dC/dw."""
    _check_loss(loss)
    refs = check_weights(model, weights)
    deltas = np.asarray(deltas, dtype=np.float64).reshape(-1, 2)
    costs = np.empty(len(deltas))
    grads = np.empty((len(deltas), 2))
    with np.errstate(all="ignore"):  # a far corner of a steep landscape may overflow: it shows as a gap
        for part in _chunks(model, X, len(deltas)):
            shifts = _shifts(model, refs, deltas[part])
            output, tape = _forward(model, X, shifts, part.stop - part.start, keep=gradient)
            costs[part], g = _cost(output, target, loss, want_grad=gradient)
            if gradient:
                found = _backward(tape, g, shifts)
                for i, ref in enumerate(refs):
                    grads[part, i] = found[(id(_linear(model, ref.layer)), ref.neuron, ref.input)]
    return (costs, grads) if gradient else costs


def offsets(span: float, count: int) -> np.ndarray:
    """``count`` (odd) offsets evenly over [−span, span] with exactly 0 in the middle."""
    half = count // 2
    return span * (np.arange(count) - half) / half


def compute(model: Sequential, X: np.ndarray, target: np.ndarray, loss: str, weights,
            resolution: int = DEFAULT_RESOLUTION, arrows: int = DEFAULT_ARROWS, spans=None) -> Landscape:
    """The landscape of the cost over X (N, F) and ``target`` around the two ``weights``' current values.

    ``resolution`` R and ``arrows`` A are odd (≥ 3) so the current point is a grid node; ``spans`` (2,) are
    the grids' half-widths (default ``default_span`` of each weight's value). Costs R² + A² settings of
    the network over N examples, in batched passes (2-8-8-1 on 250 points, R = 25, A = 9: ~17 ms).
    """
    refs = check_weights(model, weights)
    for name, count in (("resolution", resolution), ("arrows", arrows)):
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 3 or count % 2 == 0:
            raise ValueError(f"landscape: {name} is {count!r}; allowed: an odd integer ≥ 3")
    centre = np.array([ref.value(model) for ref in refs])
    spans = np.array([default_span(v) for v in centre] if spans is None else spans, dtype=np.float64)
    if spans.shape != (2,) or not np.all(np.isfinite(spans)) or not np.all(spans > 0):
        raise ValueError(f"landscape: spans is {spans.tolist()!r}; allowed: two finite numbers > 0")
    grid = np.stack([offsets(spans[0], resolution), offsets(spans[1], resolution)])
    arrow = np.stack([offsets(spans[0], arrows), offsets(spans[1], arrows)])
    d1, d2 = np.meshgrid(grid[0], grid[1])  # row i = w2's i-th value, column j = w1's j-th
    grid_costs = losses(model, X, target, loss, refs, np.stack([d1.ravel(), d2.ravel()], axis=1))
    a1, a2 = np.meshgrid(arrow[0], arrow[1])
    _, arrow_grads = losses(model, X, target, loss, refs, np.stack([a1.ravel(), a2.ravel()], axis=1),
                            gradient=True)
    labels = (refs[0].label(model), refs[1].label(model))
    mid, amid = resolution // 2, arrows // 2
    gradient = arrow_grads.reshape(arrows, arrows, 2)
    return Landscape(refs, labels, centre, spans, centre[:, None] + grid, grid_costs.reshape(resolution, resolution),
                     centre[:, None] + arrow, gradient, float(grid_costs[mid * resolution + mid]),
                     gradient[amid, amid].copy())
