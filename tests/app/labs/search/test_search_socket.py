"""The search lab over a real socket: a refused race is an `error` naming the control, a race's trials reach the
viewer in the frames' bundles, and `apply_best` switches every viewer to the winner's lab."""

from __future__ import annotations

import pytest

from app.server.client import Viewer
from app.sessions.headless import evaluate


@pytest.mark.slow
def test_a_race_over_the_socket(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        try:
            reply = await viewer.call("set_lab", {"lab": "search"})
            assert reply["ok"]
            await viewer.wait_for(lambda v: v.schema["lab"] == "search" and v.state["lab"] == "search")
            assert "storage" not in str(viewer.schema) and "journal" not in str(viewer.state)

            await viewer.call("set", {"width_low": 40})  # over the schema's range: refused like any control
            await viewer.call("set", {"samplers": ["random"], "trials": 3, "epochs": 2, "width_low": 16,
                                      "width_high": 4})
            reply = await viewer.call("search_start")
            assert not reply["ok"] and reply["error"]["field"] == "width_low", reply
            assert [e["field"] for e in viewer.errors] == ["width_low", "width_low"]
            assert viewer.state["race"] is None

            await viewer.call("set", {"width_low": 4, "width_high": 16})
            assert (await viewer.call("search_start"))["ok"]
            await viewer.wait_for(lambda v: v.state["race"] and v.state["race"]["phase"] == "finished",
                                  timeout=240)
            # the trials came in the frames' bundles, each once per change
            trials = [f["trials.random"]["trials"] for f in viewer.frames if "trials.random" in f]
            assert [len(t) for t in trials] == sorted(set(len(t) for t in trials)) and len(trials[-1]) == 3
            progress = viewer.frame["race"]["samplers"][0]
            assert (progress["sampler"], progress["done"], progress["budget"]) == ("random", 3, 3)
            best = min(trials[-1], key=lambda t: t["value"])
            assert viewer.frame["test_loss"] == pytest.approx(best["value"])

            assert (await viewer.call("apply_best", {"sampler": "random"}, timeout=60))["ok"]
            await viewer.wait_for(lambda v: v.schema["lab"] == "mlp" and v.state["lab"] == "mlp")
            assert viewer.state["settings"]["learning_rate"] == best["params"]["learning_rate"]
            assert viewer.state["settings"]["hidden_sizes"] == [best["params"]["width"]] * 2
        finally:
            await viewer.disconnect()

    run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize("target, params, check", [
    ("cnn", {"params": ["learning_rate", "architecture"], "architectures": ["tiny"], "learning_rate_low": 0.001,
             "learning_rate_high": 0.1}, lambda settings: settings["architecture"] == "tiny"),
    ("rnn", {"params": ["learning_rate", "hidden_size"], "hidden_size_low": 4, "hidden_size_high": 12},
     lambda settings: 4 <= settings["hidden_size"] <= 12),
])
def test_the_best_cnn_and_rnn_go_to_their_lab_with_their_weights(live, run, target, params, check):
    """A race over another lab's hyperparameters; #apply-best puts the best trial's lab — its settings and the
    weights it trained — in the session and shows it: its test loss is the trial's."""
    async def scenario():
        viewer = await Viewer(live.url).connect()
        try:
            assert (await viewer.call("set_lab", {"lab": "search"}))["ok"]
            await viewer.wait_for(lambda v: v.schema["lab"] == "search" and v.state["lab"] == "search")
            assert (await viewer.call("set", {"target": target}))["ok"]
            await viewer.call("set", {"samplers": ["random"], "trials": 2, "epochs": 1, **params})
            assert viewer.state["settings"]["target"] == target and not viewer.errors, viewer.errors
            assert (await viewer.call("search_start"))["ok"]
            await viewer.wait_for(lambda v: v.state["race"] and v.state["race"]["phase"] == "finished",
                                  timeout=240)
            best = viewer.state["race"]["samplers"][0]
            assert (await viewer.call("apply_best", {}, timeout=120))["ok"]
            await viewer.wait_for(lambda v: v.schema["lab"] == target and v.state["lab"] == target)
            settings = viewer.state["settings"]
            assert settings["learning_rate"] == best["best_params"]["learning_rate"] and check(settings)
            session = live.app.extensions["nnplayground"].get(viewer.token)
            with session.lock:
                loss = evaluate(session.lab).loss
            assert loss == pytest.approx(best["best_value"], abs=1e-5)
            assert session.lab.trainer.epoch == 1  # trained, not fresh
        finally:
            await viewer.disconnect()

    run(scenario())
