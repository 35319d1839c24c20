"""Editing a session's network live: layers, neurons, activations, single weights, a loaded model.

A mixin of app.session.Session (call under ``session.controlled()``). Every edit validates first and raises
ControlError before changing anything; the edits themselves are engine.surgery's, which keep every other
trained weight bit-for-bit and carry the optimizer's state.
"""

from __future__ import annotations

import numpy as np

from engine import surgery

from app.server.errors import ControlError

from . import data as datamod
from . import network
from .schema import LIMITS


class NetworkEdits:
    """Structure and weight controls of a Session (uses its trainer, settings, rng, data and _changed)."""

    def _check_size(self, sizes: list[int], field: str, received) -> None:
        total = network.count_parameters(sizes)
        if total > LIMITS.max_parameters:
            raise ControlError(field, received, f"at most {LIMITS.max_parameters} parameters in all",
                               f"the network {'-'.join(map(str, sizes))} would have {total} parameters; "
                               f"allowed: at most {LIMITS.max_parameters}")

    # --- structure
    @property
    def hidden_sizes(self) -> list[int]:
        return network.layer_sizes(self.trainer.model)[1:-1]

    def _hidden_layer(self, field: str, layer) -> int:
        count = len(self.hidden_sizes)
        if layer is None or not 0 <= layer < count:
            allowed = f"an integer in [0, {count - 1}]" if count else "none: the network has no hidden layer"
            raise ControlError(field, layer, allowed)
        return layer

    def _after_structure_change(self) -> None:
        model = self.trainer.model
        network.sync_dropout(model, self.settings["dropout"])
        self.settings["hidden_sizes"] = self.hidden_sizes
        self._changed()

    def add_layer(self, position: int | None = None, width: int | None = None) -> None:
        hidden = self.hidden_sizes
        if len(hidden) >= LIMITS.max_hidden_layers:
            raise ControlError("", len(hidden) + 1, f"at most {LIMITS.max_hidden_layers} hidden layers",
                               f"the network already has {len(hidden)} hidden layers; allowed: at most "
                               f"{LIMITS.max_hidden_layers}")
        position = len(hidden) if position is None else position
        if not 0 <= position <= len(hidden):
            raise ControlError("position", position, f"an integer in [0, {len(hidden)}]")
        if width is None:
            width = hidden[position - 1] if position > 0 else (hidden[0] if hidden else 4)
        sizes = network.layer_sizes(self.trainer.model)
        self._check_size(sizes[:position + 1] + [width] + sizes[position + 1:], "width", width)
        surgery.insert_hidden_layer(self.trainer.model, position - 1, width=width,
                                    activation=self.settings["activation"], optimizer=self.trainer.optimizer,
                                    rng=self.rng)
        self._after_structure_change()

    def remove_layer(self, layer: int | None = None) -> None:
        hidden = self.hidden_sizes
        layer = self._hidden_layer("layer", len(hidden) - 1 if layer is None else layer)
        surgery.remove_hidden_layer(self.trainer.model, layer, optimizer=self.trainer.optimizer)
        self._after_structure_change()

    def add_neuron(self, layer: int) -> None:
        layer = self._hidden_layer("layer", layer)
        sizes = network.layer_sizes(self.trainer.model)
        if sizes[layer + 1] >= LIMITS.max_neurons_per_layer:
            raise ControlError("layer", layer, f"a layer with fewer than {LIMITS.max_neurons_per_layer} neurons",
                               f"hidden layer {layer} already has {sizes[layer + 1]} neurons; allowed: at most "
                               f"{LIMITS.max_neurons_per_layer}")
        sizes[layer + 1] += 1
        self._check_size(sizes, "layer", layer)
        surgery.add_neuron(self.trainer.model, layer, optimizer=self.trainer.optimizer, rng=self.rng)
        self._after_structure_change()

    def remove_neuron(self, layer: int, neuron: int | None = None) -> None:
        layer = self._hidden_layer("layer", layer)
        width = self.hidden_sizes[layer]
        if width == 1:
            raise ControlError("layer", layer, "a layer with more than one neuron",
                               f"hidden layer {layer} has a single neuron; remove the layer instead")
        neuron = width - 1 if neuron is None else neuron
        if not 0 <= neuron < width:
            raise ControlError("neuron", neuron, f"an integer in [0, {width - 1}]")
        surgery.remove_neuron(self.trainer.model, layer, neuron, optimizer=self.trainer.optimizer)
        self._after_structure_change()

    def set_activation(self, activation: str, layer: int | None = None) -> None:
        if layer is None:
            self.apply_settings({"activation": activation})
            return
        layer = self._hidden_layer("layer", layer)
        surgery.set_activation(self.trainer.model, activation, layer=layer)
        self._after_structure_change()

    # --- single weights
    def _layer(self, layer: int):
        layers = network.linears(self.trainer.model)
        if not 0 <= layer < len(layers):
            raise ControlError("layer", layer, f"an integer in [0, {len(layers) - 1}]")
        return layers[layer]

    def edit_weight(self, layer: int, neuron: int, input: int, value: float) -> None:
        linear = self._layer(layer)
        out, inp = linear.weight.data.shape
        if not 0 <= neuron < out:
            raise ControlError("neuron", neuron, f"an integer in [0, {out - 1}]")
        if not 0 <= input < inp:
            raise ControlError("input", input, f"an integer in [0, {inp - 1}]")
        linear.weight.data[neuron, input] = value
        self._changed()

    def edit_bias(self, layer: int, neuron: int, value: float) -> None:
        linear = self._layer(layer)
        out = linear.bias.data.shape[0]
        if not 0 <= neuron < out:
            raise ControlError("neuron", neuron, f"an integer in [0, {out - 1}]")
        linear.bias.data[neuron] = value
        self._changed()

    # --- model files
    @staticmethod
    def _check_widths(sizes: list[int], expected: tuple[int, int], what: str) -> None:
        if (sizes[0], sizes[-1]) != expected:
            raise ControlError("data", f"a {'-'.join(map(str, sizes))} network", f"{expected[0]} inputs and "
                               f"{expected[1]} outputs ({what})")

    def load_model(self, sizes: list[int], arrays: list[tuple[np.ndarray, np.ndarray]],
                   activations: list[str] | None, points=None) -> None:
        """Replace the network by one of ``sizes`` with the given (weight, bias) per layer (validated by
        app.modelio); ``activations`` per hidden layer, or None to keep the settings' activation. ``points``:
        the drawn or uploaded data saved with it (app.labs.mlp.points.Points), which become the dataset."""
        if len(sizes) - 2 > LIMITS.max_hidden_layers or max(sizes[1:-1], default=1) > LIMITS.max_neurons_per_layer:
            raise ControlError("data", f"a {'-'.join(map(str, sizes))} network",
                               f"at most {LIMITS.max_hidden_layers} hidden layers of at most "
                               f"{LIMITS.max_neurons_per_layer} neurons")
        self._check_size(sizes, "data", f"a {'-'.join(map(str, sizes))} network")
        if activations is not None and len(activations) != len(sizes) - 2:
            raise ControlError("hidden_activations", activations, f"{len(sizes) - 2} activation names")
        if points is not None:  # checked against the network first: a refused file changes nothing
            loss = "mse" if points.task == "regression" else self.settings["loss"]
            width, _ = datamod.output_layout(points.task, points.num_classes, loss)
            self._check_widths(sizes, (len(self.settings["features"]), width), "the saved points, features and cost")
            self._use_points(points)
        width, output_activation = datamod.output_layout(self.data.task, self.data.num_classes,
                                                         self.settings["loss"])
        self._check_widths(sizes, (self.data.input_width, width), "the current dataset, features and cost")
        s = self.settings
        model = network.build(sizes, s["activation"], output_activation, s["dropout"], self.rng)
        for k, name in enumerate(activations or []):
            surgery.set_activation(model, name, layer=k)
        for linear, (weight, bias) in zip(network.linears(model), arrays):
            linear.weight.data[...] = weight
            linear.bias.data[...] = bias
        if activations and len(set(activations)) == 1:
            s["activation"] = activations[0]
        s["hidden_sizes"] = sizes[1:-1]
        self.trainer.model = model
        self.trainer.build_optimizer()
        self.status = "paused"
        self.divergence = None
        self._changed()
