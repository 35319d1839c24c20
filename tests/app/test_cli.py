"""The nnplayground command: arguments and the busy-port fallback."""

import socket

from app.cli import parse_args
from app.server import free_port


def test_defaults():
    args = parse_args([])
    assert (args.host, args.port, args.no_browser, args.fps) == ("127.0.0.1", 5000, False, 60)


def test_busy_port_falls_back_to_the_next_free_one():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        chosen = free_port("127.0.0.1", port)
    assert chosen > port


def test_allow_host_is_repeatable():
    args = parse_args(["--allow-host", "classroom.lan", "--allow-host", "10.0.0.5"])
    assert args.allow_host == ["classroom.lan", "10.0.0.5"]


def test_lan_serves_the_network_and_prints_the_address_students_open():
    """`--lan`: every interface, the LAN address printed (not 127.0.0.1), answered, and the base of join links."""
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from app.server.security import lan_address

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "app", "--lan", "--no-browser", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline()
        address = lan_address()
        url = f"http://{address}:{port}/"
        assert f"serving on {url}" in line and ("127.0.0.1" not in line or address == "127.0.0.1")
        assert f"{url}join" in server.stdout.readline()
        # Reached on the LAN address (the Host allow-list admits it), and the page knows it for its links. (The
        # line is printed just before the server listens: wait for it to answer.)
        deadline = time.monotonic() + 30
        while True:
            try:
                page = urllib.request.urlopen(url, timeout=10).read().decode()
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert f'data-public-url="http://{address}:{port}"' in page
    finally:
        server.terminate()
        server.wait(timeout=10)
