"""`nnplayground search`: the JSON summary for each sampler, the grid's lattice, seeds, bad arguments."""

from __future__ import annotations

import importlib.util
import itertools
import json

import numpy as np
import pytest

from app.cli import main
from app.search import SearchSpec, gp_available
from app.search.spec import GP_NEEDS

TINY = ["--lab", "mlp", "--dataset", "spiral", "--epochs", "2",
        "--param", "learning_rate=1e-3:1:log", "--param", "activation=relu,tanh"]


def run_cli(capsys, *args) -> dict:
    main(["search", *TINY, *args, "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


@pytest.mark.parametrize("sampler", ["grid", "random", "tpe"])
def test_json_summary_for_each_sampler(capsys, sampler):
    summary = run_cli(capsys, "--sampler", sampler, "--trials", "4", "--seed", "1")
    assert summary["sampler"] == sampler and summary["objective"] == "test_loss"
    assert summary["n_trials"] == 4 and [t["number"] for t in summary["trials"]] == [0, 1, 2, 3]
    for trial in summary["trials"]:
        assert set(trial) >= {"number", "state", "value", "params", "seconds"}
        assert trial["state"] == "COMPLETE" and trial["value"] > 0 and trial["seconds"] > 0
        assert 1e-3 <= trial["params"]["learning_rate"] <= 1 and trial["params"]["activation"] in ("relu", "tanh")
    best = min(summary["trials"], key=lambda t: t["value"])
    assert summary["best_value"] == best["value"] and summary["best_params"] == best["params"]
    assert "storage" not in json.dumps(summary)


def test_gp_runs_or_says_what_to_install(capsys):
    if gp_available():
        assert run_cli(capsys, "--sampler", "gp", "--trials", "3")["n_trials"] == 3
        return
    with pytest.raises(SystemExit) as stopped:
        main(["search", *TINY, "--sampler", "gp", "--trials", "3"])
    text = str(stopped.value)
    missing = [name for name in GP_NEEDS if importlib.util.find_spec(name) is None]
    assert "sampler" in text and "tpe" in text and "pip install " + " ".join(missing) in text


def test_grid_covers_its_lattice_exactly(capsys):
    summary = run_cli(capsys, "--sampler", "grid", "--trials", "20")
    spec = SearchSpec.from_dict({"lab": "mlp", "dataset": "spiral", "sampler": "grid", "trials": 20, "epochs": 2,
                                 "params": {"learning_rate": {"low": 1e-3, "high": 1.0, "log": True},
                                            "activation": {"choices": ["relu", "tanh"]}}})
    lattice = spec.grid_space()  # 2 activations leave 10 points on the log axis of the learning rate
    assert lattice["learning_rate"] == pytest.approx(np.geomspace(1e-3, 1.0, 10), rel=1e-5)
    points = {(t["params"]["learning_rate"], t["params"]["activation"]) for t in summary["trials"]}
    assert summary["n_trials"] == len(points) == spec.grid_size() == 20
    assert points == set(itertools.product(*lattice.values()))


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_the_same_seed_gives_the_same_trials(capsys, sampler):
    args = ["--sampler", sampler, "--trials", "5", "--param", "width=2:16"]
    first = run_cli(capsys, *args, "--seed", "7")
    again = run_cli(capsys, *args, "--seed", "7")
    other = run_cli(capsys, *args, "--seed", "8")
    params = [[t["params"] for t in s["trials"]] for s in (first, again, other)]
    assert params[0] == params[1] and params[0] != params[2]
    assert [t["value"] for t in first["trials"]] == [t["value"] for t in again["trials"]]


def test_human_output_names_the_best(capsys):
    main(["search", *TINY, "--sampler", "random", "--trials", "2"])
    out = capsys.readouterr().out
    assert "random search on mlp / spiral: 2 trials (2 complete)" in out and "best test_loss" in out
