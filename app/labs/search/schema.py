"""The search lab's controls: which lab to tune, its dataset, the hyperparameters searched and their ranges, the
objective, the budget, the samplers that race, and the plane the trials are drawn on. Validation and the page's
widgets both come from here; ``spec_for`` turns the settings into the search module's spec (app.search).

Every hyperparameter is named as the target lab's control it sets, except ``width`` and ``depth``: the MLP's
``hidden_sizes`` as ``depth`` layers of ``width`` neurons each. Each one searched has a range here: two numbers
(``<name>_low``, ``<name>_high``) or, for a choice, the list of choices to try.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.server.controls import LIMITS, Control

TARGETS = ("mlp",)
DATASETS = ("circle", "xor", "gaussian", "spiral", "multi-class")  # the MLP lab's 2-D classification sets
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
)
BY_NAME = {h.name: h for h in HYPERPARAMETERS}
PARAM_NAMES = tuple(h.name for h in HYPERPARAMETERS)

CONTROLS: tuple[Control, ...] = (
    # --- what is tuned
    Control("target", "choice", "mlp", "Lab to tune", "data",
            "The lab whose controls are searched; #apply-best loads the winner into it.", choices=TARGETS),
    Control("dataset", "choice", "circle", "Dataset", "data",
            "The data every trial trains on (the target lab's dataset, same split and seed for all; every other "
            "setting of the target lab keeps its default). On circle in 10 epochs the learning rate decides almost "
            "everything and its best value lies inside the range: the picture Bergstra & Bengio drew.",
            choices=DATASETS),
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
