"""A class on one server: training time shared per client address, one encoding per frame for every follower,
a follower that never acks costing the others nothing, followers' frame rate capped, bursts of controls
coalesced into one state per viewer, oversized messages refused at their header. (bench/classroom.py measures.)"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
import types

import pytest
import socketio

import app.labs.base
import app.sessions.scheduler
from app.server.client import Viewer
from app.server.config import DEFAULT_CONFIG
from app.sessions.manager import SessionManager
from app.sessions.scheduler import next_deadline

from rawsocket import RawSocket


# --- fairness, counted in steps under a clock that advances a fixed amount per reading (no wall clock)
@pytest.fixture
def step_clock(monkeypatch):
    """perf_counter advances 0.1 ms at each reading, so a slice of s seconds is about s / 0.1 ms steps."""
    now = [0.0]

    def perf_counter():
        now[0] += 1e-4
        return now[0]

    clock = types.SimpleNamespace(perf_counter=perf_counter, thread_time=perf_counter, monotonic=time.monotonic,
                                  time=time.time)
    monkeypatch.setattr(app.labs.base, "time", clock)
    monkeypatch.setattr(app.sessions.scheduler, "time", clock)


@pytest.fixture
def step_cost_clock(monkeypatch, training_clock):
    """A clock that only the MLP lab's minibatch steps move, 0.1 ms each (a trainer's ``step_cost`` if it has
    one): a session's time is its steps."""
    import app.labs.mlp.training

    original = app.labs.mlp.training.Trainer.train_step

    def train_step(self):
        training_clock[0] += getattr(self, "step_cost", 1e-4)
        return original(self)

    monkeypatch.setattr(app.labs.base, "time", types.SimpleNamespace(
        perf_counter=lambda: training_clock[0], monotonic=time.monotonic, time=time.time))
    monkeypatch.setattr(app.labs.mlp.training.Trainer, "train_step", train_step)
    return training_clock


def manager_with(clients):
    """``clients``: [(address, token or None)]: one connection each (None: a session of its own). Returns the
    manager (scheduler not started: ticked by hand) and the sessions in order of creation."""
    manager = SessionManager(dict(DEFAULT_CONFIG, FPS=60), socketio.Server())
    manager.stream.threaded = False  # no sender thread: its real CPU time would be charged against this clock
    sessions = []
    for k, (address, token) in enumerate(clients):
        token = sessions[token].token if isinstance(token, int) else token
        session, created = manager.connect(f"sid{k}", token, address=address)
        if created:
            session.lab.apply_settings({"speed": 60_000})
            session.lab.status = "running"
            sessions.append(session)
    return manager, sessions


def steps_over_ticks(manager, sessions, ticks=40):
    before = [s.lab.trainer.step for s in sessions]
    for _ in range(ticks):
        manager.scheduler.tick(0.0)
    return [s.lab.trainer.step - b for s, b in zip(sessions, before)]


def class_rate_alone_and_shared(manager, teacher, students, clock, ticks):
    """The class's steps per second of the training clock over ``ticks`` with the students' sessions paused, then
    playing (after 10 ticks in which the students' frame costs are learned: a running average)."""
    def class_rate():
        began, step = clock[0], teacher.lab.trainer.step
        steps_over_ticks(manager, [], ticks)
        return (teacher.lab.trainer.step - step) / (clock[0] - began)

    for student in students:
        student.lab.status = "paused"
    alone = class_rate()
    for student in students:
        student.lab.status = "running"
    steps_over_ticks(manager, [], 10)
    return alone, class_rate()


def test_a_class_followed_by_30_keeps_half_the_training_time_when_30_students_train_their_own(step_cost_clock):
    # The teacher's class, followed from 30 addresses; each of those 30 students also trains a session of its own.
    clients = [("10.0.0.1", None)] + [(f"10.0.1.{k}", 0) for k in range(30)] + [(f"10.0.1.{k}", None)
                                                                               for k in range(30)]
    manager, sessions = manager_with(clients)
    weights = manager.weights(sessions)
    assert weights[sessions[0]] == 16 and all(weights[s] == 0.5 for s in sessions[1:])  # 1 + 30 × ½; ½ each
    steps = steps_over_ticks(manager, sessions)
    assert 0.49 <= steps[0] / sum(steps) <= 0.55, steps  # its share, 16/31, not 1/31 as an equal split would give


