"""Browser tests: a real server on 127.0.0.1 and real Chromium (Debian's, or Playwright's own).

`live_server` runs `app.create_app()` on a free port in a daemon thread (app.server.LiveServer) for the whole session; `base_url`
points Playwright at it. `console_errors` collects every console error and uncaught exception of a page.
Screenshots go to artifacts/screenshots/ (gitignored).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
# The shared server trains at a brisk 1,500 steps/s; the default pace (20 steps/s, for a class to watch) is
# checked on a server of its own (test_first_minute.py).
FAST = {"TESTING": True, "INITIAL_SETTINGS": {"speed": 1500}}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def unused_port() -> int:
    """A port nothing listens on now, for a server started in a process of its own."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config: dict | None = None):
    """The app on a free loopback port in a daemon thread (app.server.LiveServer), started."""
    from app import create_app
    from app.server import LiveServer

    return LiveServer(create_app(config or {})).start()


@pytest.fixture(scope="session")
def live():
    """The one app of the browser tests (app.server.LiveServer: .url, .app). One only: Socket.IO is bound to the
    newest app created, so a second app would take the first one's connections."""
    server = start_server(FAST)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_server(live) -> str:
    return live.url


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    return live_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    if os.path.exists(CHROMIUM):
        args["executable_path"] = CHROMIUM
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    # A classroom projector's resolution.
    return {**browser_context_args, "viewport": {"width": 1920, "height": 1080}}


@pytest.fixture()
def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return errors


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
