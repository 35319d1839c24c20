"""Live surgery on a SequenceModel's recurrent layer (RNN, LSTM or GRU) while it trains.

    set_hidden_size(model, 24, optimizer)      add_hidden_unit / remove_hidden_unit(model, unit)
    set_num_layers(model, 3, optimizer)        set_bidirectional(model, True, optimizer)
    set_bias(model, False, optimizer)

``hidden_size`` is shared by every layer and direction (as in torch.nn.RNN), so a hidden unit j is, in each
layer k and direction d: row j of every gate block of ``weight_ih_l{k}``, ``weight_hh_l{k}`` and the biases,
column j of ``weight_hh_l{k}``, column j of each direction block of ``weight_ih_l{k+1}``, and for the top layer
column j of each direction block of the head's weight.

Every weight the operation does not name keeps its value bit-for-bit, with its pending gradient and its
optimizer state (momentum, Adam moments); new entries start with zero state. What a change adds is chosen so
the model computes the same function the moment it is made, wherever that is possible: a new unit's incoming
weights (its rows) are drawn from U(±1/√H_out) as torch draws them, its outgoing weights (the columns other
units and the head read it by) start at zero; a new reverse direction is drawn fresh, and the columns by which
the next layer and the head read it start at zero; a new bias is zero. A new top layer cannot preserve the
function (a tanh cell cannot be the identity) and is drawn fresh, as torch would draw it.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .parameter import Parameter
from .random import resolve_rng
from .recurrent import parameter_name

# what fills a new entry: drawn like torch's init, or zero (so the function is unchanged)
_DRAW, _ZERO = -1, -2


def _block_map(blocks: int, old: int, kept: np.ndarray, new_count: int, fill: int) -> np.ndarray:
    """Index map of an axis made of ``blocks`` blocks of ``old`` entries: per block, the kept entries' old
    indices, then ``new_count`` entries marked ``fill``."""
    per_block = [np.concatenate([b * old + kept, np.full(new_count, fill)]) for b in range(blocks)]
    return np.concatenate(per_block).astype(int)


class _Edit:
    """Builds replacement parameters from index maps, carrying gradients and optimizer state."""

    def __init__(self, model, optimizer, rng):
        self.model, self.optimizer = model, optimizer
        self.rng = model.rnn._rng if rng is None else resolve_rng(rng)
        self.states: dict = {}

    def remap(self, p: Parameter, rows: np.ndarray | None, cols: np.ndarray | None, bound: float) -> Parameter:
        """A new Parameter whose entry [i, j] is p[rows[i], cols[j]] (None: the axis unchanged); a negative
        index means a new entry, drawn from U(±bound) (``_DRAW``) or zero (``_ZERO``), drawn row-major."""
        data = p.data
        rows = np.arange(data.shape[0]) if rows is None else rows
        if data.ndim == 1:
            cols = None
        elif cols is None:
            cols = np.arange(data.shape[1])
        shape = (len(rows),) if cols is None else (len(rows), len(cols))
        draw = rows[:, None] == _DRAW if cols is None else (rows[:, None] == _DRAW) | (cols[None, :] == _DRAW)
        draw = draw.reshape(shape)

        def moved(array, new_values):
            out = np.zeros(shape, dtype=array.dtype)
            keep_rows = rows >= 0
            if cols is None:
                out[keep_rows] = array[rows[keep_rows]]
            else:
                keep_cols = cols >= 0
                out[np.ix_(keep_rows, keep_cols)] = array[np.ix_(rows[keep_rows], cols[keep_cols])]
            if new_values:
                out[draw] = self.rng.uniform(-bound, bound, size=int(draw.sum()))
            return out

        fresh = Parameter(moved(data, True))
        fresh.grad[...] = moved(p.grad, False)
        if self.optimizer is not None:
            self.states[fresh] = {k: moved(v, False) for k, v in self.optimizer.state_of(p).items()}
        return fresh

    def draw(self, shape, bound: float, dtype) -> Parameter:
        return Parameter(self.rng.uniform(-bound, bound, size=shape).astype(dtype))

    def done(self) -> None:
        rnn = self.model.rnn
        rnn.rebuild()
        rnn.output = None  # the cached pass no longer matches the weights: backward needs a new forward
        rnn.hidden_states, rnn._grad_states = [], []
        self.model.head.in_features = self.model.head.weight.shape[1]
        if self.optimizer is not None:
            self.optimizer.set_params(list(self.model.parameters()), self.states)


def _bound(hidden_size: int) -> float:
    return 1.0 / np.sqrt(hidden_size)


def _resize_units(model, kept: np.ndarray, new_count: int, optimizer, rng) -> None:
    rnn = model.rnn
    H, D, G = rnn.hidden_size, rnn.num_directions, rnn.gate_count
    new_H = len(kept) + new_count
    bound = _bound(new_H)
    edit = _Edit(model, optimizer, rng)
    gate_rows = _block_map(G, H, kept, new_count, _DRAW)     # a new unit's own rows: drawn
    unit_cols = _block_map(1, H, kept, new_count, _ZERO)     # read by the other units: zero
    layer_cols = _block_map(D, H, kept, new_count, _ZERO)    # read by the next layer / the head: zero
    for k in range(rnn.num_layers):
        for d in range(D):
            w_ih, w_hh, b_ih, b_hh = rnn._cells[k][d]
            # a new row is drawn whole, its own recurrent weight included; old rows read the new unit with 0
            replaced = {"weight_ih": edit.remap(w_ih, gate_rows, None if k == 0 else layer_cols, bound),
                        "weight_hh": edit.remap(w_hh, gate_rows, unit_cols, bound)}
            if b_ih is not None:
                replaced["bias_ih"] = edit.remap(b_ih, gate_rows, None, bound)
                replaced["bias_hh"] = edit.remap(b_hh, gate_rows, None, bound)
            for kind, p in replaced.items():
                setattr(rnn, parameter_name(kind, k, d), p)
    model.head.weight = edit.remap(model.head.weight, None, layer_cols, bound)
    rnn.hidden_size = new_H
    edit.done()


def set_hidden_size(model, hidden_size: int, optimizer=None, rng=None) -> None:
    """Keep units 0 … min(old, new)−1 of every layer and direction; add any new ones at the end."""
    where = "set_hidden_size"
    hidden_size = _checks.positive_int(where, "hidden_size", hidden_size)
    old = model.rnn.hidden_size
    if hidden_size != old:
        _resize_units(model, np.arange(min(old, hidden_size)), max(0, hidden_size - old), optimizer, rng)


def add_hidden_unit(model, optimizer=None, rng=None) -> None:
    set_hidden_size(model, model.rnn.hidden_size + 1, optimizer, rng)


def remove_hidden_unit(model, unit: int = -1, optimizer=None) -> None:
    """Remove hidden unit ``unit`` (negative counts from the end) from every layer and direction."""
    H = model.rnn.hidden_size
    if H == 1:
        raise ValueError("remove_hidden_unit: hidden_size is 1; a recurrent layer keeps at least one unit")
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not -H <= unit < H:
        raise ValueError(f"remove_hidden_unit: unit must be an integer in [{-H}, {H - 1}], got {unit!r}")
    _resize_units(model, np.delete(np.arange(H), int(unit) % H), 0, optimizer, None)


def set_num_layers(model, num_layers: int, optimizer=None, rng=None) -> None:
    """Add fresh layers on top, or remove the top ones; the layers below keep every weight. The head reads
    the top layer's D·H_out features either way, so it keeps its weights too."""
    rnn = model.rnn
    num_layers = _checks.positive_int("set_num_layers", "num_layers", num_layers)
    if num_layers == rnn.num_layers:
        return
    edit = _Edit(model, optimizer, rng)
    dtype = rnn.dtype
    old = rnn.num_layers
    rnn.num_layers = num_layers
    for k in range(old, num_layers):
        for d in range(rnn.num_directions):
            for kind, shape in rnn.parameter_shapes(k):
                setattr(rnn, parameter_name(kind, k, d), edit.draw(shape, _bound(rnn.hidden_size), dtype))
    edit.done()  # rebuild() drops the parameters of layers past num_layers


