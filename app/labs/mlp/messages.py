"""The MLP lab's own events (network edits, the landscape, model files) as strict pydantic models."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional

from pydantic import Field, model_validator

from app.server.messages import MAX_INDEX, Message, choice, integer, number

from .points import MAX_LINK_CHARS, MAX_POINTS_PER_MESSAGE
from .schema import HIDDEN_ACTIVATIONS, LIMITS, PROBLEMS


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


# --- your own data (app.labs.mlp.data_edits)
PlanePoints = Annotated[list[Annotated[list[number(-6.0, 6.0)], Field(min_length=2, max_length=2)]], Field(
    min_length=1, max_length=MAX_POINTS_PER_MESSAGE,
    description=f"a list of 1 to {MAX_POINTS_PER_MESSAGE} [x1, x2], finite numbers in [-6, 6]")]


class AddPoints(Message):
    points: PlanePoints
    label: integer(0, 5) = None
    value: number(-1.0, 1.0) = None

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.label is None) == (self.value is None):
            raise ValueError("exactly one of label (a class 0-5, classification) and value (in [-1, 1], regression)")
        return self


class RemovePoints(Message):
    at: PlanePoints
    radius: Annotated[float, Field(gt=0.0, le=3.0, allow_inf_nan=False, description="a finite number in (0, 3]")]


class ClearPoints(Message):
    task: choice(PROBLEMS) = None


class UploadData(Message):
    any_size: ClassVar[bool] = True  # a CSV of 5,000 rows is bigger than a control; max_message_bytes holds
    csv: Annotated[str, Field(description="the text of a CSV file: x1,x2,label or x1,x2,y")] = None
    link: Annotated[str, Field(max_length=MAX_LINK_CHARS,
                               description=f"a link's points parameter, at most {MAX_LINK_CHARS} characters")] = None

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.csv is None) == (self.link is None):
            raise ValueError("exactly one of csv (a file's text) and link (a link's points parameter)")
        return self
