"""The controls' schema: one table of every live setting, and the limits next to it.

Validation (``app.messages`` builds its pydantic models from ``CONTROLS`` and ``LIMITS``) and the
``schema`` event the page builds its widgets from both come from here, so a range changed here
changes both. ``python -m app.schema`` prints the Markdown table that docs/protocol.md embeds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .previews import dataset_previews

# Datasets, in the order the page lists them; the 2-D ones are engine.datasets.DATASETS_2D's.
DATASETS_2D_CLASSIFICATION = ("circle", "xor", "gaussian", "spiral", "multi-class")
DATASETS_2D_REGRESSION = ("plane", "multi-gaussian")
DATASETS_IMAGE = ("digits", "mnist")
DATASETS = DATASETS_2D_CLASSIFICATION + DATASETS_2D_REGRESSION + DATASETS_IMAGE
PROBLEMS = ("classification", "regression")
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")  # = engine.datasets.FEATURES
HIDDEN_ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "swish")
LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("sgd", "momentum", "adam")
REGULARIZATIONS = ("none", "l1", "l2")
CLIPPINGS = ("off", "norm", "value")
STEP_UNITS = ("batch", "epoch")
PROBE_SPLITS = ("train", "test")


def task_of(dataset: str) -> str:
    """"classification" or "regression": the problem a dataset poses."""
    return "regression" if dataset in DATASETS_2D_REGRESSION else "classification"


def is_image(dataset: str) -> bool:
    return dataset in DATASETS_IMAGE


@dataclass(frozen=True)
class Limits:
    """Caps enforced on every message; sent to the page in the schema event."""

    max_hidden_layers: int = 8
    max_neurons_per_layer: int = 32
    max_parameters: int = 30_000
    max_messages_per_second: float = 100.0  # token bucket: refill rate ...
    message_burst: int = 200                 # ... and bucket size
    max_message_bytes: int = 1_000_000       # Engine.IO max_http_buffer_size: bigger messages close the socket
    max_control_bytes: int = 65_536          # any event but load_model, measured as JSON
    max_attachments: int = 1                 # binary attachments one event may announce (load_model's data)
    max_edit_magnitude: float = 100.0        # |value| of an edited weight or bias
    max_sessions: int = 64
    max_probe_pixels: int = 784              # 28 x 28
    max_drawing_side: int = 200              # a drawn digit's canvas, pixels per side (base64 under 64 KB)


LIMITS = Limits()


@dataclass(frozen=True)
class Control:
    """One live setting. ``kind`` is how it is typed on the wire:

    number        a finite JSON number in [minimum, maximum] (``scale`` "log": draw the slider in log space)
    integer       a JSON integer in [minimum, maximum]
    choice        one string of ``choices``
    choices       a list of distinct strings of ``choices``, ``min_items``..``max_items`` long
    integer_list  a list of integers in [minimum, maximum], ``min_items``..``max_items`` long
    """

    name: str
    kind: str
    default: Any
    label: str
    group: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    scale: str = "linear"
    choices: tuple[str, ...] = ()
    min_items: int | None = None
    max_items: int | None = None
    unit: str = ""
    extra: dict = field(default_factory=dict)

    def allowed(self) -> str:
        """What is allowed, in words, for error messages and the doc's table."""
        if self.kind == "number":
            return f"a finite number in [{_fmt(self.minimum)}, {_fmt(self.maximum)}]"
        if self.kind == "integer":
            return f"an integer in [{_fmt(self.minimum)}, {_fmt(self.maximum)}]"
        if self.kind == "choice":
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        if self.kind == "choices":
            return (f"a list of {self.min_items} to {self.max_items} distinct items of "
                    + ", ".join(f'"{c}"' for c in self.choices))
        return (f"a list of {self.min_items} to {self.max_items} integers, each in "
                f"[{_fmt(self.minimum)}, {_fmt(self.maximum)}]")

    def to_wire(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "default": self.default, "label": self.label,
               "group": self.group, "help": self.help, "allowed": self.allowed()}
        for key in ("minimum", "maximum", "min_items", "max_items"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.kind in ("number", "integer"):
            out["scale"] = self.scale
        if self.choices:
            out["choices"] = list(self.choices)
        if self.unit:
            out["unit"] = self.unit
        out.update(self.extra)
        return out


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


CONTROLS: tuple[Control, ...] = (
    # --- data
    Control("dataset", "choice", "circle", "Dataset", "data",
            "Which data to learn. 2-D sets draw a decision boundary; digits (8x8) and mnist (28x28) are images.",
            choices=DATASETS, extra={"tasks": {d: task_of(d) for d in DATASETS},
                                     "images": list(DATASETS_IMAGE), "previews": dataset_previews()}),
    Control("problem", "choice", "classification", "Problem type", "data",
            "Classification or regression. Choosing the other type switches to its first dataset.",
            choices=PROBLEMS),
    Control("noise", "number", 0.0, "Noise", "data",
            "Fraction of noise in the 2-D datasets.", minimum=0.0, maximum=0.5),
    Control("train_fraction", "number", 0.5, "Training ratio", "data",
            "Fraction of the data used for training; the rest is the test set.", minimum=0.1, maximum=0.9),
    Control("features", "choices", ["x1", "x2"], "Input features", "data",
            "Which functions of (x1, x2) feed the network (2-D datasets only).",
            choices=FEATURES, min_items=1, max_items=len(FEATURES)),
    Control("seed", "integer", 0, "Seed", "data",
            "Seeds the data and the initial weights: the same settings and seed give the same run.",
            minimum=0, maximum=2**31 - 1),
    # --- network
    Control("hidden_sizes", "integer_list", [8, 8], "Hidden layers", "network",
            "Neurons per hidden layer. Changing it live adds or removes neurons and layers at the end, "
            "keeping every other trained weight.",
            minimum=1, maximum=LIMITS.max_neurons_per_layer, min_items=0, max_items=LIMITS.max_hidden_layers),
    Control("activation", "choice", "tanh", "Activation", "network",
            "Activation of every hidden layer (set_activation changes one layer).", choices=HIDDEN_ACTIVATIONS),
    Control("loss", "choice", "mse", "Cost", "network",
            "mse: squared error summed over the outputs, averaged over the examples (3Blue1Brown's cost). "
            "cross_entropy: softmax over the outputs (classification only).", choices=LOSSES),
    # --- training
    Control("learning_rate", "number", 0.03, "Learning rate", "training",
            "Step size of each update.", minimum=1e-5, maximum=10.0, scale="log"),
    Control("batch_size", "integer", 10, "Batch size", "training",
            "Examples per minibatch (capped at the training set's size).", minimum=1, maximum=500),
    Control("optimizer", "choice", "sgd", "Optimizer", "training",
            "sgd, sgd with momentum, or adam.", choices=OPTIMIZERS),
    Control("momentum", "number", 0.9, "Momentum", "training",
            "Momentum of the 'momentum' optimizer.", minimum=0.0, maximum=0.999),
    Control("speed", "integer", 25, "Speed", "training",
            "Minibatch steps per frame while playing (fewer when a frame's time slice runs out).",
            minimum=1, maximum=1000, scale="log", unit="steps/frame"),
    # --- regularization
    Control("regularization", "choice", "none", "Regularization", "regularization",
            "Penalty on the weights (not the biases).", choices=REGULARIZATIONS),
    Control("regularization_rate", "number", 0.001, "Regularization rate", "regularization",
            "l1 adds rate times the sum of abs(w); l2 adds rate/2 times the sum of w squared.",
            minimum=0.0, maximum=10.0),
    Control("clipping", "choice", "off", "Gradient clipping", "regularization",
            "Clip the gradient by its total norm or each element by value.", choices=CLIPPINGS),
    Control("clip_threshold", "number", 1.0, "Clipping threshold", "regularization",
            "Maximum gradient norm (norm) or element size (value).", minimum=1e-6, maximum=1000.0, scale="log"),
    Control("dropout", "number", 0.0, "Dropout", "regularization",
            "Probability of dropping each hidden neuron while training.", minimum=0.0, maximum=0.9),
)

CONTROLS_BY_NAME: dict[str, Control] = {c.name: c for c in CONTROLS}


def default_settings() -> dict:
    """Every control at its default (fresh lists, safe to mutate)."""
    return {c.name: (list(c.default) if isinstance(c.default, list) else c.default) for c in CONTROLS}


# Defaults applied when the dataset family changes (2-D <-> image), unless the same message sets them.
# 3Blue1Brown's network for images: sigmoid everywhere and the summed squared error.
PRESETS: dict[str, dict] = {
    "2d": {"hidden_sizes": [8, 8], "activation": "tanh", "loss": "mse", "learning_rate": 0.03,
           "batch_size": 10, "speed": 25, "optimizer": "sgd"},
    "digits": {"hidden_sizes": [16, 16], "activation": "sigmoid", "loss": "mse", "learning_rate": 3.0,
               "batch_size": 10, "speed": 30, "optimizer": "sgd"},
    "mnist": {"hidden_sizes": [16, 16], "activation": "sigmoid", "loss": "mse", "learning_rate": 1.0,
              "batch_size": 10, "speed": 20, "optimizer": "sgd"},
}


def preset_family(dataset: str) -> str:
    return dataset if is_image(dataset) else "2d"


def activation_curves(points: int = 121, extent: float = 6.0) -> dict:
    """Each hidden activation and its derivative over z in [-extent, extent], from the engine's own
    functions (the page draws them under the pre-activation histograms; a view computes no maths)."""
    import numpy as np

    from engine.activations import activation_from_name

    z = np.linspace(-extent, extent, points)
    curves = {}
    for name in HIDDEN_ACTIVATIONS:
        module = activation_from_name(name)
        curves[name] = {"value": np.round(module.function(z), 6).tolist(),
                        "derivative": np.round(module.derivative(z), 6).tolist()}
    return {"z": np.round(z, 6).tolist(), "curves": curves}


def schema_payload(fps: float, grid_resolution: int, neuron_grid_resolution: int) -> dict:
    """The ``schema`` event's payload (see docs/protocol.md)."""
    from . import landscape_feed

    return {
        "version": 1,
        "controls": [c.to_wire() for c in CONTROLS],
        "limits": {**asdict(LIMITS), "max_frames_per_second": fps},
        "presets": PRESETS,
        "grid": {"resolution": grid_resolution, "neuron_resolution": neuron_grid_resolution},
        "activation_curves": activation_curves(),
        "landscape": landscape_feed.schema(),
    }


def markdown_table() -> str:
    """The controls as the Markdown table docs/protocol.md embeds (a test keeps the two equal)."""
    rows = ["| name | kind | allowed | default | what it does |", "|---|---|---|---|---|"]
    for c in CONTROLS:
        default = json.dumps(c.default)
        rows.append(f"| `{c.name}` | {c.kind} | {c.allowed()} | `{default}` | {c.help} |")
    limits = ["| limit | value |", "|---|---|"]
    for key, value in asdict(LIMITS).items():
        limits.append(f"| `{key}` | {value:g} |" if isinstance(value, float) else f"| `{key}` | {value} |")
    limits.append("| `max_frames_per_second` | the `FPS` config (default 60): frames per second per session |")
    return "\n".join(rows) + "\n\n" + "\n".join(limits) + "\n"


def update_doc(path) -> None:
    """Rewrite the generated block of docs/protocol.md from this file."""
    from pathlib import Path

    text = Path(path).read_text()
    start = text.index("<!-- generated by")
    head = text[start:].split("\n", 1)[0]
    end = text.index("<!-- end generated -->")
    Path(path).write_text(text[:start] + head + "\n" + markdown_table() + text[end:])


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--update"]:  # python -m app.schema --update docs/protocol.md
        update_doc(sys.argv[2])
    else:
        print(markdown_table(), end="")
