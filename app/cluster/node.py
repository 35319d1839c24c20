"""A server process in a cluster (docs/deploy.md): its sessions announced in the Redis directory, clients whose
session lives in another process served through a pipe to that process, and its own sessions served to clients
of other processes.

Two roles, both in every process:

- **edge** (the process a browser is connected to): a connection whose token or class code belongs to another
  process (the directory says which) is *piped*: its connect and every control are sent to the owner as a
  request and answered with the owner's reply (an ack, or the usual `error`); what the owner emits to it comes
  back and is emitted here; its frames arrive on the session's frame channel and go to the local viewers of that
  session through this process's FrameStream (latest-frame-wins per viewer, encoded once per frame here).
- **owner** (the process where the session lives): a piped connection is a *virtual client* of python-socketio
  here (its Engine.IO sid starts with ``~``): the SAME handlers run for it (app.server.events: token checks,
  the follower's refusal, validation) in a request context built from the browser's address and Host, rooms and
  roles work as for a local client, and ClusterClientManager sends what is emitted to it back to its edge. Its
  frames: one publish per frame per session (RelayStream), only while another process has viewers of it.

The control token never leaves its session's process in anything relayed to a client: the directory and the
frame channels name a session by sha256 of its token (wire.public_id), and a follower is sent what a local
follower is sent.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from socketio import packet as sio_packet
from werkzeug.test import EnvironBuilder

from app.server.bundle import Frame
from app.server.errors import ControlError
from app.sessions.classroom import normalize_code

from . import wire
from .frames import RelayStream
from .link import REQUEST_TIMEOUT, Link
from .manager import ClusterClientManager

log = logging.getLogger(__name__)
VIRTUAL = "~"           # the first character of a virtual client's Engine.IO sid
RECONNECTING = ("The class server is reconnecting (its link to the other server processes, Redis, is down); "
                "training goes on there. Try again in a moment.")
AWAY = ("The link to the server process that runs this session (Redis) is down: training goes on there, and this "
        "page resumes by itself when the link is back.")


class Remote:
    """A virtual client (owner side): the edge process and the browser connection's sid there."""

    __slots__ = ("worker", "sid", "connecting")

    def __init__(self, worker: str, sid: str):
        self.worker, self.sid, self.connecting = worker, sid, True


