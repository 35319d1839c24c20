"""A Python viewer of a session over a real socket: python-socketio's AsyncClient, acking every frame.

Used by the tests and bench/stream.py (and handy in a notebook). Needs ``python-socketio[asyncio_client]``.

    viewer = Viewer(url)
    await viewer.connect()
    await viewer.call("play")
    frame = await viewer.wait_for(lambda v: v.frame and v.frame["step"] > 100 and v.frame)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import socketio

from .bundle import decode

SECTIONS = ("dataset", "history", "evaluation")


class Viewer:
    """Connects to the server at ``url`` and records what arrives.

    ``frame``: the latest frame's fields with its arrays decoded under ``frame["arrays"]`` ({name: ndarray});
    ``frames``: the last ``keep`` of them; ``dataset``/``history``/``evaluation``: the latest bundles, decoded;
    ``states``, ``errors``: every state and error event; ``token``: the session's token.
    ``decode=False`` keeps only the fields (cheaper, for benchmarks); ``ack_delay`` makes a slow client;
    ``on_payload(payload)`` sees every raw frame payload (for measurements). ``join``: a class's code — connect
    as its follower (``auth: {join}``; ``classes`` records the `class` events); ``auth`` replaces the auth sent.
    ``log``: every event received, raw, as (name, payload) in ``received``. ``source``: the local address to
    connect from (any 127.x.y.z on Linux: many clients, each with its own address, as on a school network);
    ``deflate``: offer permessage-deflate, as browsers do.
    """

    def __init__(self, url: str, token: str | None = None, *, headers: dict | None = None, keep: int = 200,
                 decode: bool = True, ack_delay: float = 0.0, on_payload=None, join: str | None = None,
                 auth: dict | None = None, log: bool = False, source: str | None = None, deflate: bool = False):
        self.url = url
        self.token = token
        self.auth = auth if auth is not None else {"join": join} if join else None
        self.headers = headers or {}
        self.decode = decode
        self.ack_delay = ack_delay
        self.on_payload = on_payload
        options = {"websocket_extra_options": {"compress": 15}} if deflate else {}
        if source is not None:
            import aiohttp

            options["http_session"] = lambda: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(local_addr=(source, 0)))
        self.sio = socketio.AsyncClient(reconnection=False, **options)
        self.frame: dict | None = None
        self.frames: deque = deque(maxlen=keep)
        self.frame_count = 0
        self.frame_bytes = 0
        self.frame_times: list[float] = []
        self.states: list[dict] = []
        self.errors: list[dict] = []
        self.schema: dict | None = None
        self.session: dict | None = None
        self.sections: dict[str, dict] = {}
        self.created: bool | None = None
        self.disconnected = False
        self.classes: list = []
        self.relays: list[dict] = []  # `relay` events: a session of another server process out of reach, or back
        self.received: list[tuple[str, object]] | None = [] if log else None
        self._updated = asyncio.Event()
        self.sio.on("frame", self._on_frame)
        self.sio.on("state", self._record("state", self.states))
        self.sio.on("error", self._record("error", self.errors))
        self.sio.on("schema", self._set("schema"))
        self.sio.on("session", self._on_session)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("class", self._record("class", self.classes))
        self.sio.on("relay", self._record("relay", self.relays))

    # --- connection
    async def connect(self, transports=("websocket",), wait: bool = True) -> "Viewer":
        auth = self.auth if self.auth is not None else {"token": self.token} if self.token else None
        await self.sio.connect(self.url, auth=auth, headers=self.headers, transports=list(transports),
                               wait_timeout=10)
        if wait:
            await self.wait_for(lambda v: v.states and v.frame is not None, timeout=20)
        return self

    async def disconnect(self) -> None:
        await self.sio.disconnect()
        # Engine.IO keeps its aiohttp session open when the server ended the connection first.
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    async def call(self, event: str, data=None, timeout: float = 10):
        """Emit ``event`` and return the server's acknowledgement ({ok, ...})."""
        return await self.sio.call(event, data, timeout=timeout)

    async def emit(self, event: str, data=None) -> None:
        await self.sio.emit(event, data)

    async def wait_for(self, predicate, timeout: float = 10.0):
        """Wait until ``predicate(self)`` is truthy (checked on every event) and return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s; last frame: "
                                   f"{_summary(self.frame)}; errors: {self.errors[-3:]}")
            self._updated.clear()
            try:
                await asyncio.wait_for(self._updated.wait(), min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass

    @property
    def state(self) -> dict | None:
        return self.states[-1] if self.states else None

    @property
    def classroom(self) -> dict | None:
        """The newest `class` event's payload (None before one, or after the class ended for a teacher)."""
        return self.classes[-1] if self.classes else None

    # --- handlers
    def _touch(self) -> None:
        self._updated.set()

    def _log(self, name: str, payload) -> None:
        if self.received is not None:
            self.received.append((name, payload))

    def _record(self, name: str, into: list):
        async def handler(payload=None):  # (an event sent with no data, e.g. `class` after a class ended)
            into.append(payload)
            self._log(name, payload)
            self._touch()
        return handler

    def _set(self, name: str):
        async def handler(payload):
            setattr(self, name, payload)
            self._log(name, payload)
            self._touch()
        return handler

    async def _on_session(self, payload):
        self._log("session", payload)
        self.session = payload
        self.token = payload["token"]
        self.created = payload["created"]
        self._touch()

    async def _on_disconnect(self, *args):
        self.disconnected = True
        self._touch()

    async def _on_frame(self, payload):
        self._log("frame", payload)
        self.frame_count += 1
        if self.on_payload is not None:
            self.on_payload(payload)
        self.frame_times.append(time.perf_counter())
        self.frame_bytes += len(payload["data"]) + sum(len(payload[s]["data"]) for s in SECTIONS if s in payload)
        fields = {k: v for k, v in payload.items() if k not in ("data", "arrays") and k not in SECTIONS}
        if self.decode:
            fields["arrays"] = decode(payload)
            for name in SECTIONS:
                if name in payload:
                    self.sections[name] = {**payload[name], "arrays": decode(payload[name])}
        self.frame = fields
        self.frames.append(fields)
        self._touch()
        if self.ack_delay:
            await asyncio.sleep(self.ack_delay)
        return True  # the acknowledgement: the server may send the next frame


def _summary(frame: dict | None) -> str:
    if frame is None:
        return "none"
    keys = ("step", "epoch", "status", "train_loss", "config_version", "learning_rate")
    return str({k: frame.get(k) for k in keys})
