"""SearchRun, the API the page drives: worker processes sharing a study, events, failures, stop, the best model."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from app.labs.mlp import modelio
from app.search import SearchRun, SearchSpec, param_importances
from app.sessions.headless import build_lab, evaluate, train_epochs

from .conftest import tiny

TIMEOUT = 120  # s: a search of a few tiny trials, on a loaded machine


def drain(run: SearchRun, until=lambda events: False) -> list[dict]:
    """Events until the search finishes (or ``until(events so far)``), waiting on each with a timeout."""
    events: list[dict] = []
    deadline = time.monotonic() + TIMEOUT
    while not run.done and not until(events):
        assert time.monotonic() < deadline, "the search did not finish in time"
        events += run.events(timeout=0.5)
    return events


def test_two_worker_processes_share_one_study():
    spec = SearchSpec.from_dict(tiny(trials=12, workers=2, epochs=4))
    with SearchRun(spec) as run:
        run.start()
        assert len(run._pool.processes) == 2 and len({p.pid for p in run._pool.processes}) == 2
        events = drain(run)
    finished = [e for e in events if e["type"] == "trial_finished"]
    assert sorted(e["number"] for e in finished) == list(range(12))  # none lost, none twice
    summary = events[-1]["summary"]
    assert events[-1]["type"] == "search_finished" and summary["n_trials"] == 12
    assert [t["number"] for t in summary["trials"]] == list(range(12))
    assert all(t["state"] == "COMPLETE" for t in summary["trials"])
    # Two samplers (seed 0 and seed 1), no point drawn twice.
    points = {json.dumps(t["params"], sort_keys=True) for t in summary["trials"]}
    assert len(points) == 12
    started = [e for e in events if e["type"] == "trial_started"]
    assert sorted(e["number"] for e in started) == list(range(12))


def test_events_stream_each_trial_and_its_learning_curve():
    spec = SearchSpec.from_dict(tiny(trials=2, epochs=3))
    with SearchRun(spec) as run:
        run.start()
        events = drain(run)
        importances = run.importances()
    for number in (0, 1):
        mine = [e for e in events if e.get("number") == number]
        assert [e["type"] for e in mine] == ["trial_started"] + ["trial_epoch"] * 3 + ["trial_finished"]
        assert [e["epoch"] for e in mine[1:4]] == [1, 2, 3]
        assert all(e["value"] > 0 and e["train_loss"] > 0 for e in mine[1:4])
        assert mine[-1]["value"] == mine[3]["value"] and mine[-1]["state"] == "COMPLETE"
        assert mine[-1]["params"] == mine[0]["params"] and mine[-1]["reason"] is None
    # The trial's value is what a page's session reaches with the same settings (headless, same code).
    trial = next(e for e in events if e["type"] == "trial_finished" and e["number"] == 0)
    lab = build_lab("mlp", spec.settings(trial["params"]))
    train_epochs(lab, 3)
    assert evaluate(lab).loss == pytest.approx(trial["value"], rel=1e-9)
    assert set(importances) == {"learning_rate", "activation"}
    assert sum(importances.values()) == pytest.approx(1.0)


def test_a_diverging_trial_is_recorded_failed_and_the_search_goes_on():
    spec = SearchSpec.from_dict(tiny(dataset="plane", sampler="grid", trials=2, base={"activation": "linear"},
                                     params={"learning_rate": {"choices": [1.0, 0.01]}}))
    with SearchRun(spec) as run:
        run.start()
        summary = drain(run)[-1]["summary"]
    by_rate = {t["params"]["learning_rate"]: t for t in summary["trials"]}
    failed, fine = by_rate[1.0], by_rate[0.01]
    assert failed["state"] == "FAIL" and failed["value"] is None
    assert "diverged" in failed["reason"] and "learning rate 1" in failed["reason"]
    assert fine["state"] == "COMPLETE" and np.isfinite(fine["value"])
    assert summary["best_params"] == {"learning_rate": 0.01}


def test_stop_keeps_the_finished_trials():
    spec = SearchSpec.from_dict(tiny(trials=200, epochs=20))
    with SearchRun(spec) as run:
        run.start()
        events = drain(run, until=lambda ev: sum(e["type"] == "trial_finished" for e in ev) >= 2)
        run.stop()
        events += drain(run)
        summary = run.summary()
    assert events[-1]["type"] == "search_finished"
    finished = [e for e in events if e["type"] == "trial_finished" and e["state"] == "COMPLETE"]
    assert len(finished) >= 2 and summary["n_trials"] < 200
    complete = {t["number"]: t for t in summary["trials"] if t["state"] == "COMPLETE"}
    assert {e["number"] for e in finished} <= set(complete)
    for t in summary["trials"]:  # a trial cut short says so
        assert t["state"] == "COMPLETE" or t["reason"].startswith("stopped")


def test_best_model_is_the_best_trial_as_a_model_file_the_page_loads():
    spec = SearchSpec.from_dict(tiny(trials=3, params={"width": {"low": 2, "high": 12},
                                                       "learning_rate": {"low": 0.01, "high": 0.3}}))
    with SearchRun(spec) as run:
        run.start()
        summary = drain(run)[-1]["summary"]
        settings, data = run.best_model()
    best = summary["best_params"]
    assert settings["hidden_sizes"] == [best["width"]] * 2 and settings["learning_rate"] == best["learning_rate"]
    assert settings["dataset"] == "spiral"
    sizes, arrays, activations, points, saved = modelio.parse(data, "npz")
    assert sizes == [2, best["width"], best["width"], 1] and saved["learning_rate"] == best["learning_rate"]
    # Its weights are the trial's: the same test loss.
    lab = build_lab("mlp", settings)
    lab.load_model(sizes, arrays, activations, points, saved)
    assert evaluate(lab).loss == pytest.approx(summary["best_value"], rel=1e-5)


def test_importances_need_two_finished_trials():
    spec = SearchSpec.from_dict(tiny(trials=1))
    with SearchRun(spec) as run:
        assert run.importances() == {} and param_importances(run.study) == {}


@pytest.mark.slow
@pytest.mark.parametrize("lab, dataset, params, base", [
    ("cnn", "digits", {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}}, {"architecture": "tiny"}),
    ("rnn", "sine", {"hidden_size": {"low": 4, "high": 12}, "cell_type": {"choices": ["RNN", "GRU"]}}, {}),
])
def test_the_cnn_and_rnn_labs_search_too(lab, dataset, params, base):
    spec = SearchSpec.from_dict(tiny(lab=lab, dataset=dataset, params=params, base=base, trials=2, epochs=1))
    with SearchRun(spec) as run:
        run.start()
        summary = drain(run)[-1]["summary"]
        settings, data = run.best_model()
    assert [t["state"] for t in summary["trials"]] == ["COMPLETE", "COMPLETE"]
    assert summary["best_value"] > 0 and data is None  # these labs have no model files to load
    assert all(settings[name] == value for name, value in summary["best_params"].items())


def test_pruning_stops_trials_worse_than_the_median():
    spec = SearchSpec.from_dict(tiny(trials=14, epochs=6, pruning=True,
                                     params={"learning_rate": {"low": 1e-5, "high": 3.0, "log": True}}))
    with SearchRun(spec) as run:
        run.start()
        events = drain(run)
    summary = events[-1]["summary"]
    pruned = [t for t in summary["trials"] if t["state"] == "PRUNED"]
    assert pruned and all(t["number"] >= 5 for t in pruned)  # MedianPruner: 5 trials before it judges
    for t in pruned:
        curve = [e for e in events if e["type"] == "trial_epoch" and e["number"] == t["number"]]
        assert len(curve) < 6 and t["value"] == curve[-1]["value"] and t["reason"].startswith("pruned")
    assert sum(t["state"] == "COMPLETE" for t in summary["trials"]) >= 5


@pytest.mark.slow  # SQLAlchemy creates the schema (alembic): seconds on a loaded machine
def test_a_sqlite_url_is_the_same_code_path(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    spec = SearchSpec.from_dict(tiny(trials=2, epochs=2))
    with SearchRun(spec, storage=url, study_name="on-sqlite") as run:
        run.start()
        summary = drain(run)[-1]["summary"]
    assert [t["state"] for t in summary["trials"]] == ["COMPLETE", "COMPLETE"]
    assert SearchRun.join(url, "on-sqlite").summary()["best_value"] == summary["best_value"]
    assert str(tmp_path) not in json.dumps(summary)


def test_two_workers_of_one_pool_never_both_take_the_last_trial():
    """The tickets a pool of workers joining a study grants: trials recorded in the storage plus tickets granted
    and not yet recorded stay within the budget. A worker asking while another's ticket is outstanding waits for
    that ticket to be used (then is refused: the study is full) or given back (then takes it)."""
    import threading

    from app.search.run import WorkerPool

    recorded = [11]  # a budget of 12 with 11 trials recorded: one left
    pool = WorkerPool("unused", "study", 0, budget_left=lambda: 12 - recorded[0])
    a, b, c = object(), object(), object()
    assert pool._take(a)
    answers = {}
    asking = threading.Thread(target=lambda: answers.setdefault("b", pool._take(b)))
    asking.start()
    asking.join(0.3)
    assert asking.is_alive()  # b waits on a's ticket
    recorded[0] = 12  # a asked the study for its trial…
    pool._release(a)  # …and announced it
    asking.join(5)
    assert answers == {"b": False}
    # a ticket given back (its worker exited without a trial) lets the next one take the last place
    recorded[0] = 11
    assert pool._take(a)
    asking = threading.Thread(target=lambda: answers.__setitem__("c", pool._take(c)))
    asking.start()
    pool._release(a)
    asking.join(5)
    assert answers["c"] is True and pool._pending == {c}
