"""The gate between Engine.IO and python-socketio: only the protocol's packets reach the handlers.

python-socketio decodes and dispatches whatever a client sends: a second CONNECT or an event named "connect"
runs the connect handler again, an ack for an id the server never used (``430[]``: id 0 is where python-socketio
keeps its ack counter) breaks every later emit-with-ack to that client, a binary event may declare any number of
attachments and they are held until all arrive, event names need not be strings, and every message is decoded
and given a thread before any rate limit can look at it. ``PacketGuard`` takes Engine.IO's ``message`` event
in python-socketio's place and, per connection, before decoding anything:

- rate: a token bucket (``limits.message_burst`` at once, ``limits.max_messages_per_second`` refill); over it a
  message is dropped undecoded (one ``error`` a second says so), and a connection that has more than
  ``max_messages_per_second`` messages refused within a second is closed (1008);
- acks: only ``3<id>`` for an id the server is waiting for, its arguments never decoded; others are ignored;
- then decodes the packet and lets through only: one CONNECT to "/", DISCONNECT, and EVENT / BINARY_EVENT whose
  name is one of the protocol's events (anything else gets an ``error`` naming them); a binary event may declare
  at most ``limits.max_attachments`` attachments of at most ``limits.max_message_bytes`` in all, else the
  connection is closed (1009).

See docs/protocol.md, "Transport".
"""

from __future__ import annotations

import re
import threading
import time

from socketio import packet as sio_packet

from .errors import describe
from .controls import LIMITS

ACK = re.compile(r"3(\d{1,15})(?:\[|$)")  # an ack on "/": type 3, the id, then its (ignored) arguments
NORMAL_CLOSURE, POLICY_VIOLATION, MESSAGE_TOO_BIG = 1000, 1008, 1009


