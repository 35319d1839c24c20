"""Fixtures for the server's tests: an app, Flask-SocketIO's test client, and a real server on 127.0.0.1.

Only one app serves at a time per process (``app.socketio`` is module-level), so every fixture builds its
own and tears it down (the scheduler thread stops with it).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from app import create_app, socketio
from app.server import LiveServer

# Tests train at a brisk 1,500 steps/s (the default 20 is paced for a class to watch; tests/browser checks it).
TEST_CONFIG = {"TESTING": True, "ACK_TIMEOUT": 0.5, "INITIAL_SETTINGS": {"speed": 1500}}


@pytest.fixture
def app():
    application = create_app(TEST_CONFIG)
    yield application
    application.extensions["nnplayground"].shutdown()


@pytest.fixture
def manager(app):
    return app.extensions["nnplayground"]


@pytest.fixture
def client(app):
    """A Socket.IO test client, connected (it never acks frames: it gets the first one only)."""
    test_client = socketio.test_client(app)
    yield test_client
    if test_client.is_connected():
        test_client.disconnect()


@pytest.fixture
def live():
    """A real server on a free port of 127.0.0.1, in a thread."""
    with LiveServer(create_app(TEST_CONFIG)) as server:
        yield server


@pytest.fixture
def run():
    """Run a coroutine to completion (the async tests are plain functions around asyncio.run)."""
    return lambda coroutine: asyncio.run(coroutine)


@pytest.fixture
def received():
    """``received(test_client)`` → {event name: [payloads]} of everything received since the last call."""

    def drain(test_client) -> dict:
        out: dict = {}
        for event in test_client.get_received():
            out.setdefault(event["name"], []).append(event["args"][0] if event["args"] else None)
        return out

    return drain


@pytest.fixture
def training_clock(monkeypatch):
    """A clock that only training moves (0.1 ms at each of a lab's readings: about one a step) and whatever a test
    adds to ``now[0]``: the scheduler's own readings cost nothing, so time is training plus frames built."""
    now = [0.0]

    def training():
        now[0] += 1e-4
        return now[0]

    import types

    import app.labs.base
    import app.sessions.manager

    for module, read in ((app.labs.base, training), (app.sessions.manager, lambda: now[0])):
        monkeypatch.setattr(module, "time", types.SimpleNamespace(perf_counter=read, thread_time=read, monotonic=time.monotonic,
                                                                  time=time.time))
    return now
