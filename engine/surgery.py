"""Live surgery on a network while it trains: neurons and hidden layers of an MLP.

MLP operations take layer indices that count the Linear layers, 0-based; the hidden layers are every Linear but the last. A hidden
neuron j of Linear k is row j of its weight and entry j of its bias, plus column j of Linear k+1's weight.
Every weight not named by the operation keeps its value bit-for-bit; new weights get torch's default
init U(±1/√fan_in) from a seeded generator (new outgoing weights too, so a new neuron contributes at once).
A new hidden layer is the exception: by default it starts as (nearly) the identity and the next layer is
adjusted to read it back, so a trained network keeps what it learned (function-preserving growth).
When an ``optimizer`` is given, it is handed the new parameter list with the state (momentum, Adam moments)
of every kept entry carried over, and zeros for new entries. The same promises for the kernels of a CNN:
engine.conv_surgery.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks
from .activations import Activation, activation_from_name
from .container import Sequential
from .conv import Conv2d
from .dropout import Dropout
from .init import init_weight
from .inspect import linear_positions
from .linear import Linear
from .parameter import Parameter
from .random import resolve_rng

# Modules that may sit between two Linear layers without changing the number of features.
_ELEMENTWISE = (Activation, Dropout)


def _positions(model, where: str) -> list[int]:
    positions = linear_positions(model)
    if not positions:
        raise ValueError(f"{where}: the model has no Linear layer")
    for a, b in zip(positions[:-1], positions[1:]):
        for m in list(model)[a + 1:b]:
            if not isinstance(m, _ELEMENTWISE):
                raise ValueError(f"{where}: only MLPs can be edited (Linear layers with activations or dropout "
                                 f"between them), found {type(m).__name__} between Linear layers")
    return positions


def _layer_index(where: str, field: str, value, count: int, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value < count:
        allowed = f"[{low}, {count - 1}]" if count > low else "none (the model has no hidden layer)"
        raise ValueError(f"{where}: {field} must be an integer in {allowed}, got {value!r}")
    return int(value)


class _Edit:
    """Collects resized parameters with their carried optimizer state, then hands them over at once."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.states: dict = {}

    def resize(self, layer, rows: np.ndarray | None = None, cols: np.ndarray | None = None,
               new_rows: int = 0, new_cols: int = 0, rng=None) -> None:
        """Keep ``rows``/``cols`` (index arrays into the weight's axes 0 and 1; None = all) of a Linear's or
        Conv2d's weight, append ``new_rows`` outputs and ``new_cols`` inputs drawn from U(±1/√fan_in) of the
        resized layer (fan_in = inputs · kH · kW for a Conv2d); the bias follows the rows."""
        kernel = layer.weight.data.shape[2:]  # () for a Linear, (kH, kW) for a Conv2d
        out_total, in_total = layer.weight.data.shape[:2]
        out_kept = out_total if rows is None else len(rows)
        in_kept = in_total if cols is None else len(cols)
        out_f, in_f = out_kept + new_rows, in_kept + new_cols
        bound = 1.0 / math.sqrt(in_f * math.prod(kernel))
        dtype = layer.weight.data.dtype

        def resized(array, is_weight):
            kept = array if rows is None else array[rows]
            if is_weight and cols is not None:
                kept = kept[:, cols]
            shape = (out_f, in_f, *kernel) if is_weight else (out_f,)
            new = np.zeros(shape, dtype=array.dtype)
            if is_weight:
                new[:out_kept, :in_kept] = kept
            else:
                new[:out_kept] = kept
            return new

        def grown(array, is_weight):
            new = resized(array, is_weight)
            if rng is not None:  # fresh entries, drawn row by row then column by column
                if is_weight:
                    if new_rows:
                        new[out_kept:, :] = rng.uniform(-bound, bound, (new_rows, in_f, *kernel))
                    if new_cols:
                        new[:out_kept, in_kept:] = rng.uniform(-bound, bound, (out_kept, new_cols, *kernel))
                elif new_rows:
                    new[out_kept:] = rng.uniform(-bound, bound, new_rows)
            return new

        for name in ("weight", "bias"):
            old = getattr(layer, name)
            if old is None:
                continue
            fresh = Parameter(grown(old.data, name == "weight").astype(dtype, copy=False))
            fresh.grad[...] = resized(old.grad, name == "weight")  # keep the pending gradient of kept entries
            if self.optimizer is not None:
                self.states[fresh] = {key: resized(value, name == "weight")
                                      for key, value in self.optimizer.state_of(old).items()}
            setattr(layer, name, fresh)
        if isinstance(layer, Conv2d):
            layer.out_channels, layer.in_channels = out_f, in_f
            layer._where = repr(layer)  # its error messages name the new shape
        else:
            layer.out_features, layer.in_features = out_f, in_f

    def done(self, model: Sequential) -> None:
        if self.optimizer is not None:
            self.optimizer.set_params(list(model.parameters()), self.states)


