"""The app factory: ``create_app(config=None)`` builds the Flask app (Flask's factory pattern) and initialises
``socketio`` (channel.py), the one Flask-SocketIO object its handlers (events.py) are registered on. Paths and
default settings: config.py. The wire protocol: docs/protocol.md.
"""

from __future__ import annotations

from flask import Flask
from socketio import Manager as ClientManager
from jinja2 import FileSystemLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from app.lessons.routes import bp as lessons_bp

from . import events  # noqa: F401  (registers the handlers on `socketio`, before any init_app)
from .blas import limit_blas_threads
from .channel import socketio
from .config import DEFAULT_CONFIG, ROOT
from .controls import LIMITS
from .guard import PacketGuard
from .messages import COMMON_EVENTS
from .security import connection_rate, host_guard
from .transport import atomic_packets, bounded_polling, bounded_websockets, closer, no_delay

limit_blas_threads(1)


def create_app(config: dict | None = None) -> Flask:
    """The Flask app with its Socket.IO server and session manager (``app.extensions["nnplayground"]``).

    One app serves at a time per process: ``socketio`` is module-level, and each call re-initialises it.
    Raises ValueError (one line) when ``MNIST_DIR`` is set but does not hold readable MNIST IDX files."""
    from app.sessions.classroom import Classrooms
    from app.sessions.manager import SessionManager

    from .routes import bp

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    # Each lab's page part lives in its own folder, markup included: static/labs/<name>/views.html.
    app.jinja_loader = FileSystemLoader([str(ROOT / "templates"), str(ROOT / "static")])
    app.config.update(DEFAULT_CONFIG)
    app.config.update(config or {})
    if app.config["MNIST_DIR"] is not None:  # read (and checked) once, at start-up: ValueError if unusable
        from app.labs.mnist import full_mnist

        app.config["MNIST_DIR"] = str(app.config["MNIST_DIR"])
        full_mnist(app.config["MNIST_DIR"])
    cluster = None
    if app.config["REDIS_URL"]:  # one of several server processes (app.cluster): link.Unreachable if Redis is not
        from app.cluster.node import Node

        cluster = Node(app.config)
    socketio.init_app(
        app,
        # Explicit each time, as init_app keeps its options: several processes (app.cluster) speak websocket only.
        client_manager=cluster.client_manager() if cluster else ClientManager(),
        transports=["websocket"] if cluster else ["polling", "websocket"],
        async_mode="threading",
        cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"],
        max_http_buffer_size=LIMITS.max_message_bytes,
        always_connect=True,  # the connect handler's emits then follow the CONNECT packet
        manage_session=False,
    )
    close = closer(socketio.server.eio)
    atomic_packets(socketio.server, close)
    bounded_websockets(socketio.server.eio)
    bounded_polling(socketio.server.eio)
    PacketGuard(socketio.server, protocol_events(), close)
    app.wsgi_app = no_delay(host_guard(connection_rate(app.wsgi_app, app.config), app.config))
    if app.config["TRUSTED_PROXIES"]:  # the browser's address, not the proxy's, for every limit and fair share
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    app.extensions["nnplayground"] = SessionManager(app.config, socketio.server)
    app.extensions["classrooms"] = Classrooms(app.extensions["nnplayground"], app.config["PUBLIC_URL"])
    app.extensions["cluster"] = cluster
    if cluster is not None:
        cluster.attach(app, socketio.server, app.extensions["nnplayground"], app.extensions["classrooms"])
    app.register_blueprint(bp)
    app.register_blueprint(lessons_bp)  # the lesson panel's routes (app/lessons/routes.py)
    return app


def protocol_events() -> set[str]:
    """Every event name a client may send: `set`, the common events, and every registered lab's own."""
    from app.labs import LABS
    from app.sessions.classroom import EVENTS as CLASS_EVENTS

    return {"set", *COMMON_EVENTS, *CLASS_EVENTS, *(name for lab in LABS.values() for name in lab.events)}

