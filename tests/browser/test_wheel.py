"""`pip install` of the built wheel into a fresh virtual environment, then `nnplayground` serves the whole page
offline: templates, static files (subfolders too) and the Socket.IO client travel in the wheel (setup.py)."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page

from .conftest import unused_port

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60_000


@pytest.mark.slow
def test_the_installed_wheel_serves_the_page_offline(page: Page, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path / "dist")],
                   check=True, timeout=600)
    wheel = next((tmp_path / "dist").glob("nnplayground-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tracked = subprocess.run(["git", "ls-files", "templates", "static"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked and all(f"app/_web/{path}" in names for path in tracked)  # every page file, subfolders too
    assert "app/_web/node_modules/socket.io-client/dist/socket.io.esm.min.js" in names
    assert "app/_web/node_modules/katex/dist/katex.min.js" in names and "app/_web/lessons/a-neuron.yaml" in names

    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheel)], check=True, timeout=600)
    port = unused_port()
    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing may be read from it
    elsewhere.mkdir()
    server = subprocess.Popen([str(bin_dir / "nnplayground"), "--no-browser", "--port", str(port)], cwd=elsewhere,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "serving on" in server.stdout.readline()
        outside: list[str] = []
        errors: list[str] = []

        def only_loopback(route):
            if urlparse(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:  # offline: anything else would be a CDN or a font service
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_loopback)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/?play=1")
        page.wait_for_function("() => window.__nnp && window.__nnp.frame && window.__nnp.frame.step > 0",
                               timeout=TIMEOUT)
        # The lessons and their formulas come from the wheel too (lessons/, KaTeX from npm).
        page.goto(f"http://127.0.0.1:{port}/?lesson=a-neuron")
        page.wait_for_selector("#lesson-text .katex", timeout=TIMEOUT)
        assert outside == [] and errors == []
    finally:
        server.terminate()
        server.wait(timeout=10)
