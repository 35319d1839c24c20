"""The CNN lab's layer list: one strict model per layer type, torch.nn's names and constructor arguments.

A layer is a JSON object such as ``{"type": "Conv2d", "out_channels": 8, "kernel_size": 5, "padding": 2}``:
the spec ``engine.builders.sequential`` builds and ``engine.summary.summary`` checks (in_channels and
in_features are never given: they are what comes in). The presets are named layer lists.
"""

from __future__ import annotations

from typing import Literal, Optional

from app.server.messages import Message, integer, number

MAX_LAYERS = 16
MAX_CHANNELS = 32
MAX_KERNEL = 9
MAX_FEATURES = 256
ACTIVATION_TYPES = ("ReLU", "LeakyReLU", "Tanh", "Sigmoid")


class Conv2dSpec(Message):
    type: Literal["Conv2d"]
    out_channels: integer(1, MAX_CHANNELS)
    kernel_size: integer(1, MAX_KERNEL)
    stride: integer(1, 4) = 1
    padding: integer(0, 4) = 0


class MaxPool2dSpec(Message):
    type: Literal["MaxPool2d"]
    kernel_size: integer(1, 6)
    stride: Optional[integer(1, 6)] = None


class AvgPool2dSpec(Message):
    type: Literal["AvgPool2d"]
    kernel_size: integer(1, 6)
    stride: Optional[integer(1, 6)] = None


class DropoutSpec(Message):
    type: Literal["Dropout"]
    p: number(0.0, 0.9) = 0.5


class FlattenSpec(Message):
    type: Literal["Flatten"]


class LinearSpec(Message):
    type: Literal["Linear"]
    out_features: integer(1, MAX_FEATURES)


def _activation(name: str) -> type[Message]:
    return type(f"{name}Spec", (Message,), {"__annotations__": {"type": Literal[name]}})


LAYER_MODELS = (Conv2dSpec, MaxPool2dSpec, AvgPool2dSpec, DropoutSpec, FlattenSpec, LinearSpec,
                *(_activation(name) for name in ACTIVATION_TYPES))
LAYER_TYPES = tuple(m.model_fields["type"].annotation.__args__[0] for m in LAYER_MODELS)

# Defaults every spec shows in full (the state, the URL and the shape table read the same list).
DEFAULTS = {"Conv2d": {"stride": 1, "padding": 0}, "MaxPool2d": {"stride": None}, "AvgPool2d": {"stride": None},
            "Dropout": {"p": 0.5}}


def normalized(layers: list[dict]) -> list[dict]:
    """Every layer with its defaults filled in and its fields in one order (fresh dicts)."""
    out = []
    for layer in layers:
        model = next(m for m in LAYER_MODELS if m.model_fields["type"].annotation.__args__[0] == layer["type"])
        full = {**DEFAULTS.get(layer["type"], {}), **layer}
        out.append({name: full[name] for name in model.model_fields if name in full})
    return out


def _conv(out_channels, kernel_size, padding=0, stride=1) -> dict:
    return {"type": "Conv2d", "out_channels": out_channels, "kernel_size": kernel_size, "stride": stride,
            "padding": padding}


def _pool(kernel_size, kind="MaxPool2d") -> dict:
    return {"type": kind, "kernel_size": kernel_size, "stride": None}


RELU, FLATTEN = {"type": "ReLU"}, {"type": "Flatten"}

PRESETS: dict[str, list[dict]] = {
    # ConvNetJS's MNIST demo: conv 5×5×8 pad 2 → ReLU → max-pool 2 → conv 5×5×16 pad 2 → ReLU → max-pool 3 →
    # linear 10 (5,994 parameters on 28×28).
    "convnetjs": [_conv(8, 5, 2), RELU, _pool(2), _conv(16, 5, 2), RELU, _pool(3), FLATTEN,
                  {"type": "Linear", "out_features": 10}],
    # LeNet-5's shape, with ReLU and max-pooling: 6 and 16 kernels of 5×5, then 120 and 84 units.
    "lenet": [_conv(6, 5, 2), RELU, _pool(2), _conv(16, 5), RELU, _pool(2), FLATTEN,
              {"type": "Linear", "out_features": 120}, RELU, {"type": "Linear", "out_features": 84}, RELU,
              {"type": "Linear", "out_features": 10}],
    # The same with dropout where the notes advise it: after pooling and between the dense layers.
    "lenet_dropout": [_conv(6, 5, 2), RELU, _pool(2), _conv(16, 5), RELU, _pool(2), {"type": "Dropout", "p": 0.25},
                      FLATTEN, {"type": "Linear", "out_features": 120}, RELU, {"type": "Dropout", "p": 0.5},
                      {"type": "Linear", "out_features": 84}, RELU, {"type": "Dropout", "p": 0.5},
                      {"type": "Linear", "out_features": 10}],
    # Small enough for the 8×8 digits and quick anywhere: one convolution, one pooling, one linear layer.
    "tiny": [_conv(8, 3, 1), RELU, _pool(2), FLATTEN, {"type": "Linear", "out_features": 10}],
}
PRESETS = {name: normalized(layers) for name, layers in PRESETS.items()}
