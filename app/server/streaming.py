"""Frames to clients with latest-frame-wins backpressure, sent by one thread that is not the trainer's.

The scheduler only *publishes*: it puts a built frame in each viewer's one-frame slot (a newer frame replaces
an unsent one) and returns; and it builds a session's frame only when one of its viewers can take it now
(``wants_frame``: a frame nobody can be sent yet would only be replaced). A sender thread takes the slots of
the clients that may receive (only those a publish or an ack touched: its work grows with the frames sent,
not with the viewers), encodes each distinct payload ONCE (app.server.encoding.Encoded: a frame with the same
bundles is one JSON encoding, and one set of websocket bytes, for every viewer; only the ack id and the
viewer's ``steps_this_frame`` are spliced in per client) and writes it to the client's socket itself without
waiting (app.server.transport.BoundedWebSocket.write_now; queued for the connection's writer thread when it cannot),
uncapped viewers (the teacher's screen) first. So neither the number of viewers nor how fast they ack changes
how long the trainer works on a frame.

Per client at most one frame is in flight (sent, not yet acknowledged). Only when the connection is known to be
alive (its Engine.IO queue is empty and it answers pings) and the ack is ACK_TIMEOUT overdue may a second one
go; never a third. A client that stops acking is left to Engine.IO's ping/pong to close.

Delivery is CPU too, spent by other threads than the scheduler's: the sender's encoding and writing of each frame
(its thread's CPU time per send) and the reading and handling of what each viewer sends back, mostly acks (the
connection's own threads' CPU time, ``sender.received_cpu``). Both are counted per connection, for frames with an
``account`` (``Frame.account``: the scheduler's session; not frames relayed from another process), and
``take_delivered()`` hands the scheduler what each connection's delivery cost since it last asked, to pay from
the parts of the sessions that connection's client watches (docs/protocol.md, "Scheduling")
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from .bundle import Frame
from .encoding import PacketSender

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 2


def _interval(max_fps: float | None) -> float:
    # 10 % short of 1/max_fps: frames leave on the scheduler's ticks, and a cap of 30 at 60 ticks a second
    # must let every second tick through, not every third.
    return 0.9 / max_fps if max_fps else 0.0


class Channel:
    """One connection's frame slot."""

    __slots__ = ("sid", "in_flight", "sent_at", "pending", "steps", "sent_versions", "frames_sent",
                 "frames_dropped", "interval", "account", "received_cpu")

    def __init__(self, sid: str, max_fps: float | None = None):
        self.sid = sid
        self.interval = _interval(max_fps)  # s between two frames at least
        self.in_flight = 0      # frames sent and not acknowledged
        self.sent_at = 0.0      # monotonic time of the last send
        self.pending: Frame | None = None
        self.steps = 0          # steps of the frames published since this client's last frame (dropped ones too)
        self.sent_versions: dict[str, tuple] = {}  # bundle name → (lab, version) this client has been sent
        self.frames_sent = 0
        self.frames_dropped = 0
        self.account = None     # whose frames it was last sent (what it sends back is charged there)
        self.received_cpu = None  # the connection's reading CPU seconds when last charged


