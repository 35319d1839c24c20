"""The numbers a lesson's conditions may name: one small function each, registered by name.

A condition (app.lessons.conditions) is a comparison of measures and numbers, e.g.
``grad_norm(0) / grad_norm(-1) <= 0.01``. Each measure here reads the live lab a session shows — the same
numbers its frames carry — and returns a float. Add one with ``@measure``::

    @measure("dead_units", labs=("mlp",), args=("layer",))
    def dead_units(lab, layer):
        '''Hidden units of ``layer`` no gradient reaches on the frame's sample (docs/protocol.md, dead.k).'''
        ...

``args`` names the arguments (numbers written in the condition, in this order); ``labs`` the labs it can read;
``names`` the arguments written as a name instead, each with the names it allows (``sampler``: grid, random…).
The docstring's first line is what docs/lessons.md and `nnplayground lessons --measures` show.
"""

from __future__ import annotations

import math

import numpy as np

from app.sessions import headless

from .registry import MEASURES, MeasureError, index_in, measure  # noqa: F401  (MEASURES: read from here)


# --- helpers
def _linears(lab):
    from engine.inspect import linear_positions

    model = lab.trainer.model
    return [model[p] for p in linear_positions(model)]


def _linear(lab, layer):
    """Linear layer ``layer`` (counted from 0 over the Linear layers; negative from the end), or MeasureError."""
    linears = _linears(lab)
    return linears[index_in(int(layer), len(linears), "layer")]


def _evaluate(lab, split: str) -> tuple[float, float | None]:
    """(loss, accuracy) over a whole split, cached per model version (a check reads several measures)."""
    key = (lab.model_version, lab.resets, lab.host.config_version, split)
    cache = lab.__dict__.setdefault("_lesson_evaluations", {})
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        result = headless.evaluate(lab, split)
        cache[key] = (result.loss, result.accuracy)
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
@measure("train_loss", labs=("mlp", "cnn", "rnn"))
def train_loss(lab):
    """Loss over the whole training set (the frame's train_loss)."""
    return _evaluate(lab, "train")[0]


@measure("test_loss", labs=("mlp", "cnn", "rnn"))
def test_loss(lab):
    """Loss over the whole test set (the frame's test_loss)."""
    return _evaluate(lab, "test")[0]


def _accuracy(lab, split: str) -> float:
    accuracy = _evaluate(lab, split)[1]
    if accuracy is None:
        raise MeasureError(f"{split}_accuracy needs a classification dataset")
    return accuracy


@measure("train_accuracy", labs=("mlp", "cnn", "rnn"))
def train_accuracy(lab):
    """Fraction of the training set classified right, in [0, 1]."""
    return _accuracy(lab, "train")


@measure("test_accuracy", labs=("mlp", "cnn", "rnn"))
def test_accuracy(lab):
    """Fraction of the test set classified right, in [0, 1]."""
    return _accuracy(lab, "test")


# --- the network
@measure("num_parameters", labs=("mlp", "cnn", "rnn"))
def num_parameters(lab):
    """Weights and biases of the network."""
    return lab.trainer.model.num_parameters()


@measure("grad_norm", labs=("mlp",), args=("layer",))
def grad_norm(lab, layer):
    """2-norm of Linear layer ``layer``'s gradient (weights and bias) from the last minibatch (frame's grad_norm).

    ``layer`` counts the Linear layers from 0; -1 is the output layer."""
    linear = _linear(lab, layer)
    w, b = linear.weight.grad, linear.bias.grad
    return math.sqrt(float(np.vdot(w, w) + np.vdot(b, b)))


@measure("weight_norm", labs=("mlp",), args=("layer",))
def weight_norm(lab, layer):
    """2-norm of Linear layer ``layer``'s weights (bias excluded)."""
    linear = _linear(lab, layer)
    return float(np.linalg.norm(linear.weight.data))


@measure("weight", labs=("mlp",), args=("layer", "neuron", "input"))
def weight(lab, layer, neuron, input):
    """One weight: Linear layer ``layer``, row ``neuron``, column ``input`` (PyTorch's weight[neuron, input])."""
    w = _linear(lab, layer).weight.data
    return w[index_in(int(neuron), w.shape[0], "neuron"), index_in(int(input), w.shape[1], "input")]


