"""The CNN lab's controls: one table of every live setting (the limits shared by every lab are
app.server.controls'). ``python -m app.labs`` prints the table docs/protocol.md embeds."""

from __future__ import annotations

from app.server.controls import Control
from app.server.controls import default_settings as _defaults

from .layers import LAYER_MODELS, LAYER_TYPES, MAX_LAYERS, PRESETS

DATASETS = ("mnist", "digits", "shapes")
OPTIMIZERS = ("sgd", "momentum", "adam")
ARCHITECTURES = tuple(PRESETS) + ("custom",)
MAX_PARAMETERS = 100_000  # a network any 2-core machine trains live while streaming its feature maps
MAX_TRAIN_SIZE = 60_000

CONTROLS: tuple[Control, ...] = (
    # --- data
    Control("dataset", "choice", "mnist", "Dataset", "data",
            "mnist: 28×28 handwritten digits (the shipped 5,000, or full MNIST when the server has it); digits: "
            "8×8 digits; shapes: 16×16 colour images (3 channels: red, green, blue) of circles, squares and "
            "triangles in red, yellow and blue.", choices=DATASETS),
    Control("train_fraction", "number", 0.8, "Training ratio", "data",
            "Fraction of the data used for training; the rest is the test set.", minimum=0.1, maximum=0.9),
    Control("train_size", "integer", 0, "Training images", "data",
            "Train on only the first this many training images (0: all of them). A few hundred images make a "
            "network overfit: watch the train and test curves part.", minimum=0, maximum=MAX_TRAIN_SIZE,
            extra={"zero_means": "all"}),
    Control("augment_shift", "integer", 0, "Random shifts ±k px", "data",
            "Data augmentation: every training image is moved by a random whole number of pixels in [−k, k] each "
            "way before it is used, a regularizer you can see in the strip of augmented samples.",
            minimum=0, maximum=4, unit="px"),
    Control("seed", "integer", 0, "Seed", "data",
            "Seeds the split, the initial weights and the minibatch order: the same settings and seed give the "
            "same run.", minimum=0, maximum=2**31 - 1),
    # --- network
    Control("architecture", "choice", "convnetjs", "Architecture", "network",
            "A preset layer list: convnetjs (ConvNetJS's MNIST network, 5,994 parameters), lenet (LeNet-5's "
            "shape), lenet_dropout (the same with dropout after pooling and between the dense layers), tiny (one "
            "convolution). Editing the layers makes it custom.", choices=ARCHITECTURES),
    Control("layers", "object_list", PRESETS["convnetjs"], "Layers", "network",
            "The network, layer by layer (torch.nn's names). Adding or removing a kernel keeps every other trained "
            "weight; changing a kernel size, stride or padding re-initialises that layer only; other changes "
            "keep every layer whose shape is unchanged. The last layer is Linear with one output per class.",
            min_items=1, max_items=MAX_LAYERS, item_models=LAYER_MODELS,
            items_help="layers, each an object {type, ...}: " + ", ".join(LAYER_TYPES),
            extra={"layer_types": list(LAYER_TYPES)}),
    # --- training
    Control("learning_rate", "number", 0.003, "Learning rate", "training",
            "Step size of each update.", minimum=1e-5, maximum=1.0, scale="log"),
    Control("batch_size", "integer", 10, "Batch size", "training",
            "Images per minibatch (capped at the training set's size).", minimum=1, maximum=256),
    Control("optimizer", "choice", "adam", "Optimizer", "training",
            "sgd, sgd with momentum, or adam.", choices=OPTIMIZERS),
    Control("momentum", "number", 0.9, "Momentum", "training",
            "Momentum of the 'momentum' optimizer.", minimum=0.0, maximum=0.999),
    Control("speed", "integer", 20, "Speed", "training",
            "Minibatch steps per second while playing (fewer when the machine cannot keep up). The default takes the default network to 95 % test accuracy on the MNIST subset in under a minute (bench/cnn.py).",
            minimum=1, maximum=200, scale="log", unit="steps/s"),
    # --- regularization
    Control("l2", "number", 0.0, "L2 (weight decay)", "regularization",
            "Adds l2/2 times the sum of every weight squared (not the biases) to the cost. Dropout is a layer: "
            "add one to the layer list and set its p.", minimum=0.0, maximum=0.1),
)

CONTROLS_BY_NAME: dict[str, Control] = {c.name: c for c in CONTROLS}


def default_settings() -> dict:
    """Every control at its default (fresh lists, safe to mutate)."""
    settings = _defaults(CONTROLS)
    settings["layers"] = [dict(layer) for layer in settings["layers"]]
    return settings
