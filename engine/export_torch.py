"""Export a trained engine model as a small, readable PyTorch script.

    source = export_torch.torch_source(model, example_input=points, features=["x1", "x2", "sin(x1)"],
                                       classes=["orange", "blue"])
    Path("model.py").write_text(source)        # python model.py prints the prediction for the example

The script rebuilds the network with ``torch.nn`` — the same modules in the same order, so the engine's
``state_dict`` keys ("0.weight", "rnn.weight_ih_l0", ...) are torch's and ``load_state_dict`` takes them as
they are — embeds the trained weights, repeats the playground's input features (sin x1, x1², ...) so a
prediction equals the engine's, and ends with a few lines that run the example and print the prediction.

Weights are embedded as base64 of their little-endian bytes in the model's own dtype: exact to the last bit
(a float64 printed in decimal needs 17 digits to round-trip, base64 needs 10.7 characters), and still one
short block per tensor. Small example inputs are written as plain lists a student can edit.

What exports: Sequential, Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, the activations, and the
recurrent layers (RNN, LSTM, GRU: any engine class with torch's name and constructor arguments), and
SequenceModel (a recurrent layer and its Linear head). A model of another shape exports once its class is
registered with ``register_composite(cls, forward_source)``: its children keep their attribute names, and
``forward_source`` is the body of its ``forward(self, x)`` written with torch.
"""

from __future__ import annotations

import base64
import json
import textwrap
from typing import Callable, Sequence

import numpy as np

from . import activations, container, conv, dropout, linear
from .datasets.toy2d import FEATURES
from .module import Module
from .sequence import SequenceModel

# Each input feature of engine.datasets.featurize, written with torch on the columns x1, x2.
FEATURE_SOURCE: dict[str, str] = {
    "x1": "x1", "x2": "x2", "x1^2": "x1 * x1", "x2^2": "x2 * x2", "x1*x2": "x1 * x2",
    "sin(x1)": "torch.sin(x1)", "sin(x2)": "torch.sin(x2)",
}
assert set(FEATURE_SOURCE) == set(FEATURES)

LIST_LIMIT = 64  # example inputs up to this many numbers are written as lists, larger ones as base64
WRAP = 96  # characters per line of base64
RECURRENT = ("RNN", "LSTM", "GRU")
_RECURRENT_DEFAULTS = {"num_layers": 1, "nonlinearity": "tanh", "bias": True, "batch_first": False,
                       "dropout": 0.0, "bidirectional": False}


