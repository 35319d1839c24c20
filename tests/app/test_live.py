"""A real server on 127.0.0.1 driven by python-socketio's AsyncClient (app.client.Viewer)."""

import asyncio
import itertools
import logging

import numpy as np
import pytest
import socketio

from app.server.client import Viewer
from app.server.controls import LIMITS
from bad_messages import BAD_MESSAGES


def running_since(step):
    """A predicate: the latest frame is a running one past ``step``."""
    return lambda v: v.frame["status"] == "running" and v.frame["step"] > step and v.frame


def at_version(version):
    return lambda v: v.frame["config_version"] >= version and v.frame


def test_connect_receives_session_schema_state_and_a_binary_frame(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        assert viewer.created is True and len(viewer.token) >= 16
        assert [c["name"] for c in viewer.schema["controls"]][:3] == ["dataset", "problem", "noise"]
        assert viewer.state["layer_sizes"] == [2, 8, 8, 1]
        arrays = viewer.frame["arrays"]
        assert arrays["weight.0"].shape == (8, 2) and arrays["weight.0"].dtype == np.float32
        assert arrays["output_grid"].shape == (1, 100, 100)
        assert arrays["neuron_grid.1"].shape == (8, 25, 25)
        assert viewer.sections["dataset"]["arrays"]["train.x"].shape == (250, 2)
        await viewer.disconnect()

    run(scenario())


def test_play_and_the_loss_falls(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("set", {"learning_rate": 0.1})
        assert (await viewer.call("play"))["ok"]
        first = await viewer.wait_for(lambda v: v.frame["train_loss"] is not None and running_since(0)(v))
        later = await viewer.wait_for(lambda v: v.frame["train_loss"] < 0.5 * first["train_loss"] and v.frame,
                                      timeout=30)
        assert later["step"] > first["step"] and later["epoch"] >= 1
        await viewer.disconnect()

    run(scenario())


def test_learning_rate_changed_mid_run_shows_in_a_following_frame(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("play")
        before = await viewer.wait_for(running_since(100))
        reply = await viewer.call("set", {"learning_rate": 0.07})
        frame = await viewer.wait_for(at_version(reply["config_version"]))
        assert frame["learning_rate"] == 0.07 and frame["status"] == "running"
        await viewer.wait_for(running_since(frame["step"]))  # and it keeps training
        assert frame["step"] > before["step"]
        await viewer.disconnect()

    run(scenario())


def test_add_neuron_mid_run_changes_shapes_and_keeps_old_weights(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("play")
        await viewer.wait_for(running_since(200))
        reply = await viewer.call("add_neuron", {"layer": 0})  # mid-run
        frame = await viewer.wait_for(at_version(reply["config_version"]))
        assert frame["layer_sizes"] == [2, 9, 8, 1]
        assert frame["arrays"]["weight.0"].shape == (9, 2) and frame["arrays"]["weight.1"].shape == (8, 9)
        await viewer.wait_for(running_since(frame["step"]))
        # Exactly: pause, look, add, look again.
        reply = await viewer.call("pause")
        old = (await viewer.wait_for(at_version(reply["config_version"])))["arrays"]
        reply = await viewer.call("add_neuron", {"layer": 1})
        new = (await viewer.wait_for(at_version(reply["config_version"])))["arrays"]
        assert new["weight.1"].shape == (9, 9) and new["weight.2"].shape == (1, 9)
        np.testing.assert_array_equal(new["weight.1"][:8], old["weight.1"])
        np.testing.assert_array_equal(new["bias.1"][:8], old["bias.1"])
        np.testing.assert_array_equal(new["weight.2"][:, :8], old["weight.2"])
        np.testing.assert_array_equal(new["weight.0"], old["weight.0"])
        await viewer.disconnect()

    run(scenario())


def test_200_malformed_messages_each_get_an_error_and_training_goes_on(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("play")
        start = await viewer.wait_for(running_since(0))
        bad = list(itertools.islice(itertools.cycle(BAD_MESSAGES), 200))
        for event, payload, field in bad:
            reply = await viewer.call(event, payload)
            assert reply["ok"] is False and reply["error"]["field"] == field, (event, payload, reply)
            # Paced at half the rate limit (a token bucket of 200 refilled at 100/s): every message is judged
            # on its content, never refused for the rate.
            await asyncio.sleep(2 / LIMITS.max_messages_per_second)
        await viewer.wait_for(lambda v: len(v.errors) >= 200)
        assert len(viewer.errors) == 200
        assert not viewer.disconnected
        after = await viewer.wait_for(running_since(start["step"] + 500), timeout=20)
        assert after["layer_sizes"] == [2, 8, 8, 1] and after["learning_rate"] == 0.03
        await viewer.disconnect()

    run(scenario())


def test_oversized_payload_drops_the_connection_and_the_session_survives(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("step", {"unit": "epoch"})
        await viewer.emit("set", {"noise": "x" * 2_000_000})  # over Engine.IO's 1 MB: Socket.IO closes
        await viewer.wait_for(lambda v: v.disconnected)
        again = await Viewer(live.url, token=viewer.token).connect()
        assert again.created is False
        await again.wait_for(lambda v: v.frame["status"] == "paused" and v.frame["step"] == 25)  # the epoch step
        await again.disconnect()

    run(scenario())


def test_refresh_rejoins_with_the_step_count_intact(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("play")
        await viewer.wait_for(running_since(300))
        reply = await viewer.call("pause")
        paused = await viewer.wait_for(at_version(reply["config_version"]))
        await viewer.disconnect()
        again = await Viewer(live.url, token=viewer.token).connect()
        assert again.created is False
        assert again.frame["step"] == paused["step"] > 300
        np.testing.assert_array_equal(again.frame["arrays"]["weight.1"], paused["arrays"]["weight.1"])
        assert len(again.sections["history"]["arrays"]["history.step"]) > 0
        await again.disconnect()

    run(scenario())


def test_cross_origin_handshake_is_refused(live, run):
    async def scenario():
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Viewer(live.url, headers={"Origin": "http://evil.example"}).connect(wait=False)
        same = await Viewer(live.url, headers={"Origin": live.url}).connect()
        await same.disconnect()

    run(scenario())


def test_divergence_is_reported_and_reset_recovers(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("set", {"dataset": "plane", "learning_rate": 10.0})
        await viewer.call("play")
        diverged = await viewer.wait_for(lambda v: v.frame["status"] == "diverged" and v.frame, timeout=20)
        state = await viewer.wait_for(lambda v: v.state["status"] == "diverged" and v.state)  # not only frames
        assert state["divergence"] == diverged["divergence"]
        assert state["config_version"] == diverged["config_version"]
        assert diverged["divergence"]["step"] == diverged["step"]
        assert "learning rate" in diverged["divergence"]["message"]
        assert diverged["divergence"]["loss"] in ("nan", "inf")
        reply = await viewer.call("reset")
        fresh = await viewer.wait_for(at_version(reply["config_version"]))
        assert fresh["status"] == "paused" and fresh["step"] == 0 and fresh["divergence"] is None
        assert np.isfinite(fresh["arrays"]["weight.0"]).all()
        await viewer.call("set", {"learning_rate": 0.01})
        await viewer.call("play")
        recovered = await viewer.wait_for(lambda v: running_since(100)(v) and v.frame["train_loss"] is not None
                                          and v.frame)
        assert np.isfinite(recovered["train_loss"])
        await viewer.disconnect()

    run(scenario())


def test_a_slow_viewer_does_not_slow_training(live, run):
    """Steps trained over the same window, with and without a viewer that acks 200 ms late."""

    async def steps_over(viewer, windows=4, seconds=0.5):
        # The best of a few short windows: a shared, noisy machine slows some windows for reasons of its own.
        best = 0
        for _ in range(windows):
            first = viewer.frame["step"]
            await asyncio.sleep(seconds)  # a measuring window, not a wait for a condition
            best = max(best, viewer.frame["step"] - first)
        return best

    async def scenario():
        viewer = await Viewer(live.url, decode=False).connect()
        await viewer.call("set", {"speed": 60_000})  # time-capped: the steps measure the trainer's share
        await viewer.call("play")
        await viewer.wait_for(running_since(100))
        alone = await steps_over(viewer)
        slow = await Viewer(live.url, viewer.token, decode=False, ack_delay=0.2).connect()
        with_slow = await steps_over(viewer)
        assert slow.frame_count >= 1 and not slow.disconnected
        assert with_slow >= 0.5 * alone, (alone, with_slow)
        await slow.disconnect()
        await viewer.disconnect()

    run(scenario())


def test_a_client_that_never_acks_is_sent_at_most_two_frames(live, run):
    manager = live.app.extensions["nnplayground"]

    async def scenario():
        driver = await Viewer(live.url).connect()
        await driver.call("play")
        mute = Viewer(live.url, driver.token, decode=False)
        stuck = asyncio.Event()

        async def never_ack(payload):
            mute.frame_count += 1
            await stuck.wait()  # python-socketio acks when the handler returns: it never does

        mute.sio.on("frame", never_ack)
        await mute.connect(wait=False)
        sid = mute.sio.get_sid()
        await driver.wait_for(lambda v: mute.frame_count >= 1)
        # Many frames published for it, several ACK_TIMEOUTs (0.5 s here) long: still at most two sent.
        await driver.wait_for(lambda v: manager.stream.stats(sid).get("frames_dropped", 0) >= 120, timeout=30)
        stats = manager.stream.stats(sid)
        assert 1 <= stats["frames_sent"] <= 2 and stats["in_flight"] == stats["frames_sent"]
        assert mute.frame_count == stats["frames_sent"]
        stuck.set()
        await mute.disconnect()
        await driver.disconnect()

    run(scenario())


def test_an_unparseable_packet_gets_an_error_and_no_traceback(live, run):
    class Records(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.records = []

        def emit(self, record):
            self.records.append(record)

    records = Records()
    eio_logger = live.app.extensions["socketio"].server.eio.logger
    eio_logger.addHandler(records)

    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("play")
        await viewer.sio.eio.send('2["set"')  # Engine.IO message "42[\"set\"": cut-off JSON
        await viewer.sio.eio.send("2" + "[" * 20000 + "]" * 20000)
        await viewer.wait_for(lambda v: len(v.errors) >= 2)
        assert [e["received"] for e in viewer.errors] == ["<unparseable packet>"] * 2
        assert not viewer.disconnected
        await viewer.wait_for(running_since(viewer.frame["step"]))  # still training, still connected
        await viewer.disconnect()

    try:
        run(scenario())
    finally:
        eio_logger.removeHandler(records)
    assert not [r for r in records.records if r.exc_info], [r.getMessage() for r in records.records]
