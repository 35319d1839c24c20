"""Parameter and shape summary of a Sequential, as torchinfo's, with the arithmetic shown (as ConvNetJS's cards).

    from engine.summary import summary
    table = summary(model, (1, 28, 28))     # or (64,) for a network of Linear layers
    print(table)                             # one row per layer, then the total
    table.total_parameters == model.num_parameters()

Each row says what a student would work out on paper: the output shape ``(N, C, H, W)`` with
``H_out = ⌊(H + 2P − K)/S⌋ + 1`` filled in with the numbers, the parameters with ``(K·K·C_in + 1)·C_out``
(``(in + 1)·out`` for Linear) filled in, and the multiply-adds per sample. N is whatever the batch is.

``summary`` also reads layer *specs* (``{"type": "Conv2d", "out_channels": 8, "kernel_size": 5, ...}``, torch's
constructor arguments), so an architecture can be checked before any weight is allocated; see
``engine.builders.sequential``. An architecture that cannot run — a kernel larger than its padded input, an
output size below 1, channels or in_features that do not match what comes in, more parameters than a limit —
raises ValueError naming the layer, the formula and the numbers that broke it.
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field

from . import _checks
from .activations import ACTIVATIONS, Activation
from .container import Sequential
from .conv import AvgPool2d, Conv2d, MaxPool2d, conv_output_size
from .dropout import Dropout, Flatten
from .linear import Linear
from .module import Module

# The layer types a spec may name, as torch.nn spells them (activations by class name, e.g. "ReLU").
LAYER_TYPES = ("Conv2d", "MaxPool2d", "AvgPool2d", "Dropout", "Flatten", "Linear",
               *sorted({cls.__name__ for cls in ACTIVATIONS.values()}))


def _constructor_arguments(cls) -> frozenset[str]:
    """The arguments a spec may give a layer: its constructor's positional-or-keyword ones (not rng, dtype...)."""
    return frozenset(name for name, p in inspect.signature(cls.__init__).parameters.items()
                     if name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD)


_ARGUMENTS = {cls.__name__: _constructor_arguments(cls)
              for cls in (Conv2d, MaxPool2d, AvgPool2d, Dropout, Flatten, Linear, *ACTIVATIONS.values())}


def _n(value: int) -> str:
    """A count as a student writes it: 5,994."""
    return f"{value:,}"


@dataclass(frozen=True)
class LayerRow:
    """One layer of a summary. Shapes are per sample (the batch N is left out); formulas carry the numbers.

    ``name`` is the layer's key in the Sequential ("3": its parameters are "3.weight", "3.bias").
    """

    name: str
    type: str
    output_shape: tuple[int, ...]
    shape_formula: str
    parameters: int
    parameter_formula: str
    mult_adds: int
    mult_adds_formula: str

    @property
    def shape_text(self) -> str:
        """The output shape with the batch: ``(N, 8, 28, 28)``."""
        return "(" + ", ".join(["N", *map(str, self.output_shape)]) + ")"

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "output_shape": list(self.output_shape),
                "shape_text": self.shape_text, "shape_formula": self.shape_formula,
                "parameters": self.parameters, "parameter_formula": self.parameter_formula,
                "mult_adds": self.mult_adds, "mult_adds_formula": self.mult_adds_formula}


