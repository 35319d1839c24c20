"""Classes: the teacher drives a session; students follow it live, read-only, and take copies to experiment alone.

Roles (docs/protocol.md, "Classes"):

- **teacher**: a connection that joined a session with its token, as every tab does. It controls the session.
  ``class_start`` makes the session a class with a join code (``CODE_LENGTH`` characters of ``CODE_ALPHABET``,
  which has no look-alikes, drawn with ``secrets``); ``class_rotate`` draws a new one (the old one stops
  working; followers already in stay), ``class_end`` ends it, ``bring_back`` returns every copy to following.
- **follower**: a connection that arrived with ``auth: {join: CODE}``. It is one more viewer of the teacher's
  session — the same `schema`, `state` and frames — but ``refusal`` (the one check in front of every control
  handler, for every lab) refuses whatever control it sends. It is never sent the session's token.
- **forked**: a follower that sent ``fork``: it now owns a private copy of the session (app.sessions.copying:
  every lab as the teacher has it) and controls that, until ``follow_again`` or the teacher's ``bring_back``.

The join code is random, not derived from the token: knowing it (or anything a follower is sent) gives no way to
the token. The lesson a teacher is showing lives in ``session.lesson`` (``set_lesson_step``) and goes to the
followers in the `class` event.
"""

from __future__ import annotations

import io
import secrets
import threading
import time

import segno

from app.server.controls import LIMITS
from app.server.errors import ControlError
from app.server.messages import Empty

from .copying import copy_labs
from .session import Session

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector, typed on a phone
CODE_LENGTH = 6
# Wrong codes from one address: WRONG_CODE_BURST at once, then one every 1/WRONG_CODES_PER_SECOND s (a class
# mistyping behind one school router is fine; trying the 31**6 codes is not).
WRONG_CODE_BURST, WRONG_CODES_PER_SECOND = 20, 0.5
FOLLOWING = "following the class: only the teacher can change this"

# The classroom's events: what each role may send (everything else a follower sends is refused).
TEACHER_EVENTS = ("class_start", "class_rotate", "class_end", "bring_back")
FOLLOWER_EVENTS = ("fork", "follow_again")
EVENTS = {name: Empty for name in TEACHER_EVENTS + FOLLOWER_EVENTS}


