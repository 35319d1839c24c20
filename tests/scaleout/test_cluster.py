"""Two real server processes sharing a real Redis (docs/deploy.md): sessions reached from either process, a class
followed through both, a follower's controls refused through both, and Redis going away and coming back."""

from __future__ import annotations

import json
import urllib.request

import numpy as np

from app.cluster import wire
from app.server.client import Viewer
from app.sessions.classroom import FOLLOWING
from tests.app.test_classroom import everything_said

from .conftest import in_directory


async def class_on(url: str, redis_url: str):
    """A teacher on ``url`` running a class, training briskly: (teacher, code)."""
    teacher = await Viewer(url).connect()
    assert (await teacher.call("set", {"speed": 1500}))["ok"]
    assert (await teacher.call("play"))["ok"]
    code = (await teacher.call("class_start"))["class"]["code"]
    await in_directory(redis_url, wire.class_key(code))
    return teacher, code


def test_a_session_is_controlled_after_a_reconnect_that_lands_on_the_other_process(processes, redis_url, run):
    a, b = processes

    async def scenario():
        first = await Viewer(a.url).connect()
        token = first.token
        entry = await in_directory(redis_url, wire.session_key(wire.public_id(token)))
        assert entry == {"worker": "a"}
        assert (await first.call("set", {"hidden_sizes": [6, 5], "learning_rate": 0.2}))["ok"]
        await first.disconnect()

        again = await Viewer(b.url, token=token).connect()  # a refresh that lands on the other process
        assert again.created is False and again.token == token
        assert again.state["settings"]["hidden_sizes"] == [6, 5] and again.state["settings"]["learning_rate"] == 0.2
        assert {"dataset", "history"} <= set(again.sections)  # the late joiner's bundles came through too
        assert (await again.call("set", {"learning_rate": 0.3, "speed": 1500}))["ok"]
        assert (await again.call("play"))["ok"]
        frame = await again.wait_for(lambda v: v.frame["step"] > 200 and v.frame, timeout=30)
        assert frame["learning_rate"] == 0.3 and frame["status"] == "running"
        refused = await again.call("set", {"learning_rate": 50})  # validated where it runs, answered here
        assert refused["ok"] is False and refused["error"]["field"] == "learning_rate"
        assert again.errors[-1]["field"] == "learning_rate"

        # Its model file is served through either process (the owner answers the request).
        for url in (a.url, b.url):
            with urllib.request.urlopen(f"{url}/api/session/{token}/model.json", timeout=10) as answer:
                model = json.loads(answer.read())
            assert model["settings"]["learning_rate"] == 0.3

        back = await Viewer(a.url, token=token).connect()  # and on its own process again: one session
        assert back.created is False and back.state["settings"]["learning_rate"] == 0.3
        assert back.state["viewers"] == 2
        for viewer in (again, back):
            await viewer.disconnect()

    run(scenario())