def _keep_all_but(size: int, index: int) -> np.ndarray:
    return np.delete(np.arange(size), index)


def add_neuron(model: Sequential, layer: int, optimizer=None, rng=None) -> None:
    """Append one neuron to hidden Linear ``layer``: a new row (and bias) there, a new column in the next."""
    positions = _positions(model, "add_neuron")
    layer = _layer_index("add_neuron", "layer", layer, len(positions) - 1)
    rng = resolve_rng(rng)
    edit = _Edit(optimizer)
    edit.resize(model[positions[layer]], new_rows=1, rng=rng)
    edit.resize(model[positions[layer + 1]], new_cols=1, rng=rng)
    edit.done(model)


def remove_neuron(model: Sequential, layer: int, neuron: int = -1, optimizer=None) -> None:
    """Remove neuron ``neuron`` (negative counts from the end) of hidden Linear ``layer``."""
    positions = _positions(model, "remove_neuron")
    layer = _layer_index("remove_neuron", "layer", layer, len(positions) - 1)
    linear = model[positions[layer]]
    width = linear.out_features
    if width == 1:
        raise ValueError(f"remove_neuron: hidden layer {layer} has a single neuron; a layer keeps at least one "
                         f"(remove the layer instead)")
    neuron = _layer_index("remove_neuron", "neuron", neuron, width, low=-width) % width
    keep = _keep_all_but(width, neuron)
    edit = _Edit(optimizer)
    edit.resize(linear, rows=keep)
    edit.resize(model[positions[layer + 1]], cols=keep)
    edit.done(model)


def _input_width_change(edit: _Edit, linear: Linear, width: int, rng) -> None:
    """Make ``linear`` take ``width`` inputs: keep the first min(old, width) columns, draw any new ones."""
    old = linear.in_features
    if width == old:
        return
    if width < old:
        edit.resize(linear, cols=np.arange(width))
    else:
        edit.resize(linear, new_cols=width - old, rng=rng)


# How a new layer starts as (nearly) the identity, per activation: a = act(s·(h − centre) + shift) is read
# back by the next layer as h ≈ (a − intercept)/(slope·s) + centre. "scale" is s·half-range, the largest
# |s·(h − centre)| on the incoming range: small enough that tanh and sigmoid stay within ~2 % of their tangent.
IDENTITY_STARTS = {
    "linear": {"slope": 1.0, "intercept": 0.0, "scale": None, "margin": None},
    "relu": {"slope": 1.0, "intercept": 0.0, "scale": None, "margin": 0.0},
    "leaky_relu": {"slope": 1.0, "intercept": 0.0, "scale": None, "margin": 0.0},
    "swish": {"slope": 1.0, "intercept": 0.0, "scale": None, "margin": 12.0},  # z·σ(z) = z to 1e-4 for z ≥ 12
    "tanh": {"slope": 1.0, "intercept": 0.0, "scale": 0.25, "margin": None},   # tanh x ≈ x
    "sigmoid": {"slope": 0.25, "intercept": 0.5, "scale": 0.5, "margin": None},  # σ(x) ≈ ½ + x/4
}
# What an activation's output can be, where it is bounded: the range a new layer after it must pass on.
_BOUNDS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "relu": (0.0, None), "swish": (-0.2785, None)}


def identity_start(activation: str) -> str:
    """In words, what a layer added with ``init="identity"`` starts as (the page shows this sentence)."""
    shifted = ("the identity on the data (weights I; each bias lifts its unit's inputs above 0, where {f} is "
               "z itself; the next layer's bias takes the lift back){exact}")
    scaled = ("nearly the identity (weights scaled so {f} stays on its straight middle part, |z| ≤ {z}; the next "
              "layer's weights{bias} scaled back up): within 2 %")
    return {
        "linear": "the identity (weights I, biases 0): the network computes exactly what it did",
        "relu": shifted.format(f="ReLU", exact=": exact"),
        "leaky_relu": shifted.format(f="leaky ReLU", exact=": exact"),
        "swish": shifted.format(f="z·σ(z)", exact=": within 0.01 %").replace("above 0", "to 12 or more"),
        "tanh": scaled.format(f="tanh", z=0.25, bias=""),
        "sigmoid": scaled.format(f="σ(z) ≈ ½ + z/4", z=0.5, bias=" and bias"),
    }[activation]


