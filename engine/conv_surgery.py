"""Live surgery on a CNN while it trains: kernels (output channels) of a Conv2d, and its geometry.

The operations take the Conv2d's position in the Sequential (its state_dict prefix) and keep engine.surgery's
promises: every weight not named keeps its value bit-for-bit, new weights get torch's default init from a
seeded generator, and a given ``optimizer`` keeps the state of every kept entry (zeros for new ones).
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .activations import Activation
from .container import Sequential
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .dropout import Dropout, Flatten
from .linear import Linear
from .random import resolve_rng
from .surgery import _Edit, _keep_all_but, _layer_index

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
