"""The MLP lab's own events (network edits, the landscape, model files) as strict pydantic models."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional

from pydantic import Field, model_validator

from app.server.messages import MAX_INDEX, Message, choice, integer, number

from .schema import HIDDEN_ACTIVATIONS, LIMITS


class AddLayer(Message):
    position: integer(0, LIMITS.max_hidden_layers) = None
    width: integer(1, LIMITS.max_neurons_per_layer) = None


class RemoveLayer(Message):
    layer: integer(0, LIMITS.max_hidden_layers - 1) = None


class AddNeuron(Message):
    layer: integer(0, LIMITS.max_hidden_layers - 1)


class RemoveNeuron(Message):
    layer: integer(0, LIMITS.max_hidden_layers - 1)
    neuron: integer(0, LIMITS.max_neurons_per_layer - 1) = None


class SetActivation(Message):
    activation: choice(HIDDEN_ACTIVATIONS)
    layer: Optional[integer(0, LIMITS.max_hidden_layers - 1)] = None


_EDIT_VALUE = number(-LIMITS.max_edit_magnitude, LIMITS.max_edit_magnitude)


class EditWeight(Message):
    layer: integer(0, LIMITS.max_hidden_layers)
    neuron: integer(0, MAX_INDEX)
    input: integer(0, MAX_INDEX)
    value: _EDIT_VALUE


class EditBias(Message):
    layer: integer(0, LIMITS.max_hidden_layers)
    neuron: integer(0, MAX_INDEX)
    value: _EDIT_VALUE


Reference = Annotated[list[integer(0, MAX_INDEX)], Field(min_length=2, max_length=3)]


class Landscape(Message):
    show: Annotated[bool, Field(description="true or false")] = None
    weights: Annotated[Optional[list[Reference]], Field(
        min_length=2, max_length=2,
        description="two [layer, neuron, input] (weight) or [layer, neuron] (bias), or null for the steepest pair",
    )] = None


class LoadModel(Message):
    any_size: ClassVar[bool] = True
    format: choice(("npz", "json"))
    data: Annotated[Any, Field(description="bytes (npz) or a string (json)")]

    @model_validator(mode="after")
    def _typed(self):
        expected = bytes if self.format == "npz" else str
        if not isinstance(self.data, expected):
            raise ValueError(f"data must be {'bytes' if expected is bytes else 'a string'} for format {self.format}")
        return self
