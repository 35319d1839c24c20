"""The process's one Flask-SocketIO object. The Socket.IO handlers (events.py) register on it when imported;
``create_app`` (factory.py) initialises it for the app it builds: one app serves at a time per process."""

from flask_socketio import SocketIO

socketio = SocketIO()
