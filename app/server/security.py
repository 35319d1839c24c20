"""HTTP-level checks: the Host names the server answers (DNS rebinding), cross-site requests that change state,
and session tokens kept out of the access log. See docs/protocol.md, "Transport".

A page on ``evil.example`` whose DNS name is rebound to 127.0.0.1 sends ``Host: evil.example`` and ``Origin:
http://evil.example``: the two agree, so a same-origin check alone lets it in. The server therefore answers
only Host names it serves: the loopback names, the address it is bound to (every local address when bound to
all interfaces), and names given with ``--allow-host`` (the ``ALLOWED_HOSTS`` config).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading

from .guard import RateLimiter

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
TOKEN_IN_PATH = re.compile(r"(/api/session/)[^/?\s]+")
SID_IN_QUERY = re.compile(r"([?&]sid=)[^&\s]+")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def host_name(host_header: str) -> str:
    """``Host`` without its port, lower case: "LocalHost:5000" → "localhost", "[::1]:5000" → "::1"."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def local_addresses() -> set[str]:
    """This machine's names and addresses, for a server bound to every interface (0.0.0.0 or ::)."""
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    for name in list(names):
        try:
            names |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    names |= {address for address in map(_route_source, ROUTE_PROBES) if address}
    return {n.split("%", 1)[0] for n in names if n}


ROUTE_PROBES = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))  # documentation addresses


def _route_source(probe) -> str | None:
    """The address a LAN peer reaches us at: the source of a route out (a UDP connect sends no packet)."""
    family, address = probe
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((address, 9))
            return s.getsockname()[0]
    except OSError:
        return None


def lan_address() -> str:
    """This machine's address on the local network (IPv4 if it has one), for ``--lan``'s URL. No packet is sent;
    without a route out, the first non-loopback address of its host name, else 127.0.0.1."""
    source = _route_source(ROUTE_PROBES[0])
    if source and not source.startswith("127."):
        return source
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            if not info[4][0].startswith("127."):
                return info[4][0]
    except OSError:
        pass
    return "127.0.0.1"


def allowed_hosts(bound_host: str | None = None, extra=()) -> frozenset[str]:
    """The Host names to answer: loopback, the bound address (all local ones for a wildcard), and ``extra``."""
    names = set(LOOPBACK_NAMES)
    if bound_host is not None:
        names |= local_addresses() if bound_host in WILDCARDS else {host_name(bound_host)}
    names |= {host_name(name) for name in extra}
    return frozenset(names)


def _is_allowed(name: str, allowed: frozenset[str]) -> bool:
    if name in allowed:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback  # 127.0.0.2 and the like are this machine too
    except ValueError:
        return False


def _respond(start_response, status: str, text: str):
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def _same_origin(environ, origin: str) -> bool:
    scheme = environ.get("wsgi.url_scheme", "http")
    return origin.rstrip("/").lower() == f"{scheme}://{environ.get('HTTP_HOST', '')}".lower()


def host_guard(wsgi_app, config: dict):
    """WSGI middleware: 421 for a Host the server does not serve, 403 for a cross-site request that changes state.

    Served: ``allowed_hosts(config["BIND_HOST"], config["ALLOWED_HOSTS"])``. A cross-site request is one whose ``Origin`` is another site's, or whose
    ``Sec-Fetch-Site`` says "cross-site" or "same-site"; browsers send these even on the "simple" requests
    (text/plain POSTs) that skip CORS preflight. Clients that send neither (curl, scripts) are not refused."""

    allowed = allowed_hosts(config.get("BIND_HOST"), config.get("ALLOWED_HOSTS") or ())

    def middleware(environ, start_response):
        name = host_name(environ.get("HTTP_HOST", ""))
        if not _is_allowed(name, allowed):
            return _respond(start_response, "421 Misdirected Request",
                            f"this server does not answer to the host name {name!r}. If it is yours, start the "
                            f"server with --allow-host {name or 'NAME'}\n")
        if environ.get("REQUEST_METHOD", "GET") in UNSAFE_METHODS:
            origin = environ.get("HTTP_ORIGIN")
            fetch_site = environ.get("HTTP_SEC_FETCH_SITE", "")
            cors = config.get("CORS_ALLOWED_ORIGINS")
            trusted = origin is not None and (cors == "*" or origin in (cors or ()))
            if not trusted and ((origin is not None and not _same_origin(environ, origin))
                                or fetch_site in ("cross-site", "same-site")):
                return _respond(start_response, "403 Forbidden",
                                "a request from another site may not change a session\n")
        return wsgi_app(environ, start_response)

    return middleware


def connection_rate(wsgi_app, config: dict):
    """WSGI middleware: at most ``CONNECT_BURST`` new Engine.IO connections at once from one address, refilled at
    ``CONNECTS_PER_SECOND``; beyond, 429. Each connection is a session (data, a network, a first frame), so a
    script reconnecting in a loop would otherwise cost every other session its share of the CPU."""
    rate, burst = config.get("CONNECTS_PER_SECOND", 2.0), int(config.get("CONNECT_BURST", 30))
    buckets: dict[str, RateLimiter] = {}
    lock = threading.Lock()

    def middleware(environ, start_response):
        new_connection = (environ.get("PATH_INFO", "").startswith("/socket.io")
                          and "sid=" not in environ.get("QUERY_STRING", ""))
        if new_connection and rate:
            address = environ.get("REMOTE_ADDR", "")
            with lock:
                if len(buckets) > 10_000:  # forget the addresses whose buckets are full again
                    for key in [k for k, b in buckets.items() if b.allow() and b.tokens >= b.burst - 1]:
                        del buckets[key]
                bucket = buckets.setdefault(address, RateLimiter(rate, burst))
                allowed = bucket.allow()
            if not allowed:
                return _respond(start_response, "429 Too Many Requests",
                                f"too many new connections from {address}: at most {burst} at once and "
                                f"{rate:g} a second\n")
        return wsgi_app(environ, start_response)

    return middleware


def redact(text: str) -> str:
    """``text`` (a request line) without session tokens or Engine.IO sids: whoever reads the log cannot join."""
    return SID_IN_QUERY.sub(r"\1…", TOKEN_IN_PATH.sub(r"\1…", text))