# --- one torch constructor per engine layer -------------------------------------------------------
def _pair(value) -> str:
    """torch accepts an int for a square kernel: write (3, 3) as 3."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return repr(int(value[0]))
    return repr(tuple(int(v) for v in value)) if isinstance(value, tuple) else repr(int(value))


def _linear(m) -> str:
    return f"nn.Linear({m.in_features}, {m.out_features}" + (", bias=False)" if m.bias is None else ")")


def _conv(m) -> str:
    text = f"nn.Conv2d({m.in_channels}, {m.out_channels}, kernel_size={_pair(m.kernel_size)}"
    if tuple(m.stride) != (1, 1):
        text += f", stride={_pair(m.stride)}"
    if tuple(m.padding) != (0, 0):
        text += f", padding={_pair(m.padding)}"
    return text + (", bias=False)" if m.bias is None else ")")


def _pool(m) -> str:
    return f"nn.{type(m).__name__}(kernel_size={_pair(m.kernel_size)}, stride={_pair(m.stride)})"


def _recurrent(m) -> str:
    name = type(m).__name__
    parts = [repr(m.input_size), repr(m.hidden_size)]
    for key, default in _RECURRENT_DEFAULTS.items():
        if key == "nonlinearity" and name != "RNN":
            continue
        value = getattr(m, key, default)
        if value != default:
            parts.append(f"{key}={json.dumps(value) if isinstance(value, str) else repr(value)}")
    return f"nn.{name}(" + ", ".join(parts) + ")"


LAYERS: dict[type, Callable[[Module], str]] = {
    linear.Linear: _linear,
    conv.Conv2d: _conv,
    conv.MaxPool2d: _pool,
    conv.AvgPool2d: _pool,
    dropout.Flatten: lambda m: "nn.Flatten()" if (m.start_dim, m.end_dim) == (1, -1)
    else f"nn.Flatten({m.start_dim}, {m.end_dim})",
    dropout.Dropout: lambda m: f"nn.Dropout(p={m.p!r})",
    activations.Identity: lambda m: "nn.Identity()",
    activations.ReLU: lambda m: "nn.ReLU()",
    activations.LeakyReLU: lambda m: f"nn.LeakyReLU(negative_slope={m.negative_slope!r})",
    activations.Tanh: lambda m: "nn.Tanh()",
    activations.Sigmoid: lambda m: "nn.Sigmoid()",
    activations.SiLU: lambda m: "nn.SiLU()",
    activations.Softmax: lambda m: f"nn.Softmax(dim={m.dim})",
}

# Custom containers: class -> the torch body of forward(self, x), or a function of the module giving it.
COMPOSITES: dict[type, str | Callable[[Module], str]] = {}


def register_composite(cls: type, forward_source: str | Callable[[Module], str]) -> None:
    """Export instances of ``cls`` (a Module with named children) as an ``nn.Module`` subclass whose children
    keep their names and whose ``forward(self, x)`` is ``forward_source`` (torch code using ``self.<child>``),
    or ``forward_source(module)`` when it depends on the instance (see SequenceModel below)."""
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise ValueError(f"register_composite: cls must be a Module subclass, got {cls!r}")
    if not callable(forward_source) and (not isinstance(forward_source, str) or "return" not in forward_source):
        raise ValueError("register_composite: forward_source must be the body of forward(self, x), "
                         f"ending in a return statement; got {forward_source!r}")
    COMPOSITES[cls] = forward_source if callable(forward_source) else textwrap.dedent(forward_source).strip()


def _sequence_forward(m: SequenceModel) -> str:
    """engine.SequenceModel: the recurrent layer, then the head at every step or at the last one."""
    if m.readout == "every_step":
        return "output, _ = self.rnn(x)\nreturn self.head(output)"
    last = "output[:, -1]" if m.rnn.batch_first else "output[-1]"
    return f"output, _ = self.rnn(x)\nreturn self.head({last})  # the last time step only"


register_composite(SequenceModel, _sequence_forward)


def _is_recurrent(m: Module) -> bool:
    return type(m).__name__ in RECURRENT and hasattr(m, "input_size") and hasattr(m, "hidden_size")


def _expression(m: Module, path: str, classes: list[str]) -> str:
    """A torch expression that builds a module shaped like ``m`` (Sequential children on their own lines)."""
    if isinstance(m, container.Sequential):
        items = [_expression(child, f"{path}.{name}" if path else name, classes) for name, child in m.named_children()]
        if not items:
            return "nn.Sequential()"
        return "nn.Sequential(\n" + "".join(textwrap.indent(item, "    ") + ",\n" for item in items) + ")"
    if type(m) in LAYERS:
        return LAYERS[type(m)](m)
    if _is_recurrent(m):
        return _recurrent(m)
    if type(m) in COMPOSITES:
        classes.append(_composite_class(m, path, classes))
        return f"{type(m).__name__}()"
    supported = sorted({c.__name__ for c in LAYERS} | {"Sequential", *RECURRENT} | {c.__name__ for c in COMPOSITES})
    where = f"layer {path!r}" if path else "the model"
    raise ValueError(f"export_torch: {where} is {type(m).__name__}, which has no torch export; "
                     f"supported: {', '.join(supported)} (others: engine.export_torch.register_composite)")


def _composite_class(m: Module, path: str, classes: list[str]) -> str:
    lines = [f"class {type(m).__name__}(nn.Module):", "    def __init__(self):", "        super().__init__()"]
    for name, child in m.named_children():
        expression = _expression(child, f"{path}.{name}" if path else name, classes)
        lines.append(textwrap.indent(f"self.{name} = {expression}", "        ").rstrip())
    if m._parameters:
        raise ValueError(f"export_torch: {type(m).__name__} holds parameters of its own "
                         f"({', '.join(m._parameters)}); expected them inside child modules")
    forward = COMPOSITES[type(m)]
    forward = forward(m) if callable(forward) else forward
    lines += ["", "    def forward(self, x):", textwrap.indent(forward, "        ")]
    return "\n".join(lines)


# --- arrays as source ----------------------------------------------------------------------------
def _base64(array: np.ndarray) -> str:
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    text = base64.b64encode(raw).decode("ascii")
    chunks = [text[i:i + WRAP] for i in range(0, len(text), WRAP)] or [""]
    if len(chunks) == 1:
        return f'"{chunks[0]}"'
    return "(\n" + "".join(f'        "{chunk}"\n' for chunk in chunks) + "    )"


def _tensor_source(array: np.ndarray, dtype_name: str) -> str:
    if array.size <= LIST_LIMIT:
        return f"torch.tensor({array.tolist()!r}, dtype=DTYPE)"
    return f"tensor({tuple(array.shape)!r}, {_base64(array)})"


def _features_source(features: Sequence[str]) -> str:
    columns = ", ".join(FEATURE_SOURCE[name] for name in features)
    return (
        f"FEATURES = {json.dumps(list(features))}\n\n\n"
        "def features(points):\n"
        f'    """(N, 2) points (x1, x2) -> (N, {len(features)}) network inputs: the playground\'s input features, '
        'in this order."""\n'
        "    x1, x2 = points[:, 0], points[:, 1]\n"
        f"    return torch.stack([{columns}], dim=1)\n"
    )


