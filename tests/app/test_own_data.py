"""Your own data in the MLP lab, over a real socket and HTTP: draw, erase, clear, upload (every bad CSV refused
naming its line and column, nothing changed), download, the link, the saved model file and the PyTorch export."""

import ast
import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from app.server.client import Viewer
from engine.datasets.csv_points import MAX_BYTES, MAX_ROWS
from tests.exported import run_exported


def _get(live, path: str) -> bytes:
    with urllib.request.urlopen(live.url + path, timeout=30) as response:
        return response.read()


def _post(live, path: str, body: bytes) -> dict:
    request = urllib.request.Request(live.url + path, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def _dataset(viewer, version):
    """The dataset bundle once the frames reflect ``version``."""
    viewer_frame = viewer.frame
    return viewer_frame["config_version"] >= version and viewer.sections["dataset"]


async def _at(viewer, reply):
    assert reply["ok"], reply
    await viewer.wait_for(lambda v: _dataset(v, reply["config_version"]))
    return viewer.sections["dataset"], viewer.state


def test_drawing_on_an_empty_plane_makes_a_custom_dataset_the_network_trains_on(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        dataset, state = await _at(viewer, await viewer.call("clear_points", {}))
        assert state["settings"]["dataset"] == "custom" and state["points"]["count"] == 0
        assert (state["n_train"], state["n_test"]) == (0, 0)
        for event, payload in (("step", {"unit": "epoch"}), ("step", {}), ("play", {})):
            reply = await viewer.call(event, payload)  # nothing to learn yet: it waits, nothing breaks
            assert reply["ok"], (event, reply)
        rng = np.random.default_rng(0)
        inside = rng.uniform(-2, 2, size=(30, 2)).round(2).tolist()
        outside = (rng.choice([-1, 1], size=(30, 2)) * rng.uniform(3.5, 5.5, size=(30, 2))).round(2).tolist()
        await viewer.call("add_points", {"points": inside, "label": 0})
        dataset, state = await _at(viewer, await viewer.call("add_points", {"points": outside, "label": 1}))
        assert state["points"]["count"] == 60 and state["n_train"] == 30 and state["n_test"] == 30
        assert dataset["num_classes"] == 2 and dataset["arrays"]["train.x"].shape == (30, 2)
        first = await viewer.wait_for(lambda v: v.frame["train_loss"] is not None and v.frame)
        await viewer.wait_for(lambda v: v.frame["step"] > first["step"] + 200 and v.frame, timeout=30)
        # a third class widens the output layer, and training goes on
        dataset, state = await _at(viewer, await viewer.call("add_points", {"points": [[0, 5], [1, 5]], "label": 2}))
        assert state["layer_sizes"][-1] == 3 and state["points"]["class_names"] == ["0", "1", "2"]
        assert state["status"] == "running"
        gone, state = await _at(viewer, await viewer.call("remove_points", {"at": [[0.5, 5]], "radius": 0.6}))
        assert state["points"]["count"] == 60
        await viewer.disconnect()

    run(scenario())


def test_an_epoch_step_on_an_empty_plane_waits_for_points_then_ends(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await _at(viewer, await viewer.call("clear_points", {}))
        assert (await viewer.call("step", {"unit": "epoch"}))["ok"]
        seen = viewer.frame_count
        await viewer.wait_for(lambda v: v.frame_count >= seen + 3)  # the scheduler runs its slices: nothing to do
        _, state = await _at(viewer, await viewer.call("add_points", {"points": [[1, 1], [2, 2], [-1, -1]],
                                                                     "label": 0}))
        await viewer.wait_for(lambda v: v.frame["status"] == "paused" and v.frame["epoch"] == 1 and v.frame)
        await viewer.disconnect()

    run(scenario())


def test_the_first_edit_of_a_generated_dataset_starts_from_its_points(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        _, state = await _at(viewer, await viewer.call("add_points", {"points": [[0.5, 0.5]], "label": 1}))
        assert state["settings"]["dataset"] == "custom" and state["points"]["count"] == 501
        await viewer.call("set", {"dataset": "spiral"})
        _, state = await _at(viewer, await viewer.call("set", {"dataset": "custom"}))
        assert state["points"]["count"] == 501  # kept while another dataset was shown
        await viewer.disconnect()

    run(scenario())


def test_regression_points_take_a_value(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("clear_points", {"task": "regression"})
        reply = await viewer.call("add_points", {"points": [[1, 1]], "label": 0})
        assert not reply["ok"] and reply["error"]["field"] == "label" and "regression" in reply["error"]["allowed"]
        dataset, state = await _at(viewer, await viewer.call("add_points", {"points": [[1, 1], [2, 2]],
                                                                         "value": -0.25}))
        assert state["task"] == "regression" and state["layer_sizes"][-1] == 1
        assert sorted(np.concatenate([dataset["arrays"]["train.y"], dataset["arrays"]["test.y"]])) == [-0.25, -0.25]
        await viewer.disconnect()

    run(scenario())


@pytest.mark.parametrize("payload, field", [
    ({"points": [[7, 0]], "label": 0}, "points"),
    ({"points": [[0, 0]], "label": 6}, "label"),
    ({"points": [[0, 0]]}, ""),
    ({"points": [[0, 0]] * 501, "label": 0}, "points"),
    ({"points": [[0, float("nan")]], "label": 0}, "points"),
])
def test_bad_edits_are_refused_and_change_nothing(live, run, payload, field):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        before = viewer.state
        reply = await viewer.call("add_points", payload)
        assert reply["ok"] is False and reply["error"]["field"] == field
        assert viewer.state["config_version"] == before["config_version"]
        await viewer.disconnect()

    run(scenario())


GOOD_CSV = "x1,x2,label\n-1.5,2.25,cat\n0.5,-0.5,dog\n3.0,1.0,cat\n-2.0,-4.0,bird\n1.0,1.0,dog\n"
BAD_CSVS = {  # file, line, column
    "missing column": ("x1,label\n1,a\n2,b\n3,a\n4,b\n", 1, "x2"),
    "extra column": ("x1,x2,label,z\n" + "1,2,a,0\n" * 4, 1, '4 ("z")'),
    "non-numeric": ("x1,x2,label\n1,2,a\n2,two,b\n3,3,a\n4,4,b\n", 3, "x2"),
    "non-finite": ("x1,x2,y\n1,2,0.5\n2,2,0.1\n3,3,inf\n4,4,0\n", 4, "y"),
    "too many rows": ("x1,x2,label\n" + "1,2,a\n2,1,b\n" * (MAX_ROWS // 2 + 1), MAX_ROWS + 2, None),
    "too few rows": ("x1,x2,label\n1,2,a\n2,1,b\n", 4, None),
    "seven classes": ("x1,x2,label\n" + "".join(f"{i},{i},c{i}\n" for i in range(7)), 8, "label"),
    "over the size limit": ("x1,x2,label\n" + "1.000000000000001,2.000000000000001,a\n" * (MAX_BYTES // 36), None, None),
}


@pytest.mark.parametrize("name", BAD_CSVS)
def test_each_bad_csv_names_its_line_and_column_and_changes_nothing(live, run, name):
    text, line, column = BAD_CSVS[name]

    async def scenario():
        viewer = await Viewer(live.url).connect()
        before = viewer.state
        reply = await viewer.call("upload_data", {"csv": text})
        assert reply["ok"] is False
        message = reply["error"]["message"]
        assert message.startswith("upload_data.csv: line ")
        if line is not None:
            assert f"line {line}" + (f", column {column}" if column else "") + ":" in message
        else:
            assert "at most 524,288 bytes" in message
        await viewer.wait_for(lambda v: v.errors)
        assert viewer.state["config_version"] == before["config_version"]
        assert viewer.state["settings"]["dataset"] == "circle" and viewer.state["points"] is None
        await viewer.disconnect()

    run(scenario())


def test_upload_then_download_gives_the_same_rows(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        _, state = await _at(viewer, await viewer.call("upload_data", {"csv": GOOD_CSV}))
        assert state["points"] == {"count": 5, "task": "classification", "class_names": ["cat", "dog", "bird"],
                                   "note": None, "link": state["points"]["link"]}
        assert state["layer_sizes"][-1] == 3
        csv = _get(live, f"/api/session/{viewer.token}/data.csv").decode()
        assert csv == GOOD_CSV
        await viewer.disconnect()

    run(scenario())


def test_an_upload_outside_the_plane_is_rescaled_and_says_so(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        text = "x1,x2,y\n0,0,0.5\n100,0,-0.5\n0,50,0.25\n100,50,0\n"
        dataset, state = await _at(viewer, await viewer.call("upload_data", {"csv": text}))
        assert "coordinates went outside [-6, 6]²" in state["points"]["note"]
        assert state["task"] == "regression"
        both = np.concatenate([dataset["arrays"]["train.x"], dataset["arrays"]["test.x"]])
        assert np.abs(both).max() == pytest.approx(5.4)
        await viewer.disconnect()

    run(scenario())


def test_generated_data_downloads_as_csv_and_images_do_not(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        csv = _get(live, f"/api/session/{viewer.token}/data.csv").decode()
        assert csv.startswith("x1,x2,label\n") and csv.count("\n") == 501
        await _at(viewer, await viewer.call("set", {"dataset": "digits"}))
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(live, f"/api/session/{viewer.token}/data.csv")
        assert refused.value.code == 404
        await viewer.disconnect()

    run(scenario())


def test_a_drawn_set_travels_in_a_link_and_in_the_saved_model(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("clear_points", {})
        await viewer.call("add_points", {"points": [[-3, -3], [-2, -3.5]], "label": 0})
        _, state = await _at(viewer, await viewer.call("add_points", {"points": [[3, 3], [2.5, 3.5]], "label": 3}))
        link = state["points"]["link"]
        saved = _get(live, f"/api/session/{viewer.token}/model.json")
        npz = _get(live, f"/api/session/{viewer.token}/model.npz")
        assert json.loads(saved)["points"]["x"] == [[-3, -3], [-2, -3.5], [3, 3], [2.5, 3.5]]

        other = await Viewer(live.url).connect()  # a new session, as a link opened elsewhere
        _, state = await _at(other, await other.call("upload_data", {"link": link}))
        assert state["points"]["count"] == 4 and state["points"]["class_names"] == ["0", "1", "2", "3"]
        await other.call("set", {"dataset": "xor"})
        for body in (saved, npz):  # the saved file brings its points back
            assert _post(live, f"/api/session/{other.token}/model", body)["ok"]
            await other.wait_for(lambda v: v.state["settings"]["dataset"] == "custom")
            assert other.state["points"]["count"] == 4 and other.state["layer_sizes"][-1] == 4
            await other.call("set", {"dataset": "xor"})
        assert not (await other.call("upload_data", {"link": "c2.!!"}))["ok"]
        await other.disconnect()
        await viewer.disconnect()

    run(scenario())


def test_export_pytorch_names_the_network_and_its_features(live, run):
    async def scenario():
        viewer = await Viewer(live.url).connect()
        await viewer.call("set", {"features": ["x1", "x2", "sin(x1)"], "hidden_sizes": [5]})
        source = _get(live, f"/api/session/{viewer.token}/model.py").decode()
        tree = ast.parse(source)
        calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and getattr(n.func.value, "id", None) == "nn"]
        assert sorted(calls) == sorted(["Sequential", "Linear", "Tanh", "Linear", "Tanh"])
        assert "torch.sin(x1)" in source and '"0.weight": tensor((5, 3),' in source
        await viewer.disconnect()

    run(scenario())


def test_exported_file_predicts_what_the_engine_predicts(live, run, tmp_path):
    pytest.importorskip("torch")
    from engine import builders
    from engine.datasets import featurize

    features = ["x1", "x2", "x1*x2", "sin(x2)"]

    async def scenario():
        viewer = await Viewer(live.url).connect()
        for event, payload in (("upload_data", {"csv": GOOD_CSV}), ("set", {"features": features,
                               "loss": "cross_entropy", "activation": "relu"}), ("step", {"unit": "epoch"})):
            reply = await viewer.call(event, payload)
            assert reply["ok"], reply
        source = _get(live, f"/api/session/{viewer.token}/model.py").decode()
        saved = json.loads(_get(live, f"/api/session/{viewer.token}/model.json"))
        await viewer.disconnect()
        return source, saved

    source, saved = run(scenario())
    points = np.random.default_rng(3).uniform(-6, 6, size=(40, 2))
    theirs, printed = run_exported({"model": (source, points)}, tmp_path)["model"]
    # the engine's network from the saved file (the same float64 weights) on the same points
    assert saved["hidden_activations"] == ["relu", "relu"]
    model = builders.mlp(saved["layer_sizes"], activation="relu")
    model.load_state_dict({k: np.array(v) for k, v in saved["state_dict"].items()})
    ours = model(featurize(points, features))
    np.testing.assert_allclose(theirs, ours, atol=1e-6, rtol=0)
    lines = [line for line in printed.splitlines() if "->" in line]  # its own example, with class names
    assert lines and all(line.rsplit("-> ", 1)[1] in ("cat", "dog", "bird") for line in lines)