class FrameStream:
    """Sends frames through ``sender`` (app.server.encoding.PacketSender, or a python-socketio Server to wrap).

    ``threaded=False`` (tests): nothing is sent until ``flush()`` is called.
    """

    def __init__(self, sender, ack_timeout: float = 5.0, event: str = "frame", threaded: bool = True):
        self.sender = sender if hasattr(sender, "encode") else PacketSender(sender)
        self.ack_timeout = ack_timeout
        self.event = event
        self.threaded = threaded
        self.channels: dict[str, Channel] = {}
        self.lock = threading.Lock()
        self._encoded: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # frame → {variant: Encoded}
        self._failed: set[str] = set()  # connections whose send raised (logged once)
        self._touched: set[str] = set()  # channels a publish or an ack changed since the last flush
        self._overdue_check = 0.0        # when flush last looked at every channel (for overdue acks)
        self._next_due: float | None = None  # when the next capped channel's waiting frame may go
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._delivered: dict[str, float] = {}  # sid → delivery CPU s not yet taken

    # --- connections
    def open(self, sid: str, max_fps: float | None = None) -> None:
        """Start a slot for ``sid``; ``max_fps``: at most that many frames a second to it (None: no cap)."""
        with self.lock:
            self.channels[sid] = Channel(sid, max_fps)
        self._ensure_running()

    def cap(self, sid: str, max_fps: float | None) -> None:
        """Change ``sid``'s frame-rate cap (None: none)."""
        with self.lock:
            channel = self.channels.get(sid)
            if channel is not None:
                channel.interval = _interval(max_fps)
                self._touched.add(sid)

    def close(self, sid: str) -> None:
        with self.lock:
            self.channels.pop(sid, None)
            self._delivered.pop(sid, None)
        self._failed.discard(sid)

    # --- the scheduler's side: cheap, never sends
    def wants_frame(self, sids) -> bool:
        """Whether a frame built now would be sent at once to one of ``sids``: one of them has nothing waiting
        and may be sent one (it acked its last frame and its cap allows, or its ack is overdue: _may_send).
        Else building it would be wasted: it could only replace the one waiting, or wait itself until an ack
        (then this says yes)."""
        now = time.monotonic()
        with self.lock:
            for sid in sids:
                channel = self.channels.get(sid)
                if channel is not None and channel.pending is None and self._may_send(channel, now, True):
                    return True
        return False

    def publish(self, sids, frame: Frame) -> None:
        """Offer ``frame`` to each of ``sids``: it replaces whatever frame was waiting for them."""
        steps = int(frame.fields.get("steps_this_frame", 0) or 0)
        frame.fields.setdefault("time", time.time())  # when it was built, by the server's clock (latency)
        with self.lock:
            for sid in sids:
                channel = self.channels.get(sid)
                if channel is None:
                    continue
                if channel.pending is not None:
                    channel.frames_dropped += 1
                channel.pending = frame
                channel.steps += steps
                self._touched.add(sid)
        self._wake.set()

    # --- the sender's side
    def _may_send(self, channel: Channel, now: float, frame_or_not: bool = False) -> bool:
        """Whether ``channel``'s waiting frame (any frame, with ``frame_or_not``) may be sent to it now."""
        if (channel.pending is None and not frame_or_not) or channel.in_flight >= MAX_IN_FLIGHT:
            return False
        if channel.in_flight == 0:
            return now - channel.sent_at >= channel.interval
        return now - channel.sent_at >= self.ack_timeout and self.sender.alive(channel.sid)

    def flush(self) -> int:
        """Send every frame that may go now. Returns how many were sent."""
        now = time.monotonic()
        batch = []
        with self.lock:
            if now - self._overdue_check >= min(1.0, self.ack_timeout / 4):  # an overdue ack touches nothing
                self._overdue_check = now
                touched = list(self.channels)
            else:
                touched = self._touched
            self._touched, self._next_due = set(), None
            for sid in touched:
                channel = self.channels.get(sid)
                if channel is None or not self._may_send(channel, now):
                    if channel is not None and channel.pending is not None and channel.in_flight == 0:
                        due = channel.sent_at + channel.interval  # capped: looked at again when it may go
                        self._touched.add(sid)
                        self._next_due = due if self._next_due is None else min(self._next_due, due)
                    continue
                frame, channel.pending = channel.pending, None
                versions_before = dict(channel.sent_versions)
                sections = frame.sections_for(channel.sent_versions)
                steps, channel.steps = channel.steps, 0
                channel.in_flight += 1
                channel.sent_at = now
                channel.frames_sent += 1
                channel.account = frame.account
                batch.append((channel.interval, sid, frame, sections, steps, versions_before))
        self._charge_received(touched)
        batch.sort(key=lambda item: item[0])  # uncapped screens (the teacher's) first, then a class's phones
        sent = 0
        for _, sid, frame, sections, steps, versions_before in batch:  # outside the lock: acks may come in meanwhile
            began = time.thread_time()
            cache = self._encoded.setdefault(frame, {})
            encoded = cache.get(sections)
            if encoded is None:
                encoded = cache[sections] = self.sender.encode(self.event, frame.payload(sections))
            try:  # one connection's failure must not cost the others their frames
                delivered = self.sender.send(sid, encoded, lambda sid=sid: self.acknowledged(sid), steps)
            except Exception:  # noqa: BLE001 - whatever one client's send raises
                if sid not in self._failed:  # once per connection: a broken one would fail 60 times a second
                    self._failed.add(sid)
                    log.warning("sending frames to %s fails; the other viewers are unaffected", sid, exc_info=True)
                delivered = False
            if delivered:
                sent += 1
            else:
                self._unsend(sid, versions_before)
            if frame.account is not None:
                self._charge(sid, time.thread_time() - began)
        return sent

    # --- what delivery costs, by connection
    def _charge(self, sid: str, seconds: float) -> None:
        if seconds > 0:
            with self.lock:
                self._delivered[sid] = self._delivered.get(sid, 0.0) + seconds

    def _charge_received(self, sids) -> None:
        """Charge the CPU the connections ``sids`` spent reading and handling what they sent (acks) since the
        last look to them (those that were sent a frame with an account)."""
        received_cpu = getattr(self.sender, "received_cpu", None)
        if received_cpu is None:
            return
        for sid in list(sids):
            channel = self.channels.get(sid)
            if channel is None or channel.account is None:
                continue
            now = received_cpu(sid)
            if now is None:
                continue
            before, channel.received_cpu = channel.received_cpu, now
            if before is not None:
                self._charge(sid, now - before)

    def take_delivered(self) -> dict[str, float]:
        """{sid: CPU seconds its frames' delivery cost} since the last call (and forget them)."""
        with self.lock:
            delivered, self._delivered = self._delivered, {}
        return delivered

    def _unsend(self, sid: str, versions_before: dict) -> None:
        """``sid`` left before its frame could be queued: undo the bookkeeping (if it is still here at all)."""
        with self.lock:
            channel = self.channels.get(sid)
            if channel is not None:
                channel.in_flight = max(0, channel.in_flight - 1)
                channel.frames_sent -= 1
                channel.sent_versions = versions_before

    def acknowledged(self, sid: str) -> None:
        """The client has a frame: one fewer in flight; the sender may send it the waiting one."""
        with self.lock:
            channel = self.channels.get(sid)
            if channel is None:
                return
            channel.in_flight = max(0, channel.in_flight - 1)
            wake = channel.pending is not None
            if wake:
                self._touched.add(sid)
        if wake:
            self._wake.set()

    def _ensure_running(self) -> None:
        if not self.threaded:
            return
        with self.lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="nnplayground-sender", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        # Woken by publish and by acks; otherwise it looks again often enough to notice an ack timeout.
        poll = min(1.0, max(0.05, self.ack_timeout / 4))
        while not self._stop.is_set():
            due = self._next_due
            self._wake.wait(poll if due is None else min(poll, max(0.001, due - time.monotonic())))
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a bug must not stop every client's frames
                log.exception("sending frames failed")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stats(self, sid: str) -> dict:
        with self.lock:
            c = self.channels.get(sid)
            return {} if c is None else {"frames_sent": c.frames_sent, "frames_dropped": c.frames_dropped,
                                         "in_flight": c.in_flight}