def _check_features(features) -> list[str] | None:
    if features is None:
        return None
    features = [features] if isinstance(features, str) else list(features)
    unknown = [f for f in features if f not in FEATURE_SOURCE]
    if not features or unknown or len(set(features)) != len(features):
        raise ValueError(f"export_torch: features must be distinct names of {', '.join(FEATURES)}, got {features!r}")
    return features


# --- the script ----------------------------------------------------------------------------------
def torch_source(model: Module, example_input: np.ndarray, *, features: Sequence[str] | None = None,
                 classes: Sequence[str] | None = None, description: str = "") -> str:
    """The PyTorch script (text) that rebuilds ``model`` with its trained weights.

    ``example_input``: what the script runs — the model's input (e.g. (N, 1, 28, 28) images, (L, N, H_in)
    sequences), or with ``features`` the raw (N, 2) points (x1, x2) that the script turns into the model's
    input columns. ``classes``: class names in output order, to print the predicted class (one output: class 1
    when it is > 0, as the playground's tanh output; several: the largest); None prints the output values.
    ``description`` is a line for the docstring (what it was trained on). ValueError names an unsupported layer.
    """
    features = _check_features(features)
    example = np.asarray(example_input)
    if example.dtype.kind not in "fiu" or example.size == 0 or not np.isfinite(example).all():
        raise ValueError(f"export_torch: example_input must be a non-empty array of finite numbers, "
                         f"got dtype {example.dtype} and shape {example.shape}")
    if features is not None and (example.ndim != 2 or example.shape[1] != 2):
        raise ValueError(f"export_torch: with features, example_input must be (N, 2) points; got shape {example.shape}")
    dtype = model.dtype
    dtype_name = np.dtype(dtype).name
    example = example.astype(dtype)
    classes_defined: list[str] = []
    expression = _expression(model, "", classes_defined)
    state = model.state_dict()
    recurrent = _is_recurrent(model)

    weights = "".join(f"    {json.dumps(name)}: tensor({tuple(array.shape)!r}, {_base64(array)}),\n"
                      for name, array in state.items())
    inputs = "features(x)" if features is not None else "x"
    if recurrent:
        run = f"        output, _ = model({inputs})  # nn.{type(model).__name__} returns (output, final state)\n" \
              "    return output\n"
    else:
        run = f"        return model({inputs})\n"
    if classes is not None:
        names = [str(c) for c in classes]
        show = (f"    CLASSES = {json.dumps(names)}\n"
                "    if output.shape[-1] == 1:  # one tanh output: class 1 when it is above 0\n"
                "        predicted = (output[..., 0] > 0).long()\n"
                "    else:\n"
                "        predicted = output.argmax(dim=-1)\n"
                + ("    for point, k in zip(example.tolist(), predicted.tolist()):\n"
                   "        print(point, \"->\", CLASSES[k])\n" if example[0].size <= 4 else
                   "    for i, k in enumerate(predicted.tolist()):\n"
                   "        print(f\"example {i} ->\", CLASSES[k])\n"))
    else:
        show = ""
    layers = ", ".join(type(m).__name__ for m in model.modules() if not m._modules) or type(model).__name__
    lines = [
        f'"""A network trained in nnplayground, rebuilt with torch.nn{": " + description if description else ""}.',
        "",
        f"Layers: {layers}. The module names and order are the playground's, so the state_dict keys",
        "are the same. Run it with `python <this file>` (needs PyTorch); it prints the prediction for the",
        "example input. The trained weights are embedded as base64 of their little-endian "
        f"{dtype_name} bytes:",
        "exactly the playground's values, to the last bit.",
        '"""',
        "",
        "import base64",
        "",
        "import torch",
        "from torch import nn",
        "",
        f"DTYPE = torch.{dtype_name}  # the playground trains in {dtype_name}",
        "",
        "",
        "def tensor(shape, data):",
        '    """A tensor from base64 of little-endian bytes."""',
        "    return torch.frombuffer(bytearray(base64.b64decode(data)), dtype=DTYPE).reshape(shape)",
        "",
        "",
    ]
    for source in classes_defined:
        lines += [source, "", ""]
    lines += [
        f"model = {expression}",
        "",
        "# Trained weights, by state_dict key.",
        "STATE_DICT = {",
        weights.rstrip("\n"),
        "}",
        "model.to(DTYPE)",
        "model.load_state_dict(STATE_DICT)",
        "model.eval()  # dropout off, as the playground evaluates",
        "",
    ]
    if features is not None:
        lines += ["", _features_source(features).rstrip("\n"), ""]
    lines += [
        "",
        "def predict(x):",
        f'    """The network\'s output for {"(N, 2) points" if features is not None else "a batch of inputs"}."""',
        "    with torch.no_grad():",
        run.rstrip("\n"),
        "",
        "",
        'if __name__ == "__main__":',
        f"    example = {_tensor_source(example, dtype_name)}",
        "    output = predict(example)",
        "    print(output)",
        show.rstrip("\n"),
    ]
    return "\n".join(line for line in lines if line is not None).rstrip("\n") + "\n"
