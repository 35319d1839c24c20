"""The lesson panel's routes on a real app and its scheduler: a step opened, run live and checked on the session
measures what `nnplayground lessons --check` measures; uploads are checked and name their lines."""

import time

import pytest

from app import socketio
from app.lessons.loader import LESSONS_DIR, load_file, load_text
from app.lessons.runner import check_lesson


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def token(app, received):
    client = socketio.test_client(app)  # a viewer: the scheduler trains a watched session only
    yield received(client)["session"][0]["token"]
    client.disconnect()


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_menu_lists_every_lesson_with_its_concept(http):
    menu = http.get("/api/lessons").get_json()
    names = {lesson["name"]: lesson for lesson in menu["lessons"]}
    assert {"a-neuron", "learning-rate"} <= set(names)
    assert names["learning-rate"]["concept"] == "Gradient descent" and names["learning-rate"]["steps"] == 3
    lesson = http.get("/api/lessons/learning-rate").get_json()
    assert lesson["steps"][0]["predict"]["answer"] == "Still well above the best it can reach"
    assert lesson["steps"][0]["run"] == {"steps": 300, "epochs": None, "race": None, "until": None, "every": 10}
    assert http.get("/api/lessons/no-such").status_code == 404


def test_a_step_run_live_stops_and_measures_where_the_command_line_does(http, token, manager):
    headless = check_lesson(load_file(LESSONS_DIR / "learning-rate.yaml"))
    session = manager.get(token)
    base = f"/api/session/{token}/lesson/learning-rate"
    for k in (1, 2, 3):
        assert http.post(f"{base}/{k}/open").get_json()["ok"]
        assert session.lab.trainer.step == 0 and session.lab.status == "paused"
        assert http.post(f"{base}/{k}/run").get_json()["ok"]
        wait_until(lambda: session.lab.status != "running")
        reply = http.post(f"{base}/{k}/check").get_json()
        expected = [c.to_wire() for c in headless.steps[k - 1].checks]
        assert reply["passed"] and reply["checks"] == expected
        assert reply["run"]["stopped_by"] == headless.steps[k - 1].stopped_by
        assert reply["step"] == session.lab.trainer.step == headless.steps[k - 1].steps_trained
    assert session.lab.status == "diverged"


def test_until_stops_the_live_run_at_the_same_step(http, token, manager):
    """a-neuron step 3 runs until test_accuracy >= 0.98, tested every 25 steps."""
    headless = check_lesson(load_file(LESSONS_DIR / "a-neuron.yaml"))
    session = manager.get(token)
    base = f"/api/session/{token}/lesson/a-neuron"
    http.post(f"{base}/3/open")
    http.post(f"{base}/3/run")
    wait_until(lambda: session.lab.status != "running")
    reply = http.post(f"{base}/3/check").get_json()
    assert reply["run"]["stopped_by"] == "until" == headless.steps[2].stopped_by
    assert reply["step"] == headless.steps[2].steps_trained and reply["step"] % 25 == 0


def test_pressing_pause_ends_a_lessons_run(http, token, manager, app):
    session = manager.get(token)
    session.lab.apply_settings({"speed": 50})
    base = f"/api/session/{token}/lesson/a-neuron"
    http.post(f"{base}/4/open")
    assert session.lab.settings["speed"] == 50  # the pace stays the teacher's
    http.post(f"{base}/4/run")
    wait_until(lambda: session.lab.trainer.step > 0)
    with session.controlled():
        session.lab.pause()
    assert session.lab.run_plan is None
    with session.controlled():
        session.lab.play()  # free play from here: no plan stops it at the lesson's cap
    assert session.lab.run_plan is None and session.lab.status == "running"