def test_a_session_whose_steps_are_longer_than_its_part_pays_the_overrun_back_by_sitting_turns_out(step_cost_clock):
    # As above, but each student's minibatch step takes 3 ms (a bigger network), 12 times its part of a tick: a
    # step cannot be cut, so each one it takes is owed and paid back from its next parts. When the overrun was
    # forgiven, every student took a 3 ms step each tick and the class kept a fifth of its share.
    clients = [("10.0.0.1", None)] + [(f"10.0.1.{k}", 0) for k in range(30)] + [(f"10.0.1.{k}", None)
                                                                               for k in range(30)]
    manager, (teacher, *students) = manager_with(clients)
    for student in students:
        student.lab.trainer.step_cost = 3e-3
    began = step_cost_clock[0]
    steps = steps_over_ticks(manager, [teacher, *students], 120)
    class_time = steps[0] * 1e-4 / (step_cost_clock[0] - began)
    assert 0.9 * 16 / 31 <= class_time <= 1.1 * 16 / 31, (class_time, steps[:3])
    assert min(steps[1:]) >= 2, steps  # every student still trains, about one step in 12 ticks
    assert min(manager.scheduler._saved.values(), default=0.0) >= -3e-3  # never more owed than a step's overrun


def test_a_session_s_frames_are_charged_to_its_own_share_so_costly_student_frames_leave_the_class_its_share(
        training_clock, monkeypatch):
    # The class followed by 30 students, alone and then with each student training a session whose every frame
    # costs 2 ms (8 times its part of a tick): the class keeps its share of the time, 16/31, however costly the
    # others' frames (when frames came off the top before the shares, it kept about 1/8 of it).
    followers = [(f"10.0.1.{k}", 0) for k in range(30)]
    manager, sessions = manager_with([("10.0.0.1", None)] + followers + [(f"10.0.1.{k}", None) for k in range(30)])
    monkeypatch.setattr(manager.stream, "wants_frame", lambda sids: True)  # every viewer takes every frame
    monkeypatch.setattr(manager.stream, "publish", lambda sids, frame: None)
    teacher, students = sessions[0], sessions[1:]
    for student in students:
        def costly(build=student.build_frame):
            training_clock[0] += 2e-3
            return build()
        student.build_frame = costly

    alone, shared = class_rate_alone_and_shared(manager, teacher, students, training_clock, 30)
    assert shared / alone >= 0.8 * 16 / 31, (shared, alone)
    assert all(s.lab.trainer.step > 0 for s in students)  # and each student's session trains too


def test_a_session_that_trains_all_its_speed_asks_gets_a_frame_every_tick(training_clock, monkeypatch):
    # A class at its default pace (20 steps a second) whose frames cost 2 ms: it owes no training for them (it
    # trained what its speed asks), so its frames come every tick (when it owed training it could not do, the
    # teacher's screen got 3 frames a second).
    manager, (teacher,) = manager_with([("10.0.0.1", None)])
    teacher.lab.apply_settings({"speed": 20})
    published = []
    monkeypatch.setattr(manager.stream, "wants_frame", lambda sids: True)
    monkeypatch.setattr(manager.stream, "publish", lambda sids, frame: published.append(frame))

    def costly(build=teacher.build_frame):
        training_clock[0] += 2e-3
        return build()

    teacher.build_frame = costly
    for _ in range(60):
        training_clock[0] += 1.0 / 60  # the tick's wait: speed is steps per second of this clock
        manager.scheduler.tick(0.0)
    assert len(published) >= 58, len(published)
    assert 15 <= teacher.lab.trainer.step <= 25  # and it trained its 20 steps a second


