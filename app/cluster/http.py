"""The HTTP routes that belong to one session or class (model files, data, lessons, a class's join page and QR
code) answered by the process that holds it, whichever process the request reached: the request goes to the
owner through Redis and runs there through the app itself (Werkzeug's test client: the same routes, checks and
limits), and its response comes back."""

from __future__ import annotations

import re

from flask import Flask, Response, current_app, request

from .link import REQUEST_TIMEOUT

SESSION_PATH = re.compile(r"^/api/session/([^/]+)/")
JOIN_PATH = re.compile(r"^/join/([^/]+)(?:/qr\.svg)?$")
KEPT_HEADERS = ("Content-Type", "Content-Disposition", "Cache-Control", "Location")


def install(app: Flask) -> None:
    app.before_request(_forward)
    # The page then connects by websocket only (static/core/socket.js): a long-polling connection's requests
    # could reach different processes.
    app.context_processor(lambda: {"websocket_only": True})


def _asks_for(path: str, args) -> dict | None:
    """The session or class a request is about, as a connection's auth names it."""
    match = SESSION_PATH.match(path)
    if match or args.get("token"):
        return {"token": match.group(1) if match else args.get("token")}
    match = JOIN_PATH.match(path)
    code = match.group(1) if match else args.get("join") or (args.get("code") if path == "/join" else None)
    return {"join": code} if code else None


def _forward():
    node = current_app.extensions.get("cluster")
    auth = _asks_for(request.path, request.args)
    if node is None or auth is None:
        return None
    try:
        owner = node.owner_elsewhere(auth)
    except TimeoutError:
        return None  # Redis is away: answered here (a session of another process: 404, as when it expired)
    if owner is None:
        return None
    forwarded = {"op": "http", "method": request.method, "path": request.full_path, "body": request.get_data(),
                 "headers": {k: v for k, v in request.headers.items() if k in ("Host", "Content-Type", "Accept")},
                 "remote_addr": request.remote_addr or ""}
    try:
        answer = node.link.request(owner, forwarded, REQUEST_TIMEOUT)
    except TimeoutError:
        return Response("the server process that holds this session did not answer; try again in a moment", 503,
                        mimetype="text/plain")
    return Response(answer["body"], status=answer["status"], headers=answer["headers"])


def serve_forwarded(app: Flask, forwarded: dict) -> dict:
    """Run a forwarded request through ``app``: {status, headers, body}."""
    with app.test_client() as client:
        response = client.open(forwarded["path"], method=forwarded["method"], data=forwarded["body"],
                               headers=forwarded["headers"],
                               environ_overrides={"REMOTE_ADDR": forwarded["remote_addr"]})
        return {"status": response.status_code, "body": response.get_data(),
                "headers": {k: v for k, v in response.headers.items() if k in KEPT_HEADERS}}
