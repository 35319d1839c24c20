"""The one error a message can cause: it names the field, what was received and what is allowed."""

from __future__ import annotations

import json

MAX_RECEIVED_CHARS = 200


def describe(value) -> str:
    """``value`` as short text for an error message (at most 200 characters, never the whole payload)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    try:
        text = json.dumps(value, allow_nan=True, default=lambda v: f"<{type(v).__name__}>")
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    if len(text) > MAX_RECEIVED_CHARS:
        text = text[:MAX_RECEIVED_CHARS - 1] + "…"
    return text


class ControlError(ValueError):
    """A refused message. ``field`` is a dotted path into the payload ("" for the whole payload)."""

    def __init__(self, field: str, received, allowed: str, message: str | None = None, *, event: str = ""):
        self.event = event
        self.field = field
        self.received = describe(received)
        self.allowed = allowed
        self.detail = message
        super().__init__(self.text())

    def text(self) -> str:
        where = ".".join(part for part in (self.event, self.field) if part) or "message"
        if self.detail:
            return f"{where}: {self.detail}"
        return f"{where}: got {self.received}; allowed: {self.allowed}"

    def to_wire(self, event: str | None = None) -> dict:
        if event is not None and not self.event:
            self.event = event
        return {"event": self.event, "field": self.field, "received": self.received, "allowed": self.allowed,
                "message": self.text()}
