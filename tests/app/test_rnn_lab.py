"""The RNN lab's server side: bad input refused naming the field (nothing changes), live changes keep trained
weights, the frames carry what docs/protocol.md says, the character model samples text."""

from __future__ import annotations

import numpy as np
import pytest

from app import DEFAULT_CONFIG
from app.server.bundle import decode
from app.server.errors import ControlError
from app.server.events import dispatch
from app.sessions.session import Session


@pytest.fixture
def session():
    s = Session("r" * 24, dict(DEFAULT_CONFIG), lab="rnn")
    s.viewers.add("viewer")
    return s


def train(session, steps):
    for _ in range(steps):
        session.lab.trainer.train_step()
    session.lab.model_version += 1


def frame_arrays(session):
    frame, _ = session.build_frame()
    return frame, decode(frame.fields)


def snapshot(session):
    return session.state(), session.lab.trainer.model.state_dict()


@pytest.mark.parametrize("payload, field, allowed", [
    ({"seq_len": 0}, "seq_len", "an integer in [1, 200]"),
    ({"dropout": 1.0}, "dropout", "a finite number in [0, 0.95]"),
    ({"dropout": -0.1}, "dropout", "a finite number in [0, 0.95]"),
    ({"hidden_size": 129}, "hidden_size", "an integer in [1, 128]"),
    ({"nonlinearity": "sigmoid"}, "nonlinearity", 'one of "tanh", "relu"'),
    ({"cell_type": "Transformer"}, "cell_type", 'one of "RNN", "LSTM", "GRU"'),
    ({"bidirectional": True}, "bidirectional", 'one of "True", "False"'),
    ({"task": "adding", "seq_len": 1}, "seq_len", "an integer in [2, 200] for the adding problem"),
])
def test_bad_settings_are_refused_and_change_nothing(session, payload, field, allowed):
    train(session, 3)
    before = snapshot(session)
    with pytest.raises(ControlError) as caught:
        dispatch(session, "set", (payload,), "viewer")
    wire = caught.value.to_wire("set")
    assert wire["field"] == field and allowed in wire["allowed"], wire
    after = snapshot(session)
    assert after[0] == before[0]
    assert all(np.array_equal(after[1][k], v) for k, v in before[1].items())


def test_probe_index_out_of_range_is_refused(session):
    with pytest.raises(ControlError) as caught:
        dispatch(session, "probe", ({"index": 128},), "viewer")
    assert caught.value.to_wire("probe")["allowed"] == "an integer in [0, 127] (the test set's size)"
    dispatch(session, "probe", ({"index": 5},), "viewer")
    assert session.state()["probe_index"] == 5


def test_live_changes_keep_the_trained_weights(session):
    train(session, 5)
    before = session.lab.trainer.model.state_dict()
    dispatch(session, "set", ({"hidden_size": 17},), "viewer")
    after = session.lab.trainer.model.state_dict()
    np.testing.assert_array_equal(after["rnn.weight_hh_l0"][:16, :16], before["rnn.weight_hh_l0"])
    dispatch(session, "set", ({"bidirectional": "True", "num_layers": 2},), "viewer")
    after = session.lab.trainer.model.state_dict()
    np.testing.assert_array_equal(after["rnn.weight_hh_l0"][:16, :16], before["rnn.weight_hh_l0"])
    assert after["rnn.weight_ih_l1"].shape == (17, 34) and "rnn.weight_hh_l1_reverse" in after
    dispatch(session, "set", ({"batch_first": "True", "nonlinearity": "relu"},), "viewer")
    np.testing.assert_array_equal(session.lab.trainer.model.state_dict()["rnn.weight_hh_l0"],
                                  after["rnn.weight_hh_l0"])
    train(session, 2)  # and it trains on in the new layout
    assert session.lab.trainer.model.rnn.batch_first
    assert np.isfinite(session.lab.batch_loss if session.lab.batch_loss is not None else 0.0)


