"""The session's network: an engine MLP, built and reshaped live without losing trained weights.

Layer k is the k-th Linear of the Sequential (docs/protocol.md, "Layer numbering"). Reshaping goes
through engine.surgery, which keeps every other weight bit-for-bit and carries the optimizer's state;
the two edits surgery has no verb for (new input features, a new output layer) live here.
"""

from __future__ import annotations

import math

import numpy as np

from engine import Dropout, Linear, Parameter, Sequential, builders, surgery
from engine.activations import Activation
from engine.inspect import activation_after, linear_positions


def build(sizes: list[int], hidden_activation: str, output_activation: str, dropout: float,
          rng: np.random.Generator, init: str = "default") -> Sequential:
    """A fresh MLP with ``sizes`` [in, h1, ..., out]; ``output_activation`` "linear"/"softmax" = logits; weights
    drawn by ``init`` (engine.init.INIT_SCHEMES, each layer with the gain of the activation after it)."""
    out = None if output_activation in ("linear", "softmax") else output_activation
    return builders.mlp(sizes, activation=hidden_activation, output_activation=out, dropout=dropout, init=init,
                        rng=rng)


def linears(model: Sequential) -> list[Linear]:
    return [model[p] for p in linear_positions(model)]


def layer_sizes(model: Sequential) -> list[int]:
    layers = linears(model)
    return [layers[0].in_features] + [layer.out_features for layer in layers]


def hidden_activations(model: Sequential) -> list[str]:
    names = []
    for position in linear_positions(model)[:-1]:
        act = activation_after(model, position)
        names.append(act.name if act is not None else "linear")
    return names


def parameter_names(model: Sequential) -> list[list[str]]:
    """PyTorch state_dict keys [weight, bias] of each layer, e.g. [["0.weight", "0.bias"], ["2.weight", ...]]."""
    return [[f"{p}.weight", f"{p}.bias"] for p in linear_positions(model)]


def count_parameters(sizes: list[int]) -> int:
    """Weights and biases of an MLP with layer widths ``sizes``."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def resize_hidden(model: Sequential, optimizer, target: list[int], activation: str, rng, inputs=None) -> None:
    """Make the hidden widths ``target``: remove or append layers at the end, then add or remove neurons
    at the end of each layer. Every weight not removed keeps its value; appended layers start as (nearly)
    the identity on ``inputs`` (engine.surgery.insert_hidden_layer)."""
    hidden = layer_sizes(model)[1:-1]
    while len(hidden) > len(target):
        surgery.remove_hidden_layer(model, len(hidden) - 1, optimizer=optimizer)
        hidden.pop()
    for k, width in enumerate(target[:len(hidden)]):
        for _ in range(width - hidden[k]):
            surgery.add_neuron(model, k, optimizer=optimizer, rng=rng)
        for _ in range(hidden[k] - width):
            surgery.remove_neuron(model, k, -1, optimizer=optimizer)
    for width in target[len(hidden):]:
        surgery.insert_hidden_layer(model, len(hidden) - 1, width=width, activation=activation,
                                    optimizer=optimizer, rng=rng, inputs=inputs)
        hidden.append(width)


def remap_inputs(model: Sequential, optimizer, old: list[str], new: list[str], rng) -> None:
    """Feed the network the features ``new`` instead of ``old``: the first layer keeps the weight column
    (and optimizer state) of every feature in both, and draws fresh columns for the others."""
    first = linears(model)[0]
    bound = 1.0 / math.sqrt(len(new))
    weight = first.weight
    states = optimizer.state_of(weight) if optimizer is not None else {}

    def remapped(array: np.ndarray, fresh: bool) -> np.ndarray:
        out = np.zeros((array.shape[0], len(new)), dtype=array.dtype)
        for j, name in enumerate(new):
            if name in old:
                out[:, j] = array[:, old.index(name)]
            elif fresh:
                out[:, j] = rng.uniform(-bound, bound, array.shape[0])
        return out

    replacement = Parameter(remapped(weight.data, fresh=True))
    first.weight = replacement
    first.in_features = len(new)
    if optimizer is not None:
        optimizer.set_params(list(model.parameters()),
                             {replacement: {k: remapped(v, fresh=False) for k, v in states.items()}})


def replace_output(model: Sequential, optimizer, width: int, activation: str, rng) -> None:
    """A fresh output layer of ``width`` neurons (its inputs unchanged) with ``activation``."""
    position = linear_positions(model)[-1]
    old = model[position]
    model[position] = Linear(old.in_features, width, rng=rng, dtype=old.weight.data.dtype)
    set_output_activation(model, activation)
    if optimizer is not None:
        optimizer.set_params(list(model.parameters()))


def output_activation_module(model: Sequential) -> Activation | None:
    return activation_after(model, linear_positions(model)[-1])


def set_output_activation(model: Sequential, activation: str) -> None:
    """"linear" and "softmax" (logits for the cross-entropy) leave the output layer without activation."""
    positions = linear_positions(model)
    current = output_activation_module(model)
    if activation in ("linear", "softmax"):
        if current is not None:
            model.pop(positions[-1] + 1)
    elif current is None or current.name != activation:
        surgery.set_activation(model, activation, layer=len(positions) - 1)


def sync_dropout(model: Sequential, p: float) -> None:
    """One Dropout(p) after each hidden layer's activation when p > 0, none when p == 0 (so the state_dict
    names are a plain MLP's). Dropout has no parameters: the optimizer needs no update."""
    positions = linear_positions(model)
    for position in reversed(positions[:-1]):  # back to front: insertions do not shift positions still to do
        after = position + 1 if activation_after(model, position) is not None else position
        has = after + 1 < len(model) and isinstance(model[after + 1], Dropout)
        if has and p == 0:
            model.pop(after + 1)
        elif has:
            model[after + 1].p = p
        elif p > 0:
            model.insert(after + 1, Dropout(p))


def weights(model: Sequential) -> list[Parameter]:
    """The weight matrices (regularization applies to them, not to the biases)."""
    return [layer.weight for layer in linears(model)]