def test_a_session_whose_frames_cost_more_than_its_part_alternates_showing_and_learning(step_cost_clock,
                                                                                      monkeypatch):
    # Ten students' sessions whose frames cost 4 ms each, 2.5 times a student's part of a tick: each saves up for
    # a frame, then trains at least MIN_TRAIN_SHARE of the time the two take before the next one: neither
    # the frames nor the training starve (in bench/classroom.py, 30 students training a quarter of their part on
    # every tick while they saved up, the slice's one unavoidable step ate the savings: 0–0.3 frames a second).
    manager, students = manager_with([(f"10.0.1.{k}", None) for k in range(10)])
    frames = dict.fromkeys(students, 0)
    monkeypatch.setattr(manager.stream, "wants_frame", lambda sids: True)
    monkeypatch.setattr(manager.stream, "publish", lambda sids, frame: None)
    for student in students:
        def costly(build=student.build_frame, student=student):
            step_cost_clock[0] += 4e-3
            frames[student] += 1
            return build()
        student.build_frame = costly
    steps = steps_over_ticks(manager, students, 240)
    for student, trained in zip(students, steps):
        assert frames[student] >= 20, frames  # about a frame every 4 ticks of 1.57 ms parts
        share = manager.scheduler.min_train_share
        assert trained * 1e-4 >= 0.8 * share / (1 - share) * frames[student] * 4e-3, (trained, frames[student])


def test_what_a_session_s_frames_cost_to_deliver_is_paid_from_its_own_share(training_clock, monkeypatch):
    # A class followed by 10 students, alone and then with each student training a session whose frames cost
    # 2 ms each to deliver (sending it, reading its ack: CPU of the sender's and the connection's threads, which
    # the scheduler learns from FrameStream.take_delivered and which takes that time from everyone's tick). The
    # class keeps its share, 6/11 (1 + 10 × ½ against 10 × ½): a session's viewers' delivery comes out of its part
    # (when it was charged to nobody, the class kept 0.31 of its rate alone); its followers' off the top.
    followers = [(f"10.0.1.{k}", 0) for k in range(10)]
    manager, sessions = manager_with([("10.0.0.1", None)] + followers + [(f"10.0.1.{k}", None) for k in range(10)])
    teacher, students = sessions[0], sessions[1:]
    delivery = {teacher: 1e-5}  # s per frame sent to a viewer: the class's phones cost little each
    delivery.update(dict.fromkeys(students, 2e-3))
    owed = {}
    monkeypatch.setattr(manager.stream, "wants_frame", lambda sids: True)  # every viewer takes every frame

    def publish(sids, frame):  # delivered at once, counted per connection
        for sid in sids:
            owed[sid] = owed.get(sid, 0.0) + delivery[frame.account]

    def take_delivered():  # the delivery happened since the last tick: it took that long on the clock
        taken = dict(owed)
        owed.clear()
        training_clock[0] += sum(taken.values())
        return taken

    monkeypatch.setattr(manager.stream, "publish", publish)
    monkeypatch.setattr(manager.stream, "take_delivered", take_delivered)

    alone, shared = class_rate_alone_and_shared(manager, teacher, students, training_clock, 60)
    assert shared / alone >= 0.9 * 6 / 11, (shared, alone)
    assert all(s.lab.trainer.step > 0 for s in students)  # each student's session still trains and shows frames


def test_a_tick_overrun_by_slow_steps_leaves_no_session_owing_time_it_was_never_given(training_clock, monkeypatch):
    # 30 students' sessions, each watched from its own address, whose steps take 2 ms (a loaded machine): the
    # slices overrun the tick, so the sessions after them find none of it left. That is no debt: a session owes
    # only what it took beyond the parts it was given (here a step's overrun of its part), so every session keeps
    # training (when a tick's overrun was owed by all, the sessions owed ever more and 30 of them trained 4 steps
    # a second in all).
    manager, sessions = manager_with([(f"10.0.1.{k}", None) for k in range(30)])
    monkeypatch.setattr(manager.stream, "wants_frame", lambda sids: True)
    monkeypatch.setattr(manager.stream, "publish", lambda sids, frame: None)
    for session in sessions:
        def slow(step=session.lab.trainer.train_step):
            training_clock[0] += 2e-3
            return step()
        session.lab.trainer.train_step = slow
    steps = steps_over_ticks(manager, sessions, 60)
    assert min(manager.scheduler._saved.values(), default=0.0) >= -2e-3  # at most one step's overrun
    assert min(steps) >= 10, steps  # the tick's ~8 steps go round: each trains on every fourth tick or so


