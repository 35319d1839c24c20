"""The distributed path against a real Redis server: a study on Optuna's Redis journal, run by
`nnplayground search-worker` from another process, as another machine would."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

from app.search import SearchRun, SearchSpec

from .conftest import tiny
from .test_search_run import TIMEOUT


def test_search_worker_joins_a_study_on_redis(redis_url):
    spec = SearchSpec.from_dict(tiny(sampler="grid", trials=12, epochs=3))
    with SearchRun(spec, storage=redis_url, study_name="class-race") as run:  # created, not started here
        joined = subprocess.run([sys.executable, "-m", "app.cli", "search-worker", "--storage", redis_url,
                                 "--study", "class-race", "--workers", "2", "--json"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        assert joined.returncode == 0, joined.stderr
        ours = run.summary()
    theirs = json.loads(joined.stdout.strip().splitlines()[-1])
    # The other machine read the spec from the study and spent its budget: both see the same study, the lattice
    # covered once by its two processes.
    lattice = set(itertools.product(*spec.grid_space().values()))
    for summary in (ours, theirs):
        assert [t["number"] for t in summary["trials"]] == list(range(12))
        points = [(t["params"]["learning_rate"], t["params"]["activation"]) for t in summary["trials"]]
        assert len(points) == 12 and set(points) == lattice
        assert all(t["state"] == "COMPLETE" for t in summary["trials"])
    assert ours["best_value"] == theirs["best_value"] and ours["sampler"] == "grid"
    assert redis_url not in joined.stdout and "127.0.0.1" not in joined.stdout
    again = SearchRun.join(redis_url, "class-race")  # the study outlives its runs
    assert again.spec == spec and again.summary()["n_trials"] == 12


def test_trials_another_machine_runs_appear_as_live_events(redis_url):
    """A run's events include the trials `nnplayground search-worker` takes from another process (read from the
    shared storage every second): started and finished, exactly once each, as its own workers' are."""
    import time

    spec = SearchSpec.from_dict(tiny(sampler="random", trials=12, epochs=3))
    with SearchRun(spec, storage=redis_url, study_name="two-machines") as run:
        other = subprocess.Popen([sys.executable, "-m", "app.cli", "search-worker", "--storage", redis_url,
                                  "--study", "two-machines", "--json"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + TIMEOUT
            while not run.study.get_trials(deepcopy=False):  # the other machine has taken its first trial
                assert time.monotonic() < deadline and other.poll() is None, other.stderr.read()
                time.sleep(0.05)
            run.start()
            events = []
            while not run.done:
                assert time.monotonic() < deadline, "the run did not finish"
                events += run.events(timeout=0.5)
            assert other.wait(TIMEOUT) == 0, other.stderr.read()
        finally:
            if other.poll() is None:
                other.kill()
    summary = events[-1]["summary"]
    started = [e["number"] for e in events if e["type"] == "trial_started"]
    finished = {e["number"]: e for e in events if e["type"] == "trial_finished"}
    assert sorted(started) == sorted(finished) == list(range(12))  # every trial, once each
    assert len([e for e in events if e["type"] == "trial_finished"]) == 12
    theirs = [t for t in run.study.get_trials(deepcopy=False) if t.user_attrs["origin"] != run.origin]
    assert theirs  # the other machine took trials (all of them, if it was quicker than this run's worker)
    order = [(e["type"], e["number"]) for e in events if "number" in e]
    for t in theirs:
        event = finished[t.number]
        assert (event["state"], event["value"], event["params"]) == ("COMPLETE", t.value, t.params)
        assert order.index(("trial_started", t.number)) < order.index(("trial_finished", t.number))
    assert [t["value"] for t in summary["trials"]] == [finished[n]["value"] for n in range(12)]
