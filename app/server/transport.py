"""Below Socket.IO: two fixes the frame stream needs (each measured or seen failing without it), encoding a
frame once for every client, and an ``error`` for packets python-socketio cannot decode."""

from __future__ import annotations

import logging
import socket
import threading
import time


def no_delay(wsgi_app):
    """WSGI middleware turning off Nagle's algorithm on each connection. A frame is two websocket writes
    (JSON header, binary attachment); Nagle holds the second until the client's delayed ACK, ~40 ms later,
    which capped a client at ~20 frames/s on loopback."""

    def middleware(environ, start_response):
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not TCP (a Unix socket)
                pass
        return wsgi_app(environ, start_response)

    return middleware


def atomic_packets(server) -> None:
    """Make each Socket.IO packet's Engine.IO messages go out together.

    A binary event is a JSON header message followed by its attachments; python-socketio sends them one by
    one, so two threads emitting to one client (the scheduler's frame, a handler's ``state``) can interleave
    them and the client misparses the stream (python-socketio issue #403). ``_send_packet`` (emits with an
    ack: our frames) gets the same body with its sends under one lock, and ``_send_eio_packet`` (emits
    without an ack: state, error) takes the lock too. The sends only queue, so the lock is held briefly.
    """
    lock = threading.Lock()
    send_eio_packet = server._send_eio_packet

    def send_packet(eio_sid, pkt):
        encoded = pkt.encode()
        with lock:
            for message in encoded if isinstance(encoded, list) else [encoded]:
                server.eio.send(eio_sid, message)

    def send_one(eio_sid, eio_pkt):
        with lock:
            send_eio_packet(eio_sid, eio_pkt)

    server._send_packet = send_packet
    server._send_eio_packet = send_one


class Encoded:
    """One event encoded once (JSON text and binary attachments) for any number of clients.

    Socket.IO v5 writes an event that wants an ack as ``<type>[<n>-]<ack id><JSON>`` followed by the ``n``
    binary attachments: only the ack id differs from client to client, so ``for_ack(id)`` splices it in
    instead of encoding the payload again (``json.dumps`` of a frame's header is the costly part)."""

    __slots__ = ("prefix", "body", "attachments", "size")

    def __init__(self, server, event: str, payload, namespace: str = "/"):
        from socketio import packet

        encoded = server.packet_class(packet.EVENT, namespace=namespace, data=[event, payload]).encode()
        head, *self.attachments = encoded if isinstance(encoded, list) else [encoded]
        cut = head.index("[")  # the JSON array starts the data; type, count and namespace come before it
        self.prefix, self.body = head[:cut], head[cut:]
        self.size = len(self.body) + sum(len(a) for a in self.attachments)

    def for_ack(self, ack_id: int) -> "_Packet":
        return _Packet([f"{self.prefix}{ack_id}{self.body}", *self.attachments])


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

    def send(self, sid: str, encoded: Encoded, callback) -> bool:
        """Queue ``encoded`` for ``sid``; ``callback()`` runs when it acks. False if ``sid`` is gone."""
        manager = self.server.manager
        eio_sid = manager.eio_sid_from_sid(sid, self.namespace)
        if eio_sid is None:
            return False
        ack_id = manager._generate_ack_id(sid, lambda *_: callback())
        # Looked up each time: Flask-SocketIO's test client replaces _send_packet after the app is built.
        self.server._send_packet(eio_sid, encoded.for_ack(ack_id))
        return True

    def alive(self, sid: str) -> bool:
        """The connection is open, its Engine.IO queue is empty (what we sent has left the server) and it
        answers pings. False when that cannot be known (e.g. the test client)."""
        eio = getattr(self.server, "eio", None)
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        socket = getattr(eio, "sockets", {}).get(eio_sid) if eio_sid is not None else None
        if socket is None or socket.closing or socket.closed or not socket.queue.empty():
            return False
        last_ping = socket.last_ping  # None between a pong and the next ping; else when the ping went out
        return last_ping is None or time.time() - last_ping < self.PONG_GRACE


UNPARSEABLE = {"event": "", "field": "", "received": "<unparseable packet>",
               "allowed": "a Socket.IO event packet with a JSON payload"}


def report_bad_packets(server, report, namespace: str = "/") -> None:
    """Answer a packet python-socketio cannot decode (not JSON, nested too deep, a stray attachment...) by
    calling ``report(sid, wire_error)`` instead of letting Engine.IO log a traceback and drop it silently.

    Handlers run in their own threads (``async_handlers``), so an exception here is the packet's decoding.
    """
    handle = getattr(server, "_handle_eio_message", None)
    if handle is None or not hasattr(server, "eio"):  # not a python-socketio Server (a test's stand-in)
        return
    log = logging.getLogger(__name__)

    def guarded(eio_sid, data):
        try:
            return handle(eio_sid, data)
        except Exception as error:  # noqa: BLE001 - anything decoding raises means a malformed packet
            server._binary_packet.pop(eio_sid, None)  # a half-received binary event must not linger
            reason = type(error).__name__
            log.info("unparseable packet from %s: %s", eio_sid, reason)
            sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None:
                report(sid, {**UNPARSEABLE, "message": f"the server could not decode a packet ({reason}: "
                                                       f"{str(error)[:120]}); it was ignored"})

    server._handle_eio_message = guarded  # what the test client calls
    server.eio.on("message", guarded)     # what Engine.IO calls
