"""The search lab without sockets: its settings, what it refuses before anything starts, a small real race folded
from the search module's events into frames, the winner loaded into its lab, and no worker process outliving
its session."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app import DEFAULT_CONFIG
from app.labs.search import race as racemod
from app.server.errors import ControlError
from app.server.events import dispatch
from app.sessions.headless import evaluate
from app.sessions.session import Session

TINY = {"trials": 4, "epochs": 2, "params": ["learning_rate", "width"], "workers": 1}


@pytest.fixture
def session():
    s = Session("s" * 24, dict(DEFAULT_CONFIG), lab="search")
    s.viewers.add("viewer")
    yield s
    s.close()


def send(session, event, payload=None):
    return dispatch(session, event, (payload,) if payload is not None else (), "viewer")


def search_workers() -> list[int]:
    """This process's children that are search workers (``python -m app.search … --managed``), alive."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (int(fields.get("PPid", "0")) == os.getpid() and b"app.search" in cmdline and b"--managed" in cmdline
                and not fields.get("State", "").startswith("Z")):
            out.append(int(status.parent.name))
    return out


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def test_the_plane_always_shows_searched_hyperparameters(session):
    state, _ = send(session, "set", {"params": ["width", "l2"]})
    assert (state["settings"]["plane_x"], state["settings"]["plane_y"]) == ("l2", "width")
    state, _ = send(session, "set", {"params": ["activation"]})
    assert state["settings"]["plane_x"] == state["settings"]["plane_y"] == "activation"


def test_another_lab_to_tune_brings_its_datasets_and_hyperparameters(session):
    state, schema = send(session, "set", {"target": "rnn"})
    assert (state["settings"]["dataset"], state["settings"]["params"]) == ("sine", ["learning_rate", "hidden_size"])
    targets = session.lab.schema_extras()["targets"]
    assert targets["cnn"]["params"] == ["learning_rate", "batch_size", "architecture", "optimizer", "l2"]
    assert "adding" in targets["rnn"]["datasets"] and "circle" not in targets["rnn"]["datasets"]
    # each offered hyperparameter's range is the target lab's schema's (app.search.space reads it)
    from app.search import searchable
    bounds = {c.name: (c.minimum, c.maximum) for c in session.lab.controls}
    assert bounds["hidden_size_low"] == (searchable("rnn")["hidden_size"].minimum,
                                         searchable("rnn")["hidden_size"].maximum)
    with pytest.raises(ControlError) as caught:  # a hyperparameter the RNN lab does not have
        send(session, "set", {"params": ["width"]})
    assert caught.value.field == "params" and "hidden_size" in caught.value.detail
    with pytest.raises(ControlError) as caught:
        send(session, "set", {"dataset": "circle"})
    assert caught.value.field == "dataset" and "sine" in caught.value.detail
    state, _ = send(session, "set", {"target": "cnn", "params": ["architecture", "learning_rate"]})
    assert state["settings"]["params"] == ["learning_rate", "architecture"]  # in the schema's order
    assert state["settings"]["dataset"] == "digits"
    assert (state["settings"]["plane_x"], state["settings"]["plane_y"]) == ("learning_rate", "architecture")


@pytest.mark.parametrize("settings, field, allowed", [
    ({"learning_rate_low": 0.5, "learning_rate_high": 0.01}, "learning_rate_low", "less than learning_rate_high"),
    ({"width_low": 8, "width_high": 8}, "width_low", "less than width_high"),
    ({"trials": 3}, "trials", "at least 4 (the grid's lattice"),
])
def test_a_refused_race_names_its_control_and_starts_nothing(session, settings, field, allowed):
    send(session, "set", {**TINY, **settings})
    with pytest.raises(ControlError) as caught:
        send(session, "search_start")
    wire = caught.value.to_wire()
    assert (wire["event"], wire["field"]) == ("search_start", field) and allowed in wire["allowed"], wire
    assert session.state()["race"] is None and session.lab.status == "paused"
    assert racemod.WORKERS.used == 0 and not search_workers()


