"""Sessions without sockets: live surgery keeps weights, the probe's gradient, fair scheduling, reclaiming."""

import numpy as np
import pytest
import socketio

from app import DEFAULT_CONFIG
from app.server.bundle import decode
from app.sessions.manager import SessionManager
from app.labs.mlp import network
from app.sessions.session import Session


@pytest.fixture
def session():
    s = Session("s" * 24, dict(DEFAULT_CONFIG))
    s.viewers.add("viewer")
    return s


def frame_arrays(session):
    frame, _ = session.build_frame()
    return frame, decode(frame.fields)


def train(session, steps):
    for _ in range(steps):
        session.lab.trainer.train_step()
    session.lab.model_version += 1


def test_new_features_keep_the_columns_of_the_kept_ones(session):
    train(session, 50)
    before = session.lab.trainer.model.state_dict()
    session.lab.apply_settings({"features": ["x2", "x1^2", "x1"]})
    after = session.lab.trainer.model.state_dict()
    assert after["0.weight"].shape == (8, 3)
    np.testing.assert_array_equal(after["0.weight"][:, 0], before["0.weight"][:, 1])
    np.testing.assert_array_equal(after["0.weight"][:, 2], before["0.weight"][:, 0])
    np.testing.assert_array_equal(after["2.weight"], before["2.weight"])
    assert session.lab.trainer.T_train.shape == (250, 1) and session.lab.data.X_train.shape == (250, 3)


def test_another_2d_dataset_keeps_the_hidden_weights(session):
    train(session, 50)
    before = session.lab.trainer.model.state_dict()
    session.lab.apply_settings({"dataset": "multi-class"})
    after = session.lab.trainer.model.state_dict()
    assert session.state()["layer_sizes"] == [2, 8, 8, 4]
    for key in ("0.weight", "0.bias", "2.weight", "2.bias"):
        np.testing.assert_array_equal(after[key], before[key])
    assert session.state()["output_activation"] == "sigmoid"


