"""Across machines, on one: Debian's nginx with docs/deploy.md's configuration (its very text, the upstream and
listen addresses swapped for loopback ports) in front of two ``nnplayground --redis URL --port P`` processes; a
teacher and a follower connect through it, and a control runs through it."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from app.cluster import wire
from app.cluster.launcher import stop_process
from app.server.client import Viewer
from app.server.live import free_port
from app.sessions.classroom import WRONG_CODE_BURST

from .conftest import answering, in_directory

SERVER_FLAGS = ("--behind-proxy",)  # as docs/deploy.md says to start them behind the proxy
DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def documented_config() -> str:
    """The ```nginx block of docs/deploy.md."""
    return re.search(r"```nginx\n(.*?)```", DEPLOY.read_text(), re.S).group(1)


@pytest.fixture(scope="module")
def nginx(processes, tmp_path_factory):
    """nginx on a free loopback port, proxying to ``processes`` with the documented configuration."""
    if NGINX is None:
        pytest.skip("nginx is not installed (make nginx installs Debian's)")
    folder = tmp_path_factory.mktemp("nginx")
    folder.chmod(0o755)  # nginx's workers may run as another user
    port = free_port("127.0.0.1", 18480)
    config = documented_config()
    upstreams = "".join(f"    server 127.0.0.1:{server.port};\n" for server in processes)
    config = re.sub(r"(upstream nnplayground \{\n)(?:\s*server [^\n]*\n)+", lambda m: m.group(1) + upstreams, config)
    config = config.replace("listen 80;", f"listen 127.0.0.1:{port};")
    assert f"127.0.0.1:{processes[0].port}" in config and f"listen 127.0.0.1:{port}" in config
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{\n    access_log off;\n    {temp}\n{config}}}\n")
    process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                                str(folder / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    answering(url, process, "nginx")
    yield url
    stop_process(process)


def test_a_class_through_nginx_in_front_of_two_processes(nginx, redis_url, run):
    async def scenario():
        teacher = await Viewer(nginx).connect()
        assert (await teacher.call("set", {"speed": 1500, "learning_rate": 0.1}))["ok"]
        assert (await teacher.call("play"))["ok"]
        code = (await teacher.call("class_start"))["class"]["code"]
        await in_directory(redis_url, wire.class_key(code))
        with urllib.request.urlopen(f"{nginx}/join/{code}", timeout=10) as page:  # the join page, via either one
            assert f'data-join-code="{code}"' in page.read().decode() and page.status == 200
        follower = await Viewer(nginx, join=code).connect()
        start = teacher.frame["epoch"]
        await follower.wait_for(lambda v: v.frame["epoch"] >= start + 2, timeout=30)
        assert (await follower.call("pause"))["error"]["field"] == "role"

        # The teacher's page, refreshed twice (nginx takes turns over the processes): the same session each time,
        # and its controls run wherever the connection landed.
        for rate in (0.2, 0.3):
            again = await Viewer(nginx, token=teacher.token).connect()
            assert again.created is False
            assert (await again.call("set", {"learning_rate": rate}))["ok"]
            await follower.wait_for(lambda v: v.state["settings"]["learning_rate"] == rate)
            await again.disconnect()
        await follower.wait_for(lambda v: v.frame["learning_rate"] == 0.3 and v.frame["status"] == "running")
        for viewer in (follower, teacher):
            await viewer.disconnect()

    run(scenario())


def test_behind_the_proxy_each_browser_has_its_own_address(nginx):
    """--behind-proxy: the per-address limits count the browser (X-Forwarded-For), not nginx: one device guessing
    codes is slowed down, its neighbour is not."""
    def join_status(source: str, code: str = "ZZZZZZ") -> int:
        host, port = nginx.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
        try:
            connection.request("GET", f"/join/{code}")
            return connection.getresponse().status
        finally:
            connection.close()

    # Each process keeps its own count (nginx takes turns over the two): past twice the burst, both refuse.
    statuses = [join_status("127.0.4.1") for _ in range(2 * WRONG_CODE_BURST + 4)]
    assert statuses[0] == 404 and statuses[-2:] == [429, 429], statuses
    assert join_status("127.0.4.2") == 404
