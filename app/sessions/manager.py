"""Sessions by token and connections by sid; the scheduler thread that trains them (app.sessions.scheduler) works
from here: who watches what (``weights``: shares are per client address, not per session), what each session's
frames cost to deliver (``delivery_by_session``), the states due (``send_states``). Sessions nobody watches do not
train and are reclaimed after SESSION_IDLE_TIMEOUT.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

from app.labs import lab_list
from app.server.controls import LIMITS
from app.server.streaming import FrameStream

from .scheduler import Scheduler
from .session import Session

log = logging.getLogger(__name__)


class Connection:
    def __init__(self, sid: str, session: Session, address: str = ""):
        self.sid = sid
        self.session = session
        self.address = address  # the client's IP address: training time is shared per address (weights)


class SessionManager:
    """All sessions of one app. ``server`` is the python-socketio Server frames are emitted through."""

    def __init__(self, config: dict, server):
        self.config = config
        self.server = server
        self.sessions: dict[str, Session] = {}
        self.connections: dict[str, Connection] = {}
        self.lock = threading.Lock()
        self.stream = FrameStream(server, ack_timeout=config["ACK_TIMEOUT"])
        self.scheduler = Scheduler(self)
        self._states_due: dict[Session, frozenset] = {}  # session → the sids that already have its newest state
        self._states_lock = threading.Lock()

    @staticmethod
    def lab_list() -> list[dict]:
        """The labs a session can show, [{name, label}] in the page's order."""
        return lab_list()

    def broadcast_state(self, session: Session, skip_sid: str | None = None) -> None:
        """``session``'s state to all its viewers (but ``skip_sid``, which has just been sent it) at the
        scheduler's next tick: however many changes come in a burst, each viewer gets one state a tick, the
        newest (send_states)."""
        with self._states_lock:
            self._states_due[session] = frozenset((skip_sid,) if skip_sid else ())  # only it has the newest
        self.scheduler.wake()

    def send_states(self) -> int:
        """Send the states due (the scheduler, every tick): one per session to the room named by its token."""
        with self._states_lock:
            due, self._states_due = self._states_due, {}
        for session, skip in due.items():
            with session.lock:
                state = session.state()
            self.server.emit("state", state, to=session.token, namespace="/", skip_sid=list(skip) or None)
        return len(due)

    # --- connections
    def connect(self, sid: str, token: str | None, address: str | None = None) -> tuple[Session, bool]:
        """Join the session of ``token`` or create one; raises ConnectionRefusedError when full. ``address``:
        the client's IP address (looked up from the connection if not given)."""
        with self.lock:
            session = self.sessions.get(token) if token else None
            created = session is None
            if created:
                if len(self.sessions) >= LIMITS.max_sessions:
                    self._reap_locked(force=True)
                if len(self.sessions) >= LIMITS.max_sessions:
                    raise ConnectionRefusedError(f"server busy: {LIMITS.max_sessions} sessions already")
                session = Session(secrets.token_urlsafe(18), self.config)
                if self.config.get("INITIAL_SETTINGS"):  # validated like a `set` message, presets included
                    initial = session.lab.settings_message().model_validate(self.config["INITIAL_SETTINGS"])
                    session.lab.apply_settings(initial.model_dump(exclude_unset=True))
                self.sessions[session.token] = session
            self.connections[sid] = Connection(sid, session, self._address(sid) if address is None else address)
        with session.lock:
            session.viewers.add(sid)  # counted in the state it is sent; frames start at watch()
        return session, created

    def watch(self, sid: str) -> None:
        """Start sending frames to ``sid`` (after connect's first events have been emitted)."""
        connection = self.connections.get(sid)
        if connection is None:
            return
        session = connection.session
        self.stream.open(sid, self.config["FOLLOWER_FPS"] if self.follows(session, sid) else None)
        with session.lock:
            session.lab.dirty = True  # the newcomer needs a frame even if the session is paused
            others = len(session.viewers) > 1
        self.scheduler.ensure_running()
        self.scheduler.wake()
        if others:  # the others' `viewers` count
            self.broadcast_state(session, skip_sid=sid)

    def disconnect(self, sid: str) -> None:
        with self.lock:
            connection = self.connections.pop(sid, None)
        self.stream.close(sid)
        if connection is not None:
            session = connection.session
            with session.lock:
                session.viewer_left(sid)
                remaining = bool(session.viewers)
            if remaining:  # the others' `viewers` count
                self.broadcast_state(session)

    @staticmethod
    def follows(session: Session, sid: str) -> bool:
        """Whether ``sid`` watches ``session`` as a follower of its class (app.sessions.classroom): its frames
        come at most FOLLOWER_FPS a second — a class's phones need fewer than the teacher's screen, and the CPU
        they leave keeps the teacher's at the full FPS."""
        classroom = getattr(session, "classroom", None)
        return classroom is not None and sid in classroom.followers

    def _address(self, sid: str) -> str:
        get_environ = getattr(self.server, "get_environ", None)
        environ = get_environ(sid, "/") if get_environ else None
        return (environ or {}).get("REMOTE_ADDR", "")

    def weights(self, sessions) -> dict[Session, float]:
        """Each session's claim on the training time (docs/protocol.md, "Scheduling"): every client address
        watching one of ``sessions`` weighs 1, split equally over the ones of them it watches. So a class
        followed by 30 phones weighs 31, and a client that opens more sessions divides its share, it does not
        multiply it."""
        sessions = set(sessions)
        watched: dict[str, set[Session]] = {}
        for connection in list(self.connections.values()):
            if connection.session in sessions:
                watched.setdefault(connection.address, set()).add(connection.session)
        weights = dict.fromkeys(sessions, 0.0)
        for own in watched.values():
            for session in own:
                weights[session] += 1.0 / len(own)
        return weights

    def delivery_by_session(self, delivered: dict[str, float]) -> dict[Session, float]:
        """``delivered`` {sid: CPU s its frames' delivery cost} → {session: what it pays}: each connection's
        delivery is paid by the session it watches, but a class's followers' comes off the top of the tick (as it
        did before it was measured): the class's share already counts its followers, and paying their phones'
        frames from it would make a class train slower the more students follow it."""
        out: dict[Session, float] = {}
        for sid, seconds in delivered.items():
            connection = self.connections.get(sid)
            if connection is not None and not self.follows(connection.session, sid):
                out[connection.session] = out.get(connection.session, 0.0) + seconds
        return out

    def connection(self, sid: str) -> Connection | None:
        return self.connections.get(sid)

    def get(self, token: str) -> Session | None:
        return self.sessions.get(token)

    # --- reclaiming
    def reap(self) -> int:
        self._forget_dead_connections()
        with self.lock:
            return self._reap_locked()

    def _forget_dead_connections(self) -> None:
        """A connection python-socketio no longer has, however it ended, is let go as a disconnect would: its
        session must not keep training for a viewer that is gone, nor escape reaping."""
        is_connected = getattr(self.server.manager, "is_connected", None)
        if is_connected is None:
            return
        for sid in [sid for sid in list(self.connections) if not is_connected(sid, "/")]:
            self.disconnect(sid)

    def _reap_locked(self, force: bool = False) -> int:
        """Delete sessions nobody has watched for SESSION_IDLE_TIMEOUT s (``force``: any unwatched one)."""
        now = time.monotonic()
        timeout = 0.0 if force else self.config["SESSION_IDLE_TIMEOUT"]
        idle = [t for t, s in self.sessions.items() if not s.viewers and now - s.left_at >= timeout]
        for token in idle:  # closed on a thread: ending a lab's processes must not hold up connects
            threading.Thread(target=self.sessions.pop(token).close, name="nnplayground-close", daemon=True).start()
        return len(idle)

    def active(self) -> list[Session]:
        with self.lock:
            return [s for s in self.sessions.values() if s.viewers]

    def shutdown(self) -> None:
        self.scheduler.stop()
        self.stream.stop()
        with self.lock:
            sessions = list(self.sessions.values())
        for session in sessions:
            session.close()
