"""Below Socket.IO: two fixes the frame stream needs (each measured or seen failing without it), and the Engine.IO
end of the hardening (app.guard is the Socket.IO end):
websocket messages bounded while they arrive (close 1009), frames that are not Engine.IO packets closing
the connection (1002) with one short log line, a client that does not read closed before its queue
fills the server, and a way for the guard to close one connection with a code."""

from __future__ import annotations

import base64
import binascii
import logging
import select
import socket
import threading
import time
import weakref

import simple_websocket
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from wsproto.events import BytesMessage, CloseConnection, TextMessage

from .controls import LIMITS

log = logging.getLogger(__name__)
PROTOCOL_ERROR, POLICY_VIOLATION, MESSAGE_TOO_BIG = 1002, 1008, 1009
MAX_UNREAD = 2 * LIMITS.message_burst  # messages received and not yet handled: more is a flood, closed at once


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


def atomic_packets(server, close=None) -> None:
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
        if isinstance(encoded, list) and BoundedWebSocket.registry.get(eio_sid) is not None:
            client = server.eio.sockets.get(eio_sid)
            if client is not None and client.upgraded:  # one queue item, written in one go (Together)
                client.send(Together(encoded))
                return
        with lock:
            for message in encoded if isinstance(encoded, list) else [encoded]:
                server.eio.send(eio_sid, message)

    def send_one(eio_sid, eio_pkt):
        with lock:
            send_eio_packet(eio_sid, eio_pkt)

    server._send_packet = send_packet
    server._send_eio_packet = send_one


class QuietLog:
    """At most ``per_minute`` lines a minute on ``logger``; the rest are counted and the count said once."""

    def __init__(self, logger: logging.Logger, per_minute: int = 10):
        self.logger, self.per_minute = logger, per_minute
        self.window, self.lines, self.dropped = 0.0, 0, 0
        self.lock = threading.Lock()

    def info(self, message: str, *args) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.window >= 60.0:
                if self.dropped:
                    self.logger.info("(%d more such lines in the last minute were not logged)", self.dropped)
                self.window, self.lines, self.dropped = now, 0, 0
            if self.lines >= self.per_minute:
                self.dropped += 1
                return
            self.lines += 1
        self.logger.info(message, *args)


def engineio_problem(message) -> str | None:
    """Why ``message`` (a websocket message) is not an Engine.IO packet engineio can decode, or None."""
    if not isinstance(message, str):
        return None  # binary: an Engine.IO MESSAGE
    if not message:
        return "an empty text message"
    kind = message[0]
    if kind == "b":
        try:
            base64.b64decode(message[1:], validate=True)
        except (binascii.Error, ValueError):
            return "bad base64 after 'b'"
        return None
    if kind not in "123456":  # 0 (OPEN) is the server's; 2 is a probe during an upgrade, 3 a pong, 6 a noop
        return f"packet type {message[:1]!r}"
    if len(message) > 1 and not message[1].isnumeric():  # Engine.IO tries it as JSON, and lets RecursionError out
        try:
            eio_packet.Packet(encoded_packet=message)
        except RecursionError:
            return "JSON nested too deep"
    return None


class Together(eio_packet.Packet):
    """A Socket.IO packet's Engine.IO messages (an event and its attachments) as ONE item of a websocket
    client's Engine.IO queue, written to the socket with one system call (BoundedWebSocket.send): per frame and
    follower, one queue put, one wake-up of its writer thread and one write instead of two of each."""

    def __init__(self, messages: list):
        super().__init__(eio_packet.MESSAGE, data=b"")  # data: only for Engine.IO's log line
        self.messages = messages

    def encode(self, b64=False):
        return self


UNWRITTEN = Together([])  # queued after write_now left bytes unwritten: the writer thread writes them (send)


class BoundedServer(simple_websocket.Server):
    """simple-websocket's server end, closing a message that announces more than ``max_message_size`` bytes as
    soon as its frame header arrives (simple-websocket counts what has come in, so it reads up to the limit)."""

    reading_cpu = 0.0  # CPU seconds its reader thread spent decoding what came in (BoundedWebSocket.received_cpu)

    def _handle_events(self):
        began = time.thread_time()
        try:
            return self._handle_bounded_events()
        finally:
            self.reading_cpu += time.thread_time() - began

    def _handle_bounded_events(self):
        keep_going = super()._handle_events()
        if keep_going and self.max_message_size and self._announced() > self.max_message_size:
            try:
                self.sock.send(self.ws.send(CloseConnection(MESSAGE_TOO_BIG, "Message is too big")))
            except Exception:  # noqa: BLE001 - the connection is going anyway
                pass
            self.event.set()
            return False
        return keep_going

    def _announced(self) -> int:
        """Bytes of the message being received: what has come in plus what the current frame still announces
        (0 when between frames, or if wsproto's decoder is not where 1.x keeps it)."""
        decoder = getattr(getattr(getattr(self.ws, "connection", None), "_proto", None), "_frame_decoder", None)
        header = getattr(decoder, "header", None)
        if header is None:
            return 0
        return self.incoming_message_len + header.payload_len - decoder.payload_consumed


