"""The search lab's controls: which lab to tune, its dataset, the hyperparameters searched and their ranges, the
objective, the budget, the samplers that race, and the plane the trials are drawn on. Validation and the page's
widgets both come from here; ``spec_for`` turns the settings into the search module's spec (app.search).

Every hyperparameter is named as the target lab's control it sets, except ``width`` and ``depth``: the MLP's
``hidden_sizes`` as ``depth`` layers of ``width`` neurons each. Each one searched has a range here: two numbers
(``<name>_low``, ``<name>_high``) or, for a choice, the list of choices to try. Each lab that can be tuned
(``TARGETS``) offers some of them (``OFFERED``); their bounds and choices are that lab's schema's, read through
app.search.space (the one place a lab's searchable hyperparameters are listed).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.labs.cnn.schema import CONTROLS as CNN_CONTROLS
from app.labs.mlp.schema import CONTROLS as MLP_CONTROLS
from app.labs.rnn.schema import CONTROLS as RNN_CONTROLS
from app.search.space import datasets_in, searchable_in
from app.server.controls import LIMITS, Control

# The labs that can be tuned, read from their schemas (not from app.labs' registry: it is still registering
# this lab when this module loads).
TARGET_CONTROLS = {"mlp": MLP_CONTROLS, "cnn": CNN_CONTROLS, "rnn": RNN_CONTROLS}

TARGETS = tuple(TARGET_CONTROLS)
# Each target's datasets (the RNN lab's tasks): the MLP lab's 2-D classification sets; the others' own lists.
DATASETS = {"mlp": ("circle", "xor", "gaussian", "spiral", "multi-class"), "cnn": datasets_in(CNN_CONTROLS),
            "rnn": datasets_in(RNN_CONTROLS)}
DEFAULT_DATASET = {"mlp": "circle", "cnn": "digits", "rnn": "sine"}  # the quick ones: a race is many trainings
# The hyperparameters the page offers for each target, and the two searched when it is chosen.
OFFERED = {"mlp": ("learning_rate", "width", "depth", "activation", "l2"),
           "cnn": ("learning_rate", "batch_size", "architecture", "optimizer", "l2"),
           "rnn": ("learning_rate", "hidden_size", "num_layers", "cell_type", "batch_size")}
DEFAULT_PARAMS = {"mlp": ["learning_rate", "width"], "cnn": ["learning_rate", "batch_size"],
                  "rnn": ["learning_rate", "hidden_size"]}
NOT_OFFERED_CHOICES = ("custom",)  # the CNN's own layer list: an architecture the search cannot vary
OBJECTIVES = ("test_loss", "test_accuracy")
SAMPLERS = ("grid", "random", "tpe", "gp")
RACE = ("grid", "random", "tpe")  # the default race: gp needs PyTorch and SciPy on the server
PRUNING = ("off", "median")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "swish", "linear")

MAX_TRIALS = 100   # per sampler: a race runs three times this
MAX_EPOCHS = 50
MAX_WORKERS = 2    # per sampler; the server also caps the search processes it runs at once (race.WorkerBudget)


@dataclass(frozen=True)
class Hyperparameter:
    """One searchable hyperparameter: its name (the page's and the search module's), what it is, and its range's
    controls (``low``/``high`` for numbers, ``choices`` for a choice)."""

    name: str
    label: str
    kind: str           # "float" | "int" | "choice"
    log: bool = False
    low: str = ""       # the controls holding its range
    high: str = ""
    choices: str = ""


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("learning_rate", "learning rate", "float", log=True,
                   low="learning_rate_low", high="learning_rate_high"),
    Hyperparameter("width", "width", "int", low="width_low", high="width_high"),
    Hyperparameter("depth", "depth", "int", low="depth_low", high="depth_high"),
    Hyperparameter("activation", "activation", "choice", choices="activations"),
    Hyperparameter("l2", "L2", "float", log=True, low="l2_low", high="l2_high"),
    Hyperparameter("batch_size", "batch size", "int", low="batch_size_low", high="batch_size_high"),
    Hyperparameter("architecture", "architecture", "choice", choices="architectures"),
    Hyperparameter("optimizer", "optimizer", "choice", choices="optimizers"),
    Hyperparameter("hidden_size", "hidden size", "int", low="hidden_size_low", high="hidden_size_high"),
    Hyperparameter("num_layers", "layers", "int", low="num_layers_low", high="num_layers_high"),
    Hyperparameter("cell_type", "cell", "choice", choices="cell_types"),
)
BY_NAME = {h.name: h for h in HYPERPARAMETERS}
PARAM_NAMES = tuple(h.name for h in HYPERPARAMETERS)


def _bounds(name: str) -> tuple[float, float]:
    """The widest range the labs offering ``name`` allow (each lab's own is checked when a race starts); a log
    range starts above 0."""
    entries = [searchable_in(TARGET_CONTROLS[lab])[name] for lab in TARGETS if name in OFFERED[lab]]
    low, high = min(e.minimum for e in entries), max(e.maximum for e in entries)
    if BY_NAME[name].log and low <= 0:
        low = 1e-7
    return low, high


def _choices(name: str) -> tuple[str, ...]:
    """Every choice the labs offering ``name`` have, in their schema's order."""
    out: list[str] = []
    for lab in TARGETS:
        if name in OFFERED[lab]:
            out += [c for c in searchable_in(TARGET_CONTROLS[lab])[name].choices
                    if c not in out and c not in NOT_OFFERED_CHOICES]
    return tuple(out)


def _range(name: str, low_default, high_default, low_text: str, high_text: str) -> tuple[Control, Control]:
    h = BY_NAME[name]
    low, high = _bounds(name)
    kind = "integer" if h.kind == "int" else "number"
    scale = "log" if h.log else "linear"
    return (Control(h.low, kind, low_default, f"{h.label.capitalize()} from", "space", low_text,
                    minimum=low, maximum=high, scale=scale),
            Control(h.high, kind, high_default, f"{h.label.capitalize()} to", "space", high_text,
                    minimum=low, maximum=high, scale=scale))


def _choice_list(name: str, default: list[str], text: str) -> Control:
    h = BY_NAME[name]
    choices = _choices(name)
    return Control(h.choices, "choices", default, f"{h.label.capitalize()}s tried", "space", text,
                   choices=choices, min_items=1, max_items=len(choices))


CONTROLS: tuple[Control, ...] = (
    # --- what is tuned
    Control("target", "choice", "mlp", "Lab to tune", "data",
            "The lab whose controls are searched; #apply-best loads the winner into it.", choices=TARGETS),
    Control("dataset", "choice", "circle", "Dataset", "data",
            "The data every trial trains on (the target lab's dataset, or the RNN lab's task; same split and seed "
            "for all; every other setting of the target lab keeps its default). On circle in 10 epochs the "
            "learning rate decides almost everything and its best value lies inside the range: the picture "
            "Bergstra & Bengio drew.",
            choices=tuple(dict.fromkeys(d for target in TARGETS for d in DATASETS[target]))),
    Control("seed", "integer", 0, "Seed", "data",
            "Seeds the samplers and every trial's data and weights: the same settings give the same race.",
            minimum=0, maximum=2**31 - 1),
    # --- the search space
    Control("params", "choices", ["learning_rate", "width"], "Hyperparameters searched", "space",
            "Which hyperparameters the samplers choose; the others keep the target lab's defaults.",
            choices=PARAM_NAMES, min_items=1, max_items=len(PARAM_NAMES)),
    Control("learning_rate_low", "number", 1e-4, "Learning rate from", "space",
            "Lowest learning rate tried (searched on a log scale).", minimum=1e-5, maximum=10.0, scale="log"),
    Control("learning_rate_high", "number", 1.0, "Learning rate to", "space",
            "Highest learning rate tried.", minimum=1e-5, maximum=10.0, scale="log"),
    Control("width_low", "integer", 2, "Width from", "space",
            "Fewest neurons per hidden layer.", minimum=1, maximum=LIMITS.max_neurons_per_layer),
    Control("width_high", "integer", 32, "Width to", "space",
            "Most neurons per hidden layer.", minimum=1, maximum=LIMITS.max_neurons_per_layer),
    Control("depth_low", "integer", 1, "Depth from", "space",
            "Fewest hidden layers.", minimum=1, maximum=LIMITS.max_hidden_layers),
    Control("depth_high", "integer", 3, "Depth to", "space",
            "Most hidden layers.", minimum=1, maximum=LIMITS.max_hidden_layers),
    Control("activations", "choices", ["relu", "tanh", "sigmoid"], "Activations tried", "space",
            "The hidden activations the samplers choose from.", choices=ACTIVATIONS, min_items=1,
            max_items=len(ACTIVATIONS)),
    Control("l2_low", "number", 1e-5, "L2 from", "space",
            "Lowest L2 regularization rate tried (log scale).", minimum=1e-7, maximum=1.0, scale="log"),
    Control("l2_high", "number", 0.1, "L2 to", "space",
            "Highest L2 regularization rate tried.", minimum=1e-7, maximum=1.0, scale="log"),
    *_range("batch_size", 4, 64, "Smallest minibatch tried.", "Largest minibatch tried."),
    _choice_list("architecture", ["tiny", "lenet"], "The CNN lab's networks the samplers choose from."),
    _choice_list("optimizer", ["sgd", "adam"], "The optimizers the samplers choose from."),
    *_range("hidden_size", 4, 64, "Fewest hidden units of the recurrent layer.",
            "Most hidden units of the recurrent layer."),
    *_range("num_layers", 1, 2, "Fewest stacked recurrent layers.", "Most stacked recurrent layers."),
    _choice_list("cell_type", ["RNN", "LSTM", "GRU"], "The recurrent cells the samplers choose from."),
    # --- the budget
    Control("objective", "choice", "test_loss", "Objective", "budget",
            "What a trial scores after its epochs: the test loss (lower is better) or the test accuracy "
            "(higher is better).", choices=OBJECTIVES),
    Control("trials", "integer", 16, "Trials per sampler", "budget",
            "Every sampler gets the same number of trials: the race is fair.", minimum=2, maximum=MAX_TRIALS),
    Control("epochs", "integer", 10, "Epochs per trial", "budget",
            "Each trial trains this many passes over the training set, then is scored.",
            minimum=1, maximum=MAX_EPOCHS),
    Control("samplers", "choices", list(RACE), "Samplers racing", "budget",
            "grid: a lattice over the ranges. random: independent draws. tpe: Bayesian (Tree-structured Parzen "
            "Estimator), spends its trials where the good results are. gp: Bayesian with a Gaussian process "
            "(only where the server has PyTorch and SciPy; a race with it is refused, saying so, elsewhere).",
            choices=SAMPLERS, min_items=1, max_items=len(SAMPLERS)),
    Control("workers", "integer", 1, "Workers per sampler", "budget",
            "Worker processes each sampler's trials run in (the server caps how many run at once).",
            minimum=1, maximum=MAX_WORKERS),
    Control("pruning", "choice", "off", "Pruning", "budget",
            "median: stop a trial early when its test loss after an epoch is worse than the median of the "
            "trials before it at that epoch (Optuna's MedianPruner).", choices=PRUNING),
    # --- the picture
    Control("plane_x", "choice", "learning_rate", "Plane: x axis", "view",
            "The hyperparameter along the trials plane's x axis.", choices=PARAM_NAMES),
    Control("plane_y", "choice", "width", "Plane: y axis", "view",
            "The hyperparameter along the trials plane's y axis (with only one searched: the objective).",
            choices=PARAM_NAMES),
)

CONTROLS_BY_NAME: dict[str, Control] = {c.name: c for c in CONTROLS}

# The controls panel's sections for this lab (static/core/controls.js builds the panel from them).
GROUPS = (("data", "Tune"), ("space", "Search space"), ("budget", "Budget"), ("view", "Picture"))