def test_probe_output_gradient_is_backprop_calculus(session):
    """dC/dw_jk = a_prev_k · σ'(z_j) · 2(a_j − y_j), C = Σ_j (a_j − y_j)², for the probe alone."""
    session.lab.apply_settings({"dataset": "digits"})
    train(session, 100)
    session.lab.set_probe(split="test", index=5)
    _, a = frame_arrays(session)
    last = len(session.state()["layer_sizes"]) - 2
    z, out = a[f"probe.pre_activation.{last}"].astype(np.float64), a[f"probe.activation.{last}"]
    a_prev, y = a[f"probe.activation.{last - 1}"], a["probe.target"]
    assert y.argmax() == session.lab.data.y_test[5]
    sigma = 1 / (1 + np.exp(-z))
    delta = sigma * (1 - sigma) * 2 * (out - y)
    np.testing.assert_allclose(a["probe.output_weight_grad"], np.outer(delta, a_prev), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(a["probe.output_bias_grad"], delta, rtol=1e-4, atol=1e-7)


def test_probe_pass_leaves_the_minibatch_gradient_alone(session):
    train(session, 10)
    grads = [p.grad.copy() for p in session.lab.trainer.model.parameters()]
    _, a = frame_arrays(session)
    for p, g in zip(session.lab.trainer.model.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)
    np.testing.assert_array_equal(a["weight_grad.0"], grads[0].astype(np.float32))


def test_histograms_and_grids_have_the_documented_shapes(session):
    frame, a = frame_arrays(session)
    assert a["pre_activation_hist"].shape == (3, 40)
    np.testing.assert_allclose(a["pre_activation_hist"].sum(axis=1), 1.0, rtol=1e-6)
    assert a["output_grid"].shape == (1, 100, 100) and a["neuron_grid.0"].shape == (8, 25, 25)
    assert a["output_grid"].min() >= -1.0 - 1e-6 and a["output_grid"].max() <= 1.0 + 1e-6
    assert frame.fields["hist_range"] == [-6.0, 6.0] and len(a["grad_norm"]) == 3


def test_grid_row_zero_is_the_bottom_of_the_plane(session):
    """Weights that make the output tanh(x2) show the bottom row (x2 = -6) near -1."""
    session.lab.apply_settings({"hidden_sizes": []})
    layer = session.lab.trainer.model[0]
    layer.weight.data[...] = [[0.0, 1.0]]
    layer.bias.data[...] = 0
    session.lab.model_version += 1
    _, a = frame_arrays(session)
    grid = a["output_grid"][0]
    assert grid[0].mean() < -0.99 and grid[-1].mean() > 0.99


def test_divergence_pauses_and_only_reset_recovers_non_finite_weights(session):
    session.lab.apply_settings({"dataset": "plane", "learning_rate": 10.0})
    session.lab.status = "running"
    with np.errstate(all="ignore"):
        for _ in range(500):
            session.train_slice(100, float("inf"))
            if session.lab.status == "diverged":
                break
    assert session.lab.status == "diverged" and session.lab.divergence["step"] == session.lab.trainer.step
    if not session.lab.trainer.parameters_finite():
        with pytest.raises(ValueError):
            session.lab.play()
    session.lab.reset()
    assert session.lab.status == "paused" and session.lab.trainer.step == 0 and session.lab.trainer.parameters_finite()


def test_weights_that_overflow_diverge_though_the_tanh_output_keeps_the_loss_finite(session):
    network.linears(session.lab.trainer.model)[0].weight.data[0, 0] = 1e160  # its square overflows
    with np.errstate(all="ignore"):
        session.lab.step()
    d = session.lab.divergence
    assert session.lab.status == "diverged" and d["cause"] == "weights" and d["loss"] == "inf"
    assert d["step"] == session.lab.trainer.step == 1 and np.isfinite(session.lab.batch_loss)
    assert "weights became infinite" in d["message"].lower()


def test_a_non_finite_gradient_diverges_before_the_update(session):
    session.lab.apply_settings({"regularization": "l2", "regularization_rate": 10.0})
    weight = network.linears(session.lab.trainer.model)[0].weight.data
    weight[0, 0] = 1e308  # finite, and the tanh layer keeps the loss finite; 10 × it is not
    before = session.lab.trainer.optimizer.flat.data.copy()
    with np.errstate(all="ignore"):
        session.lab.step()
    assert session.lab.status == "diverged" and session.lab.divergence["cause"] == "gradient"
    assert session.lab.trainer.step == 0
    np.testing.assert_array_equal(session.lab.trainer.optimizer.flat.data, before)  # no update made


def test_fair_scheduling_every_session_gets_frames_and_steps():
    manager = SessionManager(dict(DEFAULT_CONFIG, FPS=1000), socketio.Server())
    sessions = []
    for i in range(3):
        session, _ = manager.connect(f"sid{i}", None)
        manager.watch(f"sid{i}")
        sessions.append(session)
    manager.scheduler.stop()  # tick by hand
    for i, session in enumerate(sessions):
        session.lab.apply_settings({"speed": 1000 if i == 0 else 1})
        session.lab.status = "running"
    for _ in range(20):
        manager.scheduler.tick(0.0)
    assert all(s.lab.frames.seq >= 20 for s in sessions)
    assert [s.lab.trainer.step for s in sessions[1:]] == [20, 20]
    assert sessions[0].lab.trainer.step >= 20


def test_unwatched_sessions_stop_training_and_are_reclaimed():
    manager = SessionManager(dict(DEFAULT_CONFIG, SESSION_IDLE_TIMEOUT=0.0), socketio.Server())
    session, _ = manager.connect("sid", None)
    manager.watch("sid")
    manager.scheduler.stop()
    session.lab.status = "running"
    manager.disconnect("sid")
    assert session.train_slice(10, float("inf")) == 0
    assert manager.reap() == 1 and manager.get(session.token) is None