@dataclass(frozen=True)
class Summary:
    """Rows in order, and the totals (``total_parameters`` equals the built model's ``num_parameters()``)."""

    input_shape: tuple[int, ...]
    rows: list[LayerRow] = field(default_factory=list)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.rows[-1].output_shape if self.rows else self.input_shape

    @property
    def total_parameters(self) -> int:
        return sum(row.parameters for row in self.rows)

    @property
    def total_mult_adds(self) -> int:
        return sum(row.mult_adds for row in self.rows)

    @property
    def total_formula(self) -> str:
        """``208 + 3,216 + 2,570 = 5,994``: the layers that have parameters, added up."""
        counts = [_n(row.parameters) for row in self.rows if row.parameters]
        return f"{' + '.join(counts) or '0'} = {_n(self.total_parameters)}"

    def as_dict(self) -> dict:
        return {"input_shape": list(self.input_shape), "rows": [row.as_dict() for row in self.rows],
                "total_parameters": self.total_parameters, "total_formula": self.total_formula,
                "total_mult_adds": self.total_mult_adds}

    def __str__(self) -> str:
        header = ("layer", "type", "output shape", "parameters", "mult-adds")
        lines = [(row.name, row.type, row.shape_text, row.parameter_formula or "0", _n(row.mult_adds))
                 for row in self.rows]
        lines.append(("", "total", "", self.total_formula, _n(self.total_mult_adds)))
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
        text = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in [header, *lines]]
        text.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(text)


# --- reading a layer: a built module or a spec, as one dict of torch's constructor arguments ------------------

def spec_of(module: Module) -> dict:
    """The layer spec (torch's constructor arguments and a ``type``) that builds a module like ``module``."""
    if isinstance(module, Conv2d):
        return {"type": "Conv2d", "in_channels": module.in_channels, "out_channels": module.out_channels,
                "kernel_size": module.kernel_size, "stride": module.stride, "padding": module.padding,
                "bias": module.bias is not None}
    if isinstance(module, (MaxPool2d, AvgPool2d)):
        return {"type": type(module).__name__, "kernel_size": module._kernel, "stride": module._stride}
    if isinstance(module, Linear):
        return {"type": "Linear", "in_features": module.in_features, "out_features": module.out_features,
                "bias": module.bias is not None}
    if isinstance(module, Flatten):
        return {"type": "Flatten", "start_dim": module.start_dim, "end_dim": module.end_dim}
    if isinstance(module, (Dropout, Activation)):
        return {"type": type(module).__name__}
    raise ValueError(f"summary: {type(module).__name__} cannot be summarised; expected a Sequential of "
                     f"{', '.join(LAYER_TYPES)}")


def _checked_spec(where: str, spec) -> dict:
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: must be a Module or a dict with a 'type', got {type(spec).__name__}")
    kind = spec.get("type")
    if kind not in LAYER_TYPES:
        raise ValueError(f"{where}: type must be one of {list(LAYER_TYPES)}, got {kind!r}")
    allowed = _ARGUMENTS[kind]
    unknown = sorted(set(spec) - allowed - {"type"})
    if unknown:
        raise ValueError(f"{where}: unknown argument{'s' if len(unknown) > 1 else ''} {unknown}; {kind} takes "
                         f"{sorted(allowed) or 'no arguments'}")
    spec = dict(spec)
    if kind == "Conv2d":
        spec["kernel_size"] = _checks.pair(where, "kernel_size", spec.get("kernel_size"))
        spec["stride"] = _checks.pair(where, "stride", spec.get("stride", 1))
        spec["padding"] = _checks.pair(where, "padding", spec.get("padding", 0), minimum=0)
        spec["out_channels"] = _checks.positive_int(where, "out_channels", spec.get("out_channels"))
        spec.setdefault("bias", True)
    elif kind in ("MaxPool2d", "AvgPool2d"):
        spec["kernel_size"] = _checks.pair(where, "kernel_size", spec.get("kernel_size"))
        spec["stride"] = (spec["kernel_size"] if spec.get("stride") is None
                          else _checks.pair(where, "stride", spec["stride"]))
    elif kind == "Linear":
        spec["out_features"] = _checks.positive_int(where, "out_features", spec.get("out_features"))
        spec.setdefault("bias", True)
    elif kind == "Dropout":
        spec["p"] = _checks.probability(where, "p", spec.get("p", 0.5), allow_one=True)
    elif kind == "Flatten":
        spec.setdefault("start_dim", 1)
        spec.setdefault("end_dim", -1)
    return spec