def _incoming_range(model, at: int, inputs) -> tuple[np.ndarray, np.ndarray] | None:
    """Per feature, (low, high) of what the module at position ``at`` receives: from ``inputs`` (N, F) model
    inputs run through the modules before it, else from the bounds of the activation just before it."""
    if inputs is not None:
        h = np.asarray(inputs, dtype=model[at].weight.data.dtype)
        for module in list(model)[:at]:
            if not isinstance(module, Dropout):  # dropout is off outside training
                h = module(h)
        return h.min(axis=0), h.max(axis=0)
    before = model[at - 1] if at > 0 and isinstance(model[at - 1], Activation) else None
    low, high = _BOUNDS.get(before.name if before is not None else "", (None, None))
    width = model[at].in_features
    if low is None and high is None:
        return None
    return (np.full(width, -np.inf if low is None else low), np.full(width, np.inf if high is None else high))


def _identity_weights(new: Linear, following: Linear, activation: str, incoming) -> None:
    """Set ``new`` (n → width) to start as the identity through ``activation`` on the first min(n, width)
    features and ``following`` (width → out, its input columns already resized) to read it back; extra
    units of a wider layer keep their drawn incoming weights and get zero outgoing ones."""
    start = IDENTITY_STARTS[activation]
    n, width = new.in_features, new.out_features
    m = min(n, width)
    low, high = incoming if incoming is not None else (np.zeros(n), np.zeros(n))
    low, high = low[:m], high[:m]
    centre = np.zeros(m)
    s = np.ones(m)
    shift = np.zeros(m)
    if start["scale"] is not None:
        finite = np.isfinite(low) & np.isfinite(high)
        centre = np.where(finite, (low + high) / 2, 0.0)
        half = np.where(finite, (high - low) / 2, 1.0)
        s = start["scale"] / np.maximum(half, 1e-3)
    elif start["margin"] is not None:
        shift = np.maximum(0.0, -np.where(np.isfinite(low), low, 0.0)) + start["margin"]
    dtype = new.weight.data.dtype
    weight = np.zeros((width, n))
    weight[:m, :m] = np.diag(s)
    if width > n:  # extra units: keep their fresh incoming weights
        weight[m:] = new.weight.data[m:]
    new.weight.data[...] = weight.astype(dtype)
    if new.bias is not None:
        bias = np.zeros(width)
        bias[:m] = shift - s * centre
        new.bias.data[...] = bias.astype(dtype)
    # the next layer reads h_k = (a_k − intercept − slope·shift_k)/(slope·s_k) + centre_k
    old_w = following.weight.data[:, :m].astype(np.float64)
    slope, intercept = start["slope"], start["intercept"]
    read = old_w / (slope * s)
    offset = old_w @ (centre - (intercept + slope * shift) / (slope * s))
    following.weight.data[:, :m] = read.astype(dtype)
    following.weight.data[:, m:] = 0.0
    if following.bias is not None:
        following.bias.data[...] += offset.astype(dtype)


def insert_hidden_layer(model: Sequential, after_layer: int, width: int | None = None, activation: str = "tanh",
                        optimizer=None, rng=None, init: str = "identity", inputs=None) -> None:
    """Insert Linear + activation right after hidden layer ``after_layer`` (−1: right after the input).

    ``init="identity"`` (function-preserving growth): the new layer starts as close to the identity as its
    activation allows (``IDENTITY_STARTS``, ``identity_start``) and the next Linear is adjusted to read it
    back, so the network computes (nearly) what it did. ReLU-family and swish layers need to know how low
    their inputs go to shift them into the linear part, tanh and sigmoid how wide they spread to scale them
    into it: from ``inputs`` (N, in_features) model inputs (e.g. the training set), else from the bounds of
    the activation before the layer. The next Linear's optimizer state is reset where its weights were
    rescaled. ``init="random"``: torch's default init for the new layer, the next Linear untouched.

    ``width`` defaults to the width coming in (hidden layer ``after_layer``'s, or the input's). Otherwise the
    next Linear keeps its first min(old, width) input columns; with identity init the first min(n, width)
    units carry the identity and extra units start with zero outgoing weights, with random init new columns
    are drawn. A Dropout like the one after the previous hidden layer is copied along.
    """
    positions = _positions(model, "insert_hidden_layer")
    after_layer = _layer_index("insert_hidden_layer", "after_layer", after_layer, len(positions) - 1, low=-1)
    act = activation_from_name(activation)
    if init not in ("identity", "random"):
        raise ValueError(f'insert_hidden_layer: init must be "identity" or "random", got {init!r}')
    following = model[positions[after_layer + 1]]
    incoming = following.in_features
    width = incoming if width is None else _checks.positive_int("insert_hidden_layer", "width", width)
    rng = resolve_rng(rng)
    at = positions[after_layer + 1]
    incoming_range = _incoming_range(model, at, inputs) if init == "identity" else None
    dtype = following.weight.data.dtype
    new = Linear(incoming, width, bias=following.bias is not None, nonlinearity=act.name, rng=rng, dtype=dtype)
    edit = _Edit(optimizer)
    _input_width_change(edit, following, width, rng)
    if init == "identity":
        _identity_weights(new, following, act.name, incoming_range)
        if IDENTITY_STARTS[act.name]["scale"] is not None and optimizer is not None:  # rescaled: fresh state
            carried = edit.states.get(following.weight) or optimizer.state_of(following.weight)
            edit.states[following.weight] = {name: np.zeros_like(value) for name, value in carried.items()}
    dropout = model[at - 1] if after_layer >= 0 and isinstance(model[at - 1], Dropout) else None
    for offset, module in enumerate([new, act] + ([Dropout(dropout.p, rng=dropout.rng)] if dropout else [])):
        model.insert(at + offset, module)
    edit.done(model)


