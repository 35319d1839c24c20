"""The RNN lab's own events: validate, call the lab, nothing more."""

from __future__ import annotations

from app.labs.base import LabEvent
from app.server.messages import MAX_INDEX, Message, integer


class RnnProbe(Message):
    index: integer(0, MAX_INDEX)


EVENTS: dict[str, LabEvent] = {
    "probe": LabEvent(RnnProbe, lambda lab, m, sid: lab.set_probe(m.index)),
}
