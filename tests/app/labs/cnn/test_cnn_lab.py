"""The CNN lab without sockets: its layer list built, checked and edited live, its frames, its probe."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from app import DEFAULT_CONFIG
from app.server.bundle import decode
from app.server.errors import ControlError
from app.server.events import dispatch
from app.sessions.session import Session


@pytest.fixture
def session():
    s = Session("c" * 24, dict(DEFAULT_CONFIG), lab="cnn")
    s.viewers.add("viewer")
    return s


def send(session, event, payload=None):
    return dispatch(session, event, (payload,) if payload is not None else (), "viewer")


def layers_of(session):
    return copy.deepcopy(session.lab.settings["layers"])


def test_the_default_is_convnetjs_mnist_network_with_5994_parameters(session):
    lab = session.lab
    assert session.state()["lab"] == "cnn"
    assert lab.settings["architecture"] == "convnetjs"
    assert lab.trainer.model.num_parameters() == 5994 == lab.table.total_parameters
    state = session.state()
    rows = state["summary"]["rows"]
    assert rows[0]["shape_formula"] == "H_out = W_out = ⌊(28 + 2·2 − 5)/1⌋ + 1 = 28"
    assert rows[0]["parameter_formula"] == "(5·5·1 + 1)·8 = 208"
    assert rows[5]["output_shape"] == [16, 4, 4]
    assert state["summary"]["total_parameters"] == state["num_parameters"] == 5994


def test_adding_and_removing_a_kernel_keeps_every_other_weight(session):
    lab = session.lab
    for _ in range(3):
        lab.trainer.train_step()
    before = {k: v.copy() for k, v in lab.trainer.model.state_dict().items()}
    layers = layers_of(session)
    layers[0]["out_channels"] = 9
    send(session, "set", {"layers": layers})
    after = lab.trainer.model.state_dict()
    assert after["0.weight"].shape == (9, 1, 5, 5)
    np.testing.assert_array_equal(after["0.weight"][:8], before["0.weight"])
    np.testing.assert_array_equal(after["3.weight"][:, :8], before["3.weight"])
    np.testing.assert_array_equal(after["7.weight"], before["7.weight"])  # conv 3's channels are unchanged
    assert lab.settings["architecture"] == "custom"
    layers[0]["out_channels"] = 8
    send(session, "set", {"layers": layers})
    for name, value in before.items():
        np.testing.assert_array_equal(lab.trainer.model.state_dict()[name], value)
    assert lab.settings["architecture"] == "convnetjs"


def test_a_new_kernel_size_reinitialises_that_layer_only(session):
    lab = session.lab
    before = {k: v.copy() for k, v in lab.trainer.model.state_dict().items()}
    layers = layers_of(session)
    layers[3].update(kernel_size=3, padding=1)
    send(session, "set", {"layers": layers})
    after = lab.trainer.model.state_dict()
    assert after["3.weight"].shape == (16, 8, 3, 3)
    np.testing.assert_array_equal(after["0.weight"], before["0.weight"])
    np.testing.assert_array_equal(after["7.weight"], before["7.weight"])  # 16×4×4 in, as before


def test_a_dropout_rate_changes_nothing_else_and_a_new_layer_keeps_the_rest(session):
    lab = session.lab
    layers = layers_of(session)
    layers.insert(6, {"type": "Dropout", "p": 0.3})
    before = {k: v.copy() for k, v in lab.trainer.model.state_dict().items()}
    send(session, "set", {"layers": layers})
    model = lab.trainer.model
    assert [type(m).__name__ for m in model][6:] == ["Dropout", "Flatten", "Linear"]
    np.testing.assert_array_equal(model.state_dict()["3.weight"], before["3.weight"])
    np.testing.assert_array_equal(model.state_dict()["8.weight"], before["7.weight"])  # moved, kept
    optimizer = lab.trainer.optimizer
    layers[6]["p"] = 0.6
    send(session, "set", {"layers": layers})
    assert lab.trainer.model[6].p == 0.6 and lab.trainer.optimizer is optimizer


@pytest.mark.parametrize("layers,field,words", [
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 5}, {"type": "MaxPool2d", "kernel_size": 4},
      {"type": "Conv2d", "out_channels": 4, "kernel_size": 9}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 10}],
     "layers.2", ["layer 2 Conv2d", "kernel 9 is larger", "H = 6 + 2·0 = 6", "⌊(6 + 2·0 − 9)/1⌋ + 1 = -2 < 1"]),
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "Linear", "out_features": 10}],
     "layers.1", ["(N, 4, 26, 10)", "add a Flatten before layer 1"]),
    ([{"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 10}], "layers.2", ["251,210 parameters", "limit of 100,000",
                                                           "(25088 + 1)·10 = 250,890"]),
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 7}], "layers.2", ["out_features = 10"]),
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 12}], "layers.0.kernel_size", ["an integer in [1, 9]"]),
    ([{"type": "Conv3d"}], "layers.0", ['"type" is one of']),
])
def test_an_impossible_architecture_is_refused_naming_the_layer_and_the_numbers(session, layers, field, words):
    lab = session.lab
    before = (session.state(), {k: v.copy() for k, v in lab.trainer.model.state_dict().items()})
    with pytest.raises(ControlError) as caught:
        send(session, "set", {"layers": layers})
    wire = caught.value.to_wire("set")
    assert wire["field"] == field
    for word in words:
        assert word in wire["message"], (word, wire["message"])
    assert session.state() == before[0]
    assert all(np.array_equal(lab.trainer.model.state_dict()[k], v) for k, v in before[1].items())


def test_datasets_set_the_output_width_and_the_channels(session):
    lab = session.lab
    send(session, "set", {"dataset": "shapes"})
    assert lab.data.image_shape == (3, 16, 16)
    assert lab.settings["layers"][-1] == {"type": "Linear", "out_features": 9}
    assert lab.trainer.model[0].weight.data.shape[1] == 3  # one kernel slice per colour channel
    send(session, "set", {"dataset": "digits", "architecture": "tiny"})
    assert lab.data.image_shape == (1, 8, 8) and lab.settings["layers"][-1]["out_features"] == 10
    with pytest.raises(ControlError) as caught:
        send(session, "set", {"architecture": "lenet"})  # 5×5 kernels without padding do not fit 8×8 digits
    assert "kernel 5 is larger" in caught.value.to_wire()["message"]


def test_a_small_training_set_is_cut_from_the_split(session):
    send(session, "set", {"train_size": 300})
    state = session.state()
    assert (state["n_train"], state["n_train_available"], state["n_test"]) == (300, 4000, 1000)


def test_frames_carry_every_layer_for_the_probe_in_under_the_raw_size(session):
    lab = session.lab
    send(session, "step")
    session.build_frame()
    lab.frames.settle()  # evaluations run on a worker thread: take the one the first frame started
    frame, _ = session.build_frame()
    arrays = decode(frame.fields)
    assert arrays["probe.input"].shape == (1, 28, 28)
    assert arrays["probe.output.0"].shape == (8, 28, 28)  # conv, before the activation
    assert arrays["probe.output.2"].shape == (8, 14, 14)  # after pooling
    assert arrays["probe.output.7"].shape == (10,)
    assert "probe.output.6" not in arrays  # Flatten repeats what comes in
    assert arrays["weight.3"].shape == arrays["weight_grad.3"].shape == (16, 8, 5, 5)
    assert arrays["grad_norm"].shape == (3,) and (arrays["grad_norm"] > 0).all()
    np.testing.assert_allclose(arrays["probe.probabilities"].sum(), 1.0, rtol=1e-5)
    assert frame.fields["lab"] == "cnn" and frame.fields["test_accuracy"] is not None
    assert len(frame.fields["data"]) <= 1.5 * frame.raw_f4_bytes
    # The probe's maps are the model's own, in eval mode.
    x = lab.probe_input()[0][None]
    lab.trainer.model.eval()
    np.testing.assert_allclose(arrays["probe.output.7"], lab.trainer.model(x)[0], rtol=1e-5, atol=1e-6)


def test_augmentation_sends_a_strip_of_shifted_samples(session):
    send(session, "set", {"augment_shift": 2})
    send(session, "step")
    frame, _ = session.build_frame()
    version, wire = frame.sections["augmented"]
    images = decode(wire)["augmented"]
    assert images.shape == (8, 1, 28, 28) and wire["shift"] == 2


def test_probes_drawings_and_the_inspected_pixel(session):
    lab = session.lab
    send(session, "probe", {"split": "train", "index": 5})
    assert lab.probe_input()[1] == int(lab.data.y_train[5])
    with pytest.raises(ControlError):
        send(session, "probe", {"point": [0.0, 1.0]})
    send(session, "inspect", {"layer": 2, "channel": 7, "y": 13, "x": 0})
    assert session.state()["inspected"] == {"layer": 2, "channel": 7, "y": 13, "x": 0}
    with pytest.raises(ControlError) as caught:
        send(session, "inspect", {"layer": 2, "channel": 8, "y": 0, "x": 0})
    assert caught.value.to_wire()["field"] == "channel"
    with pytest.raises(ControlError) as caught:
        send(session, "inspect", {"layer": 7, "channel": 0, "y": 0, "x": 0})  # Linear: no feature maps
    assert caught.value.to_wire()["field"] == "layer"
    send(session, "set", {"dataset": "shapes"})
    with pytest.raises(ControlError) as caught:
        send(session, "probe", {"image": [0.0] * 256})
    assert "3 channels" in caught.value.to_wire()["message"]


def test_switching_labs_keeps_each_one_as_it_was(session):
    cnn = session.lab
    send(session, "play")
    session.train_slice(3, float("inf"))
    weights = cnn.trainer.model.state_dict()["0.weight"].copy()
    send(session, "set_lab", {"lab": "mlp"})
    assert session.lab.name == "mlp" and cnn.status == "paused"
    send(session, "set", {"learning_rate": 0.1})
    with pytest.raises(ControlError) as caught:
        send(session, "inspect", {"layer": 0, "channel": 0, "y": 0, "x": 0})  # the cnn lab's event
    assert "unknown event" in caught.value.to_wire()["message"]
    send(session, "set_lab", {"lab": "cnn"})
    assert session.lab is cnn and cnn.trainer.step == 3
    np.testing.assert_array_equal(cnn.trainer.model.state_dict()["0.weight"], weights)
    send(session, "set_lab", {"lab": "mlp"})
    assert session.lab.settings["learning_rate"] == 0.1
    with pytest.raises(ControlError) as caught:
        send(session, "set_lab", {"lab": "gan"})
    assert caught.value.to_wire()["field"] == "lab"


@pytest.mark.slow
def test_the_default_cnn_reaches_95_percent_on_the_shipped_mnist_subset(session):
    """The issue's live target, counted in steps (never in seconds): the default network, Adam, batch 20."""
    lab = session.lab
    accuracy = 0.0
    for _ in range(12):
        for _ in range(100):
            lab.trainer.train_step()
        accuracy = lab.trainer.evaluate("test")[1]
        if accuracy >= 0.95:
            break
    assert accuracy >= 0.95, f"{accuracy:.3f} after {lab.trainer.step} steps"


def test_a_paused_lab_still_gets_the_metrics_of_its_last_weights(session):
    lab = session.lab
    send(session, "step")
    session.build_frame()  # starts the evaluation of the weights after one step; paused: nothing else owed
    assert not lab.frame_due() or lab.frames.evaluation_owed()
    lab.frames._evaluation[0].result(60)
    assert lab.frame_due()  # the finished evaluation is news
    frame, _ = session.build_frame()
    assert frame.fields["metrics_step"] == lab.trainer.step == 1
    assert not lab.frame_due()
