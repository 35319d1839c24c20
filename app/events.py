"""Socket.IO handlers: validate, call the session, reply. (The protocol: docs/protocol.md.)"""

from __future__ import annotations

import logging
import re

from flask import current_app, request
from flask_socketio import emit, join_room

from . import messages, modelio, socketio
from .errors import ControlError
from .schema import schema_payload

log = logging.getLogger(__name__)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _manager():
    return current_app.extensions["nnplayground"]


def _schema() -> dict:
    c = current_app.config
    return schema_payload(c["FPS"], c["GRID_RESOLUTION"], c["NEURON_GRID_RESOLUTION"])


@socketio.on("connect")
def on_connect(auth=None):
    token, problem = None, None
    if isinstance(auth, dict) and set(auth) <= {"token"} and (auth.get("token") is None or (
            isinstance(auth["token"], str) and TOKEN.fullmatch(auth["token"]))):
        token = auth.get("token")
    elif auth is not None:
        problem = ControlError("auth.token", auth.get("token") if isinstance(auth, dict) else auth,
                               "the token a previous `session` event gave (8-64 letters, digits, - or _)",
                               event="connect")
    manager = _manager()
    session, created = manager.connect(request.sid, token)
    join_room(session.token)
    emit("session", {"token": session.token, "created": created})
    if problem is not None:
        emit("error", problem.to_wire())
    emit("schema", _schema())
    with session.lock:
        state = session.state()
    emit("state", state)
    manager.watch(request.sid)  # frames start only now, after session/schema/state


@socketio.on("disconnect")
def on_disconnect(reason=None):
    _manager().disconnect(request.sid)


def _apply_settings(session, m):
    session.apply_settings(m.model_dump(exclude_unset=True))


COMMANDS = {
    "set": _apply_settings,
    "play": lambda s, m: s.play(),
    "pause": lambda s, m: s.pause(),
    "step": lambda s, m: s.step(m.unit),
    "reset": lambda s, m: s.reset(),
    "add_layer": lambda s, m: s.add_layer(m.position, m.width),
    "remove_layer": lambda s, m: s.remove_layer(m.layer),
    "add_neuron": lambda s, m: s.add_neuron(m.layer),
    "remove_neuron": lambda s, m: s.remove_neuron(m.layer, m.neuron),
    "set_activation": lambda s, m: s.set_activation(m.activation, m.layer),
    "edit_weight": lambda s, m: s.edit_weight(m.layer, m.neuron, m.input, m.value),
    "edit_bias": lambda s, m: s.edit_bias(m.layer, m.neuron, m.value),
    "probe": lambda s, m: s.set_probe(m.split, m.index, m.point, m.image, m.drawing),
    "landscape": lambda s, m: s.set_landscape(request.sid, m.show,
                                              m.weights if "weights" in m.model_fields_set else "unset"),
    "load_model": lambda s, parsed: s.load_model(*parsed),
}
# Work done before taking the session's lock (it can take a while): its result is what the command gets.
PREPARE = {"load_model": lambda m: modelio.parse(m.data, m.format)}
assert set(COMMANDS) == set(messages.EVENTS)


@socketio.on("*")
def on_event(event, *args):
    """Every protocol event (app.guard lets no other name, and no message over the rate, reach here): validate,
    apply, then the new state to all viewers."""
    manager = _manager()
    connection = manager.connection(request.sid)
    if connection is None:
        return None
    session = connection.session
    try:
        message = messages.validate(event, args)
        if event in PREPARE:
            message = PREPARE[event](message)
        with session.controlled():
            COMMANDS[event](session, message)
            state = session.state()
    except ControlError as error:
        wire = error.to_wire(event)
        emit("error", wire)
        return {"ok": False, "error": wire}
    except Exception:  # a bug: report it, keep the session and the connection alive
        log.exception("event %r failed", event)
        wire = {"event": event, "field": "", "received": "", "allowed": "",
                "message": f"{event}: the server failed to apply it (a bug; see the server log); nothing else changed"}
        emit("error", wire)
        return {"ok": False, "error": wire}
    manager.scheduler.wake()
    emit("state", state, to=session.token)
    return {"ok": True, "config_version": state["config_version"]}


def broadcast_state(session) -> None:
    """Send ``session``'s state to its viewers from outside a Socket.IO handler (e.g. an HTTP route)."""
    with session.lock:
        state = session.state()
    _manager().server.emit("state", state, to=session.token)
