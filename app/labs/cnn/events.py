"""The CNN lab's own events: validate (app.labs.cnn.messages), call the lab, nothing more."""

from __future__ import annotations

from app.labs.base import LabEvent
from app.server.messages import Probe

from .messages import Inspect

EVENTS: dict[str, LabEvent] = {
    "probe": LabEvent(Probe, lambda lab, m, sid: lab.set_probe(m.split, m.index, m.point, m.image, m.drawing)),
    # A feature-map pixel asked about: the convolution (or pooling) at that position, for the detail views.
    "inspect": LabEvent(Inspect, lambda lab, m, sid: lab.inspect(m.layer, m.channel, m.y, m.x)),
}
