"""Fixtures for the search's tests: a real Redis server on a free loopback port, and small searches."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from app.server.live import free_port

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """redis://127.0.0.1:PORT/0 of a redis-server started for these tests (no persistence, in a temporary
    folder) and stopped after. `make test` installs Debian's redis-server (`make redis`)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make redis installs Debian's)")
    import redis

    port = free_port("127.0.0.1", 16379)
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(folder), "--daemonize", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 30
    while True:  # wait for the server to answer
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(10)


def tiny(**changes) -> dict:
    """A search spec small enough to run in a few seconds: spiral, 3 epochs a trial."""
    spec = {"lab": "mlp", "dataset": "spiral", "sampler": "random", "trials": 6, "epochs": 3,
            "params": {"learning_rate": {"low": 1e-3, "high": 1.0, "log": True},
                       "activation": {"choices": ["relu", "tanh"]}},
            "objective": "test_loss", "seed": 0, "workers": 1, "pruning": False, "base": {}}
    spec.update(changes)
    return spec
