"""The RNN lab's controls: torch.nn.RNN's eight parameters (input_size is set by the task and shown), the cell
type, the task and its sequence length, and training. Validation and the page's widgets both come from here.

Flags are choices "True" / "False", written as Python writes them (the page shows ``bias: True``).
"""

from __future__ import annotations

from app.server.controls import Control

TASKS = ("sine", "sum_of_sines", "adding", "chars")
CELL_TYPES = ("RNN", "LSTM", "GRU")
NONLINEARITIES = ("tanh", "relu")
FLAGS = ("True", "False")
OPTIMIZERS = ("sgd", "momentum", "adam")
CLIPPINGS = ("off", "norm")

MAX_HIDDEN_SIZE = 128
MAX_NUM_LAYERS = 4
MAX_SEQ_LEN = 200
MAX_BATCH_SIZE = 256
MAX_DROPOUT = 0.95  # [0, 1) as torch allows; 1 would drop everything

CONTROLS: tuple[Control, ...] = (
    # --- the task
    Control("task", "choice", "sine", "Task", "data",
            "sine / sum_of_sines: predict the next value of a wave at every step. adding: read two marked numbers "
            "anywhere in the sequence and give their sum at the end (long-range memory). chars: predict the next "
            "character of The Devil's Dictionary.", choices=TASKS),
    Control("seq_len", "integer", 50, "Sequence length L", "data",
            "Steps per sequence: backpropagation through time runs through all of them.",
            minimum=1, maximum=MAX_SEQ_LEN),
    Control("seed", "integer", 0, "Seed", "data",
            "Seeds the data and the initial weights: the same settings and seed give the same run.",
            minimum=0, maximum=2**31 - 1),
    # --- nn.RNN's parameters
    Control("cell_type", "choice", "RNN", "Cell", "network",
            "nn.RNN (Elman), nn.LSTM or nn.GRU. Changing it starts from fresh weights.", choices=CELL_TYPES),
    Control("hidden_size", "integer", 16, "hidden_size", "network",
            "H_out: features in the hidden state h. Changing it live adds or removes units, keeping the others' "
            "trained weights.", minimum=1, maximum=MAX_HIDDEN_SIZE),
    Control("num_layers", "integer", 1, "num_layers", "network",
            "Recurrent layers stacked: layer k reads layer k-1's output sequence. Adding one keeps the layers "
            "below.", minimum=1, maximum=MAX_NUM_LAYERS),
    Control("nonlinearity", "choice", "tanh", "nonlinearity", "network",
            "The RNN cell's activation (LSTM and GRU have their own gates).", choices=NONLINEARITIES),
    Control("bias", "choice", "True", "bias", "network",
            "Whether the cells have b_ih and b_hh. Turning it on adds zero biases.", choices=FLAGS),
    Control("batch_first", "choice", "False", "batch_first", "network",
            "True: input and output are (N, L, ·) instead of (L, N, ·). It does not apply to h_0 and h_n.",
            choices=FLAGS),
    Control("dropout", "number", 0.0, "dropout", "network",
            "Dropout on each layer's output but the last, while training (no effect with num_layers=1).",
            minimum=0.0, maximum=MAX_DROPOUT),
    Control("bidirectional", "choice", "False", "bidirectional", "network",
            "True: a second direction reads the sequence backwards (D = 2); the output holds both. Turning it on "
            "keeps the forward direction's weights.", choices=FLAGS),
    # --- training
    Control("learning_rate", "number", 0.01, "Learning rate", "training",
            "Step size of each update.", minimum=1e-5, maximum=10.0, scale="log"),
    Control("batch_size", "integer", 32, "Batch size N", "training",
            "Sequences per minibatch.", minimum=1, maximum=MAX_BATCH_SIZE),
    Control("optimizer", "choice", "adam", "Optimizer", "training", "sgd, sgd with momentum, or adam.",
            choices=OPTIMIZERS),
    Control("momentum", "number", 0.9, "Momentum", "training", "Momentum of the 'momentum' optimizer.",
            minimum=0.0, maximum=0.999),
    Control("clipping", "choice", "off", "Gradient clipping", "training",
            "norm: scale the whole gradient down when its norm is over the threshold (clip_grad_norm_), the usual "
            "cure for exploding gradients through time.", choices=CLIPPINGS),
    Control("clip_threshold", "number", 1.0, "Clipping threshold", "training",
            "The largest gradient norm an update may have.", minimum=1e-4, maximum=1000.0, scale="log"),
    Control("speed", "integer", 5, "Speed", "training",
            "Minibatch steps per second while playing (fewer when the machine cannot keep up). Each task sets its own (the character model: 10, below 2 nats per character in about a minute, bench/rnn_lab.py).",
            minimum=1, maximum=500, scale="log", unit="steps/s"),
    Control("temperature", "number", 0.8, "Temperature", "text",
            "Sampling temperature of the generated text: low picks the likeliest character, high spreads out.",
            minimum=0.05, maximum=2.0),
)

CONTROLS_BY_NAME: dict[str, Control] = {c.name: c for c in CONTROLS}

# Defaults applied when the task changes, unless the same message sets them (the lab defaults:
# sine hidden 16, L 50, batch 32; characters hidden 64, L 32, batch 32).
PRESETS: dict[str, dict] = {
    "sine": {"seq_len": 50, "hidden_size": 16, "batch_size": 32, "learning_rate": 0.01, "speed": 5},
    "sum_of_sines": {"seq_len": 50, "hidden_size": 16, "batch_size": 32, "learning_rate": 0.01, "speed": 5},
    "adding": {"seq_len": 10, "hidden_size": 16, "batch_size": 32, "learning_rate": 0.02, "speed": 10},
    "chars": {"seq_len": 32, "hidden_size": 64, "batch_size": 32, "learning_rate": 0.01, "speed": 10},
}


def flag(value: str) -> bool:
    return value == "True"
