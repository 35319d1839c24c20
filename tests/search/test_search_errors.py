"""Bad input: each refused before anything starts, with an error naming the field, what was given and what is
allowed. Storage URLs never appear in what a page could receive."""

from __future__ import annotations

import glob
import json
import os
import tempfile

import pytest

from app.cli import main
from app.search import LIMITS, SearchError, SearchRun, SearchSpec, gp_available, options, searchable
from app.server.live import free_port

from .conftest import tiny


def refused(**changes) -> SearchError:
    with pytest.raises(SearchError) as caught:
        SearchSpec.from_dict(tiny(**changes))
    return caught.value


def lr(**bounds) -> dict:
    return {"params": {"learning_rate": bounds}}


def test_an_empty_range():
    error = refused(**lr(low=0.1, high=0.1))
    assert error.field == "params.learning_rate" and "empty" in str(error) and "low < high" in str(error)


def test_an_inverted_range():
    error = refused(**lr(low=0.5, high=0.1))
    assert error.field == "params.learning_rate" and "inverted" in str(error) and "[0.5, 0.1]" in str(error)


def test_a_log_range_touching_zero():
    error = refused(params={"l2": {"low": 0.0, "high": 0.1, "log": True}})
    assert error.field == "params.l2.low" and "log" in str(error) and "0" in error.received


def test_a_range_outside_the_schema():
    error = refused(**lr(low=1e-4, high=50.0))
    assert error.field == "params.learning_rate.high" and error.received == "50.0"
    assert error.allowed == "a number in [1e-05, 10]"  # app/labs/mlp/schema.py's range


def test_an_unknown_hyperparameter_names_the_searchable_ones():
    error = refused(params={"lr": {"low": 0.1, "high": 1.0}})
    assert error.field == "params.lr"
    for name in ("learning_rate", "width", "depth", "activation", "optimizer", "dropout", "l2", "batch_size"):
        assert name in error.allowed
    assert "speed" not in searchable("mlp") and "seed" not in searchable("mlp")


def test_a_choice_outside_the_schema():
    error = refused(params={"activation": {"choices": ["relu", "gelu"]}})
    assert error.field == "params.activation.choices.1" and error.received == '"gelu"'
    assert '"tanh"' in error.allowed


def test_a_grid_larger_than_the_budget():
    error = refused(sampler="grid", trials=10, params={"activation": {"choices": ["relu", "tanh", "sigmoid"]},
                                                       "optimizer": {"choices": ["sgd", "momentum", "adam"]},
                                                       "width": {"low": 2, "high": 8, "points": 4}})
    assert error.field == "trials" and error.received == "10"
    assert "at least 36" in error.allowed and "36 points" in str(error)


@pytest.mark.parametrize("changes, field", [
    ({"trials": LIMITS.max_trials + 1}, "trials"),
    ({"epochs": LIMITS.max_epochs + 1}, "epochs"),
    ({"workers": LIMITS.max_workers + 1}, "workers"),
    ({"trials": 200, "epochs": 200}, "trials"),  # trials × epochs over the limit
    ({"trials": 0}, "trials"),
])
def test_a_budget_over_the_limits(changes, field):
    error = refused(**changes)
    assert error.field == field
    if "epochs" in changes and "trials" in changes:
        assert "200 × 200 = 40,000" in str(error) and f"{LIMITS.max_trial_epochs:,}" in error.allowed
    else:
        assert error.received == str(changes[field]) and "an integer in [1, " in error.allowed


def test_other_fields():
    assert refused(lab="gan").field == "lab"
    assert refused(dataset="custom").field == "dataset"  # no drawn points in a fresh headless lab
    assert refused(objective="accuracy").field == "objective"
    assert refused(dataset="plane", objective="test_accuracy").field == "objective"  # regression: no accuracy
    assert refused(base={"hidden_sizes": [99]}).field == "base.hidden_sizes"
    assert refused(base={"learning_rate": 0.1}).field == "base.learning_rate"  # searched: not in base too
    assert refused(params={"l2": {"low": 1e-4, "high": 1e-2}, "regularization_rate": {"low": 0, "high": 1}}
                   ).field == "params.regularization_rate"
    assert refused(colour="red").field == "colour"


def test_an_unreachable_storage_names_no_url():
    url = f"redis://user:secret@127.0.0.1:{free_port('127.0.0.1', 17000)}/0"
    spec = SearchSpec.from_dict(tiny())
    with pytest.raises(SearchError) as caught:
        SearchRun(spec, storage=url)
    error = caught.value
    assert error.field == "storage" and "Redis" in str(error)
    wire = json.dumps(error.to_wire("search_start"))
    assert "secret" not in wire and "127.0.0.1" not in wire  # the kind of storage, not its address
    assert error.received == "<a redis storage URL>" and "Connection refused" in str(error)


def test_an_unknown_storage_scheme_and_a_missing_folder():
    spec = SearchSpec.from_dict(tiny())
    with pytest.raises(SearchError) as caught:
        SearchRun(spec, storage="ftp://example.org/study")
    assert caught.value.field == "storage" and "redis://" in caught.value.allowed
    with pytest.raises(SearchError) as caught:
        SearchRun(spec, storage="/no/such/folder/search.journal")
    assert caught.value.field == "storage"


def test_nothing_is_left_behind_by_a_refused_run():
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "nnp-search-*")))
    spec = SearchSpec.from_dict(tiny())
    with SearchRun(spec) as first:
        with pytest.raises(SearchError) as caught:  # the same study name in the same storage
            SearchRun.join(first._url, "no-such-study")
        assert caught.value.field == "study"
        assert first.summary()["n_trials"] == 0 and not first.started
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "nnp-search-*"))) == before


def test_the_command_line_says_what_is_wrong(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["search", "--dataset", "spiral", "--sampler", "tpe", "--trials", "5", "--epochs", "2",
              "--param", "learning_rate=1:0.1:log"])
    assert "params.learning_rate" in str(stopped.value) and "inverted" in str(stopped.value)
    with pytest.raises(SystemExit) as stopped:
        main(["search", "--dataset", "spiral", "--sampler", "tpe", "--trials", "5", "--epochs", "2",
              "--param", "learning_rate"])
    assert "NAME=LOW:HIGH" in str(stopped.value)
    assert capsys.readouterr().out == ""  # nothing ran


def test_options_offer_what_the_spec_accepts():
    offered = options()
    mlp = offered["labs"]["mlp"]
    assert [p["name"] for p in mlp["params"]] == list(searchable("mlp"))
    rate = next(p for p in mlp["params"] if p["name"] == "learning_rate")
    assert (rate["minimum"], rate["maximum"], rate["scale"]) == (1e-5, 10.0, "log")  # the schema's
    assert "custom" not in mlp["datasets"] and "spiral" in mlp["datasets"]
    gp = next(s for s in offered["samplers"] if s["name"] == "gp")
    assert gp["available"] == gp_available() and (gp_available() or "pip install" in gp["reason"])
    assert offered["limits"]["max_trials"] == LIMITS.max_trials
    assert "redis" not in json.dumps(offered) and "storage" not in json.dumps(offered)


def test_search_worker_on_a_study_that_is_not_there(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["search-worker", "--storage", str(tmp_path / "none.journal"), "--study", "nobody"])
    assert "study" in str(stopped.value) and "no study named 'nobody'" in str(stopped.value)
    assert capsys.readouterr().out == ""