# --- one row per layer type -----------------------------------------------------------------------------------

def _spatial_formula(where: str, hw, kernel, stride, padding) -> tuple[tuple[int, int], str]:
    """(H_out, W_out) and the filled-in formula; ValueError naming the numbers when a size would be < 1."""
    parts, sizes = [], []
    for axis, size, k, s, p in zip("HW", hw, kernel, stride, padding):
        inner = f"{size} + 2·{p} − {k}" if p is not None else f"{size} − {k}"
        out = conv_output_size(size, k, s, p or 0)
        text = f"⌊({inner})/{s}⌋ + 1 = {out}"
        if size + 2 * (p or 0) < k:
            padded = f"{size} + 2·{p} = {size + 2 * p}" if p is not None else f"{size}"
            raise ValueError(f"{where}: kernel {k} is larger than the {'padded ' if p is not None else ''}input "
                             f"{axis} = {padded}, so {axis}_out = {text} < 1; expected kernel_size <= "
                             f"{axis}{' + 2·padding' if p is not None else ''}")
        parts.append((axis, text))
        sizes.append(out)
    if parts[0][1] == parts[1][1]:
        return tuple(sizes), f"H_out = W_out = {parts[0][1]}"
    return tuple(sizes), ", ".join(f"{axis}_out = {text}" for axis, text in parts)


def _needs_image(where: str, shape, origin: str) -> None:
    if len(shape) != 3:
        raise ValueError(f"{where}: expects an input (N, C, H, W) but gets (N, {', '.join(map(str, shape))}) "
                         f"{origin}")


def _conv_row(where, spec, shape, origin):
    _needs_image(where, shape, origin)
    c, h, w = shape
    given = spec.get("in_channels")
    if given is not None and given != c:
        raise ValueError(f"{where}: in_channels is {given} but its input has {c} channels {origin}; "
                         f"expected in_channels = {c}")
    (kh, kw), c_out = spec["kernel_size"], spec["out_channels"]
    (h_out, w_out), shape_formula = _spatial_formula(where, (h, w), spec["kernel_size"], spec["stride"],
                                                     spec["padding"])
    per_kernel = kh * kw * c
    if spec["bias"]:
        parameters, formula = (per_kernel + 1) * c_out, f"({kh}·{kw}·{c} + 1)·{c_out}"
    else:
        parameters, formula = per_kernel * c_out, f"{kh}·{kw}·{c}·{c_out}"
    mult_adds = c_out * h_out * w_out * per_kernel
    return ((c_out, h_out, w_out), shape_formula, parameters, f"{formula} = {_n(parameters)}", mult_adds,
            f"{c_out}·{h_out}·{w_out}·({kh}·{kw}·{c}) = {_n(mult_adds)}")


def _pool_row(where, spec, shape, origin):
    _needs_image(where, shape, origin)
    c, h, w = shape
    (h_out, w_out), shape_formula = _spatial_formula(where, (h, w), spec["kernel_size"], spec["stride"],
                                                     (None, None))
    return (c, h_out, w_out), shape_formula, 0, "", 0, ""


def _linear_row(where, spec, shape, origin):
    features, out = shape[-1], spec["out_features"]
    given = spec.get("in_features")
    if given is not None and given != features:
        hint = " (add a Flatten before it)" if len(shape) > 1 else ""
        raise ValueError(f"{where}: in_features is {given} but its input has {features} features {origin}; "
                         f"expected in_features = {features}{hint}")
    parameters = (features + 1) * out if spec["bias"] else features * out
    formula = f"({features} + 1)·{out}" if spec["bias"] else f"{features}·{out}"
    positions = 1
    for size in shape[:-1]:
        positions *= size
    mult_adds = positions * features * out
    lead = "".join(f"{s}·" for s in shape[:-1])  # Linear acts on the last dimension of a larger input
    return ((*shape[:-1], out), f"out_features = {out}", parameters, f"{formula} = {_n(parameters)}", mult_adds, f"{lead}{features}·{out} = {_n(mult_adds)}")


