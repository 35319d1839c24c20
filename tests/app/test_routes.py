"""HTTP routes: health, vendored scripts, the page, model download and upload."""

import io
import json

import numpy as np
import pytest

from app import create_app, socketio


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def token(app, received):
    client = socketio.test_client(app)
    yield received(client)["session"][0]["token"]
    client.disconnect()


def test_healthz(http):
    response = http.get("/healthz")
    assert response.status_code == 200 and response.text == "ok"


def test_vendored_scripts_are_served_locally(http):
    plotly = http.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and plotly.mimetype == "text/javascript" and len(plotly.data) > 1_000_000
    client = http.get("/vendor/socket.io.esm.min.js")
    assert client.status_code == 200 and b"export" in client.data


def test_missing_node_modules_says_run_make_setup(tmp_path):
    app = create_app({"NODE_MODULES": tmp_path})
    try:
        response = app.test_client().get("/vendor/socket.io.esm.min.js")
        assert response.status_code == 500 and "make setup" in response.text
    finally:
        app.extensions["nnplayground"].shutdown()


def test_model_downloads_with_torch_state_dict_names(http, token):
    npz = np.load(io.BytesIO(http.get(f"/api/session/{token}/model.npz").data), allow_pickle=False)
    assert sorted(npz.files) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    assert npz["0.weight"].shape == (8, 2) and npz["0.weight"].dtype == np.float32
    document = json.loads(http.get(f"/api/session/{token}/model.json").data)
    assert document["format"] == "nnplayground.model" and document["layer_sizes"] == [2, 8, 8, 1]
    np.testing.assert_allclose(np.array(document["state_dict"]["2.weight"]), npz["2.weight"], rtol=1e-6)


def test_model_upload_round_trip_and_resize(http, token, manager):
    session = manager.get(token)
    rng = np.random.default_rng(0)
    weights = {"0.weight": rng.normal(size=(3, 2)), "0.bias": np.zeros(3), "2.weight": rng.normal(size=(1, 3)),
               "2.bias": np.ones(1)}
    buffer = io.BytesIO()
    np.savez(buffer, **weights)
    reply = http.post(f"/api/session/{token}/model", data=buffer.getvalue())
    assert reply.status_code == 200 and reply.json["ok"]
    assert session.state()["layer_sizes"] == [2, 3, 1]
    np.testing.assert_array_equal(session.lab.trainer.model.state_dict()["0.weight"], weights["0.weight"])
    document = http.get(f"/api/session/{token}/model.json").data
    assert http.post(f"/api/session/{token}/model", data=document).json["ok"]


@pytest.mark.parametrize("body,field", [
    (b"\x80\x04 not a model", "data"),
    (json.dumps({"state_dict": {"0.weight": [[1.0, 2.0, 3.0]], "0.bias": [0.0]}}).encode(), "data"),  # 3 inputs
    (json.dumps({"state_dict": {"0.weight": [["a", "b"]], "0.bias": [0.0]}}).encode(), "state_dict.0.weight"),
    (json.dumps({"state_dict": {"0.weight": [[1.0, 2.0]], "0.bias": [0.0], "x": [1]}}).encode(), "state_dict.x"),
    (json.dumps({"state_dict": {"0.weight": [[1e400, 2.0]], "0.bias": [0.0]}}).encode(), "state_dict.0.weight"),
])
def test_bad_model_upload_is_refused_and_changes_nothing(http, token, manager, body, field):
    before = manager.get(token).lab.trainer.model.state_dict()
    reply = http.post(f"/api/session/{token}/model", data=body)
    assert reply.status_code == 400 and reply.json["error"]["field"] == field
    after = manager.get(token).lab.trainer.model.state_dict()
    assert all((after[k] == v).all() for k, v in before.items())


def test_pickled_npz_is_never_loaded(http, token):
    buffer = io.BytesIO()
    np.savez(buffer, **{"0.weight": np.array([{"evil": 1}], dtype=object), "0.bias": np.zeros(1)})
    reply = http.post(f"/api/session/{token}/model", data=buffer.getvalue())
    assert reply.status_code == 400 and "pickle" in reply.json["error"]["message"]


def test_unknown_session_is_404(http):
    assert http.get("/api/session/nosuchtoken/model.npz").status_code == 404
    assert http.post("/api/session/nosuchtoken/model", data=b"x").status_code == 404


def test_upload_over_the_size_limit_is_413(http, token):
    assert http.post(f"/api/session/{token}/model", data=b"x" * 1_100_000).status_code == 413
