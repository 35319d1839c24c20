"""What an event does to a session, whoever sends it: the page through the Socket.IO handlers (events.py), or a
lesson's scripted steps (app.lessons.runner). Validate for the lab shown, prepare outside the lock, apply under
it. No Socket.IO here: the handlers reply and broadcast."""

from __future__ import annotations

from . import messages
from .errors import ControlError

# The events every lab answers, on the lab shown: (lab, message). A lab's own events are its Lab.events.
COMMANDS = {
    "set": lambda lab, m: lab.apply_settings(m.model_dump(exclude_unset=True)),
    "play": lambda lab, m: lab.play(),
    "pause": lambda lab, m: lab.pause(),
    "step": lambda lab, m: lab.step(m.unit),
    "reset": lambda lab, m: lab.reset(),
}
assert set(COMMANDS) | {"set_lab"} == set(messages.COMMON_EVENTS) | {"set"}


def apply(session, event: str, message, sid: str, lab) -> None:
    """Apply a validated ``message`` to ``session`` (call under ``session.controlled()``). ``lab`` is the lab the
    message was validated for: if another lab is shown by now, nothing is applied."""
    if event == "set_lab":
        session.set_lab(message.lab)
    elif session.lab is not lab:
        raise ControlError("lab", lab.name, f'"{session.lab.name}" (the lab shown now)', event=event,
                           message=f"{event} was meant for the {lab.name} lab, but the session switched to the "
                                   f"{session.lab.name} lab first; nothing was applied")
    elif event in COMMANDS:
        COMMANDS[event](lab, message)
    else:
        lab.events[event].apply(lab, message, sid)


def prepare(lab, event: str, message):
    """Work done before taking the session's lock (it can take a while): its result is what the event gets."""
    handler = lab.events.get(event)
    if handler is None or handler.prepare is None:
        return message
    return handler.prepare(lab, message) if handler.prepare_with_lab else handler.prepare(message)


def dispatch(session, event: str, args: tuple, sid: str) -> tuple[dict, dict | None]:
    """Validate ``event``'s ``args`` for the lab shown and apply them: the new state, and the new schema when the
    lab switched (else None). Raises ControlError, leaving the session as it was."""
    lab = session.lab
    message = prepare(lab, event, messages.validate(event, args, lab.event_models()))
    with session.controlled():
        apply(session, event, message, sid, lab)
        schema = session.schema() if session.lab is not lab else None
        return session.state(), schema