class RateLimiter:
    """Token bucket: ``burst`` messages at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.last_report = -1e9
        self.refused_since = 0.0  # start of the current second of refusals ...
        self.refused = 0          # ... and how many in it

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        if now - self.refused_since >= 1.0:
            self.refused_since, self.refused = now, 0
        self.refused += 1
        return False

    @property
    def flooding(self) -> bool:
        """More messages refused within a second than the rate allows in one: not a page, a flood."""
        return self.refused > self.rate

    def should_report(self) -> bool:
        """At most one rate-limit error per second, so a flood cannot make us flood back."""
        now = time.monotonic()
        if now - self.last_report >= 1.0:
            self.last_report = now
            return True
        return False


class Gate:
    """What the guard knows of one Engine.IO connection."""

    __slots__ = ("rate", "connected", "attachment_bytes")

    def __init__(self):
        self.rate = RateLimiter(LIMITS.max_messages_per_second, LIMITS.message_burst)
        self.connected = False     # CONNECT to "/" accepted (until DISCONNECT)
        self.attachment_bytes = 0  # of the binary event being received


def wire_error(field: str, received, allowed: str, message: str, event="") -> dict:
    return {"event": event if isinstance(event, str) else "", "field": field, "received": describe(received),
            "allowed": allowed, "message": message}


class PacketGuard:
    """Installs itself on a python-socketio ``server`` (see the module's docstring).

    ``events``: the names a client may emit. ``close(eio_sid, code, reason)`` ends a connection (app.transport
    supplies one that sends the websocket close code)."""

    def __init__(self, server, events, close, namespace: str = "/"):
        self.server = server
        self.events = frozenset(events)
        self.close = close
        self.namespace = namespace
        self.allowed_events = "one of the events " + ", ".join(sorted(self.events))
        self.gates: dict[str, Gate] = {}
        self._lock = threading.Lock()
        self._dispatch = server._handle_eio_message  # python-socketio's own: attachments of an accepted header
        self._eio_disconnect = server._handle_eio_disconnect
        server._handle_eio_message = self.on_message  # what Flask-SocketIO's test client calls
        if hasattr(server, "eio"):
            server.eio.on("message", self.on_message)  # what Engine.IO calls
            server.eio.on("disconnect", self.on_disconnect)

    # --- bookkeeping
    def gate(self, eio_sid: str) -> Gate:
        gate = self.gates.get(eio_sid)
        if gate is None:
            with self._lock:
                gate = self.gates.setdefault(eio_sid, Gate())
        return gate

    def on_disconnect(self, eio_sid, *reason):
        try:
            return self._eio_disconnect(eio_sid, *reason)
        finally:
            self.gates.pop(eio_sid, None)
            self.server._binary_packet.pop(eio_sid, None)

    def _sid(self, eio_sid: str):
        return self.server.manager.sid_from_eio_sid(eio_sid, self.namespace)

    def _reply(self, eio_sid: str, error: dict) -> None:
        sid = self._sid(eio_sid)
        if sid is not None:
            self.server.emit("error", error, to=sid, namespace=self.namespace)

    def _refuse(self, eio_sid: str, received, message: str, allowed: str | None = None, event="", pkt=None) -> None:
        """An ``error`` back; and if ``pkt`` asked for an ack, the ack ``{ok: false, error}`` too."""
        error = wire_error("", received, allowed or self.allowed_events, message, event)
        self._reply(eio_sid, error)
        if pkt is not None and pkt.id is not None and self._sid(eio_sid) is not None:
            self.server._send_packet(eio_sid, self.server.packet_class(
                sio_packet.ACK, namespace=pkt.namespace, id=pkt.id, data=[{"ok": False, "error": error}]))

    def _shut(self, eio_sid: str, code: int, reason: str) -> None:
        self.server._binary_packet.pop(eio_sid, None)
        self.close(eio_sid, code, reason)  # which logs one short line (rate-limited)

    # --- every Engine.IO message from a client
    def on_message(self, eio_sid: str, data) -> None:
        gate = self.gate(eio_sid)
        pending = self.server._binary_packet.get(eio_sid)
        if pending is not None:
            return self._attachment(eio_sid, gate, pending, data)
        if isinstance(data, str) and data.startswith("3"):
            if self._expected_ack(eio_sid, data):
                return None  # a frame's ack: free, or the frames themselves would use up the rate
            if not gate.rate.allow() and gate.rate.flooding:
                self._shut(eio_sid, POLICY_VIOLATION, "message flood")
            return None  # an ack the server did not ask for: ignored (acks are never answered)
        if not gate.rate.allow():
            if gate.rate.flooding:
                return self._shut(eio_sid, POLICY_VIOLATION, "message flood")
            if gate.rate.should_report():
                self._reply(eio_sid, wire_error(
                    "rate", f"<more than {LIMITS.max_messages_per_second:g} messages a second>",
                    f"at most {LIMITS.max_messages_per_second:g} messages per second "
                    f"(bursts of {LIMITS.message_burst})",
                    "too many messages: those over the rate were dropped unread"))
            return None
        if not isinstance(data, str):
            return self._refuse(eio_sid, "<unparseable packet>", "a binary attachment no event announced; ignored",
                                "a Socket.IO event packet with a JSON payload")
        try:
            pkt = self.server.packet_class(encoded_packet=data)
        except Exception as error:  # noqa: BLE001 - whatever decoding raises, the packet is malformed
            return self._refuse(eio_sid, "<unparseable packet>",
                                f"the server could not decode a packet ({type(error).__name__}: "
                                f"{str(error)[:120]}); it was ignored",
                                "a Socket.IO event packet with a JSON payload")
        return self._packet(eio_sid, gate, pkt)

    def _expected_ack(self, eio_sid: str, data: str) -> bool:
        """``3<id>...`` for an id the server is waiting for: run its callback. The arguments are never decoded."""
        match = ACK.match(data)
        sid = self._sid(eio_sid) if match else None
        if sid is None:
            return False
        ack_id = int(match.group(1))
        if ack_id == 0 or ack_id not in self.server.manager.callbacks.get(sid, {}):
            return False  # 0 is the key of python-socketio's ack counter, never an ack id
        self.server.manager.trigger_callback(sid, ack_id, [])
        return True

    def _packet(self, eio_sid: str, gate: Gate, pkt) -> None:
        namespace = pkt.namespace or "/"
        kind = pkt.packet_type
        if namespace != self.namespace and kind != sio_packet.CONNECT:
            return self._refuse(eio_sid, namespace, f"no namespace {describe(namespace)}; only \"/\"",
                                'the namespace "/"')
        if kind == sio_packet.CONNECT:
            if namespace == self.namespace and gate.connected:
                return self._refuse(eio_sid, "<a second CONNECT>", "this connection is already connected",
                                    "one CONNECT per connection")
            gate.connected = namespace == self.namespace or gate.connected
            return self.server._handle_connect(eio_sid, pkt.namespace, pkt.data)
        if kind == sio_packet.DISCONNECT:  # leaving "/", the only namespace, is leaving: the connection closes
            gate.connected = False
            self.server._handle_disconnect(eio_sid, pkt.namespace, self.server.reason.CLIENT_DISCONNECT)
            return self._shut(eio_sid, NORMAL_CLOSURE, "the client disconnected")
        if kind in (sio_packet.EVENT, sio_packet.BINARY_EVENT):
            data = pkt.data
            name = data[0] if isinstance(data, list) and data else None
            if not isinstance(name, str) or name not in self.events:
                received = name if isinstance(data, list) and data else data
                return self._refuse(eio_sid, received, f"unknown event {describe(received)}; allowed: "
                                    + ", ".join(sorted(self.events)), event=name if isinstance(name, str) else "",
                                    pkt=pkt)
            if self._sid(eio_sid) is None or not gate.connected:  # nobody to answer: an event before CONNECT
                return self._shut(eio_sid, POLICY_VIOLATION, "an event before CONNECT")
            if kind == sio_packet.EVENT:
                return self.server._handle_event(eio_sid, pkt.namespace, pkt.id, data)
            if not 1 <= pkt.attachment_count <= LIMITS.max_attachments:
                if pkt.attachment_count > LIMITS.max_attachments:
                    return self._shut(eio_sid, MESSAGE_TOO_BIG, f"{pkt.attachment_count} attachments announced")
                return self._refuse(eio_sid, "<a binary event without attachments>",
                                    "a binary event must announce its attachments", event=name,
                                    allowed=f"1 to {LIMITS.max_attachments} attachments", pkt=pkt)
            gate.attachment_bytes = 0
            self.server._binary_packet[eio_sid] = pkt  # python-socketio collects the attachments
            return None
        # ACK in another form than 3<id>, BINARY_ACK (the server never asks for one), CONNECT_ERROR, unknown.
        return self._refuse(eio_sid, f"<packet type {kind}>", "only CONNECT, DISCONNECT, events and acks of "
                            "frames are accepted; ignored", "a Socket.IO CONNECT, DISCONNECT, EVENT or ACK")

    def _attachment(self, eio_sid: str, gate: Gate, pending, data) -> None:
        if not isinstance(data, (bytes, bytearray)):
            self.server._binary_packet.pop(eio_sid, None)
            return self._refuse(eio_sid, "<text where a binary attachment was due>",
                                "the binary event announced more attachments than it sent; it was dropped",
                                "the announced binary attachments, then the next packet")
        gate.attachment_bytes += len(data)
        if gate.attachment_bytes > LIMITS.max_message_bytes:
            return self._shut(eio_sid, MESSAGE_TOO_BIG, f"attachments over {LIMITS.max_message_bytes} bytes")
        try:
            self._dispatch(eio_sid, data)  # the last one reassembles the event and dispatches it
        except Exception as error:  # noqa: BLE001 - a placeholder pointing nowhere, and the like
            self.server._binary_packet.pop(eio_sid, None)
            self._refuse(eio_sid, "<unparseable packet>", f"the binary event's placeholders do not match its "
                         f"attachments ({type(error).__name__}); it was ignored",
                         'placeholders {"_placeholder": true, "num": i} for each attachment i')