class BoundedWebSocket(SimpleWebSocketWSGI):
    """Engine.IO's simple-websocket wrapper, with what its defaults leave open:

    - ``max_message_size``: simple-websocket buffers a message whole before Engine.IO compares its size with
      ``max_http_buffer_size`` (and then closes with 1000); with it (and BoundedServer), a message is refused
      as soon as its frame header announces more than the limit, or as it grows past it, with close code 1009;
    - no permessage-deflate: compressing is per connection (each client's copy of every frame deflated on its
      own, and every ack inflated), the one per-viewer cost that grows with the frame; frames are mostly
      float32 that deflate little, on a LAN where the CPU, not the bandwidth, is what runs out;
    - a frame that is not an Engine.IO packet (Engine.IO would raise out of its handler: a traceback, an HTTP
      500, and the disconnect handlers never run) closes the connection with 1002 and one short log line;
    - more than ``MAX_UNREAD`` messages received and not yet handled (simple-websocket reads ahead into an
      unbounded list) is a flood: closed with 1008 before it fills memory or the rate limiter is even asked;
    - ``shut(code)``: the guard's way to close a connection with a code, from any thread;
    - ``write_now(data)``: the frame sender writes a frame to the socket itself (one non-blocking system call)
      instead of queuing it for the connection's writer thread (a queue put, a wake-up and a thread switch per
      frame and viewer), when nothing queued is still to be written before it. What the socket does not take
      at once (a client that does not read) is ``unwritten`` and left to the writer thread, and everything
      after it is queued behind it, so neither order nor the sender's time depends on a slow client.
    """

    registry: "weakref.WeakValueDictionary[str, BoundedWebSocket]" = weakref.WeakValueDictionary()
    quiet = QuietLog(log)

    def __init__(self, handler, server, **kwargs):
        kwargs.setdefault("max_message_size", server.max_http_buffer_size)
        super().__init__(handler, server, **kwargs)
        client = getattr(handler, "__self__", None)  # engineio's Socket
        self.eio_sid = getattr(client, "sid", None)
        self.closing: tuple[int, str] | None = None
        self.handling_cpu = 0.0  # CPU seconds the handler thread spent on the messages wait() returned
        self._handling_since: float | None = None
        self.write_lock = threading.Lock()  # one writer of the socket at a time: the writer thread or write_now
        self.unwritten = b""  # the tail of a frame write_now could not write at once: written before anything else
        # Written to directly only when it was a websocket from the start: an upgrade from long-polling hands
        # some queued packets to a polling request instead of the writer, and the count would never come down.
        self.queue = getattr(client, "queue", None) if not getattr(client, "connected", True) else None
        self.count_lock = threading.Lock()
        self.queued = self.queue.qsize() if self.queue is not None else 1  # put in the queue, not yet written
        if self.queue is not None:
            put = self.queue.put

            def counted_put(item, *args, **kwargs):
                if item is not None:  # None: the writer's signal to stop, never written
                    with self.count_lock:
                        self.queued += 1
                put(item, *args, **kwargs)

            self.queue.put = counted_put

    def __call__(self, environ, start_response):
        if self.eio_sid is not None:
            BoundedWebSocket.registry[self.eio_sid] = self
        # SimpleWebSocketWSGI.__call__, with BoundedServer and without the client's offer of extensions.
        environ = {k: v for k, v in environ.items() if k != "HTTP_SEC_WEBSOCKET_EXTENSIONS"}
        self.ws = BoundedServer(environ, **self.server_args)
        ret = self.app(self)
        if self.ws.mode == "gunicorn":
            raise StopIteration()
        if self.ws.mode == "werkzeug":
            raise ConnectionError()
        return ret

    @property
    def received_cpu(self) -> float:
        """CPU seconds spent reading and handling what the client sent: its reader thread's decoding plus the
        handler thread's work on each message (from wait() returning it to the next wait(): Engine.IO, Socket.IO
        and the ack's callback). The frames' acks are most of it: a delivery cost (app.server.streaming)."""
        return self.handling_cpu + getattr(getattr(self, "ws", None), "reading_cpu", 0.0)

    def wait(self):
        if self._handling_since is not None:  # the handler thread comes back from the last message
            self.handling_cpu += time.thread_time() - self._handling_since
            self._handling_since = None
        if self.closing is not None:
            return None
        message = super().wait()
        if self.closing is not None:
            return None
        unread = len(getattr(self.ws, "input_buffer", ()))
        if unread > MAX_UNREAD:  # simple-websocket reads ahead without bound: a flood would fill memory first
            self.quiet.info("closing %s (%d): %d messages unread (a flood)", self.eio_sid, POLICY_VIOLATION, unread)
            self.shut(POLICY_VIOLATION, "message flood")
            return None
        problem = engineio_problem(message)
        if problem is not None:
            self.quiet.info("closing %s (%d): not an Engine.IO packet (%s)", self.eio_sid, PROTOCOL_ERROR, problem)
            self.shut(PROTOCOL_ERROR, "not an Engine.IO packet")
            return None
        self._handling_since = time.thread_time()
        return message

    def send(self, message):
        """The writer thread's write of one queued Engine.IO packet (after what write_now left unwritten)."""
        try:
            with self.write_lock:
                if self.unwritten:
                    self.ws.sock.sendall(self.unwritten)
                    self.unwritten = b""
                if message is UNWRITTEN:
                    return None
                if not isinstance(message, Together):
                    return super().send(message)
                ws = self.ws
                if not ws.connected:
                    raise OSError("the websocket is closed")  # what SimpleWebSocketWSGI.send raises: the writer stops
                # Engine.IO's text MESSAGE is "4" + the text; a binary one is the bytes as they are.
                frames = b"".join(ws.ws.send(TextMessage(data="4" + m) if isinstance(m, str) else
                                             BytesMessage(data=m)) for m in message.messages)
                ws.sock.sendall(frames)
        finally:
            if message != "3probe":  # the upgrade's answer, written before the writer starts, was never queued
                with self.count_lock:
                    self.queued -= 1

    def write_now(self, data: bytes) -> bool:
        """Write ``data`` (whole websocket frames) from the calling thread without ever waiting on the client:
        False (nothing written: queue it instead) if packets queued before it are still to be written, another
        thread is writing, or the connection is closing. What the socket does not take at once is left for
        the writer thread (``unwritten``), ahead of anything queued later."""
        ws = getattr(self, "ws", None)
        if self.closing is not None or ws is None or not ws.connected or self.queue is None:
            return False
        if not self.write_lock.acquire(blocking=False):
            return False
        try:
            if self.queued or self.unwritten:
                return False
            sock = ws.sock
            if sock.gettimeout() is not None and not select.select([], [sock], [], 0)[1]:
                return False  # a socket with a timeout waits for room before it sends, even with MSG_DONTWAIT
            try:
                sent = sock.send(data, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return False  # gone: the queue's path finds out and ends the connection as it always does
            if sent < len(data):
                self.unwritten = data[sent:]
                self.queue.put(UNWRITTEN)  # wakes the writer thread, which writes it first
            return True
        finally:
            self.write_lock.release()

    def close(self):
        if self.closing is None:
            try:
                super().close()
            except Exception:  # noqa: BLE001 - simple-websocket already closing it (a 1009): nothing to add
                pass

    def shut(self, code: int, reason: str) -> None:
        """Send a close frame with ``code`` (if the client's socket will take it now) and end the connection:
        Engine.IO's reader sees it closed, its writer's send fails, and the disconnect handlers run."""
        if self.closing is not None:
            return
        self.closing = (code, reason)
        ws = getattr(self, "ws", None)
        if ws is None:
            return
        if ws.connected:
            ws.connected = False
            try:
                frame = ws.ws.send(CloseConnection(code, reason))
                ws.sock.send(frame, getattr(socket, "MSG_DONTWAIT", 0))  # never block on a client that does not read
            except Exception:  # noqa: BLE001 - the connection is going anyway
                pass
        try:
            ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        ws.event.set()  # wake a reader waiting for a message


def bounded_websockets(eio_server) -> None:
    """Serve websockets through ``BoundedWebSocket`` (threading mode's simple-websocket driver)."""
    drivers = getattr(eio_server, "_async", None)
    if drivers and drivers.get("websocket") is SimpleWebSocketWSGI:
        eio_server._async = {**drivers, "websocket": BoundedWebSocket}


def closer(eio_server):
    """``close(eio_sid, code, reason)`` for the guard: a websocket gets the close code; a long-polling client
    its Engine.IO CLOSE packet. Either way the disconnect handlers run."""

    def close(eio_sid: str, code: int, reason: str) -> None:
        BoundedWebSocket.quiet.info("closing %s (%d): %s", eio_sid, code, reason)
        ws = BoundedWebSocket.registry.get(eio_sid)
        if ws is not None:
            ws.shut(code, reason)
            return
        client = getattr(eio_server, "sockets", {}).get(eio_sid)
        if client is not None and not client.closed:
            client.close(wait=False, abort=False, reason=eio_server.reason.SERVER_DISCONNECT)

    return close


def bounded_polling(eio_server) -> None:
    """A long-polling POST whose body is not Engine.IO packets: 400 and the connection closed, one short line
    (engineio would log a traceback and answer 200)."""
    on_connect = eio_server.handlers.get("connect")

    def connect(eio_sid, environ, *args):
        client = eio_server.sockets.get(eio_sid)
        if client is not None:
            post = client.handle_post_request

            def guarded_post(environ):
                try:
                    return post(environ)
                except eio_exceptions.EngineIOError:
                    raise
                except (ValueError, TypeError, IndexError, UnicodeDecodeError, RecursionError) as error:
                    BoundedWebSocket.quiet.info("closing %s: a long-polling body that is not Engine.IO packets "
                                                "(%s)", eio_sid, type(error).__name__)
                    client.close(wait=False, abort=True, reason=eio_server.reason.TRANSPORT_ERROR)
                    raise eio_exceptions.ContentTooLongError() from None  # an EngineIOError: HTTP 400

            client.handle_post_request = guarded_post
        return on_connect(eio_sid, environ, *args) if on_connect else True

    eio_server.on("connect", connect)
