"""The one error a message can cause: it names the field, what was received and what is allowed."""

from __future__ import annotations

import json
import re

MAX_RECEIVED_CHARS = 200
SERVER_WRITTEN = re.compile(r"<[^<>\n]{1,80}>")  # "<427 bytes>", "<a drawing>", "<ragged lists>"


class Described(str):
    """Text the server wrote about what it received (e.g. "3 arguments"): shown as is, never JSON-quoted."""


def describe(value) -> str:
    """``value`` as short text for an error message (at most 200 characters, never the whole payload).

    What the client sent is shown as JSON (a string in quotes); the server's own descriptions are shown as
    they are: ``Described`` text, and by convention any string in angle brackets, like "<427 bytes>"."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, Described) or (isinstance(value, str) and SERVER_WRITTEN.fullmatch(value)):
        return _shorten(str(value))
    try:
        text = json.dumps(value, allow_nan=True, default=lambda v: f"<{type(v).__name__}>")
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return _shorten(text)


def _shorten(text: str) -> str:
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
