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
