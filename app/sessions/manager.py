"""Sessions by token, connections by sid, and the one scheduler thread that trains them all fairly.

Scheduling: every tick (1/FPS s) the scheduler visits each session that is watched and playing (or owes a
frame), starting one further along each tick; a playing session trains the steps its ``speed`` (steps per
second) owes it since its last turn (Session.steps_due) but no longer than its account allows: its part of the
tick by weight (shares are per client address, not per session: ``weights``, so a class followed by 30 keeps
about half the CPU when 30 students train their own), less what it owes (the delivery of its frames since its
last turn: FrameStream.take_delivered, delivery_by_session; a step's overrun of its part), plus what it saved up
for a costly frame. Sessions pay the scheduler thread's CPU time, not the wall clock's. Their frames carry their
share of the time lately (Scheduler.share).
Then its frame is built, if a viewer can take one now, and put in its viewers' slots (app.streaming: a sender
thread sends it, so neither the number of viewers nor their speed costs the scheduler anything). States changed by a burst of
controls go to the viewers once per tick (send_states). Sessions nobody watches do not train and are reclaimed
after SESSION_IDLE_TIMEOUT.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from app.labs import lab_list
from app.server.controls import LIMITS
from app.server.streaming import FrameStream

from .session import Session

log = logging.getLogger(__name__)
HEADROOM = 0.001  # s of each tick left for the handlers and the socket threads
MAX_DEBT = 0.25  # s: the most a session can owe (a minibatch step longer than its parts; its frames' delivery)
MAX_SAVED = 0.1  # s: the most a session can have saved up (for a costly frame, or time the others took from it)
USAGE_SECONDS = 3.0  # s over which a session's share of the server is reckoned for its frames (``cpu``)


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


@dataclass
class Slice:
    """What a session's turn in a tick came to (Scheduler._train)."""
    used: float  # wall-clock s it took of the tick
    cpu: float  # the scheduler thread's CPU s in it: what the session pays
    waits: bool  # its frame waits: it saves up for it, or owes training first
    account: float  # s it has left: negative when it took more than it had (a step longer than its part)
    kept: float  # s of a positive account it may keep for its next turn besides what it saves up (_carry)