def set_bidirectional(model, bidirectional: bool, optimizer=None, rng=None) -> None:
    """Add the reverse direction (fresh weights; the next layer and the head read it through new zero columns,
    so the model's output is unchanged at first) or remove it (and the columns that read it)."""
    rnn = model.rnn
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise ValueError(f"set_bidirectional: bidirectional must be True or False, got {bidirectional!r}")
    if bool(bidirectional) == rnn.bidirectional:
        return
    H = rnn.hidden_size
    edit = _Edit(model, optimizer, rng)
    bound, dtype = _bound(H), rnn.dtype
    forward_cols = _block_map(1, H, np.arange(H), 0, _ZERO)
    cols = np.concatenate([forward_cols, np.full(H, _ZERO)]) if bidirectional else forward_cols
    rnn.bidirectional, rnn.num_directions = bool(bidirectional), 2 if bidirectional else 1
    for k in range(rnn.num_layers):
        if k > 0:
            name = parameter_name("weight_ih", k, 0)
            setattr(rnn, name, edit.remap(getattr(rnn, name), None, cols, bound))
        if bidirectional:
            for kind, shape in rnn.parameter_shapes(k):
                setattr(rnn, parameter_name(kind, k, 1), edit.draw(shape, bound, dtype))
    model.head.weight = edit.remap(model.head.weight, None, cols, bound)
    edit.done()  # rebuild() drops the reverse parameters when turned off


def set_bias(model, bias: bool, optimizer=None) -> None:
    """Add zero biases (the function is unchanged) or remove them."""
    rnn = model.rnn
    if not isinstance(bias, (bool, np.bool_)):
        raise ValueError(f"set_bias: bias must be True or False, got {bias!r}")
    if bool(bias) == rnn.bias:
        return
    edit = _Edit(model, optimizer, None)
    rnn.bias = bool(bias)
    if bias:
        for k in range(rnn.num_layers):
            for d in range(rnn.num_directions):
                for kind, shape in rnn.parameter_shapes(k)[2:]:
                    setattr(rnn, parameter_name(kind, k, d), Parameter(np.zeros(shape, dtype=rnn.dtype)))
    else:
        for k in range(rnn.num_layers):
            for d in range(rnn.num_directions):
                for kind in ("bias_ih", "bias_hh"):
                    rnn._parameters.pop(parameter_name(kind, k, d), None)
                    object.__delattr__(rnn, parameter_name(kind, k, d))
    edit.done()