def _flatten_row(where, spec, shape, origin):
    dims = ("N", *shape)
    start, end = spec["start_dim"], spec["end_dim"]
    if not (-len(dims) <= start < len(dims) and -len(dims) <= end < len(dims)) or start % len(dims) > end % len(dims):
        raise ValueError(f"{where}: start_dim={start}, end_dim={end} do not fit an input (N, "
                         f"{', '.join(map(str, shape))}) {origin}")
    start, end = start % len(dims), end % len(dims)
    if start == 0:
        raise ValueError(f"{where}: start_dim={spec['start_dim']} would fold the batch N in; expected start_dim >= 1")
    merged = shape[start - 1:end]
    size = 1
    for s in merged:
        size *= s
    out = (*shape[:start - 1], size, *shape[end:])
    names = "C·H·W" if len(shape) == 3 and (start, end) == (1, 3) else "·".join(map(str, merged))
    numbers_ = "·".join(map(str, merged))
    text = f"{names} = {numbers_} = {_n(size)}" if names != numbers_ else f"{numbers_} = {_n(size)}"
    return out, text, 0, "", 0, ""


def _same_row(where, spec, shape, origin):
    return shape, "same as its input", 0, "", 0, ""


_ROWS = {"Conv2d": _conv_row, "MaxPool2d": _pool_row, "AvgPool2d": _pool_row, "Linear": _linear_row,
         "Flatten": _flatten_row}


def _input_shape(input_shape) -> tuple[int, ...]:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) not in (1, 3) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"summary: input_shape must be (C, H, W) for images or (F,) for features, every size "
                         f">= 1 (no batch dimension), got {input_shape!r}")
    return tuple(int(s) for s in shape)


def summary(model, input_shape, *, max_parameters: int | None = None) -> Summary:
    """Rows for ``model`` (a Sequential, or a list of modules or layer specs) on inputs of ``input_shape``.

    ``input_shape`` is one sample's: ``(C, H, W)`` or ``(F,)``. Raises ValueError naming the layer and the
    numbers when the architecture cannot run, or when it has more than ``max_parameters`` parameters.
    """
    layers = list(model) if isinstance(model, (Sequential, list, tuple)) else None
    if layers is None:
        raise ValueError(f"summary: model must be a Sequential or a list of layers, got {type(model).__name__}")
    shape = _input_shape(input_shape)
    first = shape
    origin = f"(the input, shape (N, {', '.join(map(str, shape))}))"
    rows = []
    for index, layer in enumerate(layers):
        label = repr(layer) if isinstance(layer, Module) else (layer.get("type") if isinstance(layer, dict) else "")
        where = f"layer {index} {label}".rstrip()
        spec = _checked_spec(where, spec_of(layer) if isinstance(layer, Module) else layer)
        shape, shape_formula, parameters, parameter_formula, mult_adds, mult_adds_formula = \
            _ROWS.get(spec["type"], _same_row)(where, spec, shape, origin)
        rows.append(LayerRow(str(index), spec["type"], tuple(shape), shape_formula, parameters, parameter_formula,
                             mult_adds, mult_adds_formula))
        origin = f"(from layer {index} {spec['type']}, shape {rows[-1].shape_text})"
    result = Summary(first, rows)
    if max_parameters is not None:
        limit = _checks.positive_int("summary", "max_parameters", max_parameters)
        if result.total_parameters > limit:
            largest = max(rows, key=lambda row: row.parameters)
            raise ValueError(f"summary: the network has {_n(result.total_parameters)} parameters "
                             f"({result.total_formula.split(' = ')[0]}), more than the limit of {_n(limit)}; the "
                             f"largest is layer {largest.name} {largest.type}: {largest.parameter_formula}")
    return result