class Scheduler:
    """One thread: round-robin time slices over the sessions, one frame per session per tick."""

    def __init__(self, manager: SessionManager):
        self.manager = manager
        self.period = 1.0 / manager.config["FPS"]
        self.min_train_share = manager.config["MIN_TRAIN_SHARE"]
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._turn = 0
        self._saved: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # session → s saved up (< 0: owed)
        self._train_owed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # session → s to train first
        self._usage: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # session → CPU s used, decaying
        self._usage_at = 0.0

    def ensure_running(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="nnplayground-scheduler", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        last_reap = time.monotonic()
        while not self._stop.is_set():
            tick = time.perf_counter()
            try:
                with np.errstate(all="ignore"):  # a diverging network overflows; the frame says so instead
                    busy = self.tick(tick)
            except Exception:  # a bug must not stop every session's training
                log.exception("scheduler tick failed")
                busy = True
            if time.monotonic() - last_reap > 1.0:
                self.manager.reap()
                last_reap = time.monotonic()
            remaining = tick + self.period - time.perf_counter()
            if busy:
                if remaining > 0:
                    self._wake.wait(remaining)
            else:
                self._wake.wait(1.0)  # idle: sleep until a control or a connection wakes us
            self._wake.clear()

    def _train(self, session: Session, budget: float, weight: float, weight_left: float, entitled: float,
               frame: bool, delivered: float) -> Slice:
        """Train ``session`` for its part of ``budget`` (its ``weight`` over ``weight_left``: what a session
        before it did not use goes to those after it) plus what it saved up, less what it owes: ``delivered``,
        its part of the delivery since its last turn (delivery_by_session: the sending and the acks, other
        threads' CPU), and what it took beyond its parts before. A session in debt sits the tick out (its part
        pays the debt off). A session that wanted more than its part, and whose part was smaller than the
        ``entitled`` one its weight gives it of the whole tick (those before it took more than theirs: frames they
        had saved up for, a step longer than their part), keeps the difference for its next turn. When a frame is wanted (``frame``) and the account affords it, the session trains
        what the frame leaves and the frame is built; when it does not, the session saves up for it without
        training — unless it still owes training from its last frame: at least MIN_TRAIN_SHARE of its time
        trains, however costly its frames (_frame_built). Returns (time used, whether the frame waits, the
        account left: negative when it took more than it had, as a minibatch step longer than its part does)."""
        # None of the tick left (slices overran it under load): no part, and nothing owed for that
        share = max(0.0, budget * weight / weight_left if weight_left > 0 else budget)
        account = share + self._saved.pop(session, 0.0) - delivered
        if account <= 0.0:
            return Slice(0.0, 0.0, frame, account, 0.0)
        cost = session.frame_cost if frame else 0.0
        must_train = self._train_owed.get(session, 0.0) > 0.0
        waits = frame and (must_train or cost > account)
        if waits and not must_train:  # saving up for the frame
            return Slice(0.0, 0.0, True, account, 0.0)
        # The slice ends on the wall clock, within what is left of the tick; the session pays the CPU time it
        # took (this thread's): what other threads took meanwhile (delivering frames, reading acks) is paid by
        # whoever caused it (``delivered``), not by whichever session happened to be training.
        began, began_cpu = time.perf_counter(), time.thread_time()
        due = session.steps_due()
        done = session.train_slice(due, began + min(account if waits else account - cost, budget))
        used, used_cpu = time.perf_counter() - began, time.thread_time() - began_cpu
        if must_train:
            self._train_owed[session] -= used_cpu
        # It wanted more (it did not reach its speed) and those before it took some of its part of the tick (a
        # frame they had saved up for, a step longer than their part): it keeps the difference.
        kept = max(entitled - share, 0.0) if done < due else 0.0
        return Slice(used, used_cpu, waits, account - used_cpu + kept, kept)

    def _frame_built(self, session: Session, cost: float, trained: float) -> None:
        """A frame that cost ``cost`` was built after the session trained ``trained`` this tick: before its next
        one it trains at least MIN_TRAIN_SHARE of the time the two took (a session whose part is smaller than
        its frames alternates saving up and training, so it still learns while it shows)."""
        owed = cost * self.min_train_share / (1.0 - self.min_train_share) - trained
        if owed > 0.0:
            self._train_owed[session] = owed
        else:
            self._train_owed.pop(session, None)

    def _carry(self, session: Session, turn: Slice) -> None:
        """What ``session``'s account carries into its next turn: what it owes (at most MAX_DEBT: a debt is paid
        off by sitting turns out, and a long stall must not become a longer one), what it saves up for a frame,
        or what it may keep (``turn.kept``: the part of the tick others took from it), at most MAX_SAVED. Time it had and did
        not use (it reached its ``speed``) is not kept: it went to those after it."""
        account = turn.account if turn.account < 0.0 or turn.waits else min(turn.account, turn.kept)
        if account:
            self._saved[session] = min(max(account, -MAX_DEBT), MAX_SAVED)

    def _account_usage(self, running, weights) -> None:
        """Decay every running session's usage (the CPU s its training, frames and delivery took, reckoned over
        USAGE_SECONDS) to now; sessions that stopped running are dropped."""
        now = time.perf_counter()
        decay = float(np.exp(-(now - self._usage_at) / USAGE_SECONDS)) if self._usage_at else 0.0
        self._usage_at = now
        self._usage = weakref.WeakKeyDictionary({s: self._usage.get(s, 0.0) * decay for s in running})

    def share(self, session: Session, weights: dict) -> dict | None:
        """``session``'s share of the time the server gave running sessions lately, and its fair share by the
        weights (docs/protocol.md, "Scheduling"), for its frames: None when it runs alone."""
        if len(weights) < 2 or session not in weights:
            return None
        used = sum(self._usage.values())
        return {"share": round(self._usage.get(session, 0.0) / used, 3) if used > 0 else 0.0,
                "fair": round(weights[session] / sum(weights.values()), 3)}

    def tick(self, start: float) -> bool:
        """Train each running session its slice and publish the frames due. Returns whether anything ran."""
        states = self.manager.send_states()
        sessions = self.manager.active()
        due = [s for s in sessions if s.frame_due()]
        if not due:
            return bool(states)
        self._turn = (self._turn + 1) % len(due)
        due = due[self._turn:] + due[:self._turn]  # who goes first rotates: nobody always gets the leftovers
        stream = self.manager.stream
        # A frame only when a viewer can be sent it now (else it would be built to be replaced).
        wanted = {s for s in due if stream.wants_frame(list(s.viewers))}
        running = [s for s in due if s.trains]
        weights = self.manager.weights(running)
        # The tick is shared by weight among the running sessions, each one's frame building charged to its own
        # part (a session whose frames cost more than its part gets them less often, not at the others' cost);
        # the frames of sessions that do not train (a control changed a paused one) come off the top.
        others = sum(s.frame_cost for s in wanted if not s.trains)
        budget = max(self.min_train_share * self.period, self.period - others - HEADROOM)
        self._account_usage(running, weights)
        weight_left = sum(weights.values())
        whole = budget / weight_left if weight_left > 0 else 0.0  # of the tick, per unit of weight
        # what delivery cost since the last tick, per session (that of sessions not training is not owed later)
        delivered = self.manager.delivery_by_session(stream.take_delivered())
        for session in due:
            try:
                status, trains = session.status, session.trains
                saving = False  # its part could not afford its frame: it saves up for it
                if trains:
                    weight = weights.get(session, 0.0)
                    turn = self._train(session, budget, weight, weight_left, whole * weight, session in wanted,
                                       delivered.get(session, 0.0))
                    saving = turn.waits
                    self._usage[session] = self._usage.get(session, 0.0) + turn.cpu + delivered.get(session, 0.0)
                    budget -= turn.used
                    weight_left -= weight
                if not saving and (session in wanted or stream.wants_frame(list(session.viewers))):
                    began, began_cpu = time.perf_counter(), time.thread_time()
                    frame, viewers = session.build_frame()  # may find it diverged too (numbers beyond float32)
                    frame.account = session  # its delivery is paid from this session's part (_train)
                    if trains and (share := self.share(session, weights)) is not None:
                        frame.fields["cpu"] = share
                    stream.publish(viewers, frame)
                    spent, spent_cpu = time.perf_counter() - began, time.thread_time() - began_cpu
                    session.frame_cost += 0.2 * (spent_cpu - session.frame_cost)
                    if trains:
                        budget -= spent
                        turn.account -= spent_cpu
                        self._usage[session] += spent_cpu
                        self._frame_built(session, spent_cpu, turn.cpu)
                if trains:
                    self._carry(session, turn)
                if session.status != status:  # diverged, or an epoch step done: the state says so, not only frames
                    self.manager.broadcast_state(session)
            except Exception:
                log.exception("session %s failed a tick; pausing it", session.token[:6])
                session.pause_after_failure()
        return True