class Node:
    """This process in the cluster: ``Node(config)`` checks Redis (link.Unreachable if it does not answer);
    ``attach`` wires it into the app once the Socket.IO server and the session manager exist."""

    def __init__(self, config: dict):
        self.config = config
        self.worker = config.get("WORKER_ID") or secrets.token_hex(4)
        self.link = Link(config["REDIS_URL"], self.worker, self._on_message, self._on_status)
        self.link.check()
        self.virtual: dict[str, Remote] = {}      # owner side: Engine.IO sid → the remote client
        self.pipes: dict[str, str] = {}           # edge side: local sid → the owner process
        self.watching: dict[str, set[str]] = {}   # edge side: session id → local sids shown it
        self.watched_by: dict[str, str] = {}      # edge side: local sid → the session id it is shown
        self.sections: dict[str, dict] = {}       # edge side: session id → {bundle name: (version, bundle)}
        self.lock = threading.RLock()
        self.executor = ThreadPoolExecutor(8, thread_name_prefix="nnplayground-relay")
        self._stop = threading.Event()
        self._missing: dict[str, float] = {}      # a peer process whose heartbeat is missing → since when
        self._peers: list[str] = []               # the other processes, as the last heartbeat found them
        self.open_connections = 0                 # sockets this process accepted and has not closed (take_turns)
        self._load_lock = threading.Lock()

    def client_manager(self) -> ClusterClientManager:
        return ClusterClientManager(self)

    def attach(self, app, server, manager, classrooms) -> None:
        self.app, self.server, self.manager, self.classrooms = app, server, manager, classrooms
        manager.stream = RelayStream(manager.stream, self)
        send_packet, send_eio_packet = server._send_packet, server._send_eio_packet

        def guarded_send_packet(eio_sid, pkt):
            remote = self.virtual.get(eio_sid)
            if remote is None:
                return send_packet(eio_sid, pkt)
            if pkt.packet_type == sio_packet.DISCONNECT and not remote.connecting:  # the owner ends it
                self.link.send(wire.inbox(remote.worker), {"op": "disconnect", "to": remote.sid})
            return None  # CONNECT, acks: the edge answers its client itself

        server._send_packet = guarded_send_packet
        server._send_eio_packet = lambda eio_sid, pkt: (None if eio_sid in self.virtual
                                                        else send_eio_packet(eio_sid, pkt))
        from .http import install

        install(app)
        self.link.start()
        threading.Thread(target=self._heartbeat, name="nnplayground-heartbeat", daemon=True).start()

    def shutdown(self) -> None:
        self._stop.set()
        self.link.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- lookups
    def remote_of(self, sid: str) -> Remote | None:
        """The virtual client behind the Socket.IO ``sid`` (owner side), or None for a local one."""
        eio_sid = self.server.manager.eio_sid_from_sid(sid, "/")
        return self.virtual.get(eio_sid) if isinstance(eio_sid, str) and eio_sid[:1] == VIRTUAL else None

    def busier_than_peers(self) -> bool:
        """Whether this process has more connections open than another one, as they announce them in Redis at
        each accept and close (False when Redis cannot say)."""
        if not self._peers:
            return False
        try:
            loads = [int(value) for value in self.link.redis.mget([wire.load_key(p) for p in self._peers]) if value]
        except Exception:  # noqa: BLE001 - redis.RedisError, OSError: take the connection
            return False
        return bool(loads) and self.open_connections > min(loads)

    def connections_changed(self, change: int) -> None:
        """A connection accepted (+1) or closed (−1): the count, announced at once (take_turns)."""
        with self._load_lock:
            self.open_connections += change
            count = self.open_connections
        try:
            self.link.redis.set(wire.load_key(self.worker), count, ex=wire.TTL)
        except Exception:  # noqa: BLE001 - redis.RedisError, OSError: the heartbeat reports Redis away
            pass

    def owner_elsewhere(self, auth) -> str | None:
        """The process that holds what ``auth`` asks for (a session's token, a class's code), if another one.
        Raises TimeoutError when Redis cannot be asked."""
        if not isinstance(auth, dict):
            return None
        key = None
        if "join" in auth:
            code = normalize_code(auth.get("join"))
            if code and self.classrooms.by_code.get(code) is None:
                key = wire.class_key(code)
        elif isinstance(auth.get("token"), str) and self.manager.get(auth["token"]) is None:
            key = wire.session_key(wire.public_id(auth["token"]))
        if key is None:
            return None
        try:
            value = self.link.redis.get(key)
        except Exception as error:  # noqa: BLE001 - redis.RedisError, OSError
            raise TimeoutError(str(error)) from None
        if value is None:
            return None
        worker = json.loads(value)["worker"]
        return worker if worker != self.worker else None

    def remote_class(self, code) -> dict | None:
        """{code, join_url} of a class held by another process, or None (also when Redis cannot be asked)."""
        code = normalize_code(code)
        if not code:
            return None
        try:
            value = self.link.redis.get(wire.class_key(code))
        except Exception:  # noqa: BLE001
            return None
        entry = json.loads(value) if value else None
        return entry if entry and entry["worker"] != self.worker else None

    # --- edge side: a browser connection piped to the owner
    def route_connect(self, sid: str, auth, request) -> bool | None:
        """A new connection's ``auth`` names a session or class of another process: piped there (True, or
        False when refused). None: served here, as without a cluster."""
        if self.remote_of(sid) is not None:  # a virtual client is served where it arrives, never sent on
            return None
        try:
            owner = self.owner_elsewhere(auth)
        except TimeoutError:
            self.server.emit("error", ControlError("", "connect", "a moment's patience", RECONNECTING,
                                                   event="connect").to_wire(), to=sid, namespace="/")
            return False
        return None if owner is None else self.pipe_connect(sid, owner, auth, request)

    def pipe_connect(self, sid: str, owner: str, auth, request) -> bool:
        with self.lock:
            self.pipes[sid] = owner
        environ = {"host": request.host, "scheme": request.scheme, "remote_addr": request.remote_addr or ""}
        try:
            result = self.link.request(owner, {"op": "connect", "sid": sid, "auth": auth, "environ": environ},
                                       REQUEST_TIMEOUT)
        except TimeoutError:
            self.server.emit("error", ControlError("", "connect", "a moment's patience", RECONNECTING,
                                                   event="connect").to_wire(), to=sid, namespace="/")
            result = {"ok": False}
        if not result.get("ok"):
            self.pipe_left(sid, tell_owner=False)
            return False
        return True

    def piped(self, sid: str) -> bool:
        return sid in self.pipes

    def pipe_event(self, sid: str, event: str, args: tuple):
        """A piped connection's control, run by the owner: its reply (the ack), or the `error` sent here."""
        owner = self.pipes.get(sid)
        if owner is None:  # closed meanwhile
            return None
        try:
            result = self.link.request(owner, {"op": "event", "sid": sid, "event": event, "args": list(args)},
                                       REQUEST_TIMEOUT)
        except TimeoutError:
            wire_error = ControlError("", event, "a moment's patience", RECONNECTING, event=event).to_wire()
            self.server.emit("error", wire_error, to=sid, namespace="/")
            return {"ok": False, "error": wire_error}
        return result.get("result")

    def pipe_left(self, sid: str, tell_owner: bool = True) -> None:
        with self.lock:
            owner = self.pipes.pop(sid, None)
        self._unwatch(sid)
        if owner is not None and tell_owner:
            self.link.send(wire.inbox(owner), {"op": "left", "sid": sid, "from": self.worker})

    def _watch(self, sid: str, session_id: str, fps) -> None:
        if sid not in self.pipes:
            return
        self._unwatch(sid)
        with self.lock:
            self.watching.setdefault(session_id, set()).add(sid)
            self.watched_by[sid] = session_id
        self.link.watch(wire.frames(session_id))
        self.manager.stream.open(sid, fps)
        self.link.send(wire.inbox(self.pipes[sid]), {"op": "sections", "session": session_id})

    def _unwatch(self, sid: str) -> None:
        with self.lock:
            session_id = self.watched_by.pop(sid, None)
            if session_id is None:
                return
            viewers = self.watching.get(session_id, set())
            viewers.discard(sid)
            if not viewers:
                self.watching.pop(session_id, None)
                self.sections.pop(session_id, None)
                self.link.unwatch(wire.frames(session_id))
        self.manager.stream.close(sid)

    def _frame(self, session_id: str, message: dict) -> None:
        with self.lock:
            viewers = list(self.watching.get(session_id, ()))
            cache = self.sections.setdefault(session_id, {})
            for name, (version, bundle) in message["sections"].items():
                cache[name] = (tuple(version) if isinstance(version, list) else version, bundle)
            sections = dict(cache)
        if viewers:
            self.manager.stream.publish(viewers, Frame(message["fields"], sections, 0))

    # --- owner side: a virtual client
    def _connect(self, request: dict) -> dict:
        eio_sid = f"{VIRTUAL}{request['from']}~{request['sid']}"
        remote = self.virtual[eio_sid] = Remote(request["from"], request["sid"])
        given = request.get("environ") or {}
        environ = EnvironBuilder(path="/socket.io/", base_url=f"{given.get('scheme', 'http')}://"
                                 f"{given.get('host', 'localhost')}",
                                 environ_overrides={"REMOTE_ADDR": given.get("remote_addr", "")}).get_environ()
        environ["flask.app"] = self.app
        self.server._handle_eio_connect(eio_sid, environ)
        self.server._handle_connect(eio_sid, "/", request.get("auth"))
        sid = self.server.manager.sid_from_eio_sid(eio_sid, "/")
        ok = sid is not None and self.server.manager.is_connected(sid, "/")
        remote.connecting = False
        if not ok:
            self.virtual.pop(eio_sid, None)
            self.server.environ.pop(eio_sid, None)
        return {"ok": ok}

    def _event(self, request: dict) -> dict:
        eio_sid = f"{VIRTUAL}{request['from']}~{request['sid']}"
        sid = self.server.manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None or not self.server.manager.is_connected(sid, "/"):
            wire_error = ControlError("", request.get("event"), "a connection to a session",
                                      "this connection's session has ended; reload the page",
                                      event=request.get("event", "")).to_wire()
            return {"result": {"ok": False, "error": wire_error}}
        result = self.server._trigger_event(request["event"], "/", sid, *request.get("args", ()))
        return {"result": None if result is self.server.not_handled else result}

    def _left(self, request: dict) -> None:
        eio_sid = f"{VIRTUAL}{request['from']}~{request['sid']}"
        if eio_sid in self.virtual:
            self.server._handle_eio_disconnect(eio_sid, self.server.reason.CLIENT_DISCONNECT)
            self.virtual.pop(eio_sid, None)

    def _resync(self, request: dict) -> None:
        """An edge is back after Redis was away: what its clients may have missed (the state, the class)."""
        for remote_sid in request.get("sids", ()):
            sid = self.server.manager.sid_from_eio_sid(f"{VIRTUAL}{request['from']}~{remote_sid}", "/")
            connection = self.manager.connection(sid) if sid else None
            if connection is None:
                continue
            session = connection.session
            with session.lock:
                state = session.state()
            self.server.emit("state", state, to=sid, namespace="/")
            relay = self.manager.stream.relay_of(sid)
            if relay is not None:
                relay.resend()
        self.manager.scheduler.wake()

    # --- messages
    def _on_message(self, channel: str, message: dict) -> None:
        if channel != self.link.inbox:  # a frame channel
            return self._frame(channel.rsplit(":", 1)[1], message)
        op = message.get("op")
        if op == "emit":
            data = tuple(message["data"]) if message.get("multi") else message["data"]
            sids = [sid for sid in message["to"] if sid in self.pipes]
            if sids:
                self.server.emit(message["event"], data, to=sids, namespace="/")
        elif op == "watch":
            self._watch(message["to"], message["session"], message.get("fps"))
        elif op == "disconnect":
            if message["to"] in self.pipes:
                self.server.disconnect(message["to"], namespace="/")
        elif op == "sections":
            for relay in list(self.manager.stream.relays.values()):
                if relay.session_id == message["session"]:
                    relay.resend()
                    self.manager.scheduler.wake()
        elif op in ("connect", "event", "left", "resync", "http"):
            self.executor.submit(self._serve, message)

    def _serve(self, request: dict) -> None:
        op = request["op"]
        try:
            if op == "connect":
                self.link.reply(request, self._connect(request))
            elif op == "event":
                self.link.reply(request, self._event(request))
            elif op == "left":
                self._left(request)
            elif op == "resync":
                self._resync(request)
            elif op == "http":
                from .http import serve_forwarded

                self.link.reply(request, serve_forwarded(self.app, request))
        except Exception:  # noqa: BLE001 - a bug: the edge times out with a clear error; this process goes on
            log.exception("serving %s from process %s failed", op, request.get("from"))

    def _on_status(self, up: bool) -> None:
        """Redis went away or came back: tell the piped clients; back, catch up on what was missed."""
        with self.lock:
            sids = list(self.pipes)
            owners: dict[str, list[str]] = {}
            for sid in sids:
                owners.setdefault(self.pipes[sid], []).append(sid)
            watched = list(self.watching)
        if sids:
            self.server.emit("relay", {"state": "live" if up else "reconnecting",
                                       "message": "" if up else AWAY}, to=sids, namespace="/")
        if up:
            for owner, piped in owners.items():
                self.link.send(wire.inbox(owner), {"op": "resync", "sids": piped, "from": self.worker})
            for session_id in watched:
                for owner in set(owners):
                    self.link.send(wire.inbox(owner), {"op": "sections", "session": session_id})
            self._announce()

    # --- the directory
    def _heartbeat(self) -> None:
        known, last = None, 0.0
        while not self._stop.wait(0.1):
            now_known = (frozenset(self.manager.sessions), frozenset(self.classrooms.by_code))
            if now_known == known and time.monotonic() - last < wire.HEARTBEAT:
                continue
            if self._announce():
                known, last = now_known, time.monotonic()
                self._let_go_of_dead_peers()
            else:
                last = time.monotonic()

    def _announce(self) -> bool:
        """Every session and class of this process in the directory, and this process alive (entries expire
        after wire.TTL s without this). False if Redis cannot be reached now."""
        try:
            entry = json.dumps({"worker": self.worker})
            pipe = self.link.redis.pipeline(transaction=False)
            pipe.set(wire.alive_key(self.worker), entry, ex=wire.TTL)
            pipe.set(wire.load_key(self.worker), self.open_connections, ex=wire.TTL)
            for token in list(self.manager.sessions):
                pipe.set(wire.session_key(wire.public_id(token)), entry, ex=wire.TTL)
            for code, classroom in list(self.classrooms.by_code.items()):
                pipe.set(wire.class_key(code), json.dumps({"worker": self.worker, "code": code,
                                                           "join_url": classroom.join_url}), ex=wire.TTL)
            pipe.execute()
            alive = wire.alive_key("")
            self._peers = [key.decode()[len(alive):] for key in
                           self.link.redis.scan_iter(match=wire.alive_key("*"), count=1000)
                           if key.decode() != wire.alive_key(self.worker)]
            return True
        except Exception:  # noqa: BLE001 - redis.RedisError, OSError: the listener reports it
            self._missing.clear()  # while Redis is away nobody's heartbeat counts as missing
            return False

    def _let_go_of_dead_peers(self) -> None:
        """A peer whose heartbeat has been missing for wire.TTL s (with Redis up) is gone: its virtual clients
        here are disconnected, and the connections piped to it are closed (their page reconnects)."""
        peers = {remote.worker for remote in list(self.virtual.values())} | set(self.pipes.values())
        if not peers:
            return
        try:
            alive = self.link.redis.mget([wire.alive_key(peer) for peer in peers])
        except Exception:  # noqa: BLE001
            return
        now = time.monotonic()
        for peer, value in zip(peers, alive):
            if value is not None:
                self._missing.pop(peer, None)
                continue
            if now - self._missing.setdefault(peer, now) < wire.TTL:
                continue
            log.warning("process %s stopped answering: its connections here are let go", peer)
            for eio_sid, remote in list(self.virtual.items()):
                if remote.worker == peer:
                    self._left({"from": peer, "sid": remote.sid})
            for sid, owner in list(self.pipes.items()):
                if owner == peer:
                    self.server.disconnect(sid, namespace="/")
