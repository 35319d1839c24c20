"""Fixtures for the cluster's tests: a real redis-server and two real server processes (``nnplayground --redis URL
--port P``), each on its own free loopback port so a test can choose which one a connection lands on."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from app.server.live import free_port


class ServerProcess:
    """``nnplayground --redis URL --port P --no-browser`` in a subprocess; ``url`` once it answers."""

    def __init__(self, redis_url: str, name: str, *extra: str):
        self.port = free_port("127.0.0.1", 18000 + (os.getpid() % 500) * 4)
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "--redis", redis_url, "--port", str(self.port), "--no-browser",
             "--worker-id", name, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server process {name} did not start: {self.process.stderr.read()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def processes(redis_url):
    """Two server processes sharing ``redis_url``: (a, b)."""
    started = []
    try:
        started.append(ServerProcess(redis_url, "a"))
        started.append(ServerProcess(redis_url, "b"))
        yield tuple(started)
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def run():
    return lambda coroutine: asyncio.run(coroutine)