def test_an_uploaded_lesson_is_checked_and_kept_for_its_session(http, token):
    bad = b"title: Mine\nconcept: Me\nsteps:\n  - title: One\n    text: x\n    settings: {activation: sigmoidal}\n"
    reply = http.post(f"/api/session/{token}/lessons?name=mine.yaml", data=bad)
    assert reply.status_code == 400
    problem = reply.get_json()["problems"][0]
    assert (problem["file"], problem["line"], problem["step"], problem["field"]) == (
        "mine.yaml", 6, 1, "settings.activation")
    assert "Activation can be one of" in problem["text"]
    good = bad.replace(b"sigmoidal", b"sigmoid")
    reply = http.post(f"/api/session/{token}/lessons?name=../../mine.yaml", data=good)
    assert reply.get_json()["ok"] and reply.get_json()["lesson"]["name"] == "mine"
    assert http.get(f"/api/lessons/mine?token={token}").get_json()["title"] == "Mine"
    assert http.get("/api/lessons/mine").status_code == 404  # another session does not see it
    menu = http.get(f"/api/lessons?token={token}").get_json()["lessons"]
    assert [m["name"] for m in menu if m["uploaded"]] == ["mine"]
    assert http.post(f"/api/session/{token}/lesson/mine/1/open").get_json()["ok"]
    assert http.post(f"/api/session/{token}/lesson/mine/2/open").status_code == 404
    assert http.post(f"/api/session/{token}/lessons", data=b"x" * 300_000).status_code == 413


def test_a_step_the_lab_refuses_names_its_line(http, token, manager):
    text = (b"title: Mine\nconcept: Me\nsteps:\n  - title: One\n    text: x\n"
            b"    settings: {dataset: plane, loss: cross_entropy}\n")
    assert http.post(f"/api/session/{token}/lessons?name=mine.yaml", data=text).get_json()["ok"]
    before = manager.get(token).lab.settings.copy()
    reply = http.post(f"/api/session/{token}/lesson/mine/1/open")
    assert reply.status_code == 400
    assert reply.get_json()["problem"]["text"].startswith("mine.yaml:6: step 1 ('One') settings.loss:")
    assert manager.get(token).lab.settings == before  # refused: nothing changed


def test_the_formula_libraries_are_served_from_npm(http):
    assert http.get("/vendor/npm/katex/dist/katex.min.js").status_code == 200
    assert http.get("/vendor/npm/markdown-it-texmath/texmath.js").status_code == 200
    assert http.get("/vendor/npm/markdown-it/package.json").status_code == 404
    assert http.get("/vendor/npm/katex/dist/../../socket.io-client/package.json").status_code == 404


def test_checks_over_seeds_have_a_time_budget(http, token, monkeypatch):
    """An uploaded lesson asking for long runs over many seeds gets a failed check saying so, not minutes of CPU."""
    from app.lessons import routes

    monkeypatch.setattr(routes, "SEEDED_SECONDS", 0.5)
    text = (b"title: Long\nconcept: Me\nsteps:\n  - title: One\n    text: x\n"
            b"    settings: {dataset: spiral, hidden_sizes: [32, 32, 32]}\n    run: {steps: 100000}\n"
            b"    check:\n      - that: step > 0\n        text: seeds\n        seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n")
    assert http.post(f"/api/session/{token}/lessons?name=long.yaml", data=text).get_json()["ok"]
    http.post(f"/api/session/{token}/lesson/long/1/open")
    reply = http.post(f"/api/session/{token}/lesson/long/1/check").get_json()
    check = reply["checks"][0]
    assert check["passed"] is False and "took too long" in check["error"]


def test_a_continue_step_opened_directly_replays_the_steps_it_continues(http, token, manager):
    """a-neuron step 2 continues step 1 (the weights set by hand): opened first, it replays step 1 first."""
    session = manager.get(token)
    base = f"/api/session/{token}/lesson/a-neuron"
    reply = http.post(f"{base}/2/open").get_json()
    assert reply["ok"] and reply["replayed"] == [1]
    check = http.post(f"{base}/2/check").get_json()
    assert check["passed"], check
    # Opened in order, nothing is replayed: the teacher's own changes in between are kept.
    assert http.post(f"{base}/1/open").get_json()["replayed"] == []
    with session.controlled():
        session.lab.edit_bias(0, 0, 0.5)
    assert http.post(f"{base}/2/open").get_json()["replayed"] == []
    assert session.lab.trainer.model[0].bias.data[0] == 2.0  # the step's own edit, on the teacher's network


def test_a_replay_past_its_budget_says_what_to_do(http, token, monkeypatch):
    from app.lessons import routes

    monkeypatch.setattr(routes, "REPLAY_SECONDS", 0.0)
    reply = http.post(f"/api/session/{token}/lesson/learning-rate/1/open")  # fresh: nothing to replay
    assert reply.get_json()["ok"]
    text = (b"title: Long\nconcept: Me\nsteps:\n  - title: One\n    text: x\n    run: {steps: 50000}\n"
            b"  - title: Two\n    text: y\n    start: continue\n")
    assert http.post(f"/api/session/{token}/lessons?name=long.yaml", data=text).get_json()["ok"]
    reply = http.post(f"/api/session/{token}/lesson/long/2/open")
    assert reply.status_code == 400 and "open step 1 and run it first" in reply.get_json()["error"]


