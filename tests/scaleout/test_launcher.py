"""``nnplayground --workers N``: one address served by N processes that share their sessions through a private
redis-server; and the flags' errors, one line each."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import pytest
import redis

from app.cli import main
from app.server.client import Viewer
from app.server.live import free_port, port_is_free


def refused(capsys, *args: str) -> str:
    """What ``nnplayground ARGS`` says on stderr as it exits with status 2 (checked before anything starts)."""
    with pytest.raises(SystemExit) as exit:
        main(["--no-browser", *args])
    assert exit.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("args, named", [
    (("--workers", "0"), "--workers: got '0'; allowed: a whole number of server processes, at least 1, or auto"),
    (("--workers", "abc"), "--workers: got 'abc'; allowed"),
    (("--redis", "localhost:6379"), "--redis: got 'localhost:6379'; allowed: a Redis URL such as redis://"),
])
def test_bad_flags_get_one_line_naming_the_flag(capsys, args, named):
    said = refused(capsys, *args)
    assert said.strip().count("\n") == 0 and named in said, said


def test_an_unreachable_redis_is_one_line_and_exit_2(capsys):
    url = f"redis://127.0.0.1:{free_port('127.0.0.1', 17400)}/0"  # nothing listens there
    for args in (("--redis", url), ("--workers", "2", "--redis", url)):
        said = refused(capsys, *args, "--port", str(free_port("127.0.0.1", 17500))).strip()
        assert "\n" not in said and f"--redis {url}: Redis does not answer" in said, said


def test_workers_serve_one_address_and_share_sessions(run):
    port = free_port("127.0.0.1", 17600)
    parent = subprocess.Popen([sys.executable, "-m", "app", "--workers", "2", "--port", str(port), "--no-browser"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        banner = parent.stdout.readline() + parent.stdout.readline()
        assert f"serving on http://127.0.0.1:{port}/ by 2 processes" in banner, banner
        assert "sessions shared through Redis at a private redis-server, redis://127.0.0.1:" in banner
        store = redis.Redis.from_url(banner.rsplit(", ", 1)[1].strip())
        url = f"http://127.0.0.1:{port}"

        async def scenario():
            viewers, owners = [], set()
            for _ in range(40):  # the kernel spreads connections over the two processes' accepts
                viewer = await Viewer(url).connect()
                viewers.append(viewer)
                entry = await wait_for_key(store, viewer.token)
                owners.add(entry["worker"])
                if len(owners) == 2:
                    break
            assert owners == {f"{parent.pid}-0", f"{parent.pid}-1"}
            # A class arriving at once: the processes take turns (launcher.take_turns), so the sessions are spread
            # evenly, not as the kernel happens to hand the connections out.
            viewers += await asyncio.gather(*(Viewer(url).connect() for _ in range(12)))
            held = [(await wait_for_key(store, v.token))["worker"] for v in viewers]
            assert abs(held.count(f"{parent.pid}-0") - held.count(f"{parent.pid}-1")) <= 2, held
            for viewer in viewers:  # every session answers through the one address, wherever it lives
                again = await Viewer(url, token=viewer.token).connect()
                assert again.created is False and (await again.call("set", {"learning_rate": 0.25}))["ok"]
                await again.disconnect()
                await viewer.disconnect()
            store.close()

        run(scenario())
    finally:
        parent.send_signal(signal.SIGTERM)
        parent.wait(30)
    assert parent.returncode == 0
    deadline = time.monotonic() + 10
    while not port_is_free("127.0.0.1", port):  # every process is gone: the address is free again
        assert time.monotonic() < deadline
        time.sleep(0.1)


async def wait_for_key(store: redis.Redis, token: str) -> dict:
    import asyncio

    from app.cluster import wire

    deadline = time.monotonic() + 10
    while (value := store.get(wire.session_key(wire.public_id(token)))) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    return json.loads(value)
