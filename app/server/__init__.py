"""The wire every lab shares: the app factory, HTTP routes, Socket.IO events, validation, frame transport."""

from .live import LiveServer, free_port

__all__ = ["LiveServer", "free_port"]