@measure("bias", labs=("mlp",), args=("layer", "neuron"))
def bias(lab, layer, neuron):
    """One bias: Linear layer ``layer``, neuron ``neuron``."""
    b = _linear(lab, layer).bias.data
    return b[index_in(int(neuron), b.shape[0], "neuron")]


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
    a = records[index_in(int(layer), len(records), "layer")].activation[0]
    return a[index_in(int(neuron), len(a), "neuron")]


def _dead(lab, layer):
    from engine.inspect import activation_after, dead_units, linear_positions

    from app.labs.mlp.frames import HIST_SAMPLE

    model = lab.trainer.model
    records = _records(lab, lab.data.X_train[:HIST_SAMPLE])[:-1]
    if not records:
        raise MeasureError("the network has no hidden layer")
    r = records[index_in(int(layer), len(records), "hidden layer")]
    return dead_units(r.pre_activation, activation_after(model, linear_positions(model)[r.index]))


@measure("dead_units", labs=("mlp",), args=("layer",))
def dead_units(lab, layer):
    """Units of hidden layer ``layer`` no gradient gets through on the frame's sample (the frame's dead.k)."""
    return int(_dead(lab, layer).sum())


@measure("dead_fraction", labs=("mlp",), args=("layer",))
def dead_fraction(lab, layer):
    """Fraction of hidden layer ``layer``'s units that are dead, in [0, 1]."""
    return float(_dead(lab, layer).mean())


# --- backpropagation: one weight of the output layer, the probe alone (the backprop step-through's numbers)
def _probe_example(lab) -> tuple[np.ndarray, np.ndarray]:
    """The probe's input (F,) and its target as the cost reads it, (1, C) or (1,) a class; MeasureError without one."""
    from app.labs.mlp.data import targets

    x, label = lab.probe_input()
    if label is None:
        raise MeasureError("the probe has no label: probe an example of the training or test set")
    d = lab.data
    return x, targets(np.array([label]), d.task, d.num_classes, lab.settings["loss"])


def _probe_cost(lab, model):
    """(C₀, ∂C₀/∂output) of ``model`` on the probe alone, with the cost the lab trains with."""
    x, target = _probe_example(lab)
    return lab.trainer.cost(model(np.asarray(x, dtype=model.dtype)[None, :]), target)


def _output_weight(lab, neuron, input) -> tuple[int, int]:
    w = _linears(lab)[-1].weight.data
    return index_in(int(neuron), w.shape[0], "neuron"), index_in(int(input), w.shape[1], "input")


def _probe_copy(lab):
    """A copy of the lab's network in eval mode (no dropout): measuring leaves the lab's weights and gradients alone."""
    import copy

    return copy.deepcopy(lab.trainer.model).eval()


@measure("chain_rule_grad", labs=("mlp",), args=("neuron", "input"))
def chain_rule_grad(lab, neuron, input):
    """∂C₀/∂w of the output layer's weight[neuron, input] on the probe, by the chain rule: a_k·σ′(z_j)·2(a_j − y_j).

    With cross-entropy, a_k·(p_j − y_j). The backprop step-through's arithmetic (app.labs.mlp.backprop)."""
    from app.labs.mlp.backprop import step_through

    j, k = _output_weight(lab, neuron, input)
    x, target = _probe_example(lab)
    return step_through(lab.trainer.model, x, target[0], lab.trainer.cost_name).weight_grad[j, k]


@measure("engine_grad", labs=("mlp",), args=("neuron", "input"))
def engine_grad(lab, neuron, input):
    """The same ∂C₀/∂w from the engine's backward pass through the whole network, on the probe alone."""
    from engine.inspect import linear_positions

    j, k = _output_weight(lab, neuron, input)
    model = _probe_copy(lab)
    model.zero_grad()
    _, grad = _probe_cost(lab, model)
    model.backward(grad)
    return model[linear_positions(model)[-1]].weight.grad[j, k]


