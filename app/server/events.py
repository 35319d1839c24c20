"""Socket.IO handlers: validate, call the session, reply. (The protocol: docs/protocol.md.)"""

from __future__ import annotations

import logging
import re

from flask import current_app, request
from flask_socketio import emit, join_room

from app.sessions import classroom
from app.sessions.classroom import TooManyWrongCodes

from . import messages
from .errors import ControlError
from .channel import socketio
from .commands import dispatch

log = logging.getLogger(__name__)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _manager():
    return current_app.extensions["nnplayground"]


def _classrooms():
    return current_app.extensions["classrooms"]


def _cluster():
    """This process's app.cluster.Node with --redis/--workers (docs/deploy.md), else None."""
    return current_app.extensions.get("cluster")


@socketio.on("connect")
def on_connect(auth=None):
    cluster = _cluster()
    if cluster is not None:  # a token or class code of another server process: piped there
        piped = cluster.route_connect(request.sid, auth, request)
        if piped is not None:
            return piped
    if isinstance(auth, dict) and "join" in auth:
        return _join(auth)
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
    with session.lock:
        schema, state = session.schema(), session.state()
    emit("schema", schema)
    emit("state", state)
    classroom = _classrooms().of_session(session)
    if classroom is not None:  # the teacher's refresh: the class it runs
        emit("class", _classrooms().teacher_state(classroom))
    manager.watch(request.sid)  # frames start only now, after session/schema/state


def _join(auth: dict):
    """A student with ``auth: {join: CODE, fork?: token}``: a follower of that class (or back on its own copy).
    It is sent `class`, `schema`, `state` and frames — never the teacher's token. A bad code: `error`, closed."""
    classrooms = _classrooms()
    fork = auth.get("fork")
    allowed = ("the code of a class in progress (6 letters and digits, on the teacher's screen); a changed or "
               "ended class's code no longer works")
    field, received = "auth.join", auth.get("join")
    try:
        classroom = classrooms.by_join_code(received, request.remote_addr or "")
    except TooManyWrongCodes as error:
        classroom, allowed = None, f"{allowed}; {error}"
    if set(auth) - {"join", "fork"} or (fork is not None and not (isinstance(fork, str) and TOKEN.fullmatch(fork))):
        classroom, field, received = None, "auth", auth
    if classroom is None:
        emit("error", ControlError(field, received, allowed, event="connect").to_wire())
        return False
    session = classrooms.join(request.sid, classroom, fork)
    forked = request.sid in classroom.forks
    if forked:  # a refresh on its own copy: its token is its own
        emit("session", {"token": session.token, "created": False})
    emit("class", classrooms.follower_state(classroom, forked))
    with session.lock:
        schema, state = session.schema(), session.state()
    emit("schema", schema)
    emit("state", state)
    _manager().watch(request.sid)
    classrooms.joined(request.sid)
    return True


@socketio.on("disconnect")
def on_disconnect(reason=None):
    _manager().disconnect(request.sid)
    _classrooms().left(request.sid)
    if _cluster() is not None:
        _cluster().pipe_left(request.sid)


@socketio.on("*")
def on_event(event, *args):
    """Every protocol event (app.guard lets no other name, and no message over the rate, reach here): validate,
    apply, then the new state to all viewers."""
    manager = _manager()
    connection = manager.connection(request.sid)
    if connection is None:
        cluster = _cluster()  # a connection to a session of another server process: run there
        return cluster.pipe_event(request.sid, event, args) if cluster and cluster.piped(request.sid) else None
    session = connection.session
    refusal = _classrooms().refusal(request.sid, event)  # a follower's controls, for every lab: refused here
    if refusal is not None:
        wire = refusal.to_wire(event)
        emit("error", wire)
        return {"ok": False, "error": wire}
    if event in classroom.EVENTS:
        return class_event(event, args)
    try:
        state, schema = dispatch(session, event, args, request.sid)
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
    if schema is not None:  # the lab switched: every viewer rebuilds its controls and views for the lab now shown
        emit("schema", schema, to=session.token)
    emit("state", state)  # the sender at once; the other viewers at the next tick, one state for a burst
    manager.broadcast_state(session, skip_sid=request.sid)
    return {"ok": True, "config_version": state["config_version"]}


def class_event(event: str, args: tuple) -> dict:
    """A classroom event (app.sessions.classroom), its sender's role already checked: do it, reply."""
    classrooms, sid = _classrooms(), request.sid
    try:
        messages.validate(event, args, classroom.EVENTS)
        if event == "class_start":
            return {"ok": True, "class": classrooms.teacher_state(classrooms.start(sid, request.host_url))}
        if event == "class_rotate":
            return {"ok": True, "class": classrooms.teacher_state(classrooms.rotate(sid))}
        if event == "class_end":
            classrooms.end(sid)
            return {"ok": True, "class": None}
        if event == "bring_back":
            return {"ok": True, "brought_back": classrooms.bring_back(sid)}
        if event == "fork":
            classrooms.fork(sid)
        else:
            classrooms.follow_again(sid)
        return {"ok": True}
    except ControlError as error:
        wire = error.to_wire(event)
        emit("error", wire)
        return {"ok": False, "error": wire}


def broadcast_state(session) -> None:
    """Send ``session``'s state to its viewers from outside a Socket.IO handler (e.g. an HTTP route)."""
    _manager().broadcast_state(session)
