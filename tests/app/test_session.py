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
    lr = session.lab.settings["learning_rate"]
    assert session.lab.divergence["learning_rate"] == lr and f"at learning rate {lr:g}" in session.lab.divergence["message"]
    assert session.lab.divergence["suggested_learning_rate"] == float(f"{lr / 10:.3g}")
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


def test_fair_scheduling_every_session_gets_frames_and_steps(training_clock):
    # Frames that each session's part of the tick affords (their cost here: the scheduler's clock does not move
    # while they are built): every session gets its frame every tick and its steps, the fast one no more frames.
    # (Frames that cost more than a session's part: tests/app/test_capacity.py.)
    manager = SessionManager(dict(DEFAULT_CONFIG, FPS=60), socketio.Server())
    sessions = []
    for i in range(3):
        session, _ = manager.connect(f"sid{i}", None)
        manager.watch(f"sid{i}")
        sessions.append(session)
    manager.scheduler.stop()  # tick by hand
    for i, session in enumerate(sessions):
        session.lab.apply_settings({"speed": 60_000 if i == 0 else 1000})
        session.lab.status = "running"
    for _ in range(20):
        manager.scheduler.tick(0.0)
        manager.stream.flush()  # the sender takes each frame (a frame is built when a viewer can take it)
        for i in range(3):
            manager.stream.acknowledged(f"sid{i}")  # each viewer acks: it may take the next one
    # a frame every tick, but perhaps the first: until measured, a frame's cost is guessed (5 ms: more than a part)
    assert all(s.lab.frames.seq >= 19 for s in sessions), [(s.lab.frames.seq, s.lab.trainer.step) for s in sessions]
    assert all(s.lab.trainer.step >= 1 for s in sessions)
    assert sessions[0].lab.trainer.step > sessions[1].lab.trainer.step


def test_speed_is_steps_per_second_whatever_the_frame_rate(session, monkeypatch):
    import types

    import app.labs.base

    now = [100.0]
    monkeypatch.setattr(app.labs.base, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    lab = session.lab
    lab.config = dict(lab.config, FPS=60)
    lab.apply_settings({"speed": 20})
    lab.play()
    owed = [session.steps_due()]  # the first slice owes one tick's worth: 20/60 of a step
    for _ in range(30):  # half a second of ticks at 60 frames/s
        now[0] += 1 / 60
        owed.append(session.steps_due())
    assert owed[0] == 0 and sum(owed) == 10 and max(owed) == 1
    now[0] += 5.0  # a stall of 5 s owes at most a quarter second's worth, not 100 steps
    assert session.steps_due() == 5
    lab.pause()
    now[0] += 1.0
    lab.play()  # paused time is not owed
    assert session.steps_due() == 0


def test_unwatched_sessions_stop_training_and_are_reclaimed():
    manager = SessionManager(dict(DEFAULT_CONFIG, SESSION_IDLE_TIMEOUT=0.0), socketio.Server())
    session, _ = manager.connect("sid", None)
    manager.watch("sid")
    manager.scheduler.stop()
    session.lab.status = "running"
    manager.disconnect("sid")
    assert session.train_slice(10, float("inf")) == 0
    assert manager.reap() == 1 and manager.get(session.token) is None


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "swish"])
def test_a_layer_added_to_a_trained_network_keeps_its_test_accuracy(session, activation):
    session.lab.apply_settings({"dataset": "xor", "features": ["x1", "x2", "x1*x2"], "activation": activation,
                            "learning_rate": 0.1 if activation == "sigmoid" else 0.03})
    train(session, 1000)
    _, before, _ = session.lab.trainer.evaluate("test")
    loss_before, _, _ = session.lab.trainer.evaluate("train")
    session.lab.add_layer()
    assert session.state()["layer_sizes"] == [3, 8, 8, 8, 1]
    _, after, _ = session.lab.trainer.evaluate("test")
    loss_after, _, _ = session.lab.trainer.evaluate("train")
    assert before > 0.9 and abs(after - before) <= 0.03, (before, after)
    assert loss_after <= loss_before * 1.1 + 1e-3
    assert session.state()["notice"]["text"].startswith(f"New hidden layer 2 ({activation}) starts as ")
    train(session, 200)  # and it keeps learning
    assert np.isfinite(session.lab.trainer.evaluate("train")[0])


def test_regenerate_draws_new_data_of_the_same_kind_and_keeps_the_weights(session):
    train(session, 1000)
    assert session.lab.trainer.evaluate("test")[1] > 0.95
    weights = session.lab.trainer.model.state_dict()
    points = session.lab.data.points_train.copy()
    session.lab.regenerate()
    assert session.lab.settings["seed"] == 1 and session.lab.settings["dataset"] == "circle"
    assert session.lab.data.points_train.shape == points.shape and not np.array_equal(session.lab.data.points_train, points)
    after = session.lab.trainer.model.state_dict()
    assert all(np.array_equal(after[k], v) for k, v in weights.items())
    assert session.lab.trainer.evaluate("test")[1] > 0.9  # the same distribution: what was learned still holds


def test_a_tanh_network_switched_to_relu_shows_its_dead_units_and_one_click_revives_them(session):
    session.lab.apply_settings({"dataset": "xor"})
    train(session, 1500)
    session.lab.apply_settings({"activation": "relu"})
    assert session.state()["switched_layers"] == [0, 1]
    for linear in network.linears(session.lab.trainer.model)[:2]:  # as a long tanh run can leave them: all below 0
        linear.bias.data[:4] = -40.0
    _, arrays = frame_arrays(session)
    assert arrays["dead.0"].shape == (8,) and arrays["dead.0"][:4].all() and arrays["dead.1"][:4].all()
    session.lab.reinitialize()
    assert session.state()["switched_layers"] == []
    assert session.state()["notice"]["text"].startswith("Re-initialised hidden layers 0 (kaiming), 1 (kaiming)")
    session.lab.model_version += 1
    _, arrays = frame_arrays(session)
    assert arrays["dead.0"].sum() <= 2 and arrays["dead.1"].sum() <= 2
    session.lab.apply_settings({"activation": "tanh"})  # they were redrawn for relu: tanh is a switch again
    assert session.state()["switched_layers"] == [0, 1]
    session.lab.reset()
    assert session.state()["switched_layers"] == []
