"""nnplayground's engine: a small numpy neural-network library shaped like torch.nn, built to be looked at.

    import engine
    model = engine.builders.mlp([2, 8, 8, 1], activation="tanh")
    loss_fn, opt = engine.MSELoss(), engine.SGD(model.parameters(), lr=0.03)
    opt.zero_grad(); loss = loss_fn(model(x), y); model.backward(loss_fn.backward()); opt.step()

Differences from torch a student should know: ``backward`` is explicit (``model.backward(loss_fn.backward())``
instead of ``loss.backward()``), and nothing is cast silently — inputs must have the model's dtype
(float64 by default, float32 selectable), otherwise a ValueError says what was given and what is expected.
"""

from . import _allocator, _checks, gradcheck, init, random  # noqa: F401  (submodules part of the API)
from . import activations, builders, datasets, inspect, optim, regularization, surgery  # noqa: F401
from .activations import ACTIVATIONS, Identity, LeakyReLU, ReLU, Sigmoid, SiLU, Softmax, Swish, Tanh, \
    activation_from_name
from .container import Sequential
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .dropout import Dropout, Flatten
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module
from .optim import SGD, Adam, clip_grad_norm_, clip_grad_value_
from .parameter import Parameter
from .random import manual_seed
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN
from .sequence import SequenceModel, sample_text

__all__ = [
    "Module", "Parameter", "Sequential", "Linear", "Identity", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "SiLU",
    "Swish", "Softmax", "Dropout", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d", "RNN", "LSTM", "GRU", "SequenceModel", "sample_text", "MSELoss",
    "CrossEntropyLoss", "SGD", "Adam", "clip_grad_norm_", "clip_grad_value_", "manual_seed", "ACTIVATIONS",
    "activation_from_name",
]

_allocator.tune()  # a step's temporaries reuse heap memory instead of faulting in fresh pages (see _allocator)
