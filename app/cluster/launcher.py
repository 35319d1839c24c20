"""``nnplayground --workers N``: N server processes serving ONE address (docs/deploy.md).

The parent binds the listening socket once and hands its file descriptor to every child (``subprocess`` with
``pass_fds``: started fresh, not forked from a threaded process); each child accepts connections on it (Werkzeug's
``make_server(..., fd=)``), so the kernel spreads connections — and the sessions they create — over the processes
and every core trains. The children meet in Redis (``--redis URL``, or a private ``redis-server`` on a free
loopback port that the parent starts and stops). The parent only watches: Ctrl+C or one child ending stops them
all.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from app.server.live import free_port

REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")


class RedisServer:
    """A ``redis-server`` of our own on a free loopback port, without persistence, in a temporary folder; the
    tests' fixture and ``--workers`` without ``--redis`` use it. ``url`` once ``start()`` has returned."""

    def __init__(self, port: int | None = None, folder: str | None = None):
        self.port = port or free_port("127.0.0.1", 16379)
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self._own_folder: tempfile.TemporaryDirectory | None = None

    def start(self, timeout: float = 30.0) -> "RedisServer":
        import redis

        binary = shutil.which(REDIS_SERVER)
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (Debian: apt-get install redis-server; "
                                    "`make redis` does it), or give --redis URL")
        if self.folder is None:
            self._own_folder = tempfile.TemporaryDirectory(prefix="nnplayground-redis-")
            self.folder = self._own_folder.name
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:  # until it answers
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        if self._own_folder is not None:
            self._own_folder.cleanup()
            self._own_folder = None


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """End ``process`` (one we started): SIGTERM, then SIGKILL after ``grace`` s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _joined(redis_url: str, names: list[str], children, stopping, timeout: float = 120.0) -> bool:
    """Wait until every child's heartbeat is in Redis (it has built its app and is about to accept)."""
    import redis

    from .wire import alive_key

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    deadline = time.monotonic() + timeout
    try:
        while not stopping() and time.monotonic() < deadline:
            if all(client.mget([alive_key(name) for name in names])):
                return True
            if any(child.poll() is not None for child in children):
                return False
            time.sleep(0.1)
        return False
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def take_turns(server, node, patience: float = 0.25) -> None:
    """Make the kernel's spreading of connections even them out over the processes: a worker ``server``
    (Werkzeug's, on the shared socket) with more connections open than another process
    (``node.busier_than_peers``: each announces its count in Redis at every accept and close) leaves a waiting
    connection to the others for up to ``patience`` s — as long as it is still waiting, so a less busy process
    takes it first even while a training tick holds it up — and takes it itself only if none has. The shared
    socket is made non-blocking, so the one that comes second finds nothing and goes back to waiting."""
    server.socket.setblocking(False)
    accept, shutdown = server.get_request, server.shutdown_request

    def get_request():
        if node.busier_than_peers():
            waited = 0.0
            while waited < patience and select.select([server.socket], [], [], 0)[0]:
                time.sleep(0.01)
                waited += 0.01
        request = accept()  # BlockingIOError (an OSError) when another process took it: socketserver moves on
        node.connections_changed(+1)
        return request

    def shutdown_request(request):
        try:
            shutdown(request)
        finally:
            node.connections_changed(-1)

    server.get_request, server.shutdown_request = get_request, shutdown_request


def listening_socket(host: str, port: int) -> socket.socket:
    """The one listening socket every worker accepts on (inheritable, so it survives into the children)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def run(workers: int, host: str, port: int, redis_url: str | None, child_args: list[str], on_ready) -> int:
    """Start ``workers`` children serving ``host:port`` and wait. ``child_args``: the command line each child
    gets (the user's flags); the socket, Redis and a worker id are added. ``on_ready(redis_url)`` once every child
    has joined (its heartbeat is in Redis). Returns the exit status."""
    private = None
    if redis_url is None:
        try:
            private = RedisServer().start()
        except (FileNotFoundError, RuntimeError) as error:
            print(f"nnplayground: --workers {workers}: needs Redis: {error}", file=sys.stderr)
            return 2
        redis_url = private.url
    sock = listening_socket(host, port)
    children: list[subprocess.Popen] = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        names = [f"{os.getpid()}-{index}" for index in range(workers)]
        for name in names:
            children.append(subprocess.Popen(
                [sys.executable, "-m", "app", *child_args, "--workers", "1", "--redis", redis_url,
                 "--worker-fd", str(sock.fileno()), "--worker-id", name, "--no-browser"],
                pass_fds=(sock.fileno(),)))
        if _joined(redis_url, names, children, lambda: stopping):
            on_ready(redis_url)
        status = 0
        while not stopping:
            ended = [child for child in children if child.poll() is not None]
            if ended:
                status = 1
                print(f"nnplayground: a server process ended (exit status {ended[0].returncode}); stopping the "
                      "others", file=sys.stderr)
                break
            time.sleep(0.2)
        return status
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()  # all at once, then each waited for
        for child in children:
            stop_process(child)
        sock.close()
        if private is not None:
            private.stop()
