"""A frame on the wire, encoded once for every client: its Socket.IO packets as JSON text and binary attachments
(``Encoded``), the websocket frames that carry them (``ws_frame``), and the sender that writes them to each
client (``PacketSender``: straight to the socket when nothing of that client's is waiting, else through its
Engine.IO queue). app.server.streaming decides what to send and when; app.server.transport bounds the sockets."""

from __future__ import annotations

import struct
import time

from engineio import exceptions as eio_exceptions

from .transport import BoundedWebSocket

STEPS_MARK = -7_777_777_777  # steps_this_frame while encoding: a number no frame carries, replaced per client


def ws_frame(payload: bytes, binary: bool) -> bytes:
    """``payload`` as one websocket frame from a server (RFC 6455 5.2: FIN, text 0x1 or binary 0x2, no mask)."""
    first, n = 0x82 if binary else 0x81, len(payload)
    if n < 126:
        head = bytes((first, n))
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


class Encoded:
    """One event encoded once (JSON text and binary attachments) for any number of clients.

    Socket.IO v5 writes an event that wants an ack as ``<type>[<n>-]<ack id><JSON>`` followed by the ``n``
    binary attachments: only the ack id and a frame's ``steps_this_frame`` (the steps since THIS client's
    previous frame) differ from client to client, so ``for_ack(id, steps)`` splices them in instead of
    encoding the payload again (``json.dumps`` of a frame's header is the costly part). ``wire(id, steps)``
    is the same packet as the bytes a websocket carries: server frames are not masked, so the attachments'
    websocket frames are the same bytes for every client and are built once; per client only the short text
    frame's ack id, steps and length differ."""

    __slots__ = ("prefix", "body", "attachments", "size", "_wire")

    def __init__(self, server, event: str, payload, namespace: str = "/"):
        from socketio import packet

        if "steps_this_frame" in payload:
            payload = {**payload, "steps_this_frame": STEPS_MARK}
        encoded = server.packet_class(packet.EVENT, namespace=namespace, data=[event, payload]).encode()
        head, *self.attachments = encoded if isinstance(encoded, list) else [encoded]
        cut = head.index("[")  # the JSON array starts the data; type, count and namespace come before it
        self.prefix = head[:cut]
        self.body = head[cut:].split(f'"steps_this_frame":{STEPS_MARK}', 1)  # [before, after], or [all]
        self.size = len(head) - cut + sum(len(a) for a in self.attachments)
        self._wire = None

    def for_ack(self, ack_id: int, steps: int = 0) -> "_Packet":
        body = self.body[0] if len(self.body) == 1 else f'{self.body[0]}"steps_this_frame":{steps}{self.body[1]}'
        return _Packet([f"{self.prefix}{ack_id}{body}", *self.attachments])

    def wire(self, ack_id: int, steps: int = 0) -> bytes:
        """The packet for one client as websocket frames: Engine.IO's text MESSAGE ("4" + the text; the JSON is
        ASCII), then each attachment as a binary message (Engine.IO 4 sends those as they are)."""
        if self._wire is None:
            attachments = b"".join(ws_frame(a, binary=True) for a in self.attachments)
            self._wire = ("4" + self.prefix).encode(), [part.encode() for part in self.body], attachments
        prefix, body, attachments = self._wire
        text = b"".join((prefix, b"%d" % ack_id, body[0]) if len(body) == 1 else
                        (prefix, b"%d" % ack_id, body[0], b'"steps_this_frame":%d' % steps, body[1]))
        return ws_frame(text, binary=False) + attachments


class _Packet:
    """Quacks like a socketio Packet for ``server._send_packet`` (which only calls ``encode``)."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: list):
        self.pieces = pieces

    def encode(self):
        return self.pieces if len(self.pieces) > 1 else self.pieces[0]


class PacketSender:
    """Emits pre-encoded events with an ack callback to single clients of a python-socketio ``server``."""

    PONG_GRACE = 2.0  # s a ping may stay unanswered before the client no longer counts as alive

    def __init__(self, server, namespace: str = "/"):
        self.server = server
        self.namespace = namespace

    def encode(self, event: str, payload) -> Encoded:
        return Encoded(self.server, event, payload, self.namespace)

    def send(self, sid: str, encoded: Encoded, callback, steps: int = 0) -> bool:
        """Queue ``encoded`` for ``sid`` with ``steps_this_frame`` = ``steps``; ``callback()`` runs when it acks.
        False if ``sid`` is gone."""
        manager = self.server.manager
        eio_sid = manager.eio_sid_from_sid(sid, self.namespace)
        if eio_sid is None:
            return False
        ack_id = manager._generate_ack_id(sid, lambda *_: callback())
        ws = BoundedWebSocket.registry.get(eio_sid)
        if ws is not None and ws.write_now(encoded.wire(ack_id, steps)):
            return True  # written from this thread: no queue, no writer thread woken
        # Looked up each time: Flask-SocketIO's test client replaces _send_packet after the app is built.
        try:
            self.server._send_packet(eio_sid, encoded.for_ack(ack_id, steps))
        except eio_exceptions.SocketIsClosedError:  # it closed since the lookup: gone, as if not found
            return False
        return True

    def received_cpu(self, sid: str) -> float | None:
        """CPU seconds ``sid``'s connection has spent reading and handling what the client sent (its acks,
        mostly): a running total (BoundedWebSocket.received_cpu), or None when unknown (not a websocket)."""
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        ws = BoundedWebSocket.registry.get(eio_sid) if eio_sid is not None else None
        return None if ws is None else ws.received_cpu

    def alive(self, sid: str) -> bool:
        """The connection is open, its Engine.IO queue is empty (what we sent has left the server) and it
        answers pings. False when that cannot be known (e.g. the test client)."""
        eio = getattr(self.server, "eio", None)
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        socket = getattr(eio, "sockets", {}).get(eio_sid) if eio_sid is not None else None
        if socket is None or socket.closing or socket.closed or not socket.queue.empty():
            return False
        ws = BoundedWebSocket.registry.get(eio_sid)
        if ws is not None and ws.unwritten:  # a frame's tail is still waiting for the client to read
            return False
        last_ping = socket.last_ping  # None between a pong and the next ping; else when the ping went out
        return last_ping is None or time.time() - last_ping < self.PONG_GRACE
