"""Socket.IO handlers through Flask-SocketIO's test client: connect, controls, errors, replies."""

import io
import time

import numpy as np

from app import socketio
from app.server.controls import LIMITS


def test_connect_sends_session_schema_and_state_in_order(app):
    client = socketio.test_client(app)
    names = [event["name"] for event in client.get_received()]
    assert names[:3] == ["session", "schema", "state"]
    client.disconnect()


def test_state_describes_the_default_network(client, received):
    state = received(client)["state"][0]
    assert state["layer_sizes"] == [2, 8, 8, 1]
    assert state["status"] == "paused" and state["step"] == 0
    assert state["settings"]["dataset"] == "circle"
    assert state["parameter_names"][0] == ["0.weight", "0.bias"]


def test_accepted_control_acks_and_broadcasts_state(client, received):
    received(client)
    reply = client.emit("set", {"learning_rate": 0.3, "optimizer": "adam"}, callback=True)
    assert reply["ok"] is True
    state = received(client)["state"][-1]
    assert state["settings"]["learning_rate"] == 0.3 and state["settings"]["optimizer"] == "adam"
    assert state["config_version"] == reply["config_version"]


def test_refused_control_gets_error_event_and_changes_nothing(client, received):
    before = received(client)["state"][0]
    reply = client.emit("set", {"hidden_sizes": [8] * 1000}, callback=True)
    assert reply["ok"] is False and reply["error"]["field"] == "hidden_sizes"
    events = received(client)
    assert events["error"][0]["field"] == "hidden_sizes"
    assert "state" not in events
    client.emit("set", {"learning_rate": 0.05})
    after = received(client)["state"][-1]
    assert after["layer_sizes"] == before["layer_sizes"]


def test_unknown_event_is_answered_by_error(client, received):
    received(client)
    client.emit("launch_rockets", {"count": 3})
    error = received(client)["error"][0]
    assert error["event"] == "launch_rockets" and "set" in error["allowed"]


def test_structure_controls_change_the_network(client, received):
    received(client)
    assert client.emit("add_layer", {"width": 3}, callback=True)["ok"]
    assert client.emit("add_neuron", {"layer": 0}, callback=True)["ok"]
    assert client.emit("remove_neuron", {"layer": 1}, callback=True)["ok"]
    assert client.emit("set_activation", {"activation": "relu", "layer": 2}, callback=True)["ok"]
    state = received(client)["state"][-1]
    assert state["layer_sizes"] == [2, 9, 7, 3, 1]
    assert state["hidden_activations"] == ["tanh", "tanh", "relu"]
    assert state["settings"]["hidden_sizes"] == [9, 7, 3]
    assert client.emit("remove_layer", callback=True)["ok"]
    assert received(client)["state"][-1]["layer_sizes"] == [2, 9, 7, 1]


def test_removing_the_last_neuron_is_refused(client):
    client.emit("set", {"hidden_sizes": [1]})
    reply = client.emit("remove_neuron", {"layer": 0}, callback=True)
    assert not reply["ok"] and "remove the layer" in reply["error"]["message"]


def test_edit_weight_and_bias(client, manager):
    assert client.emit("edit_weight", {"layer": 1, "neuron": 2, "input": 3, "value": -1.5}, callback=True)["ok"]
    assert client.emit("edit_bias", {"layer": 2, "neuron": 0, "value": 0.25}, callback=True)["ok"]
    session = next(iter(manager.sessions.values()))
    state = session.lab.trainer.model.state_dict()
    assert state["2.weight"][2, 3] == -1.5 and state["4.bias"][0] == 0.25


def test_step_advances_and_pauses(client, received):
    received(client)
    assert client.emit("step", callback=True)["ok"]
    assert received(client)["state"][-1]["step"] == 1
    reply = client.emit("step", {"unit": "epoch"}, callback=True)
    assert reply["ok"] and received(client)["state"][-1]["status"] == "running"  # the scheduler trains it
    states = []
    deadline = time.monotonic() + 10
    while not (states and states[-1]["status"] == "paused") and time.monotonic() < deadline:
        states += received(client).get("state", [])
        time.sleep(0.01)  # polling the test client's inbox, which has no way to wait
    assert states[-1]["epoch"] == 1 and states[-1]["step"] == 25 and states[-1]["status"] == "paused"


def test_probe_choices(client, received):
    received(client)
    assert client.emit("probe", {"split": "test", "index": 7}, callback=True)["ok"]
    assert received(client)["state"][-1]["probe"] == {"split": "test", "index": 7}
    assert client.emit("probe", {"point": [1.5, -2.0]}, callback=True)["ok"]
    assert client.emit("set", {"dataset": "digits"}, callback=True)["ok"]
    assert client.emit("probe", {"image": [0.0] * 64}, callback=True)["ok"]
    assert received(client)["state"][-1]["probe"] == {"image": True}


def test_image_dataset_switches_to_the_3blue1brown_network(client, received):
    received(client)
    assert client.emit("set", {"dataset": "digits"}, callback=True)["ok"]
    state = received(client)["state"][-1]
    assert state["layer_sizes"] == [64, 16, 16, 10]
    assert state["hidden_activations"] == ["sigmoid", "sigmoid"] and state["output_activation"] == "sigmoid"
    assert state["input_kind"] == "image" and state["image_shape"] == [8, 8]
    assert client.emit("set", {"loss": "cross_entropy"}, callback=True)["ok"]
    assert received(client)["state"][-1]["output_activation"] == "softmax"


