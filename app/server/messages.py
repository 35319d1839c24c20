"""Every inbound event's payload as a strict pydantic model; a lab's `set` model is built from its controls.

Strict: no strings for numbers, no floats for integers, no booleans for either, no NaN or infinity,
no unknown fields. ``validate(event, args, events)`` returns the model or raises ControlError naming the
field, what was received and what is allowed (the schema's own words for the controls). The events every
lab answers are ``COMMON_EVENTS``; a lab adds its own (``app.labs.base.Lab.events``).
"""

from __future__ import annotations

import json
from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from .errors import ControlError, describe
from .controls import LIMITS, Control

STEP_UNITS = ("batch", "epoch")
PROBE_SPLITS = ("train", "test")

MAX_INDEX = 100_000  # loose bound on any layer/neuron/input/example index; the session checks the real one


def integer(lo: int, hi: int):
    return Annotated[int, Field(ge=lo, le=hi, description=f"an integer in [{lo}, {hi}]")]


def number(lo: float, hi: float):
    return Annotated[float, Field(ge=lo, le=hi, allow_inf_nan=False, description=f"a finite number in [{lo:g}, {hi:g}]")]


def choice(choices):
    return Annotated[Literal[tuple(choices)], Field(description="one of " + ", ".join(f'"{c}"' for c in choices))]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    any_size: ClassVar[bool] = False  # True: exempt from max_control_bytes (a file upload; max_message_bytes holds)


def _control_type(c: Control):
    if c.kind == "number":
        return number(c.minimum, c.maximum)
    if c.kind == "integer":
        return integer(c.minimum, c.maximum)
    if c.kind == "choice":
        return choice(c.choices)
    if c.kind == "object_list":
        item = Annotated[Union[c.item_models], Field(discriminator="type")]
        return Annotated[list[item], Field(min_length=c.min_items, max_length=c.max_items, description=c.allowed())]
    item = Literal[tuple(c.choices)] if c.kind == "choices" else Annotated[int, Field(ge=c.minimum, le=c.maximum)]
    return Annotated[list[item], Field(min_length=c.min_items, max_length=c.max_items, description=c.allowed())]


def _distinct(value):
    if value is not None and len(set(value)) != len(value):
        raise ValueError("items must be distinct")
    return value


class SettingsMessage(Message):
    """A `set` message: any subset of a lab's controls (a field left out keeps its value; null is not a value)."""

    controls: ClassVar[dict[str, Control]] = {}


def settings_model(name: str, controls) -> type[SettingsMessage]:
    """The strict `set` model of ``controls`` (a lab's schema)."""
    distinct = [c.name for c in controls if c.kind == "choices"]
    validators = {"distinct": field_validator(*distinct)(_distinct)} if distinct else {}
    model = create_model(name, __base__=SettingsMessage, __validators__=validators,
                         **{c.name: (_control_type(c), None) for c in controls})
    model.controls = {c.name: c for c in controls}
    return model


class Empty(Message):
    pass


class StepMessage(Message):
    unit: choice(STEP_UNITS) = "batch"


class Drawing(Message):
    width: integer(8, LIMITS.max_drawing_side)
    height: integer(8, LIMITS.max_drawing_side)
    pixels: Annotated[str, Field(max_length=4 * LIMITS.max_drawing_side ** 2 // 3 + 4,
                                 description="base64 text of width*height bytes of ink (0 = none), row-major")]
    label: Optional[integer(0, 9)] = None


class Probe(Message):
    split: choice(PROBE_SPLITS) = None
    index: integer(0, MAX_INDEX) = None
    point: Annotated[list[number(-100.0, 100.0)], Field(min_length=2, max_length=2,
                                                         description="[x1, x2], finite numbers in [-100, 100]")] = None
    image: Annotated[list[number(0.0, 1.0)], Field(min_length=1, max_length=LIMITS.max_probe_pixels,
                                                    description=f"a list of at most {LIMITS.max_probe_pixels} "
                                                                f"numbers in [0, 1]")] = None
    drawing: Annotated[Drawing, Field(description="{width, height, pixels, label?}")] = None

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("index", "point", "image", "drawing") if getattr(self, k) is not None]
        if len(given) != 1 or (self.split is not None and given != ["index"]):
            raise ValueError("exactly one of {split?, index}, {point}, {image}, {drawing}")
        return self


