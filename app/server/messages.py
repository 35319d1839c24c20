"""Every inbound event's payload as a strict pydantic model, built from app.schema.

Strict: no strings for numbers, no floats for integers, no booleans for either, no NaN or infinity,
no unknown fields. ``validate(event, payload)`` returns the model or raises ControlError naming the
field, what was received and what is allowed (the schema's own words for the controls).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from .errors import ControlError
from .schema import CONTROLS, CONTROLS_BY_NAME, HIDDEN_ACTIVATIONS, LIMITS, PROBE_SPLITS, STEP_UNITS, Control

MAX_INDEX = 100_000  # loose bound on any layer/neuron/input/example index; the session checks the real one


def _integer(lo: int, hi: int):
    return Annotated[int, Field(ge=lo, le=hi, description=f"an integer in [{lo}, {hi}]")]


def _number(lo: float, hi: float):
    return Annotated[float, Field(ge=lo, le=hi, allow_inf_nan=False, description=f"a finite number in [{lo:g}, {hi:g}]")]


def _choice(choices):
    return Annotated[Literal[tuple(choices)], Field(description="one of " + ", ".join(f'"{c}"' for c in choices))]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _control_type(c: Control):
    if c.kind == "number":
        return _number(c.minimum, c.maximum)
    if c.kind == "integer":
        return _integer(c.minimum, c.maximum)
    if c.kind == "choice":
        return _choice(c.choices)
    item = Literal[tuple(c.choices)] if c.kind == "choices" else Annotated[int, Field(ge=c.minimum, le=c.maximum)]
    return Annotated[list[item], Field(min_length=c.min_items, max_length=c.max_items, description=c.allowed())]


def _distinct(value):
    if value is not None and len(set(value)) != len(value):
        raise ValueError("items must be distinct")
    return value


# `set`: any subset of the controls (a field left out keeps its value; null is not a value).
SetMessage = create_model(
    "SetMessage", __base__=Message,
    __validators__={"distinct": field_validator("features")(_distinct)},
    **{c.name: (_control_type(c), None) for c in CONTROLS},
)


class Empty(Message):
    pass


class StepMessage(Message):
    unit: _choice(STEP_UNITS) = "batch"


class AddLayer(Message):
    position: _integer(0, LIMITS.max_hidden_layers) = None
    width: _integer(1, LIMITS.max_neurons_per_layer) = None


class RemoveLayer(Message):
    layer: _integer(0, LIMITS.max_hidden_layers - 1) = None


class AddNeuron(Message):
    layer: _integer(0, LIMITS.max_hidden_layers - 1)


class RemoveNeuron(Message):
    layer: _integer(0, LIMITS.max_hidden_layers - 1)
    neuron: _integer(0, LIMITS.max_neurons_per_layer - 1) = None


class SetActivation(Message):
    activation: _choice(HIDDEN_ACTIVATIONS)
    layer: Optional[_integer(0, LIMITS.max_hidden_layers - 1)] = None


_EDIT_VALUE = _number(-LIMITS.max_edit_magnitude, LIMITS.max_edit_magnitude)


class EditWeight(Message):
    layer: _integer(0, LIMITS.max_hidden_layers)
    neuron: _integer(0, MAX_INDEX)
    input: _integer(0, MAX_INDEX)
    value: _EDIT_VALUE


class EditBias(Message):
    layer: _integer(0, LIMITS.max_hidden_layers)
    neuron: _integer(0, MAX_INDEX)
    value: _EDIT_VALUE


class Drawing(Message):
    width: _integer(8, LIMITS.max_drawing_side)
    height: _integer(8, LIMITS.max_drawing_side)
    pixels: Annotated[str, Field(max_length=4 * LIMITS.max_drawing_side ** 2 // 3 + 4,
                                 description="base64 text of width*height bytes of ink (0 = none), row-major")]
    label: Optional[_integer(0, 9)] = None


class Probe(Message):
    split: _choice(PROBE_SPLITS) = None
    index: _integer(0, MAX_INDEX) = None
    point: Annotated[list[_number(-100.0, 100.0)], Field(min_length=2, max_length=2,
                                                         description="[x1, x2], finite numbers in [-100, 100]")] = None
    image: Annotated[list[_number(0.0, 1.0)], Field(min_length=1, max_length=LIMITS.max_probe_pixels,
                                                    description=f"a list of at most {LIMITS.max_probe_pixels} "
                                                                f"numbers in [0, 1]")] = None
    drawing: Annotated[Drawing, Field(description="{width, height, pixels, label?}")] = None

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("index", "point", "image", "drawing") if getattr(self, k) is not None]
        if len(given) != 1 or (self.split is not None and given != ["index"]):
            raise ValueError("exactly one of {split?, index}, {point}, {image}, {drawing}")
        return self


Reference = Annotated[list[_integer(0, MAX_INDEX)], Field(min_length=2, max_length=3)]


class Landscape(Message):
    show: Annotated[bool, Field(description="true or false")] = None
    weights: Annotated[Optional[list[Reference]], Field(
        min_length=2, max_length=2,
        description="two [layer, neuron, input] (weight) or [layer, neuron] (bias), or null for the steepest pair",
    )] = None


class LoadModel(Message):
    format: _choice(("npz", "json"))
    data: Annotated[Any, Field(description="bytes (npz) or a string (json)")]

    @model_validator(mode="after")
    def _typed(self):
        expected = bytes if self.format == "npz" else str
        if not isinstance(self.data, expected):
            raise ValueError(f"data must be {'bytes' if expected is bytes else 'a string'} for format {self.format}")
        return self


EVENTS: dict[str, type[Message]] = {
    "set": SetMessage, "play": Empty, "pause": Empty, "step": StepMessage, "reset": Empty,
    "add_layer": AddLayer, "remove_layer": RemoveLayer, "add_neuron": AddNeuron, "remove_neuron": RemoveNeuron,
    "set_activation": SetActivation, "edit_weight": EditWeight, "edit_bias": EditBias, "probe": Probe,
    "load_model": LoadModel, "landscape": Landscape,
}


def _payload_bytes(payload) -> int:
    try:
        return len(json.dumps(payload, default=lambda v: "x" * len(v) if isinstance(v, bytes) else str(v)))
    except (TypeError, ValueError, RecursionError):
        return LIMITS.max_control_bytes + 1


def validate(event: str, args: tuple) -> Message:
    """The model for ``event`` with ``args`` (the Socket.IO event's arguments), or ControlError."""
    model = EVENTS.get(event)
    if model is None:
        raise ControlError("", event, "one of the events " + ", ".join(EVENTS), event=event,
                           message=f"unknown event {event!r}; allowed: {', '.join(EVENTS)}")
    if len(args) > 1:
        raise ControlError("", f"<{len(args)} arguments>", "one payload object", event=event)
    payload = args[0] if args else None
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ControlError("", payload, "an object (JSON {...}) of the event's fields", event=event)
    if event != "load_model" and _payload_bytes(payload) > LIMITS.max_control_bytes:
        raise ControlError("", f"<{_payload_bytes(payload)} bytes>", f"at most {LIMITS.max_control_bytes} bytes",
                           event=event)
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise _control_error(event, model, payload, error.errors()[0]) from None


def _control_error(event: str, model, payload: dict, e: dict) -> ControlError:
    loc = [str(part) for part in e["loc"]]
    field = ".".join(loc)
    name = loc[0] if loc else ""
    received = e.get("input")
    if e["type"] == "extra_forbidden":
        return ControlError(field, received, "one of the fields " + ", ".join(model.model_fields) if model.model_fields
                            else "no fields", event=event,
                            message=f"unknown field {name!r}; allowed fields: {', '.join(model.model_fields) or 'none'}")
    if e["type"] == "missing":
        return ControlError(field, None, model.model_fields[name].description or "a value", event=event,
                            message=f"{name!r} is required; allowed: {model.model_fields[name].description}")
    if not loc:  # a whole-message rule (model_validator)
        return ControlError("", payload, str(e.get("ctx", {}).get("error", e["msg"])), event=event)
    if model is SetMessage:
        allowed = CONTROLS_BY_NAME[name].allowed()
        if len(loc) > 1 or e["type"] == "value_error":
            received = payload.get(name)
    else:
        allowed = model.model_fields[name].description or e["msg"]
        if len(loc) > 1:
            received = payload.get(name)
    return ControlError(field if len(loc) == 1 else name, received, allowed, event=event)
