"""`GET /api/session/<token>/model.py` for every lab that has it: the script parses, names the lab's modules, and
(where PyTorch is installed) predicts what the session's engine model predicts, to 1e-6."""

import ast
import importlib.util
import numpy as np
import pytest

from app import socketio
from tests.exported import run_exported

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def session(app, manager, received):
    client = socketio.test_client(app)
    token = received(client)["session"][0]["token"]
    yield client, manager.get(token)
    client.disconnect()


def _nn_calls(source: str) -> list[str]:
    return sorted(n.func.attr for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
                  and isinstance(n.func, ast.Attribute) and getattr(n.func.value, "id", None) == "nn")


def _predict(source: str, inputs: np.ndarray, tmp_path) -> np.ndarray:
    return run_exported({"model": (source, inputs)}, tmp_path)["model"][0]


def test_mlp_on_digits_exports_with_an_image_example(http, session, tmp_path):
    client, s = session
    assert client.emit("set", {"dataset": "digits"}, callback=True)["ok"]
    client.emit("step", {"unit": "batch"}, callback=True)
    source = http.get(f"/api/session/{s.token}/model.py").text
    assert _nn_calls(source) == ["Linear", "Linear", "Linear", "Sequential", "Sigmoid", "Sigmoid", "Sigmoid"]
    assert "def features" not in source and "example = torch.tensor([[0.0" in source  # 64 pixels: a list
    if HAS_TORCH:
        images = s.lab.data.X_test[:5]
        np.testing.assert_allclose(_predict(source, images, tmp_path), s.lab.trainer.model.eval()(images),
                                   atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell, task, batch_first", [("LSTM", "adding", "True"), ("GRU", "sine", "False")])
def test_rnn_lab_exports_its_sequence_model(http, session, tmp_path, cell, task, batch_first):
    client, s = session
    assert client.emit("set_lab", {"lab": "rnn"}, callback=True)["ok"]
    reply = client.emit("set", {"cell_type": cell, "task": task, "batch_first": batch_first}, callback=True)
    assert reply["ok"], reply
    client.emit("step", {"unit": "batch"}, callback=True)
    source = http.get(f"/api/session/{s.token}/model.py").text
    assert "class SequenceModel(nn.Module):" in source and f"self.rnn = nn.{cell}(" in source
    assert http.get(f"/api/session/{s.token}/model.json").status_code == 404  # no model files in this lab
    assert http.post(f"/api/session/{s.token}/model", data=b"{}").status_code == 404
    if HAS_TORCH:
        lab = s.lab
        model = lab.trainer.model.eval()
        x = lab.data.inputs(lab.data.x_test[:4])
        if not model.rnn.batch_first:
            x = x.transpose(1, 0, 2).copy()
        np.testing.assert_allclose(_predict(source, x, tmp_path), model(x), atol=1e-6, rtol=0)


def test_cnn_lab_exports_its_network_with_a_test_image(http, session, tmp_path):
    client, s = session
    assert client.emit("set_lab", {"lab": "cnn"}, callback=True)["ok"]
    assert client.emit("set", {"dataset": "digits"}, callback=True)["ok"]
    client.emit("step", {"unit": "batch"}, callback=True)
    source = http.get(f"/api/session/{s.token}/model.py").text
    calls = _nn_calls(source)
    assert "Conv2d" in calls and "Flatten" in calls and "Linear" in calls
    assert "example = torch.tensor([[[[" in source and 'print(f"example {i} ->", CLASSES[k])' in source
    if HAS_TORCH:
        lab = s.lab
        model = lab.trainer.model.eval()
        images = lab.data.X_test[:6].astype(model.dtype)
        np.testing.assert_allclose(_predict(source, images, tmp_path), model(images), atol=1e-6, rtol=0)