class SetLab(Message):
    lab: Annotated[str, Field(max_length=64, description="the name of a lab (the schema event's `labs`)")]


# The events every lab answers (a lab adds its own: Lab.events); `set`'s model is the lab's settings_model.
COMMON_EVENTS: dict[str, type[Message]] = {"play": Empty, "pause": Empty, "step": StepMessage, "reset": Empty,
                                           "set_lab": SetLab}


def _payload_bytes(payload) -> int:
    try:
        return len(json.dumps(payload, default=lambda v: "x" * len(v) if isinstance(v, bytes) else str(v)))
    except (TypeError, ValueError, RecursionError):
        return LIMITS.max_control_bytes + 1


def validate(event: str, args: tuple, events: dict[str, type[Message]]) -> Message:
    """The model of ``events`` for ``event`` with ``args`` (the Socket.IO event's arguments), or ControlError."""
    model = events.get(event)
    if model is None:
        raise ControlError("", event, "one of the events " + ", ".join(events), event=event,
                           message=f"unknown event {event!r}; allowed: {', '.join(events)}")
    if len(args) > 1:
        raise ControlError("", f"<{len(args)} arguments>", "one payload object", event=event)
    payload = args[0] if args else None
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ControlError("", payload, "an object (JSON {...}) of the event's fields", event=event)
    if not model.any_size and _payload_bytes(payload) > LIMITS.max_control_bytes:
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
    if (issubclass(model, SettingsMessage) and name in model.controls and model.controls[name].kind == "object_list"
            and len(loc) > 1):
        return _item_error(event, model.controls[name], payload, loc, e)
    if e["type"] == "extra_forbidden":
        return ControlError(field, received, "one of the fields " + ", ".join(model.model_fields) if model.model_fields
                            else "no fields", event=event,
                            message=f"unknown field {name!r}; allowed fields: {', '.join(model.model_fields) or 'none'}")
    if e["type"] == "missing":
        return ControlError(field, None, model.model_fields[name].description or "a value", event=event,
                            message=f"{name!r} is required; allowed: {model.model_fields[name].description}")
    if not loc:  # a whole-message rule (model_validator)
        return ControlError("", payload, str(e.get("ctx", {}).get("error", e["msg"])), event=event)
    if issubclass(model, SettingsMessage):
        allowed = model.controls[name].allowed()
        if len(loc) > 1 or e["type"] == "value_error":
            received = payload.get(name)
    else:
        allowed = model.model_fields[name].description or e["msg"]
        if len(loc) > 1:
            received = payload.get(name)
    return ControlError(field if len(loc) == 1 else name, received, allowed, event=event)


def _item_error(event: str, control: Control, payload: dict, loc: list[str], e: dict) -> ControlError:
    """One item of an object list (a layer) refused: name the item and its field, with the item model's words."""
    index, rest = loc[1], loc[2:]
    items = payload.get(control.name)
    item = items[int(index)] if isinstance(items, list) and index.isdigit() and int(index) < len(items) else None
    models = {m.model_fields["type"].annotation.__args__[0]: m for m in control.item_models}
    kinds = ", ".join(f'"{k}"' for k in models)
    if not rest or e["type"] in ("union_tag_invalid", "union_tag_not_found", "model_attributes_type", "dict_type"):
        return ControlError(f"{control.name}.{index}", item, f'an object whose "type" is one of {kinds}', event=event)
    model, field = models.get(rest[0]), rest[1] if len(rest) > 1 else ""
    path = f"{control.name}.{index}.{field}" if field else f"{control.name}.{index}"
    if model is None or e["type"] == "extra_forbidden" or field not in model.model_fields:
        fields = ", ".join(model.model_fields) if model else ""
        return ControlError(path, e.get("input"), f"the fields {fields}", event=event,
                            message=f"{control.name}[{index}] ({rest[0]}): unknown field {field!r}; allowed "
                                    f"fields: {fields}")
    allowed = model.model_fields[field].description or e["msg"]
    return ControlError(path, e.get("input"), allowed, event=event,
                        message=f"{control.name}[{index}] ({rest[0]}).{field}: got {describe(e.get('input'))}; "
                                f"allowed: {allowed}")
