"""Controls and limits, the language every lab's schema is written in.

A lab lists its live settings as ``Control``s (its ``schema.py``); validation (``app.server.messages`` builds
strict pydantic models from them) and the ``schema`` event the page builds its widgets from both come from
that one list, so a range changed there changes both. ``LIMITS`` caps every message, whatever the lab.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Caps enforced on every message; sent to the page in the schema event."""

    max_hidden_layers: int = 8
    max_neurons_per_layer: int = 32
    max_parameters: int = 30_000
    max_messages_per_second: float = 100.0  # token bucket: refill rate ...
    message_burst: int = 200                 # ... and bucket size
    max_message_bytes: int = 1_000_000       # Engine.IO max_http_buffer_size: bigger messages close the socket
    max_control_bytes: int = 65_536          # any event but load_model, measured as JSON
    max_attachments: int = 1                 # binary attachments one event may announce (load_model's data)
    max_edit_magnitude: float = 100.0        # |value| of an edited weight or bias
    max_sessions: int = 64
    max_probe_pixels: int = 784              # 28 x 28
    max_drawing_side: int = 200              # a drawn digit's canvas, pixels per side (base64 under 64 KB)


LIMITS = Limits()


@dataclass(frozen=True)
class Control:
    """One live setting. ``kind`` is how it is typed on the wire:

    number        a finite JSON number in [minimum, maximum] (``scale`` "log": draw the slider in log space)
    integer       a JSON integer in [minimum, maximum]
    choice        one string of ``choices``
    choices       a list of distinct strings of ``choices``, ``min_items``..``max_items`` long
    integer_list  a list of integers in [minimum, maximum], ``min_items``..``max_items`` long
    object_list   a list of JSON objects, each one of ``item_models`` (pydantic models, told apart by their
                  ``type`` field: the lab's own, e.g. its layer specs), ``min_items``..``max_items`` long;
                  ``items_help`` says what an item is
    """

    name: str
    kind: str
    default: Any
    label: str
    group: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    scale: str = "linear"
    choices: tuple[str, ...] = ()
    min_items: int | None = None
    max_items: int | None = None
    unit: str = ""
    extra: dict = field(default_factory=dict)
    item_models: tuple = ()  # object_list only: the pydantic models an item may be (a ``type`` Literal each)
    items_help: str = ""   # object_list only: what an item is, in words

    def allowed(self) -> str:
        """What is allowed, in words, for error messages and the doc's table."""
        if self.kind == "number":
            return f"a finite number in [{_fmt(self.minimum)}, {_fmt(self.maximum)}]"
        if self.kind == "integer":
            return f"an integer in [{_fmt(self.minimum)}, {_fmt(self.maximum)}]"
        if self.kind == "choice":
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        if self.kind == "object_list":
            return f"a list of {self.min_items} to {self.max_items} {self.items_help}"
        if self.kind == "choices":
            return (f"a list of {self.min_items} to {self.max_items} distinct items of "
                    + ", ".join(f'"{c}"' for c in self.choices))
        return (f"a list of {self.min_items} to {self.max_items} integers, each in "
                f"[{_fmt(self.minimum)}, {_fmt(self.maximum)}]")

    def to_wire(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "default": self.default, "label": self.label,
               "group": self.group, "help": self.help, "allowed": self.allowed()}
        for key in ("minimum", "maximum", "min_items", "max_items"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.kind in ("number", "integer"):
            out["scale"] = self.scale
        if self.choices:
            out["choices"] = list(self.choices)
        if self.unit:
            out["unit"] = self.unit
        out.update(self.extra)
        return out


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def markdown_table(controls) -> str:
    """``controls`` as the Markdown table docs/protocol.md embeds (a test keeps the two equal)."""
    rows = ["| name | kind | allowed | default | what it does |", "|---|---|---|---|---|"]
    for c in controls:
        default = json.dumps(c.default)
        rows.append(f"| `{c.name}` | {c.kind} | {c.allowed()} | `{default}` | {c.help} |")
    return "\n".join(rows) + "\n"


def limits_table() -> str:
    limits = ["| limit | value |", "|---|---|"]
    for key, value in asdict(LIMITS).items():
        limits.append(f"| `{key}` | {value:g} |" if isinstance(value, float) else f"| `{key}` | {value} |")
    limits.append("| `max_frames_per_second` | the `FPS` config (default 60): frames per second per session |")
    return "\n".join(limits) + "\n"


def limits_payload(fps: float) -> dict:
    """The limits as the ``schema`` event carries them."""
    return {**asdict(LIMITS), "max_frames_per_second": fps}


def default_settings(controls) -> dict:
    """Every control of ``controls`` at its default (fresh lists, safe to mutate)."""
    return {c.name: (list(c.default) if isinstance(c.default, list) else c.default) for c in controls}
