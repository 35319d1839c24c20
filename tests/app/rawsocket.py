"""A raw Engine.IO 4 / Socket.IO 5 websocket client that sends exactly the bytes it is given.

python-socketio's client cannot send a malformed packet; this one can. A thread reads everything the server
sends: it answers Engine.IO pings, reassembles binary events, acks frames (unless ``ack_frames=False``) and
records the rest; ``wait_for(predicate)`` waits on what it recorded.

    raw = RawSocket(live.url)                 # Engine.IO open, then "40" (CONNECT), until `session` arrives
    raw.send('42["set",{"noise":0.1}]')       # any text or bytes, as one websocket message
    raw.wait_for(lambda r: r.errors)
"""

from __future__ import annotations

import json
import threading
import time

import simple_websocket
from socketio import packet as sio_packet
from wsproto.events import TextMessage
from wsproto.utilities import LocalProtocolError


class _Client(simple_websocket.Client):
    def handshake(self):
        super().handshake()
        # simple-websocket leaves what came in the same read as the handshake's response (often Engine.IO's
        # OPEN) unprocessed until the next read, which may be the server's ping 25 s later.
        self.connected = self._handle_events()


class RawSocket:
    def __init__(self, url: str, token: str | None = None, *, headers: dict | None = None, connect: bool = True,
                 ack_frames: bool = True, read: bool = True, timeout: float = 10.0):
        target = url.replace("http://", "ws://", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = _Client.connect(target, headers=headers)
        self.ack_frames = ack_frames
        self.events: list[tuple[str, list]] = []  # (name, args) of every event but frames
        self.acks: dict[int, list] = {}           # ack id → the server's reply
        self.frames = 0
        self.frame_steps: list[int] = []
        self.close_code: int | None = None
        self._send_lock = threading.Lock()
        self._changed = threading.Condition()
        self._binary: sio_packet.Packet | None = None
        opened = self.ws.receive(timeout)
        assert opened and opened[0] == "0", opened
        self.handshake = json.loads(opened[1:])
        self._reader = threading.Thread(target=self._read, name="rawsocket", daemon=True)
        if read:
            self._reader.start()
        if connect:
            self.send("40" + (json.dumps({"token": token}) if token else ""))
            self.wait_for(lambda r: r.named("session"), timeout)

    # --- sending
    def send(self, message) -> bool:
        """One websocket message, exactly ``message`` (str: text, bytes: binary). False if the socket is closed."""
        with self._send_lock:
            try:
                self.ws.send(message)
                return True
            except (simple_websocket.ConnectionClosed, OSError, LocalProtocolError):  # closing or closed
                return False

    def send_many(self, messages) -> bool:
        """Many text messages written to the socket at once (a flood that no client-side slowness can pace)."""
        with self._send_lock:
            try:
                frames = b"".join(self.ws.ws.send(TextMessage(data=m)) for m in messages)
                self.ws.sock.sendall(frames)
                return True
            except (OSError, LocalProtocolError):
                return False

    def emit(self, event: str, payload=None, ack_id: int | None = None) -> bool:
        data = [event] if payload is None else [event, payload]
        return self.send(f"42{'' if ack_id is None else ack_id}{json.dumps(data)}")

    def close(self) -> None:
        with self._send_lock:
            try:
                self.ws.close()
            except (simple_websocket.ConnectionClosed, OSError, LocalProtocolError):
                pass

    # --- what arrived
    def named(self, name: str) -> list:
        return [args for event, args in self.events if event == name]

    @property
    def errors(self) -> list[dict]:
        return [args[0] for args in self.named("error")]

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def wait_for(self, predicate, timeout: float = 10.0):
        """``predicate(self)`` once it is truthy; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate(self)
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; events {[e for e, _ in self.events]}, frames {self.frames}, "
                                         f"close {self.close_code}")
                self._changed.wait(min(left, 0.1))

    # --- the reader thread
    def _read(self) -> None:
        while True:
            try:
                message = self.ws.receive()
            except simple_websocket.ConnectionClosed as closed:
                self._record(lambda: setattr(self, "close_code", int(closed.reason or 1005)))
                return
            if message is None:
                continue
            self._record(lambda: self._handle(message))

    def _record(self, change) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def _handle(self, message) -> None:
        if self._binary is not None:
            if self._binary.add_attachment(message):
                packet, self._binary = self._binary, None
                self._packet(packet)
            return
        if message == "2":
            self.send("3")  # Engine.IO ping → pong
        elif message.startswith("1"):
            self.close_code = self.close_code or 1000
        elif message.startswith("4"):
            packet = sio_packet.Packet(encoded_packet=message[1:])
            if packet.attachment_count:
                self._binary = packet
            else:
                self._packet(packet)

    def _packet(self, packet) -> None:
        if packet.packet_type in (sio_packet.ACK, sio_packet.BINARY_ACK):
            self.acks[packet.id] = packet.data
        elif packet.packet_type in (sio_packet.EVENT, sio_packet.BINARY_EVENT):
            name, *args = packet.data
            if name == "frame":
                self.frames += 1
                self.frame_steps.append(args[0].get("step", -1))
                if self.ack_frames and packet.id is not None:
                    self.send(f"43{packet.id}[]")
            else:
                self.events.append((name, args))
        elif packet.packet_type == sio_packet.DISCONNECT:
            self.events.append(("disconnect", []))
        elif packet.packet_type == sio_packet.CONNECT_ERROR:  # a CONNECT to a namespace the server has not
            self.events.append(("connect_error", [packet.data]))