def test_state_has_the_shapes_panel(session):
    dispatch(session, "set", ({"bidirectional": "True", "batch_first": "True"},), "viewer")
    shapes = session.state()["shapes"]
    tensors = {t["name"]: tuple(t["shape"]) for t in shapes["tensors"]}
    assert tensors == {"input": (32, 50, 1), "h_0": (2, 32, 16), "output": (32, 50, 32), "h_n": (2, 32, 16)}
    assert shapes["total"] == session.lab.trainer.model.rnn.num_parameters()
    assert shapes["model_total"] == session.lab.trainer.model.num_parameters()
    assert any("batch_first does not apply to h_0 and h_n" in note for note in shapes["notes"])


def test_dropout_with_one_layer_warns_as_torch_does(session):
    dispatch(session, "set", ({"dropout": 0.3},), "viewer")
    assert any("no effect with num_layers=1" in w for w in session.state()["warnings"])
    dispatch(session, "set", ({"num_layers": 2},), "viewer")
    assert session.state()["warnings"] == []


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
def test_frames_carry_the_documented_arrays(session, cell):
    dispatch(session, "set", ({"cell_type": cell, "num_layers": 2, "bidirectional": "True"},), "viewer")
    _, arrays = frame_arrays(session)
    assert "grad_h" not in arrays  # no backward pass yet
    train(session, 2)
    frame, arrays = frame_arrays(session)
    assert arrays["hidden.0"].shape == arrays["hidden.1"].shape == (50, 32)
    assert arrays["grad_h"].shape == (2, 2, 50) and arrays["grad_h0"].shape == (4,)
    assert arrays["probe.input"].shape == (50, 1) and arrays["probe.prediction"].shape == (50,)
    assert frame.fields["grad_norm"] > 0 and frame.fields["train_loss"] is not None


def test_adding_task_reads_the_last_step_and_its_gradient_vanishes_through_time(session):
    dispatch(session, "set", ({"task": "adding", "seq_len": 60},), "viewer")
    train(session, 30)
    _, arrays = frame_arrays(session)
    assert arrays["probe.target"].shape == arrays["probe.prediction"].shape == (1,)
    gradient = arrays["grad_h"][0, 0]
    assert gradient[0] < 1e-3 * gradient[-1]  # the tanh RNN's gradient through 60 steps


def test_character_model_samples_text_at_the_temperature(session):
    dispatch(session, "set", ({"task": "chars"},), "viewer")
    state = session.state()
    assert state["input_size"] == state["output_size"] == len(state["vocabulary"])
    assert (state["hidden_size"], state["seq_len"]) == (64, 32)  # the task's preset
    frame, arrays = frame_arrays(session)
    sample = frame.sections["sample"][1]
    assert len(sample["text"]) == 200 and set(sample["text"]) <= set(state["vocabulary"])
    assert arrays["probe.ids"].shape == (32,) and arrays["probe.target_probability"].shape == (32,)
    dispatch(session, "set", ({"temperature": 0.2},), "viewer")
    frame, _ = frame_arrays(session)
    assert frame.sections["sample"][1]["temperature"] == 0.2 and frame.sections["sample"][1]["text"] != sample["text"]
    dispatch(session, "set", ({"bidirectional": "True"},), "viewer")
    frame, _ = frame_arrays(session)
    assert frame.sections["sample"][1]["text"] == "" and "bidirectional" in frame.sections["sample"][1]["note"]


def test_switching_labs_keeps_the_rnn_as_it_was(session):
    train(session, 3)
    before = session.lab.trainer.model.state_dict()
    dispatch(session, "set_lab", ({"lab": "mlp"},), "viewer")
    dispatch(session, "set_lab", ({"lab": "rnn"},), "viewer")
    after = session.lab.trainer.model.state_dict()
    assert all(np.array_equal(after[k], v) for k, v in before.items())