def normalize_code(text) -> str | None:
    """A typed code as the server keeps it ("abc-def " → "ABCDEF"), or None if it cannot be one."""
    if not isinstance(text, str) or len(text) > 32:
        return None
    code = "".join(text.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def qr_svg(url: str) -> bytes:
    """A QR code of ``url`` as SVG (segno), scaled by whatever shows it (viewBox, no fixed size)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", border=2, omitsize=True, xmldecl=False, dark="#000",
                                    light="#fff")
    return out.getvalue()


class TooManyWrongCodes(Exception):
    """This address has tried too many wrong codes lately; ``wait`` seconds until the next try counts."""

    def __init__(self, wait: float):
        super().__init__(f"too many wrong class codes from this address: try again in {wait:.0f} s")
        self.wait = wait


class WrongCodes:
    """Per client address, a bucket of wrong join codes (WRONG_CODE_BURST, refilled at WRONG_CODES_PER_SECOND)."""

    def __init__(self):
        self.buckets: dict[str, tuple[float, float]] = {}  # address → (wrong codes left, when counted)
        self.lock = threading.Lock()

    def _left(self, address: str, now: float) -> float:
        left, stamp = self.buckets.get(address, (WRONG_CODE_BURST, now))
        return min(WRONG_CODE_BURST, left + (now - stamp) * WRONG_CODES_PER_SECOND)

    def check(self, address: str) -> None:
        with self.lock:
            left = self._left(address, time.monotonic())
        if left < 1:
            raise TooManyWrongCodes((1 - left) / WRONG_CODES_PER_SECOND)

    def count(self, address: str) -> None:
        now = time.monotonic()
        with self.lock:
            if len(self.buckets) > 10_000:  # forget the addresses whose buckets are full again
                self.buckets = {a: b for a, b in self.buckets.items() if self._left(a, now) < WRONG_CODE_BURST}
            self.buckets[address] = (self._left(address, now) - 1, now)


class Classroom:
    """One class: the teacher's session, its join code, and the connections following it or on their copies."""

    def __init__(self, registry: "Classrooms", session: Session, code: str, base_url: str):
        self.registry = registry
        self.id = secrets.token_hex(8)  # names its rooms; never sent
        self.session = session
        self.code = code
        self.base_url = base_url  # where students reach the server: the LAN URL (--lan), else the teacher's
        self.followers: set[str] = set()      # sids watching the teacher's session
        self.forks: dict[str, Session] = {}   # sid → the private copy it works on

    @property
    def room(self) -> str:
        return f"class-{self.id}"

    @property
    def join_url(self) -> str:
        return f"{self.base_url}/join/{self.code}"


class Classrooms:
    """Every class of one app (app.extensions["classrooms"]). ``manager`` is the SessionManager."""

    def __init__(self, manager, public_url: str | None = None):
        self.manager = manager
        self.server = manager.server
        self.public_url = public_url.rstrip("/") if public_url else None
        self.by_code: dict[str, Classroom] = {}
        self.members: dict[str, Classroom] = {}  # sid → the class it follows (or took a copy from)
        self.lock = threading.RLock()
        self._wrong_codes = WrongCodes()

    # --- lookups
    def of_session(self, session: Session) -> Classroom | None:
        classroom = getattr(session, "classroom", None)
        return classroom if classroom is not None and self.by_code.get(classroom.code) is classroom else None

    def by_join_code(self, text, address: str | None = None) -> Classroom | None:
        """The class whose code ``text`` is, or None. With the client's ``address``, a wrong code counts against it
        and, past the limit (WRONG_CODE_BURST...), raises TooManyWrongCodes before looking at the code."""
        if address is not None:
            self._wrong_codes.check(address)
        code = normalize_code(text)
        classroom = self.by_code.get(code) if code else None
        if classroom is not None and self.manager.get(classroom.session.token) is not classroom.session:
            with self.lock:  # the teacher's session was reclaimed (nobody watched it): the class is over
                if self.by_code.get(code) is classroom:
                    del self.by_code[code]
            classroom = None
        if classroom is None:
            if address is not None:
                self._wrong_codes.count(address)
            return None  # no such code, or the teacher's session is gone
        return classroom

    def role(self, sid: str) -> str:
        """"follower", "forked", "teacher" (a connection with the token of a class's session) or "owner"."""
        classroom = self.members.get(sid)
        if classroom is not None and sid in classroom.followers:
            return "follower"
        if classroom is not None and sid in classroom.forks:
            return "forked"
        connection = self.manager.connection(sid)
        return "teacher" if connection is not None and self.of_session(connection.session) else "owner"

    def refusal(self, sid: str, event: str) -> ControlError | None:
        """The one check in front of every control handler: what ``sid``'s role may not send, refused."""
        role = self.role(sid)
        if role == "follower" and event not in FOLLOWER_EVENTS:
            return ControlError("role", "follower", "the teacher's connection (a follower may send only "
                                + " and ".join(FOLLOWER_EVENTS) + ")", FOLLOWING, event=event, explanation=
                                "You are following the class: only the teacher can change this. Take a copy "
                                "to experiment on your own.")
        if event in FOLLOWER_EVENTS and role != ("follower" if event == "fork" else "forked"):
            wanted = "a follower of a class" if event == "fork" else "a follower working on a copy"
            return ControlError("role", role, wanted, f"only {wanted} can send {event}", event=event)
        if event == "class_start" and role == "forked":
            return ControlError("role", role, "a session's own connection (not a copy taken from a class)",
                                "a copy taken from a class cannot start a class of its own", event=event)
        if event in TEACHER_EVENTS and event != "class_start" and role != "teacher":
            return ControlError("role", role, "the teacher of a class",
                                f"{event} is for the teacher of a class; start one with class_start", event=event)
        return None

    # --- what each role is told: the `class` event
    def teacher_state(self, classroom: Classroom | None) -> dict | None:
        if classroom is None:
            return None
        live = self.manager.connections
        followers, forks = list(classroom.followers), list(classroom.forks)  # copies: other threads change them
        return {"role": "teacher", "code": classroom.code, "join_path": f"/join/{classroom.code}",
                "join_url": classroom.join_url,
                "following": sum(1 for sid in followers if sid in live),
                "forked": sum(1 for sid in forks if sid in live),
                "lesson": classroom.session.lesson, "ended": False}

    def follower_state(self, classroom: Classroom, forked: bool) -> dict:
        return {"role": "follower", "code": classroom.code, "join_path": f"/join/{classroom.code}",
                "join_url": classroom.join_url, "forked": forked,
                "lesson": classroom.session.lesson, "ended": False}

    def teachers(self, classroom: Classroom) -> list[str]:
        return [sid for sid in list(classroom.session.viewers) if sid not in classroom.followers]

    def tell_teachers(self, classroom: Classroom) -> None:
        state = self.teacher_state(classroom)
        for sid in self.teachers(classroom):
            self.server.emit("class", state, to=sid, namespace="/")

    def tell_class(self, classroom: Classroom) -> None:
        """The class state to everyone in the class: the teachers, the followers and those on copies."""
        self.tell_teachers(classroom)
        for forked in (False, True):
            self.server.emit("class", self.follower_state(classroom, forked),
                             to=f"{classroom.room}-{'forked' if forked else 'following'}", namespace="/")

    # --- the teacher's events
    def start(self, sid: str, host_url: str) -> Classroom:
        """Make ``sid``'s session a class (or keep the one it is). ``host_url``: the server as the teacher's
        browser reaches it, for the join URL when no LAN URL is configured."""
        session = self.manager.connection(sid).session
        with self.lock:
            classroom = self.of_session(session)
            if classroom is None:
                classroom = Classroom(self, session, self._new_code(), self.public_url or host_url.rstrip("/"))
                self.by_code[classroom.code] = classroom
                session.classroom = classroom
        self.tell_teachers(classroom)
        return classroom

    def rotate(self, sid: str) -> Classroom:
        """A new join code: the old one stops working; who is in stays (and is told the new one)."""
        classroom = self.of_session(self.manager.connection(sid).session)
        with self.lock:
            del self.by_code[classroom.code]
            classroom.code = self._new_code()
            self.by_code[classroom.code] = classroom
        self.tell_class(classroom)
        return classroom

    def end(self, sid: str) -> None:
        """End the class: the followers are told and let go; copies stay their owners'; the code stops working."""
        classroom = self.of_session(self.manager.connection(sid).session)
        with self.lock:
            del self.by_code[classroom.code]
            classroom.session.classroom = None
            members = [s for s, c in self.members.items() if c is classroom]
            for member in members:
                del self.members[member]
        ended = {**self.follower_state(classroom, False), "ended": True}
        for member in members:
            self.server.emit("class", {**ended, "forked": member in classroom.forks}, to=member, namespace="/")
            self.server.leave_room(member, f"{classroom.room}-following", namespace="/")
            self.server.leave_room(member, f"{classroom.room}-forked", namespace="/")
        for member in list(classroom.followers):  # nothing left to watch: the page keeps its last frame
            self.manager.disconnect(member)
            self.server.disconnect(member, namespace="/")
        classroom.followers.clear()
        for teacher in self.teachers(classroom):
            self.server.emit("class", None, to=teacher, namespace="/")

    def bring_back(self, sid: str) -> int:
        """Every connection working on a copy follows the class again. Returns how many."""
        classroom = self.of_session(self.manager.connection(sid).session)
        brought = sum(self._follow(classroom, member) for member in list(classroom.forks))
        self.tell_teachers(classroom)
        return brought

    # --- the follower's side
    def join(self, sid: str, classroom: Classroom, fork_token: str | None = None) -> Session:
        """``sid`` joins ``classroom``: back on its own copy if ``fork_token`` is one it took from this class
        (a refresh), else as a follower. The caller sends `class`, `schema`, `state`, then calls manager.watch."""
        fork = self.manager.get(fork_token) if fork_token else None
        if fork is not None and getattr(fork, "forked_from", None) is classroom:
            session, _ = self.manager.connect(sid, fork.token)
            with self.lock:
                classroom.forks[sid] = session
                self.members[sid] = classroom
            self.server.enter_room(sid, session.token, namespace="/")
            self.server.enter_room(sid, f"{classroom.room}-forked", namespace="/")
        else:
            session, _ = self.manager.connect(sid, classroom.session.token)
            with self.lock:
                classroom.followers.add(sid)
                self.members[sid] = classroom
            self.server.enter_room(sid, session.token, namespace="/")
            self.server.enter_room(sid, f"{classroom.room}-following", namespace="/")
        return session

    def joined(self, sid: str) -> None:
        """After a follower's first events: the teachers' count."""
        classroom = self.members.get(sid)
        if classroom is not None:
            self.tell_teachers(classroom)

    def left(self, sid: str) -> None:
        """A connection closed: out of its class (the teachers' count says so)."""
        with self.lock:
            classroom = self.members.pop(sid, None)
            if classroom is not None:
                classroom.followers.discard(sid)
                classroom.forks.pop(sid, None)
        if classroom is not None and self.by_code.get(classroom.code) is classroom:
            self.tell_teachers(classroom)

    def fork(self, sid: str) -> Session:
        """A private copy of the teacher's session (every lab it has opened, as it is now, paused) for ``sid``."""
        classroom = self.members[sid]
        teacher = classroom.session
        with self.manager.lock:
            if len(self.manager.sessions) >= LIMITS.max_sessions:
                raise ControlError("", "fork", f"at most {LIMITS.max_sessions} sessions on this server",
                                   "the server is full: no room for another copy now; keep following")
            copy = Session(secrets.token_urlsafe(18), self.manager.config, lab=teacher.lab.name)
            self.manager.sessions[copy.token] = copy
        with teacher.controlled():
            copy_labs(teacher, copy)
            copy.lesson = teacher.lesson
        copy.forked_from = classroom
        with self.lock:
            classroom.followers.discard(sid)
            classroom.forks[sid] = copy
        self.server.leave_room(sid, f"{classroom.room}-following", namespace="/")
        self.server.enter_room(sid, f"{classroom.room}-forked", namespace="/")
        self._move(sid, copy)
        self.server.emit("session", {"token": copy.token, "created": True}, to=sid, namespace="/")
        self._send_views(sid, copy)
        self.server.emit("class", self.follower_state(classroom, True), to=sid, namespace="/")
        self.manager.watch(sid)
        self.tell_teachers(classroom)
        return copy

    def follow_again(self, sid: str) -> None:
        classroom = self.members[sid]
        self._follow(classroom, sid)
        self.tell_teachers(classroom)

    def _follow(self, classroom: Classroom, sid: str) -> bool:
        """``sid`` (on a copy) follows the teacher's session again; its copy is left to expire like any session.
        False if it is on no copy of this class, or already gone."""
        with self.lock:
            if classroom.forks.pop(sid, None) is None:
                return False
            if self.manager.connection(sid) is None:  # closed: its disconnect is on its way
                self.members.pop(sid, None)
                return False
            classroom.followers.add(sid)
        self.server.leave_room(sid, f"{classroom.room}-forked", namespace="/")
        self.server.enter_room(sid, f"{classroom.room}-following", namespace="/")
        self._move(sid, classroom.session)
        self.server.emit("class", self.follower_state(classroom, False), to=sid, namespace="/")
        self._send_views(sid, classroom.session)
        self.manager.watch(sid)
        return True

    # --- moving a connection between sessions
    def _move(self, sid: str, target: Session) -> None:
        """``sid`` stops watching its session and watches ``target``; its frame channel starts afresh, so the
        first frame it gets brings every bundle of ``target`` (dataset, history, evaluation)."""
        connection = self.manager.connection(sid)
        if connection is None:  # it closed meanwhile: nothing to move
            return
        old = connection.session
        with old.lock:
            old.viewer_left(sid)
            remaining = bool(old.viewers)
        self.server.leave_room(sid, old.token, namespace="/")
        self.manager.stream.close(sid)
        connection.session = target
        with target.lock:
            target.viewers.add(sid)
        self.server.enter_room(sid, target.token, namespace="/")
        if remaining:
            self.manager.broadcast_state(old)

    def _send_views(self, sid: str, session: Session) -> None:
        with session.lock:
            schema, state = session.schema(), session.state()
        self.server.emit("schema", schema, to=sid, namespace="/")
        self.server.emit("state", state, to=sid, namespace="/")

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self.by_code:
                return code


def set_lesson_step(session: Session, name: str | None, step: int | None) -> None:
    """The lesson ``session`` shows, and its step (None: no lesson). Followers of a class on ``session`` get it
    in their next `class` event at once (app.lessons calls this as the teacher moves through a lesson)."""
    session.lesson = None if name is None else {"name": name, "step": step}
    classroom = getattr(session, "classroom", None)
    if classroom is not None and classroom.registry.of_session(session) is classroom:
        classroom.registry.tell_class(classroom)
