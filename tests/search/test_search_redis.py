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