def test_ticks_keep_their_cadence_catch_up_one_at_most_and_an_early_one_never_pushes_the_next_away():
    period = 1 / 60
    deadline, ticks = 0.0, []
    for _ in range(600):  # each wake-up 2 ms late: the deadlines stay a period apart (60 a second, not 53)
        deadline = next_deadline(deadline, deadline + 0.002, period)
        ticks.append(deadline)
    assert ticks[-1] == pytest.approx(600 * period)
    assert next_deadline(1.0, 1.5, period) == pytest.approx(1.5 - period)  # half a second late: one tick at once
    deadline = 1.0
    for k in range(90):  # 90 controls in a second each wake it early: the next tick stays a period away
        now = 1.0 + k / 90
        deadline = next_deadline(deadline, now, period)
        assert deadline <= now + period + 1e-12


def test_a_client_opening_more_sessions_divides_its_share_instead_of_multiplying_it(step_clock):
    manager, (victim, *attacker) = manager_with([("10.0.0.1", None), ("10.0.0.66", None), ("10.0.0.66", None)])
    steps = steps_over_ticks(manager, [victim, *attacker])
    assert 0.4 <= steps[0] / sum(steps) <= 0.6, steps  # half: one client against one; not a third
    assert 0.7 <= steps[1] / steps[2] <= 1.4, steps


# --- frames to a class, over real sockets
def test_a_frame_is_encoded_once_for_all_its_viewers_and_a_follower_that_never_acks_costs_the_others_nothing(
        live, run):
    manager = live.app.extensions["nnplayground"]
    stream = manager.stream
    counts = {"encoded": 0, "published": 0}
    encode, publish = stream.sender.encode, stream.publish

    def counting_encode(*args):
        counts["encoded"] += 1
        return encode(*args)

    def counting_publish(sids, frame):
        counts["published"] += 1
        return publish(sids, frame)

    async def go():
        teacher = await Viewer(live.url, decode=False).connect()
        followers = [await Viewer(live.url, teacher.token, decode=False).connect() for _ in range(8)]
        stuck = RawSocket(live.url, teacher.token, ack_frames=False)  # a phone that never acks
        await teacher.call("play")
        everyone = [teacher, *followers]
        await teacher.wait_for(lambda v: all(f.frame_count >= 3 for f in everyone), timeout=30)
        stream.sender.encode, stream.publish = counting_encode, counting_publish
        try:
            start = [v.frame_count for v in everyone]
            await teacher.wait_for(lambda v: all(f.frame_count - s >= 30 for f, s in zip(everyone, start)),
                                   timeout=60)
        finally:
            stream.sender.encode, stream.publish = encode, publish
        assert stuck.frames <= 2  # it acked nothing: at most two frames ever went to it
        # Every viewer had its 30 frames although one never acked, and each frame published was encoded once
        # for all of them (all had the bundles by then: one variant a frame; + 1: the frame published just
        # before counting began may be encoded just after).
        assert counts["encoded"] <= counts["published"] + 1, counts
        assert counts["published"] >= 30
        stuck.close()
        for v in everyone:
            await v.disconnect()

    run(go())


def test_a_capped_viewer_gets_at_most_its_frames_a_second_and_the_others_every_frame(monkeypatch):
    from test_streaming import FakeSender, frame

    import app.server.streaming as streaming

    now = [1000.0]
    monkeypatch.setattr(streaming, "time", types.SimpleNamespace(monotonic=lambda: now[0], time=time.time,
                                                                  thread_time=time.thread_time))
    sender = FakeSender()
    stream = streaming.FrameStream(sender, threaded=False)
    stream.open("teacher")
    stream.open("phone", max_fps=20)
    for seq in range(1, 61):  # one second at 60 frames/s, both acking at once
        stream.publish(["teacher", "phone"], frame(seq))
        stream.flush()
        for _, _, ack in sender.sent[-2:]:
            ack()
        now[0] += 1 / 60
    assert len(sender.to("teacher")) == 60
    assert 18 <= len(sender.to("phone")) <= 20  # at most 20 a second, and not far below
    stream.cap("phone", None)  # uncapped (a copy of its own): full rate
    before = len(sender.to("phone"))
    for seq in range(61, 71):
        stream.publish(["teacher", "phone"], frame(seq))
        stream.flush()
        for _, _, ack in sender.sent[-2:]:
            ack()
        now[0] += 1 / 60
    assert len(sender.to("phone")) - before == 10


