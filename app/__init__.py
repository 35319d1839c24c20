"""nnplayground's server: a Flask app whose Socket.IO events drive live training sessions.

The house (docs/labs.md): ``server/`` is the wire every lab shares (factory, routes, events, transport,
frame streaming, validation); ``sessions/`` the session lifecycle and the scheduler; ``labs/`` one folder per
model family (``labs/mlp/``, ``labs/cnn/``), registered in ``labs/__init__.py``.
"""

from .server.channel import socketio
from .server.config import DEFAULT_CONFIG, ROOT
from .server.factory import create_app

__all__ = ["DEFAULT_CONFIG", "ROOT", "create_app", "socketio"]
