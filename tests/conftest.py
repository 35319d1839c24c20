"""Suite-wide settings.

The engine's matrices are small: one BLAS thread is faster than several fighting over two cores, and it keeps
runs repeatable. Set before numpy is first imported (pytest imports this file before any test module).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


import shutil  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A real redis-server on a free loopback port (no persistence, in a temporary folder), stopped after the
    module: app.cluster.launcher.RedisServer, as ``--workers N`` starts its private one. `make test` installs
    Debian's redis-server (`make redis`). ``redis_server.stop()`` / ``.start()`` take it away and bring it back
    on the same port."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make redis installs Debian's)")
    from app.cluster.launcher import RedisServer

    server = RedisServer(folder=str(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_url(redis_server):
    """redis://127.0.0.1:PORT/0 of ``redis_server``."""
    return redis_server.url
