"""Serving the app: a free port, and a server in a background thread for tests and benchmarks."""

from __future__ import annotations

import socket
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .security import redact


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Werkzeug does: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str, start: int, tries: int = 50) -> int:
    """``start`` if it is free on ``host``, else the next free port above it."""
    for port in range(start, start + tries):
        if port_is_free(host, port):
            return port
    raise OSError(f"no free port in {start}..{start + tries - 1} on {host}")


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, minus two leaks: the access log shows no session token (they are in the model URLs)
    or Engine.IO sid, and after a websocket ends nothing more is read from its socket as an HTTP request (a
    flood's leftover bytes would each be logged as a bad request line)."""

    def connection_dropped(self, error, environ=None) -> None:
        self.close_connection = True  # simple-websocket ends every websocket by raising ConnectionError

    def log_request(self, code="-", size="-") -> None:
        path = getattr(self, "path", None)
        if path is None:
            return super().log_request(code, size)
        self.path = redact(path)
        try:
            super().log_request(code, size)
        finally:
            self.path = path


class LiveServer:
    """The app on a real socket in a daemon thread (Werkzeug, threaded, websockets via simple-websocket).

    ``with LiveServer(create_app()) as server: server.url`` — port 0 picks a free one.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self._server = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
        self.host, self.port = host, self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="nnplayground-http", daemon=True)

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.app.extensions["nnplayground"].shutdown()
        if self.app.extensions.get("cluster") is not None:
            self.app.extensions["cluster"].shutdown()

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
