"""One server process's link to Redis: a listener thread (its inbox and the frame channels it watches), a sender
thread (messages in order, frames latest-wins), and requests with a reply and a timeout.

Nothing here blocks a caller on the network: ``send`` and ``offer_frame`` only queue, and what cannot be
published (Redis is down) is dropped — the next state or frame replaces it. While Redis is unreachable the
listener retries every ``RETRY`` s and says so through ``on_status(False)``; back, it subscribes again and calls
``on_status(True)``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from concurrent.futures import Future, TimeoutError as FutureTimeout

import redis

from . import wire

log = logging.getLogger(__name__)
RETRY = 0.5           # s between two attempts to reach Redis again
MAX_QUEUED = 10_000   # messages waiting to be published (beyond: the oldest are dropped)
REQUEST_TIMEOUT = 10.0  # s an edge waits for the owner's reply to a control or a forwarded request


class Unreachable(Exception):
    """Redis does not answer (at start-up: the server stops with one line)."""


class Link:
    """``on_message(channel, message)`` runs on the listener thread for every message but replies;
    ``on_status(up)`` when Redis goes away or comes back."""

    def __init__(self, url: str, worker: str, on_message, on_status):
        self.url, self.worker = url, worker
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                          health_check_interval=2, retry_on_timeout=False)
        self.on_message, self.on_status = on_message, on_status
        self.inbox = wire.inbox(worker)
        self.up = True
        self._queue: deque = deque(maxlen=MAX_QUEUED)   # (channel, bytes) in order
        self._frames: dict[str, object] = {}             # channel → a callable giving the bytes (latest wins)
        self._wake = threading.Event()
        self._channels: set[str] = set()                 # frame channels to listen on
        self._channels_changed = threading.Event()
        self._replies: dict[int, Future] = {}
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def check(self) -> None:
        """Raise Unreachable unless Redis answers now."""
        try:
            self.redis.ping()
        except (redis.RedisError, OSError) as error:
            raise Unreachable(str(error) or type(error).__name__) from None

    def start(self) -> "Link":
        for target, name in ((self._listen, "nnplayground-redis-in"), (self._publish, "nnplayground-redis-out")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=3)
        self.redis.close()

    # --- out
    def send(self, channel: str, message: dict) -> None:
        """Publish ``message`` on ``channel`` after everything sent before it (never waits; dropped if Redis is
        down)."""
        self._queue.append((channel, wire.pack(message)))
        self._wake.set()

    def offer_frame(self, channel: str, build) -> None:
        """Publish ``build()`` on ``channel`` when the sender gets to it; a newer offer replaces an unsent one."""
        self._frames[channel] = build
        self._wake.set()

    def request(self, worker: str, message: dict, timeout: float = 5.0):
        """Send ``message`` to ``worker``'s inbox and wait for its reply's ``result``. Raises TimeoutError."""
        if not self.up:
            raise TimeoutError("Redis is unreachable")
        rid = next(self._ids)
        future: Future = Future()
        self._replies[rid] = future
        try:
            self.send(wire.inbox(worker), {**message, "rid": rid, "from": self.worker})
            return future.result(timeout)
        except FutureTimeout:
            raise TimeoutError(f"no reply from process {worker} within {timeout:g} s") from None
        finally:
            self._replies.pop(rid, None)

    def reply(self, request: dict, result) -> None:
        self.send(wire.inbox(request["from"]), {"op": "reply", "rid": request["rid"], "result": result})

    def _publish(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            while self._queue or self._frames:
                if self._queue:
                    channel, data = self._queue.popleft()
                else:
                    channel = next(iter(self._frames))
                    try:
                        data = self._frames.pop(channel)()
                    except Exception:  # noqa: BLE001 - a frame that cannot be packed: the next one will be
                        log.exception("packing a frame for %s failed", channel)
                        continue
                if data is None:
                    continue
                try:
                    self.redis.publish(channel, data)
                except (redis.RedisError, OSError):
                    pass  # down: the listener notices and says so; what could not go is dropped

    # --- in
    def watch(self, channel: str) -> None:
        self._channels.add(channel)
        self._channels_changed.set()

    def unwatch(self, channel: str) -> None:
        self._channels.discard(channel)
        self._channels_changed.set()

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                subscribed = set(self._channels)
                pubsub.subscribe(self.inbox, *subscribed)
                self._status(True)
                while not self._stop.is_set():
                    if self._channels_changed.is_set():
                        self._channels_changed.clear()
                        wanted = set(self._channels)
                        if wanted - subscribed:
                            pubsub.subscribe(*(wanted - subscribed))
                        if subscribed - wanted:
                            pubsub.unsubscribe(*(subscribed - wanted))
                        subscribed = wanted
                    message = pubsub.get_message(timeout=0.05)
                    if message is not None and message.get("type") == "message":
                        self._deliver(message["channel"].decode(), message["data"])
            except (redis.RedisError, OSError):
                self._status(False)
                self._stop.wait(RETRY)
            finally:
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001 - a dead connection may not close cleanly
                    pass

    def _deliver(self, channel: str, data: bytes) -> None:
        try:
            message = wire.unpack(data)
        except Exception:  # noqa: BLE001 - not one of ours
            log.warning("an unreadable message on %s was ignored", channel)
            return
        if channel == self.inbox and message.get("op") == "reply":
            future = self._replies.get(message.get("rid"))
            if future is not None and not future.done():
                future.set_result(message.get("result"))
            return
        try:
            self.on_message(channel, message)
        except Exception:  # noqa: BLE001 - one bad message must not stop the listener
            log.exception("handling a message on %s failed", channel)

    def _status(self, up: bool) -> None:
        if up == self.up:
            return
        self.up = up
        if not up:
            log.warning("Redis at %s is unreachable: sessions keep training here; viewers in other processes "
                        "wait until it is back", self.url)
            for future in list(self._replies.values()):
                if not future.done():
                    future.set_exception(TimeoutError("Redis is unreachable"))
        else:
            log.warning("Redis is back: relaying again")
        try:
            self.on_status(up)
        except Exception:  # noqa: BLE001
            log.exception("on_status failed")
