"""A session: one tab's (or one class's) work — the labs it has opened, the one it shows, who watches it.

The session owns what every lab shares: the lock the handlers and the scheduler take turns on, the viewers,
the config version the page orders states and frames by, and the switch between labs. Each lab opened keeps
its own state (app.labs.base.Lab), so switching to another lab and back loses nothing; the lab left is paused.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from app.labs import DEFAULT_LAB, LABS, lab_list
from app.labs.base import Lab
from app.server.errors import ControlError


class Session:
    """State of one session. ``viewers`` is the set of Socket.IO sids watching it; ``lab`` the lab shown."""

    # A class (app.sessions.classroom): the Classroom this session is the teacher's of, the one it is a
    # student's copy from, and the lesson step it shows ({"name", "step"}: set_lesson_step), for the followers.
    classroom = None
    forked_from = None
    lesson: dict | None = None

    def __init__(self, token: str, config: dict, lab: str = DEFAULT_LAB):
        self.token = token
        self.config = config
        self.lock = threading.Lock()
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self.viewers: set[str] = set()
        self.left_at = time.monotonic()
        self.config_version = 0
        self.frame_cost = 0.005  # s to build and publish a frame (running average; the scheduler's budget)
        self._last_frame = None  # (what it showed, Frame): reused while nothing changed
        self.labs: dict[str, Lab] = {}
        self.lab: Lab = self.open_lab(lab)

    # --- locking
    @contextmanager
    def controlled(self):
        """Hold the session for a control; the scheduler gives the lock up between steps while we wait."""
        with self._waiting_lock:
            self._waiting += 1
        with self.lock:
            with self._waiting_lock:
                self._waiting -= 1
            yield self

    @property
    def control_waiting(self) -> bool:
        return bool(self._waiting)

    # --- labs
    def open_lab(self, name: str) -> Lab:
        """The session's lab ``name``, opened fresh the first time (not shown by this)."""
        if name not in self.labs:
            self.labs[name] = LABS[name](self)
        return self.labs[name]

    def set_lab(self, name: str) -> None:
        """Show lab ``name`` (opened fresh the first time, as it was left afterwards); the lab left pauses."""
        if name not in LABS:
            raise ControlError("lab", name, "one of " + ", ".join(f'"{n}"' for n in LABS))
        if name == self.lab.name:
            return
        self.lab.leave()
        self.lab = self.open_lab(name)
        self.lab.dirty = True
        self.config_version += 1

    # --- the scheduler's side
    def train_slice(self, max_steps: int, deadline: float) -> int:
        """Train the shown lab up to ``max_steps`` minibatches, until ``deadline`` or until a control waits."""
        with self.lock:
            if not self.viewers:
                return 0
            return self.lab.train_slice(max_steps, deadline)

    def frame_due(self) -> bool:
        return bool(self.viewers) and self.lab.frame_due()

    def build_frame(self):
        """The next frame (app.server.bundle.Frame) and the sids to offer it to, built under the lock.

        While nothing changed since the last one (no step, no control, nothing new to show: a class at 20 steps
        a second watched at 60 frames a second) the last frame's arrays and bundles are sent again."""
        with self.lock:
            lab = self.lab
            shows = (lab, lab.model_version, self.config_version, lab.status)
            if self._last_frame is not None and self._last_frame[0] == shows and not lab.has_news() \
                    and not lab.steps_since_frame:
                frame = self._last_frame[1].again()
                lab.frame_built()
                return frame, list(self.viewers)
            frame = lab.build_frame()
            if frame.nonfinite and lab.status != "diverged":  # no infinity in a frame unless the state says why
                lab.frame_overflowed()
                frame = lab.build_frame()
            lab.frame_built()
        frame.fields["lab"] = lab.name
        # A bundle's version counts within its lab: a client switching labs must not take the other lab's
        # "history 3" for the one it has.
        frame.sections = {name: ((lab.name, version), wire) for name, (version, wire) in frame.sections.items()}
        self._last_frame = ((lab, lab.model_version, self.config_version, lab.status), frame)
        return frame, list(self.viewers)

    @property
    def trains(self) -> bool:
        return self.lab.status == "running" and bool(self.viewers)

    @property
    def status(self) -> str:
        return self.lab.status

    def steps_due(self) -> int:
        """Minibatch steps the shown lab's ``speed`` (steps per second) owes it now (Lab.steps_due)."""
        return self.lab.steps_due()


    def pause_after_failure(self) -> None:
        """A tick failed on this session (a bug): pause it rather than fail every tick."""
        with self.lock:
            self.lab.status = "paused"

    def close(self) -> None:
        """The session is over (reaped, or the server stops): every lab ends what it runs beside the scheduler."""
        with self.lock:
            for lab in self.labs.values():
                lab.close()

    # --- connections
    def viewer_left(self, sid: str) -> None:
        """Call with the lock held."""
        self.viewers.discard(sid)
        for lab in self.labs.values():
            lab.viewer_left(sid)
        if not self.viewers:
            self.left_at = time.monotonic()

    # --- what the page shows
    def schema(self) -> dict:
        return self.lab.schema(lab_list())

    def state(self) -> dict:
        return {"config_version": self.config_version, "labs": list(LABS), **self.lab.state(),
                "viewers": len(self.viewers)}