@measure("nudge_grad", labs=("mlp",), args=("neuron", "input"))
def nudge_grad(lab, neuron, input):
    """The same ∂C₀/∂w by nudging the weight: (C₀(w + h) − C₀(w − h)) / 2h, h = 10⁻⁶ (a finite difference)."""
    from engine.inspect import linear_positions

    j, k = _output_weight(lab, neuron, input)
    model = _probe_copy(lab)
    w = model[linear_positions(model)[-1]].weight.data
    h, centre, costs = 1e-6, w[j, k], []
    for nudge in (h, -h):
        w[j, k] = centre + nudge
        costs.append(_probe_cost(lab, model)[0])
    return (costs[0] - costs[1]) / (2 * h)


# --- minibatches
@measure("minibatch_agreement", labs=("mlp",))
def minibatch_agreement(lab):
    """Mean cosine between each minibatch's gradient and the whole training set's, at the current weights.

    1: every minibatch points exactly downhill (batch = the whole set); near 0: a minibatch's direction is mostly
    noise. The minibatches of the current batch size over one shuffle of the training set (seeded); no dropout, no
    penalty."""
    t = lab.trainer
    X, T = t.data.X_train, t.T_train
    n = len(X)
    if n == 0:
        raise MeasureError("the training set is empty")
    model = _probe_copy(lab)

    def gradient(rows):
        model.zero_grad()
        _, grad = t.cost(model(X[rows]), T[rows])
        model.backward(grad)
        return np.concatenate([p.grad.ravel() for p in model.parameters()])

    full = gradient(np.arange(n))
    size = min(lab.settings["batch_size"], n)
    order = np.random.default_rng(0).permutation(n)
    cosines = []
    for start in range(0, n - size + 1, size):
        g = gradient(order[start:start + size])
        norms = float(np.linalg.norm(g) * np.linalg.norm(full))
        cosines.append(float(g @ full) / norms if norms > 0 else 0.0)
    return float(np.mean(cosines))


# --- classes
@measure("probability", labs=("mlp",), args=("label", "x1", "x2"))
def probability(lab, label, x1, x2):
    """The network's output for class ``label`` at the point (x1, x2): its softmax probability with cross-entropy;
    with squared error, that class's own sigmoid output (nothing makes those add up to 1)."""
    from engine.datasets import featurize

    d = lab.data
    if d.input_kind != "points" or d.task != "classification":
        raise MeasureError("probability(label, x1, x2) needs a 2-D classification dataset")
    model = _probe_copy(lab)
    out = model(featurize(np.array([[float(x1), float(x2)]]), d.feature_names))[0]
    if lab.trainer.output_activation == "softmax":
        e = np.exp(out - out.max())
        out = e / e.sum()
    elif len(out) == 1:  # one tanh output for two classes: class 1 is its positive side
        out = np.array([(1 - out[0]) / 2, (1 + out[0]) / 2])
    return out[index_in(int(label), len(out), "class")]


@measure("probability_sum", labs=("mlp",), args=("x1", "x2"))
def probability_sum(lab, x1, x2):
    """The outputs of every class at (x1, x2) added up: 1 for softmax, anything for independent sigmoids."""
    return sum(probability(lab, c, x1, x2) for c in range(lab.data.num_classes))


@measure("probe_label", labs=("mlp",))
def probe_label(lab):
    """The probe's label: its class (or its target value for regression); MeasureError for an unlabelled probe."""
    _, label = lab.probe_input()
    if label is None:
        raise MeasureError("the probe has no label: probe an example of the training or test set")
    return label


@measure("small_weight_fraction", labs=("mlp",), args=("layer",))
def small_weight_fraction(lab, layer):
    """Fraction of Linear layer ``layer``'s weights with |w| < 0.01: the weights L1 regularization has switched off."""
    w = _linear(lab, layer).weight.data
    return float(np.mean(np.abs(w) < 0.01))


# The search, CNN and RNN labs' measures (trial counts, shapes of a real pass, the gradient through time) live
# beside this file and register into the same registry; imported here, after this file's own, so the registry
# lists every measure (in this order) wherever MEASURES is read from.
from . import search_measures, shape_measures  # noqa: E402,F401  (register on import)
