"""Frames to clients with latest-frame-wins backpressure.

Each connection has at most one frame in flight (sent, not yet acknowledged) and one pending (built
while the previous was in flight). A newer frame replaces the pending one, so a slow client gets fewer
frames and the server never queues more than one for it; the trainer never waits for anyone.
"""

from __future__ import annotations

import threading
import time

from .bundle import Frame


class Channel:
    """One connection's frame slot."""

    __slots__ = ("sid", "in_flight", "sent_at", "pending", "sent_versions", "frames_sent", "frames_dropped")

    def __init__(self, sid: str):
        self.sid = sid
        self.in_flight = False
        self.sent_at = 0.0
        self.pending: Frame | None = None
        self.sent_versions: dict[str, int] = {}  # bundle name → version this client has been sent
        self.frames_sent = 0
        self.frames_dropped = 0


class FrameStream:
    """Sends frames through a python-socketio ``server`` (``server.emit(..., callback=...)`` for the ack)."""

    def __init__(self, server, ack_timeout: float = 5.0, event: str = "frame", namespace: str = "/"):
        self.server = server
        self.ack_timeout = ack_timeout
        self.event = event
        self.namespace = namespace
        self.channels: dict[str, Channel] = {}
        self.lock = threading.Lock()

    def open(self, sid: str) -> None:
        with self.lock:
            self.channels[sid] = Channel(sid)

    def close(self, sid: str) -> None:
        with self.lock:
            self.channels.pop(sid, None)

    def publish(self, sids, frame: Frame) -> None:
        """Offer ``frame`` to each of ``sids``: sent now if its slot is free, else it replaces the pending one."""
        to_send = []
        now = time.monotonic()
        with self.lock:
            for sid in list(sids):
                channel = self.channels.get(sid)
                if channel is None:
                    continue
                if channel.in_flight and now - channel.sent_at < self.ack_timeout:
                    if channel.pending is not None:
                        channel.frames_dropped += 1
                    channel.pending = frame
                else:
                    to_send.append(self._take(channel, frame, now))
        for sid, payload in to_send:
            self._emit(sid, payload)

    def _take(self, channel: Channel, frame: Frame, now: float) -> tuple[str, dict]:
        """Mark ``channel`` busy with ``frame`` (lock held) and return what to emit."""
        channel.in_flight = True
        channel.sent_at = now
        channel.pending = None
        channel.frames_sent += 1
        return channel.sid, frame.payload_for(channel.sent_versions)

    def _emit(self, sid: str, payload: dict) -> None:
        # Outside the lock: emit only queues the packet for the connection's writer thread.
        self.server.emit(self.event, payload, to=sid, namespace=self.namespace,
                         callback=lambda *_: self.acknowledged(sid))

    def acknowledged(self, sid: str) -> None:
        """The client has the frame: free its slot and send the pending frame, if any."""
        with self.lock:
            channel = self.channels.get(sid)
            if channel is None:
                return
            channel.in_flight = False
            if channel.pending is None:
                return
            sid, payload = self._take(channel, channel.pending, time.monotonic())
        self._emit(sid, payload)

    def stats(self, sid: str) -> dict:
        with self.lock:
            c = self.channels.get(sid)
            return {} if c is None else {"frames_sent": c.frames_sent, "frames_dropped": c.frames_dropped,
                                         "in_flight": c.in_flight}
