"""Fixtures for the cluster's tests: a real redis-server and two real server processes (``nnplayground --redis URL
--port P``), each on its own free loopback port so a test can choose which one a connection lands on."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
import redis

from app.cluster.launcher import stop_process
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
        answering(self.url, self.process, f"server process {name}")

    def stop(self) -> None:
        stop_process(self.process)


def answering(url: str, process: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    """Wait until ``url``/healthz answers 200 (a server ``process`` we started); RuntimeError if it ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"{what} did not start: {process.stderr.read()[-2000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def processes(redis_url, request):
    """Two server processes sharing ``redis_url``: (a, b); with the test module's ``SERVER_FLAGS`` if it has."""
    flags = getattr(request.module, "SERVER_FLAGS", ())
    started = []
    try:
        started.append(ServerProcess(redis_url, "a", *flags))
        started.append(ServerProcess(redis_url, "b", *flags))
        yield tuple(started)
    finally:
        for server in started:
            server.stop()


async def in_directory(redis_url: str, key: str, timeout: float = 10.0) -> dict:
    """The directory's entry for ``key`` once it is there (a new session is announced within ~0.1 s)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            value = client.get(key)
            if value is not None:
                return json.loads(value)
            assert time.monotonic() < deadline, f"{key} never appeared in the directory"
            await asyncio.sleep(0.05)
    finally:
        client.close()


@pytest.fixture
def run():
    return lambda coroutine: asyncio.run(coroutine)
