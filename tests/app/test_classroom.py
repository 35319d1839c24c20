"""Classes over real sockets: a teacher's session, followers who can change nothing, copies, codes, late joiners."""

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from app.labs import LABS
from app.server.client import Viewer
from app.server.messages import COMMON_EVENTS
from app.sessions.classroom import (CODE_ALPHABET, CODE_LENGTH, FOLLOWING, TEACHER_EVENTS, WRONG_CODE_BURST,
                                    Classrooms, normalize_code, qr_svg, set_lesson_step)


async def start_class(url):
    """A teacher (a viewer with its own session) running a class: (teacher, code)."""
    teacher = await Viewer(url).connect()
    reply = await teacher.call("class_start")
    assert reply["ok"], reply
    return teacher, reply["class"]["code"]


def get(url):
    """(status, body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def everything_said(viewer) -> str:
    """Every event ``viewer`` received, as text: JSON fields and the raw bytes of every array."""
    def text(value):
        if isinstance(value, (bytes, bytearray)):
            return value.decode("latin-1")
        if isinstance(value, dict):
            return " ".join(f"{k} {text(v)}" for k, v in value.items())
        if isinstance(value, list):
            return " ".join(text(v) for v in value)
        return json.dumps(value)
    return "\n".join(f"{name} {text(payload)}" for name, payload in viewer.received)


def test_codes_have_no_look_alikes_and_are_typed_forgivingly():
    assert not set("0O1IL") & set(CODE_ALPHABET)
    classrooms = Classrooms.__new__(Classrooms)
    classrooms.by_code = {}
    codes = {classrooms._new_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert normalize_code(" abx-tz9 ") == "ABXTZ9"
    assert normalize_code("ABXTZO") is None and normalize_code("ABXT") is None and normalize_code(7) is None
    assert qr_svg("http://10.0.0.5:5000/join/ABXTZ9").startswith(b"<svg")


def test_a_follower_can_change_nothing_in_any_lab_and_never_learns_the_token(live, run):
    async def scenario():
        teacher, code = await start_class(live.url)
        follower = await Viewer(live.url, join=code, log=True).connect()
        assert follower.session is None and follower.classroom["role"] == "follower"
        assert follower.classroom["code"] == code and follower.classroom["join_url"].endswith(f"/join/{code}")
        assert (await teacher.wait_for(lambda v: v.classroom["following"] == 1 and v.classroom))["forked"] == 0
        for name, lab in LABS.items():  # every lab registered, so labs added later are covered too
            await teacher.call("set_lab", {"lab": name})
            await teacher.call("pause")
            await follower.wait_for(lambda v: v.schema["lab"] == name and v.frame["lab"] == name)
            before = teacher.state
            events = sorted({*lab.event_models(), *COMMON_EVENTS, *TEACHER_EVENTS})
            for event in events:
                payload = {"learning_rate": 0.5} if event == "set" else {"lab": "mlp"} if event == "set_lab" else {}
                reply = await follower.call(event, payload)
                assert reply["ok"] is False, (name, event, reply)
                error = reply["error"]
                assert (error["event"], error["field"], error["received"]) == (event, "role", '"follower"')
                assert FOLLOWING in error["message"] and error["allowed"]
            await teacher.call("set", {"seed": 1})  # a round trip: every refused message was handled before it
            assert teacher.state["config_version"] == before["config_version"] + 1
            assert teacher.state["lab"] == name and teacher.state["step"] == before["step"]
            assert {k: v for k, v in teacher.state["settings"].items() if k != "seed"} == \
                   {k: v for k, v in before["settings"].items() if k != "seed"}
            await follower.wait_for(lambda v: v.state["config_version"] == teacher.state["config_version"])
        # Followers see the teacher's session: the same frames, training included.
        await teacher.call("set_lab", {"lab": "mlp"})
        await teacher.call("play")
        frame = await follower.wait_for(lambda v: v.frame["lab"] == "mlp" and v.frame["step"] > 50 and v.frame)
        assert frame["status"] == "running"
        assert teacher.token not in everything_said(follower)
        assert any(name == "frame" for name, _ in follower.received)
        await follower.disconnect()
        await teacher.disconnect()

    run(scenario())


def test_the_join_code_never_opens_control(live, run):
    async def scenario():
        teacher, code = await start_class(live.url)
        await teacher.call("pause")
        # The code as a session token: a fresh session of one's own (the code is no token at all).
        guess = await Viewer(live.url, auth={"token": code}).connect()
        assert guess.token != teacher.token and guess.created and guess.errors[0]["field"] == "auth.token"
        await guess.call("set", {"learning_rate": 5.0})
        padded = await Viewer(live.url, auth={"token": code * 2}).connect()
        assert padded.token != teacher.token and padded.created
        for bad in ({"join": code, "token": teacher.token[:10]}, {"join": code, "fork": "../" + code},
                    {"join": code.lower() + "Q"}, {"join": None}):
            stranger = Viewer(live.url, auth=bad)
            await stranger.connect(wait=False)
            error = await stranger.wait_for(lambda v: v.errors and v.disconnected and v.errors[0])
            assert error["field"] in ("auth", "auth.join") and not stranger.states
        for route in ("model.json", "model.npz", "model.py", "data.csv"):
            assert get(f"{live.url}/api/session/{code}/{route}")[0] == 404
        assert teacher.state["settings"]["learning_rate"] == 0.03
        # The follower page and its QR code carry the code only.
        status, page = get(f"{live.url}/join/{code}")
        assert status == 200 and code.encode() in page and teacher.token.encode() not in page
        assert get(f"{live.url}/join/{code.lower()}")[0] == 200  # redirected to the canonical code
        for viewer in (guess, padded, teacher):
            await viewer.disconnect()

    run(scenario())


def test_a_rotated_code_stops_working_and_followers_stay(live, run):
    async def scenario():
        teacher, old = await start_class(live.url)
        follower = await Viewer(live.url, join=old).connect()
        reply = await teacher.call("class_rotate")
        new = reply["class"]["code"]
        assert new != old and reply["class"]["following"] == 1
        assert (await follower.wait_for(lambda v: v.classroom["code"] == new and v.classroom))["role"] == "follower"
        late = Viewer(live.url, join=old)
        await late.connect(wait=False)
        assert (await late.wait_for(lambda v: v.errors and v.disconnected and v.errors[0]))["field"] == "auth.join"
        assert get(f"{live.url}/join/{old}")[0] == 404 and get(f"{live.url}/join/{old}/qr.svg")[0] == 404
        assert get(f"{live.url}/join?code={old}")[0] == 404
        status, svg = get(f"{live.url}/join/{new}/qr.svg")
        assert status == 200 and svg.startswith(b"<svg")
        await teacher.call("play")  # the follower already in still follows
        await follower.wait_for(lambda v: v.frame["status"] == "running" and v.frame["step"] > 20)
        assert get(f"{live.url}/join?code={new.lower()}")[0] == 200  # the form: to the class's page
        joined = await Viewer(live.url, join=new).connect()
        assert joined.classroom["code"] == new
        refreshed = await Viewer(live.url, teacher.token).connect()  # the teacher's refresh: still the class's
        assert refreshed.classroom["role"] == "teacher" and refreshed.classroom["code"] == new
        for viewer in (refreshed, joined, follower, teacher):
            await viewer.disconnect()

    run(scenario())


def test_fork_gives_a_private_copy_and_bring_back_returns_it(live, run):
    async def scenario():
        teacher, code = await start_class(live.url)
        await teacher.call("set", {"hidden_sizes": [5, 3], "learning_rate": 0.2})
        await teacher.call("set_lab", {"lab": "rnn"})  # every lab the teacher opened is copied
        await teacher.call("set", {"hidden_size": 7})
        await teacher.call("set_lab", {"lab": "mlp"})
        await teacher.call("play")
        await teacher.wait_for(lambda v: v.frame["step"] > 200)
        await teacher.call("pause")
        paused = await teacher.wait_for(lambda v: v.frame["status"] == "paused" and v.frame)
        follower = await Viewer(live.url, join=code).connect()
        await follower.wait_for(lambda v: v.frame["step"] == paused["step"])

        assert (await teacher.call("fork"))["error"]["received"] == '"teacher"'
        assert (await follower.call("fork"))["ok"]
        assert (await follower.call("class_start"))["error"]["received"] == '"forked"'
        copy = await follower.wait_for(lambda v: v.session and v.classroom["forked"] and v.session)
        assert copy["token"] != teacher.token and copy["created"]
        state = await follower.wait_for(lambda v: v.state["step"] == paused["step"] and v.state)
        assert state["settings"]["hidden_sizes"] == [5, 3] and state["status"] == "paused"
        forked = await follower.wait_for(lambda v: "weight.1" in v.frame["arrays"] and v.frame)
        for k in range(3):
            for name in (f"weight.{k}", f"bias.{k}"):
                assert np.array_equal(forked["arrays"][name], paused["arrays"][name]), name
        assert "history" in follower.sections and "dataset" in follower.sections
        assert (await teacher.wait_for(lambda v: v.classroom["forked"] == 1 and v.classroom))["following"] == 0

        # The copy is the student's: it trains and changes, the teacher's session does not.
        assert (await follower.call("set", {"learning_rate": 1.0}))["ok"]
        assert (await follower.call("play"))["ok"]
        trained = await follower.wait_for(lambda v: v.frame["step"] > paused["step"] + 300 and v.frame)
        assert not np.array_equal(trained["arrays"]["weight.0"], paused["arrays"]["weight.0"])  # its own weights
        assert (await follower.call("set_lab", {"lab": "rnn"}))["ok"]
        assert (await follower.wait_for(lambda v: v.state["lab"] == "rnn" and v.state))["hidden_size"] == 7
        assert (await follower.call("set", {"hidden_size": 3}))["ok"]
        assert teacher.state["settings"]["learning_rate"] == 0.2 and teacher.state["lab"] == "mlp"
        assert teacher.frame["step"] == paused["step"]
        assert all(np.array_equal(teacher.frame["arrays"][name], paused["arrays"][name]) for name in paused["arrays"]
                   if name.startswith(("weight.", "bias.")))
        await teacher.call("step")
        after = await teacher.wait_for(lambda v: v.frame["step"] == paused["step"] + 1 and v.frame)
        assert after["status"] == "paused" and after["learning_rate"] == 0.2

        # A refresh of the student's page comes back to its copy (the page keeps the copy's token).
        again = await Viewer(live.url, auth={"join": code, "fork": copy["token"]}).connect()
        assert again.created is False and again.token == copy["token"] and again.classroom["forked"] is True
        assert again.state["lab"] == "rnn" and again.state["hidden_size"] == 3
        await again.disconnect()
        await teacher.wait_for(lambda v: v.classroom["forked"] == 1)

        # Bring everyone back: the student follows the teacher again, and may change nothing again.
        assert (await teacher.call("bring_back"))["brought_back"] == 1
        await follower.wait_for(lambda v: v.classroom["forked"] is False)
        back = await follower.wait_for(lambda v: v.state["lab"] == "mlp" and v.frame["step"] == after["step"]
                                       and v.frame)
        assert back["learning_rate"] == 0.2
        assert (await follower.call("play"))["error"]["field"] == "role"
        assert (await follower.call("follow_again"))["error"]["received"] == '"follower"'
        # Take a copy again, and follow again on one's own.
        await follower.call("fork")
        await follower.wait_for(lambda v: v.classroom["forked"] is True)
        assert (await follower.call("follow_again"))["ok"]
        await follower.wait_for(lambda v: v.classroom["forked"] is False)
        assert (await teacher.wait_for(lambda v: v.classroom["following"] == 1 and v.classroom))["forked"] == 0
        for viewer in (follower, teacher):
            await viewer.disconnect()

    run(scenario())


def test_a_late_joiner_gets_the_bundles_then_frames_and_the_lesson(live, run):
    async def scenario():
        teacher, code = await start_class(live.url)
        await teacher.call("play")
        await teacher.wait_for(lambda v: v.frame["step"] > 300)
        session = live.app.extensions["nnplayground"].get(teacher.token)
        set_lesson_step(session, "what-a-neuron-does", 2)
        late = await Viewer(live.url, join=code, log=True).connect()
        names = [name for name, _ in late.received]
        assert names.index("class") < names.index("schema") < names.index("state") < names.index("frame")
        first = next(payload for name, payload in late.received if name == "frame")
        assert {"dataset", "history", "evaluation"} <= set(first)
        assert first["step"] > 300 and len(late.sections["history"]["arrays"]["history.step"]) > 1
        assert late.classroom["lesson"] == {"name": "what-a-neuron-does", "step": 2}
        set_lesson_step(session, "what-a-neuron-does", 3)
        await late.wait_for(lambda v: v.classroom["lesson"]["step"] == 3)
        assert (await teacher.wait_for(lambda v: v.classroom["lesson"]["step"] == 3 and v.classroom))
        # A refresh is a late join again: everything at once.
        await late.disconnect()
        again = await Viewer(live.url, join=code).connect()
        assert {"dataset", "history", "evaluation"} <= set(again.sections) and again.frame["step"] > 300
        for viewer in (again, teacher):
            await viewer.disconnect()

    run(scenario())


def test_ending_the_class_tells_the_followers_and_copies_stay(live, run):
    async def scenario():
        teacher, code = await start_class(live.url)
        follower = await Viewer(live.url, join=code).connect()
        student = await Viewer(live.url, join=code).connect()
        await student.call("fork")
        await student.wait_for(lambda v: v.classroom["forked"] is True)
        assert (await teacher.call("class_end"))["ok"]
        ended = await follower.wait_for(lambda v: v.classroom["ended"] and v.disconnected and v.classroom)
        assert ended["role"] == "follower" and ended["forked"] is False
        assert (await student.wait_for(lambda v: v.classroom["ended"] and v.classroom))["forked"] is True
        assert (await student.call("play"))["ok"]  # the copy is the student's to keep
        assert not student.disconnected
        await teacher.wait_for(lambda v: v.classes[-1] is None)
        assert get(f"{live.url}/join/{code}")[0] == 404
        assert (await teacher.call("class_rotate"))["error"]["field"] == "role"
        assert (await teacher.call("play"))["ok"]
        for viewer in (student, teacher):
            await viewer.disconnect()

    run(scenario())


def test_guessing_codes_is_slowed_down(live, run):
    async def scenario():
        teacher, code = await start_class(live.url)
        wrong = [c for c in ("ABCDEF", "BCDEFG", "CDEFGH", "DEFGHJ") if c != code]
        statuses = [get(f"{live.url}/join/{wrong[i % len(wrong)]}")[0] for i in range(WRONG_CODE_BURST + 1)]
        assert statuses[:WRONG_CODE_BURST] == [404] * WRONG_CODE_BURST and statuses[-1] == 429
        status, page = get(f"{live.url}/join/{code}")  # even the right code waits now (it would be a lucky guess)
        assert status == 429 and b"Too many wrong codes" in page
        late = Viewer(live.url, join=code)
        await late.connect(wait=False)
        error = await late.wait_for(lambda v: v.errors and v.disconnected and v.errors[0])
        assert error["field"] == "auth.join" and "too many wrong class codes" in error["allowed"]
        await teacher.disconnect()

    run(scenario())