def test_a_class_s_followers_are_capped_at_follower_fps_and_the_teacher_s_screens_are_not(live, run):
    manager = live.app.extensions["nnplayground"]

    async def go():
        teacher = await Viewer(live.url, decode=False).connect()
        code = (await teacher.call("class_start"))["class"]["code"]
        follower = await Viewer(live.url, join=code, decode=False).connect()
        second_screen = await Viewer(live.url, teacher.token, decode=False).connect()
        capped = lambda v: manager.stream.channels[v.sio.get_sid()].interval > 0  # noqa: E731
        assert capped(follower) and not capped(teacher) and not capped(second_screen)
        await follower.call("fork")  # its own copy: its own screen, at the full rate
        await follower.wait_for(lambda v: not capped(v))
        await follower.call("follow_again")
        await follower.wait_for(lambda v: capped(v))
        for v in (teacher, follower, second_screen):
            await v.disconnect()

    run(go())


def test_the_cpu_a_connection_spends_reading_its_client_s_acks_is_measured_for_the_scheduler(live, run):
    manager = live.app.extensions["nnplayground"]

    async def go():
        viewer = await Viewer(live.url, decode=False).connect()
        sid = viewer.sio.get_sid()
        before = manager.stream.sender.received_cpu(sid)
        await viewer.call("play")
        await viewer.wait_for(lambda v: v.frame is not None and v.frame["seq"] >= 20)  # 20 frames, 20 acks
        assert manager.stream.sender.received_cpu(sid) > before  # Engine.IO, Socket.IO and the ack's callback
        assert manager.stream.channels[sid].account is manager.get(viewer.token)  # charged to its session
        await viewer.disconnect()

    run(go())


def test_frames_say_what_share_of_the_server_their_session_had_when_others_run_too(live, run):
    async def go():
        first = await Viewer(live.url, decode=False).connect()
        await first.call("play")
        await first.wait_for(lambda v: v.frame is not None and v.frame["seq"] >= 5)
        assert "cpu" not in first.frame  # alone: nothing to share
        second = await Viewer(live.url, decode=False).connect()  # the same computer: its one weight splits
        await second.call("play")
        for viewer in (first, second):  # once both have trained a while, each has had part of the time
            await viewer.wait_for(lambda v: 0.0 < ((v.frame or {}).get("cpu") or {}).get("share", 0.0) < 1.0)
            assert viewer.frame["cpu"]["fair"] == 0.5
        await second.call("pause")
        await first.wait_for(lambda v: "cpu" not in v.frame)  # running alone again
        for viewer in (first, second):
            await viewer.disconnect()

    run(go())


# --- states
def test_a_burst_of_controls_reaches_the_other_viewers_as_one_state(live, run):
    manager = live.app.extensions["nnplayground"]

    async def go():
        driver = await Viewer(live.url, decode=False).connect()
        watcher = await Viewer(live.url, driver.token, decode=False).connect()
        await driver.wait_for(lambda v: v.state["viewers"] == 2)
        await watcher.wait_for(lambda v: v.state["viewers"] == 2)
        manager.scheduler.stop()  # the states due wait for a tick, which we give by hand
        before = len(watcher.states)
        replies = await asyncio.gather(*(driver.call("set", {"noise": 0.01 * k}) for k in range(20)))
        last = max(r["config_version"] for r in replies)
        assert all(r["ok"] for r in replies) and driver.state is not None
        assert len(watcher.states) == before  # nothing yet: the burst's state goes at the next tick
        assert manager.send_states() == 1
        await watcher.wait_for(lambda v: v.state["config_version"] == last)
        assert len(watcher.states) == before + 1 and watcher.state["settings"]["noise"] == driver.state[
            "settings"]["noise"]
        await driver.disconnect()
        await watcher.disconnect()

    run(go())


# --- transport
def test_a_message_announcing_more_than_the_limit_is_refused_at_its_header(live):
    raw = RawSocket(live.url)
    # A masked text frame whose header announces 2 MB, of which only 10 bytes ever come: waiting for the rest
    # (or reading up to the limit) would leave this connection open.
    mask = os.urandom(4)
    header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 2_000_000) + mask
    raw.ws.sock.sendall(header + bytes(b ^ mask[i % 4] for i, b in enumerate(b"42" * 5)))
    raw.wait_for(lambda r: r.closed, timeout=10)
    assert raw.close_code == 1009
    try:
        raw.ws.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
