"""Issue 8's reproductions, each sent as the same bytes over a real socket (tests/app/rawsocket.py).

Every test also checks that the server logged no traceback while it ran (the ``quiet_server`` fixture).
"""

from __future__ import annotations

import http.client
import io
import logging
import threading
import zipfile

import numpy as np
import pytest

from app import create_app
from app.server.controls import LIMITS
from app.server import LiveServer
from app.server.transport import QuietLog
from conftest import TEST_CONFIG
from rawsocket import RawSocket


class Tracebacks(logging.Handler):
    """Every log record with a traceback, and every exception a thread dies of."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[logging.LogRecord] = []

    def emit(self, record):
        self.lines.append(record)
        if record.exc_info or "Traceback" in record.getMessage():
            self.records.append(record)


@pytest.fixture
def quiet_server():
    """Fails the test if anything logged a traceback or a thread died of an exception meanwhile."""
    handler = Tracebacks()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    hook = threading.excepthook
    died = []
    threading.excepthook = lambda args: died.append(args)
    yield handler
    threading.excepthook = hook
    root.removeHandler(handler)
    root.setLevel(level)
    assert not died, [f"{a.thread.name}: {a.exc_type.__name__}: {a.exc_value}" for a in died]
    assert not handler.records, [r.getMessage()[:300] for r in handler.records]


@pytest.fixture
def server(quiet_server):
    with LiveServer(create_app({**TEST_CONFIG, "SESSION_IDLE_TIMEOUT": 0.3})) as live:
        yield live


@pytest.fixture
def sockets(server):
    """``open(**kwargs)``: a RawSocket to ``server``, closed after the test."""
    opened = []

    def open_(token=None, **kwargs):
        raw = RawSocket(server.url, token, **kwargs)
        opened.append(raw)
        return raw

    yield open_
    for raw in opened:
        raw.close()


def manager_of(server):
    return server.app.extensions["nnplayground"]


def token_of(raw) -> str:
    return raw.named("session")[0][0]["token"]


def frames_keep_coming(raw, more=20, timeout=10.0):
    start = raw.frames
    raw.wait_for(lambda r: r.frames >= start + more, timeout)
    return raw.frames - start


# --- 1. a stray ack
def test_a_stray_ack_is_ignored_and_the_other_viewers_keep_their_frames(sockets):
    viewer = sockets()
    viewer.emit("play")
    sender = sockets(token_of(viewer))
    frames_keep_coming(sender, 2)
    for ack in ("430[]", "430", "4399999[]", "43-1[]", "43[]", '431["x"]'):
        sender.send(ack)
    assert frames_keep_coming(viewer) >= 20
    assert frames_keep_coming(sender) >= 20  # and the sender's own frames: its ack bookkeeping is intact
    sender.close()
    assert frames_keep_coming(viewer) >= 20


def test_one_viewers_failing_send_does_not_touch_the_others():
    from test_streaming import FakeSender, frame, stream_of

    class Breaks(FakeSender):
        def send(self, sid, encoded, callback, steps=0):
            if sid == "broken":
                raise KeyError(0)  # what python-socketio raised once its ack counter was gone
            return super().send(sid, encoded, callback, steps)

    sender = Breaks()
    stream = stream_of(sender, "broken", "a", "b")
    for seq in (1, 2, 3):
        stream.publish(["broken", "a", "b"], frame(seq))
        assert stream.flush() == 2
        for sid in ("a", "b"):
            sender.to(sid)[-1][2]()
    assert [len(sender.to(sid)) for sid in ("a", "b")] == [3, 3]


# --- 2. `connect` as an event, a second CONNECT, and reaping
def test_connect_as_an_event_or_twice_makes_no_session_and_a_closed_one_is_reaped(server, sockets):
    manager = manager_of(server)
    raw = sockets()
    for packet in ('42["connect"]', '42["connect",{}]', "40", '42["disconnect"]', '421["connect"]'):
        raw.send(packet)
    raw.wait_for(lambda r: len(r.errors) >= 5 and 1 in r.acks)  # the errors, and the reply to the last one
    assert len(manager.sessions) == 1
    assert "already connected" in raw.errors[3 - 1]["message"]
    assert all("set" in e["allowed"] for e in raw.errors if "unknown event" in e["message"])
    assert raw.acks[1][0]["ok"] is False
    raw.emit("play")
    raw.close()
    raw.wait_for(lambda r: not manager.sessions, 10)  # unwatched, then reaped after SESSION_IDLE_TIMEOUT


def test_an_event_before_connect_or_a_disconnect_closes_the_connection(sockets):
    early = sockets(connect=False)
    early.send('42["play"]')
    early.wait_for(lambda r: r.closed)
    assert early.close_code == 1008
    leaving = sockets()
    leaving.send("41")
    leaving.wait_for(lambda r: r.closed)
    assert leaving.close_code in (1000, 1005)


# --- 3. attachments
def test_more_attachments_than_the_protocol_uses_close_the_socket(server, sockets):
    raw = sockets()
    raw.send('459999999999-["set",{"_placeholder":true,"num":0}]')
    raw.wait_for(lambda r: r.closed)
    assert raw.close_code == 1009
    assert not server.app.extensions["socketio"].server._binary_packet


def test_attachments_beyond_the_announced_one_are_not_held(server, sockets):
    raw = sockets()
    raw.send('451-["load_model",{"format":"npz","data":{"_placeholder":true,"num":0}}]')
    blob = bytes(999_000)
    for _ in range(20):
        raw.send(blob)
    raw.wait_for(lambda r: len(r.errors) >= 1 + 19 or r.closed)
    assert not raw.closed
    assert raw.errors[0]["event"] == "load_model"  # the announced one: a model file that is not one
    assert {e["received"] for e in raw.errors[1:]} == {"<unparseable packet>"}  # stray: dropped, answered
    assert not server.app.extensions["socketio"].server._binary_packet


def test_a_placeholder_pointing_nowhere_is_an_error(sockets):
    raw = sockets()
    raw.send('451-["load_model",{"format":"npz","data":{"_placeholder":true,"num":7}}]')
    raw.send(b"PK")
    raw.wait_for(lambda r: r.errors)
    assert "placeholders" in raw.errors[0]["message"]
    raw.emit("pause", ack_id=1)  # and the connection goes on
    assert raw.wait_for(lambda r: r.acks.get(1))[0]["ok"]


# --- 4. floods
def test_a_flood_is_dropped_unread_and_its_socket_closed(server, sockets):
    viewer = sockets()
    viewer.emit("play")
    flood = sockets()  # another session: its flood must not cost this one its frames
    flood.send_many([f'42{k}["pause"]' for k in range(1, 5001)])
    flood.wait_for(lambda r: r.closed)
    assert flood.close_code in (1008, 1005, 1006)  # 1008 unless the flood's own bytes reset the TCP stream
    assert len(flood.acks) < 2500  # most were dropped unread
    assert [e["field"] for e in flood.errors].count("rate") <= 3
    viewer.emit("play", ack_id=1)
    viewer.wait_for(lambda r: 1 in r.acks)
    frames_keep_coming(viewer)


# --- 5. event names that are not strings
@pytest.mark.parametrize("packet", ['427[123,{}]', '427[1.5]', '427[true]', '427[[],{}]', '427[{}]', '427["*"]',
                                    '427[null]', '427[]', '427"set"', '427{"set":1}'])
def test_an_event_name_that_is_not_a_protocol_event_gets_an_error_naming_them(sockets, packet):
    raw = sockets()
    raw.send(packet)
    raw.wait_for(lambda r: r.errors and 7 in r.acks)
    error = raw.errors[0]
    assert error["allowed"].startswith("one of the events ") and "set_activation" in error["allowed"]
    assert raw.acks[7][0] == {"ok": False, "error": error}
    raw.emit("pause", ack_id=8)
    raw.wait_for(lambda r: 8 in r.acks and r.acks[8][0]["ok"])


# --- 6. non-finite numbers in frames, and exports that do not load back
def test_frames_carry_no_infinity_unless_the_session_says_it_diverged(server, run):
    from app.server.bundle import decode
    from app.server.client import Viewer

    unannounced = []

    def check(payload):
        nonfinite = sum(int(np.count_nonzero(~np.isfinite(a))) for a in decode(payload).values())
        if nonfinite and payload["status"] != "diverged":
            unannounced.append((payload["step"], nonfinite))

    async def scenario():
        viewer = await Viewer(server.url, decode=False, on_payload=check).connect()
        await viewer.call("set", {"dataset": "plane", "learning_rate": 10.0, "optimizer": "sgd"})
        await viewer.call("play")
        diverged = await viewer.wait_for(lambda v: v.frame["status"] == "diverged" and v.frame, timeout=20)
        await viewer.wait_for(lambda v: v.state["status"] == "diverged")
        await viewer.disconnect()
        return diverged

    diverged = run(scenario())
    assert not unannounced and diverged["divergence"]["step"] == diverged["step"]
    token = next(iter(manager_of(server).sessions))
    for name in ("model.npz", "model.json"):
        status, body = request(server, "GET", f"/api/session/{token}/{name}")
        if status == 200:  # offered: then it loads back
            assert request(server, "POST", f"/api/session/{token}/model", body=body)[0] == 200, name
        else:
            assert status == 409 and b"reset" in body


# --- 7. uploads that once reached the bug path
def npz_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def npy_header(shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("members,field", [
    ({"0.weight.npy": b"not an npy file", "0.bias.npy": b"nor this"}, "state_dict.0.weight"),
    ({"0.weight.npy": npy_header((10**12,)), "0.bias.npy": npy_header((1,))}, "state_dict.0.weight"),
    ({"0.weight.npy": np.lib.format.MAGIC_PREFIX + b"\x01\x00\xff\xff{'descr'"}, "state_dict.0.weight"),
    ({"0.weight": b"no .npy suffix"}, "state_dict.0.weight"),
])
def test_a_broken_npz_upload_is_400_and_changes_nothing(server, sockets, members, field):
    token = token_of(sockets())
    session = manager_of(server).get(token)
    before = {k: v.copy() for k, v in session.lab.trainer.model.state_dict().items()}
    status, text = request(server, "POST", f"/api/session/{token}/model", body=npz_with(members))
    assert status == 400
    import json

    assert json.loads(text)["error"]["field"] == field
    after = session.lab.trainer.model.state_dict()
    assert all(np.array_equal(after[k], v) for k, v in before.items())


# --- 8. close codes
def test_an_oversized_message_closes_with_1009(sockets):
    raw = sockets()
    raw.send('42["set",{"noise":"' + "x" * (LIMITS.max_message_bytes + 10) + '"}]')
    raw.wait_for(lambda r: r.closed)
    assert raw.close_code == 1009


# --- 12. frames that are not Engine.IO: one short line, no traceback, no 500
def test_frames_that_are_not_engineio_close_with_1002_and_one_short_line(server, sockets, quiet_server,
                                                                         monkeypatch):
    from app.server import transport

    monkeypatch.setattr(transport.BoundedWebSocket, "quiet", QuietLog(transport.log))  # this test's own quota
    garbage = ("x", "", "b!!!", "\u00e9t\u00e9", "9", "{}")
    for message in garbage:
        raw = sockets()
        raw.send(message)
        raw.wait_for(lambda r: r.closed)
        assert raw.close_code == 1002, message
    lines = [r for r in quiet_server.lines if r.name == "app.server.transport"]
    assert len(lines) == len(garbage) and all(len(r.getMessage()) < 200 for r in lines)
    assert not [r for r in quiet_server.lines if r.levelno >= logging.ERROR]


def test_a_long_polling_body_that_is_not_engineio_is_400_without_a_traceback(server, quiet_server):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.request("GET", "/socket.io/?EIO=4&transport=polling")
    opened = connection.getresponse().read().decode()
    import json

    sid = json.loads(opened[1:])["sid"]
    connection.request("POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}", body="x\x1ey")
    assert connection.getresponse().status == 400
    connection.close()


def test_log_lines_about_bad_frames_are_rate_limited():
    logger = logging.getLogger("test.quietlog")
    handler = Tracebacks()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        quiet = QuietLog(logger, per_minute=3)
        for k in range(10):
            quiet.info("bad frame %d", k)
        assert [r.getMessage() for r in handler.lines] == ["bad frame 0", "bad frame 1", "bad frame 2"]
    finally:
        logger.removeHandler(handler)


# --- 9. long work in slices
def test_an_epoch_step_is_trained_in_slices_while_other_sessions_get_frames(sockets):
    victim = sockets()
    victim.emit("play")
    stepper = sockets()
    stepper.emit("set", {"dataset": "digits", "hidden_sizes": [32] * 5, "batch_size": 1}, ack_id=1)
    stepper.wait_for(lambda r: 1 in r.acks)
    assert stepper.acks[1][0]["ok"], stepper.acks[1]
    stepper.emit("step", {"unit": "epoch"}, ack_id=2)
    stepper.wait_for(lambda r: 2 in r.acks)
    at_reply, states = victim.frames, len(stepper.named("state"))
    replied = stepper.named("state")[-1][0]
    assert replied["status"] == "running" and replied["epoch"] == 0  # the reply came before the epoch's end
    done = stepper.wait_for(lambda r: [s[0] for s in r.named("state")[states:] if s[0]["status"] == "paused"], 30)
    assert done[0]["epoch"] == 1 and done[0]["step"] > 100  # the whole epoch, at batch size 1
    assert victim.frames >= at_reply + 2  # frames kept coming while the epoch trained


# --- 10. DNS rebinding and cross-site requests
def request(server, method, path, headers=None, body=None):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.putrequest(method, path, skip_host=True)
    length = {} if body is None else {"Content-Length": str(len(body))}
    for name, value in {"Host": f"127.0.0.1:{server.port}", **length, **(headers or {})}.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    status, text = response.status, response.read()
    connection.close()
    return status, text


@pytest.mark.parametrize("path", ["/", "/socket.io/?EIO=4&transport=polling", "/healthz"])
def test_a_host_name_the_server_does_not_serve_is_refused(server, path):
    rebound = {"Host": f"evil.example:{server.port}", "Origin": f"http://evil.example:{server.port}"}
    status, text = request(server, "GET", path, rebound)
    assert status == 421 and b"--allow-host evil.example" in text
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"):
        assert request(server, "GET", path, {"Host": host})[0] == 200


def test_the_allow_host_flag_adds_a_name():
    app = create_app({**TEST_CONFIG, "ALLOWED_HOSTS": ["classroom.lan"]})
    try:
        http_client = app.test_client()
        assert http_client.get("/healthz", headers={"Host": "classroom.lan:5000"}).status_code == 200
        assert http_client.get("/healthz", headers={"Host": "evil.example"}).status_code == 421
    finally:
        app.extensions["nnplayground"].shutdown()


def test_a_cross_site_simple_post_changes_nothing(server, sockets):
    raw = sockets()
    token = token_of(raw)
    session = manager_of(server).get(token)
    before = {k: v.copy() for k, v in session.lab.trainer.model.state_dict().items()}
    buffer = io.BytesIO()
    np.savez(buffer, **{"0.weight": np.ones((3, 2)), "0.bias": np.zeros(3), "2.weight": np.ones((1, 3)),
                        "2.bias": np.zeros(1)})
    path = f"/api/session/{token}/model"
    for cross in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        status, _ = request(server, "POST", path, {"Content-Type": "text/plain", **cross}, buffer.getvalue())
        assert status == 403
    after = session.lab.trainer.model.state_dict()
    assert all(np.array_equal(after[k], v) for k, v in before.items())
    same = {"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"}
    status, text = request(server, "POST", path, same, buffer.getvalue())
    assert status == 200, text


def test_new_connections_from_one_address_are_rate_limited(quiet_server):
    with LiveServer(create_app({**TEST_CONFIG, "CONNECT_BURST": 3, "CONNECTS_PER_SECOND": 0.001})) as server:
        handshakes = [request(server, "GET", "/socket.io/?EIO=4&transport=polling")[0] for _ in range(5)]
        assert handshakes == [200, 200, 200, 429, 429]
        assert request(server, "GET", "/healthz")[0] == 200  # only new connections count


# --- 11. the small ones
def test_the_state_counts_the_connecting_viewer_and_the_others_hear_of_it(sockets):
    first = sockets()
    assert first.wait_for(lambda r: r.named("state"))[0][0]["viewers"] == 1
    second = sockets(token_of(first))
    assert second.wait_for(lambda r: r.named("state"))[0][0]["viewers"] == 2
    first.wait_for(lambda r: r.named("state")[-1][0]["viewers"] == 2)
    second.close()
    first.wait_for(lambda r: r.named("state")[-1][0]["viewers"] == 1)


@pytest.mark.parametrize("token", [12345678, 1.5, ["abcdefgh"], "abcdefgh\n"])
def test_a_token_that_is_not_a_token_string_gets_the_auth_error(sockets, token):
    raw = sockets(connect=False)
    import json

    raw.send("40" + json.dumps({"token": token}))
    raw.wait_for(lambda r: r.errors)
    assert raw.errors[0]["field"] == "auth.token" and raw.named("session")[0][0]["created"] is True


def test_session_tokens_stay_out_of_the_access_log(server, sockets, quiet_server):
    token = token_of(sockets())
    assert request(server, "GET", f"/api/session/{token}/model.npz")[0] == 200
    access = [r.getMessage() for r in quiet_server.lines if r.name == "werkzeug"]
    assert any("/api/session/" in line for line in access)
    assert not [line for line in access if token in line]
