"""The MLP lab's controls: one table of every live setting (the limits are app.server.controls').

Validation (``app.server.messages`` builds its pydantic models from ``CONTROLS``) and the ``schema`` event
the page builds its widgets from both come from here, so a range changed here changes both.
``python -m app.labs`` prints the Markdown tables that docs/protocol.md embeds.
"""

from __future__ import annotations

from app.server.controls import LIMITS, Control
from app.server.controls import default_settings as _defaults
from engine.init import INIT_SCHEMES

from .previews import dataset_previews

# Datasets, in the order the page lists them; the 2-D ones are engine.datasets.DATASETS_2D's.
DATASETS_2D_CLASSIFICATION = ("circle", "xor", "gaussian", "spiral", "multi-class")
DATASETS_2D_REGRESSION = ("plane", "multi-gaussian")
DATASETS_CUSTOM = ("custom",)  # the user's own points, drawn or uploaded (app.labs.mlp.points); either problem
DATASETS_IMAGE = ("digits", "mnist")
DATASETS = DATASETS_2D_CLASSIFICATION + DATASETS_2D_REGRESSION + DATASETS_CUSTOM + DATASETS_IMAGE
PROBLEMS = ("classification", "regression")
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")  # = engine.datasets.FEATURES
HIDDEN_ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "swish")
LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("sgd", "momentum", "adam")
REGULARIZATIONS = ("none", "l1", "l2")
CLIPPINGS = ("off", "norm", "value")
PROBE_SPLITS = ("train", "test")


def task_of(dataset: str) -> str:
    """"classification" or "regression": the problem a dataset poses."""
    return "regression" if dataset in DATASETS_2D_REGRESSION else "classification"


def is_image(dataset: str) -> bool:
    return dataset in DATASETS_IMAGE


CONTROLS: tuple[Control, ...] = (
    # --- data
    Control("dataset", "choice", "circle", "Dataset", "data",
            "Which data to learn. 2-D sets draw a decision boundary; custom is your own points, drawn on the plane "
            "or uploaded as CSV; digits (8x8) and mnist (28x28) are images.",
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
    Control("init", "choice", "default", "Weight initialisation", "network",
            "How the weights are drawn (torch.nn.init). default: PyTorch's nn.Linear, U(±1/√fan_in) — too small for "
            "deep ReLU nets; xavier (Glorot): variance 2/(fan_in + fan_out) times the activation's gain², for tanh "
            "and sigmoid; kaiming (He): variance 2/fan_in, for ReLU. Xavier and He start the biases at 0. "
            "Changing it draws fresh weights: training starts over.", choices=INIT_SCHEMES),
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
    Control("speed", "integer", 20, "Speed", "training",
            "Minibatch steps per second while playing (fewer when the machine cannot keep up). The default "
            "lets a class watch the boundary form: about 10 s from chance to 95 % on circle.",
            minimum=1, maximum=60_000, scale="log", unit="steps/s"),
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
    return _defaults(CONTROLS)


# Defaults applied when the dataset family changes (2-D <-> image), unless the same message sets them.
# 3Blue1Brown's network for images: sigmoid everywhere and the summed squared error. On MNIST its weights start
# with Glorot's (Xavier's) normal initialisation, made for sigmoid layers, and minibatches of 32: on the full
# 60,000/10,000 set that brings 784-16-16-10 to its ~95 % in about 10 epochs (with nn.Linear's default and batches
# of 10 it levels off near 94 %); on the shipped subset it peaks at ~91 % either way.
PRESETS: dict[str, dict] = {
    "2d": {"hidden_sizes": [8, 8], "activation": "tanh", "loss": "mse", "learning_rate": 0.03,
           "batch_size": 10, "speed": 20, "optimizer": "sgd", "init": "default"},
    "digits": {"hidden_sizes": [16, 16], "activation": "sigmoid", "loss": "mse", "learning_rate": 3.0,
               "batch_size": 10, "speed": 1800, "optimizer": "sgd", "init": "default"},
    "mnist": {"hidden_sizes": [16, 16], "activation": "sigmoid", "loss": "mse", "learning_rate": 1.0,
              "batch_size": 32, "speed": 1200, "optimizer": "sgd", "init": "xavier_normal"},
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


def schema_extras(grid_resolution: int, neuron_grid_resolution: int) -> dict:
    """What the MLP lab's ``schema`` event carries beyond every lab's fields (see docs/protocol.md)."""
    from . import landscape_feed

    return {
        "presets": PRESETS,
        "grid": {"resolution": grid_resolution, "neuron_resolution": neuron_grid_resolution},
        "activation_curves": activation_curves(),
        "landscape": landscape_feed.schema(),
        "own_data": own_data_limits(),
    }


def own_data_limits() -> dict:
    """The limits of drawn and uploaded data (docs/protocol.md, "Your own data")."""
    from engine.datasets import csv_points

    from . import points

    return {"max_points": points.MAX_POINTS, "max_points_per_message": points.MAX_POINTS_PER_MESSAGE,
            "max_csv_bytes": csv_points.MAX_BYTES, "min_csv_rows": csv_points.MIN_ROWS,
            "max_classes": csv_points.MAX_CLASSES, "max_link_chars": points.MAX_LINK_CHARS}