def test_followers_on_both_processes_see_the_teachers_frames_and_cannot_drive_it(processes, redis_url, run):
    a, b = processes

    async def scenario():
        teacher, code = await class_on(a.url, redis_url)
        near = await Viewer(a.url, join=code, log=True).connect()
        far = await Viewer(b.url, join=code, log=True).connect()
        assert far.classroom["role"] == "follower" and far.classroom["code"] == code and far.session is None
        await teacher.wait_for(lambda v: v.classroom["following"] == 2)
        start = teacher.frame["epoch"]
        for follower in (near, far):
            await follower.wait_for(lambda v: v.frame["epoch"] >= start + 3, timeout=30)
        assert far.frame["status"] == "running" and "dataset" in far.sections

        before = teacher.state
        for follower in (near, far):
            for event, payload in (("set", {"learning_rate": 5.0}), ("pause", {}), ("reset", {}),
                                   ("class_end", {}), ("set_lab", {"lab": "cnn"})):
                reply = await follower.call(event, payload)
                assert reply["ok"] is False, (event, reply)
                assert (reply["error"]["field"], reply["error"]["received"]) == ("role", '"follower"')
                assert FOLLOWING in reply["error"]["message"]
        assert [e["message"] for e in near.errors] == [e["message"] for e in far.errors]  # the same words
        await teacher.call("set", {"seed": 3})  # a round trip after every refusal: nothing else changed
        assert teacher.state["config_version"] == before["config_version"] + 1
        assert teacher.state["settings"]["learning_rate"] == before["settings"]["learning_rate"]
        assert teacher.state["status"] == "running" and teacher.state["lab"] == "mlp"
        await far.wait_for(lambda v: v.state["config_version"] == teacher.state["config_version"])
        assert teacher.token not in everything_said(far)  # nothing relayed to a follower carries the token

        # A copy taken through the other process is the student's own; bring-back reaches it there too.
        await teacher.call("pause")
        paused = await teacher.wait_for(lambda v: v.frame["status"] == "paused" and v.frame)
        await far.wait_for(lambda v: v.frame["step"] == paused["step"])
        assert (await far.call("fork"))["ok"]
        copy = await far.wait_for(lambda v: v.session and v.classroom["forked"] and v.session)
        assert copy["token"] != teacher.token
        forked = await far.wait_for(lambda v: "weight.1" in v.frame["arrays"] and v.state["step"] == paused["step"]
                                    and v.frame)
        assert np.array_equal(forked["arrays"]["weight.0"], paused["arrays"]["weight.0"])
        assert (await far.call("set", {"learning_rate": 1.0}))["ok"] and (await far.call("play"))["ok"]
        await far.wait_for(lambda v: v.frame["step"] > paused["step"] + 50)
        assert teacher.frame["step"] == paused["step"] and teacher.state["settings"]["learning_rate"] != 1.0
        assert (await teacher.call("bring_back"))["brought_back"] == 1
        await far.wait_for(lambda v: v.classroom["forked"] is False and v.frame["step"] == paused["step"])
        assert (await far.call("play"))["error"]["field"] == "role"

        # A new code reaches the follower in the other process; the old one no longer opens the class there;
        # ending the class tells it and lets it go.
        new_code = (await teacher.call("class_rotate"))["class"]["code"]
        await far.wait_for(lambda v: v.classroom["code"] == new_code)
        late = Viewer(b.url, join=code)
        await late.connect(wait=False)
        assert (await late.wait_for(lambda v: v.errors and v.disconnected and v.errors[0]))["field"] == "auth.join"
        assert (await teacher.call("class_end"))["ok"]
        await far.wait_for(lambda v: v.classroom["ended"] is True and v.disconnected)
        for viewer in (near, teacher):
            await viewer.disconnect()

    run(scenario())


def test_redis_going_away_and_back_loses_no_session(processes, redis_server, run):
    a, b = processes

    async def scenario():
        teacher, code = await class_on(a.url, redis_server.url)
        far = await Viewer(b.url, join=code, log=True).connect()
        await far.wait_for(lambda v: v.frame["epoch"] >= 2, timeout=30)

        at_stop = teacher.frame["step"]
        redis_server.stop()
        await far.wait_for(lambda v: v.relays and v.relays[-1]["state"] == "reconnecting", timeout=20)
        assert "Redis" in far.relays[-1]["message"]
        during = teacher.frame["epoch"]
        await teacher.wait_for(lambda v: v.frame["epoch"] >= during + 3, timeout=30)  # the owner keeps training
        refused = await far.call("set", {"learning_rate": 0.5})
        assert refused["ok"] is False and "Redis" in refused["error"]["message"]

        redis_server.start()
        await far.wait_for(lambda v: v.relays[-1]["state"] == "live", timeout=30)
        resumed = teacher.frame["epoch"]
        await far.wait_for(lambda v: v.frame["epoch"] >= resumed + 2, timeout=30)  # frames flow again
        # The directory is rebuilt by the heartbeats: the teacher's refresh through the other process finds
        # the session, trained on meanwhile.
        await in_directory(redis_server.url, wire.session_key(wire.public_id(teacher.token)))
        again = await Viewer(b.url, token=teacher.token).connect()
        assert again.created is False and again.frame["step"] > at_stop
        for viewer in (again, far, teacher):
            await viewer.disconnect()

    run(scenario())