def test_a_class_is_told_the_teachers_lesson_step(app, http, manager, received):
    teacher = socketio.test_client(app)
    token = received(teacher)["session"][0]["token"]
    code = teacher.emit("class_start", callback=True)["class"]["code"]
    assert http.post(f"/api/session/{token}/lesson/learning-rate/2/open").get_json()["ok"]
    assert manager.get(token).lesson == {"name": "learning-rate", "step": 2}
    assert received(teacher)["class"][-1]["lesson"] == {"name": "learning-rate", "step": 2}
    # A teacher's own lesson reaches the followers' pages through the join code (they have no token).
    mine = b"title: Mine\nconcept: Me\nsteps:\n  - title: One\n    text: x\n"
    assert http.post(f"/api/session/{token}/lessons?name=mine.yaml", data=mine).get_json()["ok"]
    assert http.get(f"/api/lessons/mine?join={code}").get_json()["title"] == "Mine"
    assert http.get("/api/lessons/mine?join=ZZZZZZ").status_code == 404
    assert http.post(f"/api/session/{token}/lesson-closed").get_json()["ok"]
    assert manager.get(token).lesson is None and received(teacher)["class"][-1]["lesson"] is None
    teacher.disconnect()


def test_a_check_over_seeds_from_the_page_is_the_command_lines(http, token):
    """Trained in the worker process, measured as `--check` measures: the same medians and per-seed numbers."""
    text = (b"title: Seeds\nconcept: Me\nsteps:\n  - title: One\n    text: x\n"
            b"    settings: {dataset: xor, hidden_sizes: [4]}\n    run: {steps: 40}\n"
            b"    check:\n      - that: test_loss < 10\n        text: seeds\n        seeds: [3, 4, 5]\n")
    assert http.post(f"/api/session/{token}/lessons?name=seeds.yaml", data=text).get_json()["ok"]
    reply = http.post(f"/api/session/{token}/lesson/seeds/1/check").get_json()
    expected = check_lesson(load_text(text, "seeds", "seeds.yaml")).steps[0].checks[0].to_wire()
    assert reply["checks"] == [expected] and len(expected["per_seed"]) == 3


def test_a_race_run_live_measures_what_the_command_line_does(http, token, manager):
    """search-methods step 1 races grid, random and TPE in worker processes; its checks read the same trials
    the headless check ran in-process (one worker per sampler: the same trials, the same values)."""
    lesson = load_file(LESSONS_DIR / "search-methods.yaml")
    headless = check_lesson(lesson)
    session = manager.get(token)
    base = f"/api/session/{token}/lesson/search-methods"
    assert http.post(f"{base}/1/open").get_json()["ok"]
    assert session.lab.name == "search" and session.lab.race is None
    assert http.post(f"{base}/1/run").get_json()["ok"]
    wait_until(lambda: session.lab.status != "running")
    reply = http.post(f"{base}/1/check").get_json()
    assert reply["passed"] and reply["checks"] == [c.to_wire() for c in headless.steps[0].checks]
    assert reply["run"] == {"steps_trained": 48, "stopped_by": "race", "cap": {"race": True}}
    assert headless.steps[0].stopped_by == "race" and headless.steps[0].steps_trained == 48
    race = session.lab.race
    opened = http.post(f"{base}/2/open").get_json()  # continues where step 1's race left the session
    assert opened["ok"] and opened["replayed"] == [] and session.lab.race is race
    reply = http.post(f"{base}/2/check").get_json()
    assert reply["passed"] and reply["checks"] == [c.to_wire() for c in headless.steps[1].checks]
    http.post(f"{base}/1/open")  # a fresh race-less step 1: step 2 opened now replays step 1's race first
    assert session.lab.race is None
    opened = http.post(f"{base}/2/open").get_json()
    assert opened["ok"] and opened["replayed"] == [1] and session.lab.race.phase == "finished"
    reply = http.post(f"{base}/2/check").get_json()
    assert reply["checks"] == [c.to_wire() for c in headless.steps[1].checks]