def test_rejoin_with_token_and_bad_token(app, received):
    first = socketio.test_client(app)
    token = received(first)["session"][0]["token"]
    first.emit("step")
    first.disconnect()
    again = socketio.test_client(app, auth={"token": token})
    events = received(again)
    assert events["session"][0] == {"token": token, "created": False}
    assert events["state"][0]["step"] == 1
    stranger = socketio.test_client(app, auth={"token": 12345})
    events = received(stranger)
    assert events["session"][0]["created"] is True and events["error"][0]["field"] == "auth.token"
    again.disconnect()
    stranger.disconnect()


def test_messages_over_the_rate_are_dropped_unread_with_one_error(client, received):
    received(client)
    # An unknown event is answered by the guard itself (cheap), and we send until one is dropped: the bucket
    # (200) refills at 100/s while we send, however slowly a loaded machine sends.
    replies = []
    for _ in range(3000):
        replies.append(client.emit("frobnicate", callback=True))
        if replies[-1] is None:  # dropped before decoding: no reply at all
            break
    assert replies[-1] is None and all(r["ok"] is False for r in replies[:LIMITS.message_burst])
    errors = received(client).get("error", [])
    assert [e["field"] for e in errors].count("rate") == 1  # reported at most once a second


def test_load_model_event_round_trip(client, manager, received):
    from app.labs.mlp import modelio

    session = next(iter(manager.sessions.values()))
    data = modelio.to_npz(session.lab)
    client.emit("edit_weight", {"layer": 0, "neuron": 0, "input": 0, "value": 9.0})
    assert client.emit("load_model", {"format": "npz", "data": data}, callback=True)["ok"]
    loaded = np.load(io.BytesIO(data))["0.weight"][0, 0]
    assert session.lab.trainer.model.state_dict()["0.weight"][0, 0] == np.float64(loaded)


def test_a_labelled_drawing_becomes_the_probe_with_a_step_through(client, manager, received):
    import base64

    from app.server.bundle import decode

    assert client.emit("set", {"dataset": "digits"}, callback=True)["ok"]
    ink = np.zeros((140, 140), np.uint8)
    ink[20:120, 65:75] = 255  # a "1"
    drawing = {"width": 140, "height": 140, "pixels": base64.b64encode(ink.tobytes()).decode(), "label": 1}
    received(client)
    assert client.emit("probe", {"drawing": drawing}, callback=True)["ok"]
    assert received(client)["state"][-1]["probe"] == {"drawing": True, "label": 1}
    session = next(iter(manager.sessions.values()))
    frame, _ = session.build_frame()
    arrays = decode(frame.fields)
    assert arrays["probe.input"].shape == (8, 8) and arrays["probe.input"][:, 3:5].min() > 0
    assert arrays["probe.target"].argmax() == 1 and frame.fields["probe_label"] == 1
    assert frame.fields["backprop"]["cost"] == "mse" and arrays["backprop.weight_grad"].shape == (10, 16)
    np.testing.assert_allclose(arrays["backprop.weight_grad"], arrays["probe.output_weight_grad"], atol=1e-6)
    bad = dict(drawing, pixels="not base64!")
    assert client.emit("probe", {"drawing": bad}, callback=True)["error"]["field"] == "drawing.pixels"


def test_landscape_event_shows_and_validates_the_pair(client, received):
    received(client)
    assert client.emit("landscape", {"show": True}, callback=True)["ok"]
    assert received(client)["state"][-1]["landscape"]["auto"] is True
    reply = client.emit("landscape", {"weights": [[0, 1, 0], [1, 8, 0]]}, callback=True)
    assert reply["error"]["field"] == "weights.1.neuron"
    assert client.emit("landscape", {"weights": [[0, 1, 0], [2, 0]]}, callback=True)["ok"]
    assert client.emit("landscape", {"weights": None}, callback=True)["ok"]
    assert client.emit("landscape", {"weights": [[0, 1]]}, callback=True)["error"]["field"] == "weights"


def test_initial_settings_apply_like_a_set_message(received):
    from app import create_app

    app = create_app({"INITIAL_SETTINGS": {"dataset": "digits"}})
    try:
        client = socketio.test_client(app)
        state = received(client)["state"][0]
        assert state["layer_sizes"] == [64, 16, 16, 10] and state["hidden_activations"] == ["sigmoid", "sigmoid"]
        client.disconnect()
    finally:
        app.extensions["nnplayground"].shutdown()


def test_unparseable_packets_are_answered_by_an_error_and_the_session_goes_on(client, received):
    received(client)
    deep = "2" + "[" * 20000 + "]" * 20000
    for raw in ['2["set"', deep, b"\x00 a stray attachment", '2{"a": 1}', "2[]"]:
        socketio.server._handle_eio_message(client.eio_sid, raw)  # what Engine.IO hands python-socketio
    errors = received(client)["error"]
    assert len(errors) == 5
    for error in errors[:3]:
        assert (error["event"], error["field"], error["received"]) == ("", "", "<unparseable packet>")
        assert error["allowed"] == "a Socket.IO event packet with a JSON payload" and error["message"]
    for error in errors[3:]:  # decodable, but not an event of the protocol
        assert error["field"] == "" and error["allowed"].startswith("one of the events ")
        assert "set" in error["allowed"]
    assert client.emit("set", {"learning_rate": 0.1}, callback=True)["ok"]


def test_server_written_descriptions_are_not_quoted(client, received):
    received(client)
    reply = client.emit("set", {"learning_rate": 0.1, "x": "y" * 70000}, callback=True)
    assert reply["error"]["received"].startswith("<") and reply["error"]["received"].endswith(" bytes>")
    reply = client.emit("set", {"noise": "0.1"}, callback=True)
    assert reply["error"]["received"] == '"0.1"'  # what the client sent stays JSON
