"""The one scheduler thread that trains every session of a process, fairly.

Scheduling: every tick (1/FPS s) the scheduler visits each session that is watched and playing (or owes a
frame), starting one further along each tick; a playing session trains the steps its ``speed`` (steps per
second) owes it since its last turn (Session.steps_due) but no longer than its account allows: its part of the
tick by weight (shares are per client address, not per session: ``weights``, so a class followed by 30 keeps
about half the CPU when 30 students train their own), less what it owes (the delivery of its frames since its
last turn: FrameStream.take_delivered, delivery_by_session; a step's overrun of its part), plus what it saved up
for a costly frame. Sessions pay the scheduler thread's CPU time, not the wall clock's. Their frames carry their
share of the time lately (Scheduler.share).
Then its frame is built, if a viewer can take one now, and put in its viewers' slots (app.server.streaming: a
sender thread sends it, so neither the number of viewers nor their speed costs the scheduler anything). States
changed by a burst of controls go to the viewers once per tick (SessionManager.send_states). docs/protocol.md,
"Scheduling", says the rules for users.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .manager import SessionManager
    from .session import Session

log = logging.getLogger(__name__)
HEADROOM = 0.001  # s of each tick left for the handlers and the socket threads
MAX_DEBT = 0.25  # s: the most a session can owe (a minibatch step longer than its parts; its frames' delivery)
MAX_CHARGE = 0.01  # s: the most one tick's delivery is charged, and one frame beyond 3 times its usual cost: a
#                   one-off (a garbage collection, a new viewer's first bundles) must not stop a session's frames for
#                   a second while it pays it off
MAX_SAVED = 0.1  # s: the most a session can have saved up (for a costly frame, or time the others took from it)
USAGE_SECONDS = 3.0  # s over which a session's share of the server is reckoned for its frames (``cpu``)


def next_deadline(deadline: float, now: float, period: float) -> float:
    """When the tick after one due at ``deadline`` is due, ``now`` that it has run. Ticks keep their cadence,
    deadlines a period apart, not a period after each late wake-up (under load waking takes milliseconds, and 60
    ticks a second became 50); a tick that ran late catches up at most one tick at once, and a tick woken early (a
    control, a new viewer) puts the next one at most a period away."""
    return min(max(deadline + period, now - period), now + period)


@dataclass
class Slice:
    """What a session's turn in a tick came to (Scheduler._train)."""
    used: float  # wall-clock s it took of the tick
    cpu: float  # the scheduler thread's CPU s in it: what the session pays
    waits: bool  # its frame waits: it saves up for it, or owes training first
    account: float  # s it has left: negative when it took more than it had (a step longer than its part)
    kept: float  # s of a positive account it may keep for its next turn besides what it saves up (_carry)
    reached: bool  # it trained all the steps its ``speed`` asks for now


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
        deadline = time.perf_counter()
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
            now = time.perf_counter()
            deadline = next_deadline(deadline, now, self.period)
            remaining = deadline - now
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
        had saved up for, a step longer than their part), keeps the difference for its next turn. When a frame
        is wanted (``frame``) and the account affords it, the session trains what the frame leaves and the frame
        is built; when it does not, the session saves up for it without training — unless it still owes training
        from its last frame: at least MIN_TRAIN_SHARE of its time trains, however costly its frames
        (_frame_built)."""
        # None of the tick left (slices overran it under load): no part, and nothing owed for that
        share = max(0.0, budget * weight / weight_left if weight_left > 0 else budget)
        behind = max(entitled - share, 0.0)  # of its part of the whole tick, what those before it took
        account = share + self._saved.pop(session, 0.0) - delivered
        if account <= 0.0:  # in debt: it sits out, its part (and what it was kept from) pays the debt off
            return Slice(0.0, 0.0, frame, account + behind, 0.0, False)
        cost = session.frame_cost if frame else 0.0
        must_train = self._train_owed.get(session, 0.0) > 0.0
        waits = frame and (must_train or cost > account)
        if waits and not must_train:  # saving up for the frame
            return Slice(0.0, 0.0, True, account + behind, 0.0, False)
        # The slice ends on the wall clock, within what is left of the tick; the session pays the CPU time it
        # took (this thread's): what other threads took meanwhile (delivering frames, reading acks) is paid by
        # whoever caused it (``delivered``), not by whichever session happened to be training.
        began, began_cpu = time.perf_counter(), time.thread_time()
        due = session.steps_due()
        done = session.train_slice(due, began + min(account if waits else account - cost, budget))
        used, used_cpu = time.perf_counter() - began, time.thread_time() - began_cpu
        reached = done >= due  # it trained all its ``speed`` asks for now
        if must_train:
            if reached:  # nothing more to train: the frame it waited for may come with what is left
                self._train_owed.pop(session, None)
                waits = frame and cost > account - used_cpu
            else:
                self._train_owed[session] -= used_cpu
        # It wanted more (it did not reach its speed) and those before it took some of its part of the tick (a
        # frame they had saved up for, a step longer than their part): it keeps the difference.
        kept = 0.0 if reached else behind
        return Slice(used, used_cpu, waits, account - used_cpu + kept, kept, reached)

    def _frame_built(self, session: Session, cost: float, turn: Slice) -> None:
        """A frame that cost ``cost`` was built after the session's ``turn`` this tick: before its next one it
        trains at least MIN_TRAIN_SHARE of the time the two took (a session whose part is smaller than its frames
        alternates saving up and training, so it still learns while it shows) — unless it trained all its
        ``speed`` asked for (a class at 20 steps a second owes nothing: its frames come every tick)."""
        owed = cost * self.min_train_share / (1.0 - self.min_train_share) - turn.cpu
        if owed > 0.0 and not turn.reached:
            self._train_owed[session] = owed
        else:
            self._train_owed.pop(session, None)

    def _carry(self, session: Session, turn: Slice) -> None:
        """What ``session``'s account carries into its next turn: what it owes (at most MAX_DEBT: a debt is paid
        off by sitting turns out, and a long stall must not become a longer one), what it saves up for a frame,
        or what it may keep (``turn.kept``: the part of the tick others took from it), at most MAX_SAVED. Time it
        had and did not use (it reached its ``speed``) is not kept: it went to those after it."""
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

    def share(self, session: Session, weights: dict, used: float) -> dict | None:
        """``session``'s share of the time the server gave running sessions lately (``used`` in all, as the tick
        began), and its fair share by the weights (docs/protocol.md, "Scheduling"), for its frames: None when it
        runs alone."""
        if len(weights) < 2 or session not in weights:
            return None
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
        used = sum(self._usage.values())  # what the running sessions used lately, for their frames' ``cpu``
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
                    owed = min(delivered.get(session, 0.0), MAX_CHARGE)
                    turn = self._train(session, budget, weight, weight_left, whole * weight, session in wanted, owed)
                    saving = turn.waits
                    self._usage[session] = self._usage.get(session, 0.0) + turn.cpu + owed
                    budget -= turn.used
                    weight_left -= weight
                if not saving and (session in wanted or stream.wants_frame(list(session.viewers))):
                    began, began_cpu = time.perf_counter(), time.thread_time()
                    frame, viewers = session.build_frame()  # may find it diverged too (numbers beyond float32)
                    frame.account = session  # its delivery is paid from this session's part (_train)
                    if trains and (share := self.share(session, weights, used)) is not None:
                        frame.fields["cpu"] = share
                    stream.publish(viewers, frame)
                    spent, spent_cpu = time.perf_counter() - began, time.thread_time() - began_cpu
                    spent_cpu = min(spent_cpu, max(MAX_CHARGE, 3.0 * session.frame_cost))  # a spike: see MAX_CHARGE
                    session.frame_cost += 0.2 * (spent_cpu - session.frame_cost)
                    if trains:
                        budget -= spent
                        turn.account -= spent_cpu
                        self._usage[session] += spent_cpu
                        self._frame_built(session, spent_cpu, turn)
                if trains:
                    self._carry(session, turn)
                if session.status != status:  # diverged, or an epoch step done: the state says so, not only frames
                    self.manager.broadcast_state(session)
            except Exception:
                log.exception("session %s failed a tick; pausing it", session.token[:6])
                session.pause_after_failure()
        return True