def test_no_steps_and_no_best_before_a_race(session):
    with pytest.raises(ControlError, match="no steps"):
        send(session, "step")
    with pytest.raises(ControlError, match="no finished trial"):
        send(session, "apply_best", {})


def run_race(session, timeout=300.0):
    send(session, "set", TINY)
    state, _ = send(session, "search_start")
    assert state["status"] == "running" and state["race"]["phase"] == "running"

    def finished():
        with session.lock:
            session.lab.poll()
            return session.lab.race.phase == "finished"
    wait_until(finished, timeout, "the race did not finish")
    return session.lab.race


@pytest.mark.slow
def test_a_small_race_runs_to_completion_and_its_best_goes_to_the_mlp_lab(session):
    race = run_race(session)
    state = session.state()
    assert state["status"] == "paused"
    assert [(s["sampler"], s["done"], s["budget"], s["complete"]) for s in state["race"]["samplers"]] == [
        ("grid", 4, 4, 4), ("random", 4, 4, 4), ("tpe", 4, 4, 4)]
    frame, _ = session.build_frame()
    grid = frame.sections["trials.grid"][1]["trials"]
    # grid's 2 × 2 lattice over the log range 1e-4..1 and the widths 2..32, each point once
    assert sorted((t["params"]["learning_rate"], t["params"]["width"]) for t in grid) == [
        (1e-4, 2), (1e-4, 32), (1.0, 2), (1.0, 32)]
    for name in ("grid", "random", "tpe"):
        trials = frame.sections[f"trials.{name}"][1]["trials"]
        values = [t["value"] for t in trials]
        assert [t["best_so_far"] for t in trials] == [min(values[:k + 1]) for k in range(len(values))]
    curves = frame.sections["curves"][1]["curves"]
    assert all(len(c["curve"]) == 2 for name in curves for c in curves[name])  # two epochs each
    best_sampler, best = race.best()

    state, schema = send(session, "apply_best", {})
    assert state["lab"] == "mlp" and schema["lab"] == "mlp"
    mlp = session.lab
    assert mlp.settings["learning_rate"] == best["params"]["learning_rate"]
    assert mlp.settings["hidden_sizes"] == [best["params"]["width"]] * 2
    # the trial's weights (saved as float32 in the model file), not fresh ones
    assert evaluate(mlp).loss == pytest.approx(best["value"], rel=1e-5)
    assert session.labs["search"].race is race  # the race stays for the way back


@pytest.mark.slow
def test_a_full_server_refuses_a_race_and_a_closed_session_leaves_no_worker(session, monkeypatch):
    monkeypatch.setattr(racemod.WORKERS, "limit", 3)  # a race of three samplers fills it
    send(session, "set", {**TINY, "trials": 16, "epochs": 20})
    send(session, "search_start")
    wait_until(lambda: len(search_workers()) == 3, 60, "the three workers did not start")
    other = Session("o" * 24, dict(DEFAULT_CONFIG), lab="search")
    try:
        send(other, "set", {**TINY, "samplers": ["random"]})
        with pytest.raises(ControlError, match="3 of its 3 search processes"):
            send(other, "search_start")
        assert other.state()["race"] is None and len(search_workers()) == 3
        session.close()
        assert not search_workers() and racemod.WORKERS.used == 0
    finally:
        other.close()


def test_gp_is_offered_and_explained_where_it_cannot_run(session):
    import importlib.util

    from app.search import gp_available
    from app.search.spec import GP_NEEDS

    if gp_available():
        pytest.skip("this server has PyTorch and SciPy: gp runs")
    send(session, "set", {**TINY, "samplers": ["grid", "gp"]})
    missing = " and ".join(name for name in GP_NEEDS if importlib.util.find_spec(name) is None)
    with pytest.raises(ControlError, match=f"needs {missing}") as caught:
        send(session, "search_start")
    assert caught.value.to_wire()["field"] == "samplers"
    assert session.state()["race"] is None and not search_workers()