def remove_hidden_layer(model: Sequential, layer: int, optimizer=None) -> None:
    """Remove hidden Linear ``layer`` and the modules after it up to the next Linear.

    The next Linear then reads what the removed layer read; if the widths differ it keeps its first
    min(old, new) input columns and draws any new ones. The output layer cannot be removed.
    """
    positions = _positions(model, "remove_hidden_layer")
    layer = _layer_index("remove_hidden_layer", "layer", layer, len(positions) - 1)
    start, stop = positions[layer], positions[layer + 1]
    incoming = model[start].in_features
    edit = _Edit(optimizer)
    _input_width_change(edit, model[stop], incoming, resolve_rng(None))
    for _ in range(stop - start):
        model.pop(start)
    edit.done(model)


def set_activation(model: Sequential, name: str, layer: int | None = None) -> None:
    """Use activation ``name`` after Linear ``layer`` (any Linear, the output one included), or after every
    hidden Linear when ``layer`` is None. Replaces the activation module there, or inserts one; no weight
    changes, and optimizers need no update."""
    positions = _positions(model, "set_activation")
    activation_from_name(name)
    if layer is None:
        layers = range(len(positions) - 1)
    else:
        layers = [_layer_index("set_activation", "layer", layer, len(positions))]
    for k in sorted(layers, reverse=True):  # back to front: insertions do not shift the positions still to do
        position = positions[k]
        act = activation_from_name(name)
        if position + 1 < len(model) and isinstance(model[position + 1], Activation):
            model[position + 1] = act
        else:
            model.insert(position + 1, act)


# The draw each activation wants (torch.nn.init names): He (Kaiming) for the ReLU family and swish, Xavier
# (Glorot) for the S-shaped ones and linear.
INIT_FOR_ACTIVATION = {"relu": "kaiming_uniform", "leaky_relu": "kaiming_uniform", "swish": "kaiming_uniform",
                       "tanh": "xavier_uniform", "sigmoid": "xavier_uniform", "linear": "xavier_uniform"}


def reinitialize(model: Sequential, layer: int, optimizer=None, rng=None) -> str:
    """Redraw Linear ``layer``'s weight for the activation after it (``INIT_FOR_ACTIVATION``, with torch's gain)
    and zero its bias, so a layer switched to another activation starts as that activation wants; the other
    layers keep their weights. The optimizer's state for the two starts afresh. Returns the scheme used."""
    positions = _positions(model, "reinitialize")
    layer = _layer_index("reinitialize", "layer", layer, len(positions))
    linear = model[positions[layer]]
    after = model[positions[layer] + 1] if positions[layer] + 1 < len(model) else None
    name = after.name if isinstance(after, Activation) else "linear"
    scheme = INIT_FOR_ACTIVATION.get(name, "xavier_uniform")
    rng = resolve_rng(rng)
    weight = linear.weight.data
    weight[...] = init_weight(weight.shape, scheme, rng, weight.dtype, name)
    if linear.bias is not None:
        linear.bias.data[...] = 0.0
    if optimizer is not None:
        params = [p for p in (linear.weight, linear.bias) if p is not None]
        states = {p: {k: np.zeros_like(v) for k, v in optimizer.state_of(p).items()} for p in params}
        optimizer.set_params(list(model.parameters()), states)
    return scheme
