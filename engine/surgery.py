"""Live surgery on an MLP (a Sequential of Linear layers and activations) while it trains.

Layer indices count the Linear layers, 0-based; the hidden layers are every Linear but the last. A hidden
neuron j of Linear k is row j of its weight and entry j of its bias, plus column j of Linear k+1's weight.
Every weight not named by the operation keeps its value bit-for-bit; new weights get torch's default
init U(±1/√fan_in) from a seeded generator (new outgoing weights too, so a new neuron contributes at once).
When an ``optimizer`` is given, it is handed the new parameter list with the state (momentum, Adam moments)
of every kept entry carried over, and zeros for new entries.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks
from .activations import Activation, activation_from_name
from .container import Sequential
from .dropout import Dropout
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

    def resize(self, linear: Linear, rows: np.ndarray | None = None, cols: np.ndarray | None = None,
               new_rows: int = 0, new_cols: int = 0, rng=None) -> None:
        """Keep ``rows``/``cols`` (index arrays; None = all) of the weight, append ``new_rows`` and
        ``new_cols`` drawn from U(±1/√fan_in) of the resized layer; the bias follows the rows."""
        out_kept = linear.out_features if rows is None else len(rows)
        in_kept = linear.in_features if cols is None else len(cols)
        out_f, in_f = out_kept + new_rows, in_kept + new_cols
        bound = 1.0 / math.sqrt(in_f)
        dtype = linear.weight.data.dtype

        def resized(array, is_weight):
            kept = array if rows is None else array[rows]
            if is_weight and cols is not None:
                kept = kept[:, cols]
            shape = (out_f, in_f) if is_weight else (out_f,)
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
                        new[out_kept:, :] = rng.uniform(-bound, bound, (new_rows, in_f))
                    if new_cols:
                        new[:out_kept, in_kept:] = rng.uniform(-bound, bound, (out_kept, new_cols))
                elif new_rows:
                    new[out_kept:] = rng.uniform(-bound, bound, new_rows)
            return new

        for name in ("weight", "bias"):
            old = getattr(linear, name)
            if old is None:
                continue
            fresh = Parameter(grown(old.data, name == "weight").astype(dtype, copy=False))
            fresh.grad[...] = resized(old.grad, name == "weight")  # keep the pending gradient of kept entries
            if self.optimizer is not None:
                self.states[fresh] = {key: resized(value, name == "weight")
                                      for key, value in self.optimizer.state_of(old).items()}
            setattr(linear, name, fresh)
        linear.out_features, linear.in_features = out_f, in_f

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


def insert_hidden_layer(model: Sequential, after_layer: int, width: int | None = None, activation: str = "tanh",
                        optimizer=None, rng=None) -> None:
    """Insert Linear + activation right after hidden layer ``after_layer`` (−1: right after the input).

    ``width`` defaults to the width coming in (hidden layer ``after_layer``'s, or the input's), which
    leaves every existing weight untouched. Otherwise the next Linear keeps its first min(old, width) input
    columns and draws any new ones. A Dropout like the one after the previous hidden layer is copied along.
    """
    positions = _positions(model, "insert_hidden_layer")
    after_layer = _layer_index("insert_hidden_layer", "after_layer", after_layer, len(positions) - 1, low=-1)
    act = activation_from_name(activation)
    following = model[positions[after_layer + 1]]
    incoming = following.in_features
    width = incoming if width is None else _checks.positive_int("insert_hidden_layer", "width", width)
    rng = resolve_rng(rng)
    dtype = following.weight.data.dtype
    new = Linear(incoming, width, bias=following.bias is not None, nonlinearity=act.name, rng=rng, dtype=dtype)
    edit = _Edit(optimizer)
    _input_width_change(edit, following, width, rng)
    at = positions[after_layer + 1]
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
