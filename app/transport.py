"""Two fixes below Socket.IO that the frame stream needs (each measured or seen failing without it)."""

from __future__ import annotations

import socket
import threading


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
