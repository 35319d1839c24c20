"""Live surgery on a network while it trains: neurons and hidden layers of an MLP, kernels of a CNN.

MLP operations take layer indices that count the Linear layers, 0-based; the hidden layers are every Linear but the last. A hidden
neuron j of Linear k is row j of its weight and entry j of its bias, plus column j of Linear k+1's weight.
Every weight not named by the operation keeps its value bit-for-bit; new weights get torch's default
init U(±1/√fan_in) from a seeded generator (new outgoing weights too, so a new neuron contributes at once).
When an ``optimizer`` is given, it is handed the new parameter list with the state (momentum, Adam moments)
of every kept entry carried over, and zeros for new entries. CNN operations (``add_kernel``, ``remove_kernel``,
``set_conv_geometry``) take the Conv2d's position in the Sequential (its state_dict prefix), and keep the same
promises; see the section below.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks
from .activations import Activation, activation_from_name
from .container import Sequential
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .dropout import Dropout, Flatten
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


# --- convolutional networks: kernels (output channels) of a Conv2d, and its geometry ---------------------------
#
# Output channel j of a Conv2d is its kernel j (weight[j], shape (C_in, kH, kW)) and bias[j]. What reads channel
# j downstream — after any activations, dropout and pools, which keep channels apart — is either the next Conv2d
# (its input channel j: weight[:, j]) or, after a Flatten, a Linear: the H·W columns j·H·W … (j+1)·H·W − 1 of
# its weight, since flattening (C, H, W) puts each channel's plane in one block.

_CHANNEL_WISE = (Activation, Dropout, MaxPool2d, AvgPool2d)


def _conv_at(model, index, where: str) -> Conv2d:
    if not isinstance(model, Sequential):
        raise ValueError(f"{where}: model must be a Sequential, got {type(model).__name__}")
    convs = [i for i, m in enumerate(model) if isinstance(m, Conv2d)]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or int(index) not in convs:
        raise ValueError(f"{where}: index must be the position of a Conv2d in the model, one of {convs}, "
                         f"got {index!r}")
    return model[int(index)]


def _channel_reader(model: Sequential, index: int, where: str):
    """What reads the channels of the Conv2d at ``index``: ``(Conv2d, None)``, ``(Linear, H·W)`` after a Flatten,
    or ``(None, None)`` when the channels are the model's output."""
    flatten = False
    for position in range(index + 1, len(model)):
        module = model[position]
        if isinstance(module, Conv2d) and not flatten:
            return module, None
        if isinstance(module, Flatten) and not flatten and (module.start_dim, module.end_dim) in ((1, -1), (1, 3)):
            flatten = True
        elif isinstance(module, Linear) and flatten:
            channels = model[index].out_channels
            return module, module.in_features // channels
        elif not isinstance(module, _CHANNEL_WISE):
            raise ValueError(f"{where}: cannot follow the channels of layer {index} through layer {position} "
                             f"({type(module).__name__}); expected activations, dropout and pools up to the next "
                             f"Conv2d, or a Flatten(1, -1) and a Linear")
    return None, None


def _channel_block(channel: int, plane: int | None) -> np.ndarray:
    """The input columns of the reader that carry ``channel``: one for a Conv2d, its H·W block for a Linear."""
    return np.arange(channel, channel + 1) if plane is None else np.arange(channel * plane, (channel + 1) * plane)


def add_kernel(model: Sequential, index: int, optimizer=None, rng=None) -> None:
    """Append one kernel (output channel) to the Conv2d at position ``index`` of ``model``.

    Its weights and bias are drawn from U(±1/√fan_in); the layer that reads the channels gets a new input channel
    (the next Conv2d) or a new H·W block of columns (a Linear after Flatten), drawn likewise so the new kernel
    contributes at once. Every other weight, and its optimizer state, is kept bit-for-bit.
    """
    conv = _conv_at(model, index, "add_kernel")
    reader, plane = _channel_reader(model, int(index), "add_kernel")
    rng = resolve_rng(rng)
    edit = _Edit(optimizer)
    edit.resize(conv, new_rows=1, rng=rng)
    if reader is not None:
        edit.resize(reader, new_cols=1 if plane is None else plane, rng=rng)
    edit.done(model)


def remove_kernel(model: Sequential, index: int, kernel: int = -1, optimizer=None) -> None:
    """Remove kernel (output channel) ``kernel`` (negative counts from the end) of the Conv2d at ``index``, and
    the input channel (or H·W block of columns) that read it downstream. Everything else is kept bit-for-bit."""
    conv = _conv_at(model, index, "remove_kernel")
    count = conv.out_channels
    if count == 1:
        raise ValueError(f"remove_kernel: layer {index} has a single kernel; a Conv2d keeps at least one "
                         f"(remove the layer instead)")
    kernel = _layer_index("remove_kernel", "kernel", kernel, count, low=-count) % count
    reader, plane = _channel_reader(model, int(index), "remove_kernel")
    edit = _Edit(optimizer)
    edit.resize(conv, rows=_keep_all_but(count, kernel))
    if reader is not None:
        columns = reader.weight.data.shape[1]
        edit.resize(reader, cols=np.setdiff1d(np.arange(columns), _channel_block(kernel, plane)))
    edit.done(model)


def set_conv_geometry(model: Sequential, index: int, input_shape, *, kernel_size=None, stride=None, padding=None,
                      optimizer=None, rng=None) -> None:
    """Change the kernel size, stride or padding of the Conv2d at ``index`` (None keeps the current one).

    ``input_shape`` is one sample's, ``(C, H, W)``: the whole edited network is checked against it first
    (engine.summary), so an edit that cannot run is refused and changes nothing. A new kernel size re-initialises
    that layer only (its weights have a new shape; a stride or padding change keeps them). Channels do not change,
    so the layers after it keep their weights — except a Linear after Flatten whose in_features the new feature-map
    size changes: its columns meant pixels that have moved, so it is re-initialised too. Nothing else is touched;
    optimizer state of the re-initialised layers starts at zero.
    """
    from .summary import spec_of, summary

    conv = _conv_at(model, index, "set_conv_geometry")
    where = f"set_conv_geometry: layer {index}"
    kernel_size = conv.kernel_size if kernel_size is None else _checks.pair(where, "kernel_size", kernel_size)
    stride = conv.stride if stride is None else _checks.pair(where, "stride", stride)
    padding = conv.padding if padding is None else _checks.pair(where, "padding", padding, minimum=0)
    # The edited network as specs, every Linear's in_features left to follow from what comes in.
    specs = [{k: v for k, v in spec_of(m).items() if k != "in_features"} for m in model]
    specs[int(index)].update(kernel_size=kernel_size, stride=stride, padding=padding)
    rows = summary(specs, input_shape).rows  # refuses an edit that cannot run, before anything changes
    rng = resolve_rng(rng)
    dtype = conv.weight.data.dtype
    if kernel_size != conv.kernel_size:  # a new weight shape: this layer starts afresh
        model[int(index)] = Conv2d(conv.in_channels, conv.out_channels, kernel_size, stride, padding,
                                   conv.bias is not None, rng=rng, dtype=dtype)
    else:  # same weights, new geometry
        conv.stride, conv.padding = stride, padding
        conv._where = repr(conv)
    for position, module in enumerate(model):
        features = rows[position - 1].output_shape[-1]
        if isinstance(module, Linear) and module.in_features != features:
            model[position] = Linear(features, module.out_features, module.bias is not None, rng=rng, dtype=dtype)
    if optimizer is not None:
        optimizer.set_params(list(model.parameters()))
