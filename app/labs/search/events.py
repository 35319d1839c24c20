"""The search lab's own events: validate, call the lab, nothing more (docs/protocol.md, "The search lab")."""

from __future__ import annotations

from app.labs.base import LabEvent
from app.server.messages import Empty, Message, choice

from .schema import SAMPLERS


class ApplyBest(Message):
    sampler: choice(SAMPLERS) = None  # None: the race's best, whichever sampler found it


EVENTS: dict[str, LabEvent] = {
    "search_start": LabEvent(Empty, lambda lab, m, sid: lab.start()),
    "search_stop": LabEvent(Empty, lambda lab, m, sid: lab.stop()),
    "apply_best": LabEvent(ApplyBest, lambda lab, best, sid: lab.apply_best(best),
                           prepare=lambda lab, m: lab.prepare_best(m.sampler), prepare_with_lab=True),
}
