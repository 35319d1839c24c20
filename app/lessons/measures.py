"""The numbers a lesson's conditions may name: one small function each, registered by name.

A condition (app.lessons.conditions) is a comparison of measures and numbers, e.g.
``grad_norm(0) / grad_norm(-1) <= 0.01``. Each measure here reads the live lab a session shows — the same
numbers its frames carry — and returns a float. Add one with ``@measure``::

    @measure("dead_units", labs=("mlp",), args=("layer",))
    def dead_units(lab, layer):
        '''Hidden units of ``layer`` no gradient reaches on the frame's sample (docs/protocol.md, dead.k).'''
        ...

``args`` names the arguments (numbers written in the condition, in this order); ``labs`` the labs it can read.
The docstring's first line is what docs/lessons.md and `nnplayground lessons --measures` show.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


class MeasureError(ValueError):
    """A measure cannot be read on this lab as asked (a layer that does not exist, a lab it does not know)."""


@dataclass(frozen=True)
class Measure:
    name: str
    function: Callable[..., float]
    args: tuple[str, ...]
    labs: tuple[str, ...]  # the labs it reads; () = every lab

    @property
    def doc(self) -> str:
        return (inspect.getdoc(self.function) or "").split("\n\n")[0].replace("\n", " ")

    def signature(self) -> str:
        return f"{self.name}({', '.join(self.args)})" if self.args else self.name

    def read(self, lab, args: tuple) -> float:
        if self.labs and lab.name not in self.labs:
            raise MeasureError(f"{self.signature()} reads the {', '.join(self.labs)} lab, not {lab.name}")
        return float(self.function(lab, *args))


MEASURES: dict[str, Measure] = {}


def measure(name: str, labs: tuple[str, ...] = (), args: tuple[str, ...] = ()):
    """Register ``function(lab, *args) -> float`` as the measure ``name``."""
    def register(function):
        if name in MEASURES:
            raise ValueError(f"measure {name!r} is registered twice")
        MEASURES[name] = Measure(name, function, tuple(args), tuple(labs))
        return function
    return register


# --- helpers
def _index(k: int, n: int, what: str) -> int:
    """``k`` into a list of ``n`` (negative counts from the end, as in Python), or MeasureError."""
    if not -n <= k < n:
        raise MeasureError(f"{what} {k} does not exist (there are {n}: 0 … {n - 1}, or -1 … -{n})")
    return k % n


def _linears(lab):
    from engine.inspect import linear_positions

    model = lab.trainer.model
    return [model[p] for p in linear_positions(model)]


def _evaluate(lab, split: str) -> tuple[float, float | None]:
    """(loss, accuracy) over a whole split, cached per model version (a check reads several measures)."""
    key = (lab.model_version, lab.resets, lab.host.config_version, split)
    cache = lab.__dict__.setdefault("_lesson_evaluations", {})
    if key not in cache:
        cache.clear() if len(cache) > 8 else None
        loss, accuracy, _ = lab.trainer.evaluate(split)
        cache[key] = (loss, accuracy)
    return cache[key]


# --- the run
@measure("step")
def step(lab):
    """Minibatch steps trained since the network was built."""
    return lab.trainer.step


@measure("epoch")
def epoch(lab):
    """Completed passes over the training set."""
    return lab.trainer.epoch


@measure("diverged")
def diverged(lab):
    """1 when the run diverged (a NaN or infinite loss, gradient or weight paused it), else 0."""
    return 1.0 if lab.status == "diverged" else 0.0


@measure("batch_loss")
def batch_loss(lab):
    """Loss of the last minibatch (NaN before the first step, or when it became NaN or infinite)."""
    if lab.status == "diverged" and lab.divergence:
        return math.nan if lab.divergence["loss"] == "nan" else math.inf
    return math.nan if lab.batch_loss is None else lab.batch_loss


# --- the data
@measure("train_loss", labs=("mlp",))
def train_loss(lab):
    """Loss over the whole training set (the frame's train_loss)."""
    return _evaluate(lab, "train")[0]


@measure("test_loss", labs=("mlp",))
def test_loss(lab):
    """Loss over the whole test set (the frame's test_loss)."""
    return _evaluate(lab, "test")[0]


@measure("train_accuracy", labs=("mlp",))
def train_accuracy(lab):
    """Fraction of the training set classified right, in [0, 1]."""
    accuracy = _evaluate(lab, "train")[1]
    if accuracy is None:
        raise MeasureError("train_accuracy needs a classification dataset")
    return accuracy


@measure("test_accuracy", labs=("mlp",))
def test_accuracy(lab):
    """Fraction of the test set classified right, in [0, 1]."""
    accuracy = _evaluate(lab, "test")[1]
    if accuracy is None:
        raise MeasureError("test_accuracy needs a classification dataset")
    return accuracy


# --- the network
@measure("num_parameters", labs=("mlp",))
def num_parameters(lab):
    """Weights and biases of the network."""
    return lab.trainer.model.num_parameters()


@measure("grad_norm", labs=("mlp",), args=("layer",))
def grad_norm(lab, layer):
    """2-norm of Linear layer ``layer``'s gradient (weights and bias) from the last minibatch (frame's grad_norm).

    ``layer`` counts the Linear layers from 0; -1 is the output layer."""
    linear = _linears(lab)[_index(int(layer), len(_linears(lab)), "layer")]
    w, b = linear.weight.grad, linear.bias.grad
    return math.sqrt(float(np.vdot(w, w) + np.vdot(b, b)))


@measure("weight_norm", labs=("mlp",), args=("layer",))
def weight_norm(lab, layer):
    """2-norm of Linear layer ``layer``'s weights (bias excluded)."""
    linear = _linears(lab)[_index(int(layer), len(_linears(lab)), "layer")]
    return float(np.linalg.norm(linear.weight.data))


@measure("weight", labs=("mlp",), args=("layer", "neuron", "input"))
def weight(lab, layer, neuron, input):
    """One weight: Linear layer ``layer``, row ``neuron``, column ``input`` (PyTorch's weight[neuron, input])."""
    w = _linears(lab)[_index(int(layer), len(_linears(lab)), "layer")].weight.data
    return w[_index(int(neuron), w.shape[0], "neuron"), _index(int(input), w.shape[1], "input")]


@measure("bias", labs=("mlp",), args=("layer", "neuron"))
def bias(lab, layer, neuron):
    """One bias: Linear layer ``layer``, neuron ``neuron``."""
    b = _linears(lab)[_index(int(layer), len(_linears(lab)), "layer")].bias.data
    return b[_index(int(neuron), b.shape[0], "neuron")]


def _records(lab, inputs: np.ndarray):
    from engine.inspect import mlp_records

    model = lab.trainer.model
    model.eval()
    try:
        model(inputs)
        return mlp_records(model)
    finally:
        model.train()


@measure("output", labs=("mlp",), args=("layer", "neuron", "x1", "x2"))
def output(lab, layer, neuron, x1, x2):
    """Activation of neuron ``neuron`` of Linear layer ``layer``'s output at the point (x1, x2) of a 2-D dataset.

    For the output layer this is the network's output (tanh, sigmoid or linear; the logit with cross-entropy)."""
    from engine.datasets import featurize

    d = lab.data
    if d.input_kind != "points":
        raise MeasureError("output(layer, neuron, x1, x2) needs a 2-D dataset")
    records = _records(lab, featurize(np.array([[float(x1), float(x2)]]), d.feature_names))
    a = records[_index(int(layer), len(records), "layer")].activation[0]
    return a[_index(int(neuron), len(a), "neuron")]


def _dead(lab, layer):
    from engine.inspect import activation_after, dead_units, linear_positions

    from app.labs.mlp.frames import HIST_SAMPLE

    model = lab.trainer.model
    records = _records(lab, lab.data.X_train[:HIST_SAMPLE])[:-1]
    if not records:
        raise MeasureError("the network has no hidden layer")
    r = records[_index(int(layer), len(records), "hidden layer")]
    return dead_units(r.pre_activation, activation_after(model, linear_positions(model)[r.index]))


@measure("dead_units", labs=("mlp",), args=("layer",))
def dead_units(lab, layer):
    """Units of hidden layer ``layer`` no gradient gets through on the frame's sample (the frame's dead.k)."""
    return int(_dead(lab, layer).sum())


@measure("dead_fraction", labs=("mlp",), args=("layer",))
def dead_fraction(lab, layer):
    """Fraction of hidden layer ``layer``'s units that are dead, in [0, 1]."""
    return float(_dead(lab, layer).mean())
