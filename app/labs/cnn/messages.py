"""The CNN lab's own events as strict pydantic models (its layer specs are app.labs.cnn.layers')."""

from __future__ import annotations

from app.server.messages import MAX_INDEX, Message, integer

from .layers import MAX_LAYERS


class Inspect(Message):
    layer: integer(0, MAX_LAYERS - 1)
    channel: integer(0, MAX_INDEX)
    y: integer(0, MAX_INDEX)
    x: integer(0, MAX_INDEX)
