"""A session's frames to the other server processes (owner side): one publish per frame per session, only while
another process has viewers of it, latest-wins, never from the trainer's thread (app.cluster.link sends)."""

from __future__ import annotations

import threading
import time

from app.server.bundle import Frame

from . import wire
from .link import Link


class Relay:
    """One session's frames to the other processes (owner side): the newest frame, offered at most ``fps`` a
    second; each publish carries the bundles whose version changed since the last (all of them on request)."""

    def __init__(self, session, session_id: str):
        self.session, self.session_id = session, session_id
        self.channel = wire.frames(session_id)
        self.watchers: dict[str, float | None] = {}  # virtual sid → its frame-rate cap
        self.published_at = 0.0
        self.steps = 0
        self.versions: dict[str, tuple] = {}
        self.lock = threading.Lock()

    def due(self, fps: float) -> bool:
        caps = list(self.watchers.values())
        rate = fps if not caps or None in caps else min(fps, max(caps))
        return time.monotonic() - self.published_at >= 0.9 / rate

    def offer(self, link: Link, frame: Frame) -> None:
        with self.lock:
            self.steps += int(frame.fields.get("steps_this_frame", 0) or 0)
            self.published_at = time.monotonic()
        link.offer_frame(self.channel, lambda: self._pack(frame))

    def resend(self) -> None:
        """The next publish carries every bundle, and comes soon even if the session is paused (a process that
        has just subscribed, or is back after Redis was away, needs the dataset, history and evaluation)."""
        with self.lock:
            self.versions = {}
            self.published_at = 0.0
        self.session.lab.dirty = True

    def _pack(self, frame: Frame) -> bytes:
        with self.lock:
            steps, self.steps = self.steps, 0
            sections = {name: [version, bundle] for name, (version, bundle) in frame.sections.items()
                        if self.versions.get(name) != version}
            self.versions.update({name: frame.sections[name][0] for name in sections})
        return wire.pack({"fields": {**frame.fields, "steps_this_frame": steps}, "sections": sections})


class RelayStream:
    """The session manager's FrameStream, with virtual clients' frames going to a Relay per session instead of a
    socket (the FrameStream itself is untouched: everything else is delegated to it)."""

    def __init__(self, inner, node: "Node"):
        self.inner, self.node = inner, node
        self.relays: dict[str, Relay] = {}  # session id → its relay
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _split(self, sids):
        real, remote = [], []
        for sid in sids:
            (remote if self.node.remote_of(sid) is not None else real).append(sid)
        return real, remote

    def open(self, sid: str, max_fps: float | None = None) -> None:
        remote = self.node.remote_of(sid)
        if remote is None:
            return self.inner.open(sid, max_fps)
        connection = self.node.manager.connection(sid)
        if connection is None:
            return None
        session_id = wire.public_id(connection.session.token)
        self.close(sid)
        with self.lock:
            relay = self.relays.get(session_id) or self.relays.setdefault(session_id, Relay(connection.session,
                                                                                               session_id))
            relay.watchers[sid] = max_fps
        relay.resend()
        self.node.link.send(wire.inbox(remote.worker), {"op": "watch", "to": remote.sid, "session": session_id,
                                                        "fps": max_fps})

    def cap(self, sid: str, max_fps: float | None) -> None:
        if self.node.remote_of(sid) is None:
            return self.inner.cap(sid, max_fps)
        self.open(sid, max_fps)

    def close(self, sid: str) -> None:
        remote = self.node.remote_of(sid)
        if remote is None:
            return self.inner.close(sid)
        with self.lock:
            for session_id, relay in list(self.relays.items()):
                if relay.watchers.pop(sid, "absent") != "absent" and not relay.watchers:
                    del self.relays[session_id]

    def relay_of(self, sid: str) -> Relay | None:
        with self.lock:
            for relay in self.relays.values():
                if sid in relay.watchers:
                    return relay
        return None

    def wants_frame(self, sids) -> bool:
        real, remote = self._split(sids)
        if self.inner.wants_frame(real):
            return True
        fps = self.node.config["FPS"]
        return any(relay is not None and relay.due(fps) for relay in map(self.relay_of, remote[:1]))

    def publish(self, sids, frame: Frame) -> None:
        real, remote = self._split(sids)
        self.inner.publish(real, frame)
        frame.fields.setdefault("time", time.time())
        relay = self.relay_of(remote[0]) if remote else None
        if relay is not None:
            relay.offer(self.node.link, frame)
