"""Every malformed message is refused by app.server.messages or the lab, naming the field; nothing changes."""

import pytest

from app import DEFAULT_CONFIG
from app.labs.mlp import Lab as MlpLab
from app.server import messages
from app.server.commands import dispatch
from app.server.errors import ControlError
from app.sessions.session import Session
from bad_messages import BAD_MESSAGES


@pytest.fixture(scope="module")
def session():
    return Session("t" * 24, dict(DEFAULT_CONFIG))


def apply(session, event, payload):
    dispatch(session, event, (payload,), "sid")


def validate(event, args):
    return messages.validate(event, args, MlpLab.event_models())


@pytest.mark.parametrize("event,payload,field", BAD_MESSAGES, ids=[f"{e}-{f or 'payload'}-{i}" for i, (e, _, f)
                                                                   in enumerate(BAD_MESSAGES)])
def test_malformed_message_is_refused_naming_the_field(session, event, payload, field):
    before = (session.state(), session.lab.trainer.model.state_dict())
    with pytest.raises(ControlError) as caught:
        apply(session, event, payload)
    wire = caught.value.to_wire(event)
    assert wire["field"] == field
    assert wire["event"] == event and wire["allowed"] and wire["message"]
    assert len(wire["received"]) <= 200
    after = (session.state(), session.lab.trainer.model.state_dict())
    assert after[0] == before[0]
    assert all((after[1][k] == v).all() for k, v in before[1].items())


def test_error_says_what_was_received_and_what_is_allowed():
    with pytest.raises(ControlError) as caught:
        validate("set", ({"learning_rate": -1},))
    wire = caught.value.to_wire()
    assert wire["received"] == "-1"
    assert wire["allowed"] == "a finite number in [1e-05, 10]"
    assert "learning_rate" in wire["message"]


def test_unknown_field_lists_the_allowed_ones():
    with pytest.raises(ControlError) as caught:
        validate("edit_bias", ({"layer": 0, "neuron": 0, "value": 1, "colour": 3},))
    assert "layer, neuron, value" in caught.value.to_wire()["allowed"]


def test_valid_messages_pass():
    assert validate("play", ()).model_dump() == {}
    assert validate("set", ({"learning_rate": 1, "features": ["x1", "x2^2"]},)).learning_rate == 1
    assert validate("step", ({"unit": "epoch"},)).unit == "epoch"
    assert validate("probe", ({"split": "test", "index": 3},)).index == 3
    assert validate("set", ({"hidden_sizes": []},)).hidden_sizes == []


@pytest.mark.parametrize("payload, field, sentence", [
    ({"learning_rate": 50}, "learning_rate", "Learning rate must be between 0.00001 and 10; 50 is too large."),
    ({"batch_size": 0}, "batch_size", "Batch size must be between 1 and 500; 0 is too small."),
    ({"learning_rate": "fast"}, "learning_rate", "Learning rate must be a number between 0.00001 and 10."),
    ({"activation": "gelu"}, "activation", "Activation can be one of: linear, relu, leaky_relu, tanh, sigmoid, swish."),
])
def test_a_refused_control_explains_itself_to_a_student_and_keeps_the_wire_fields(payload, field, sentence):
    with pytest.raises(ControlError) as caught:
        validate("set", (payload,))
    wire = caught.value.to_wire()
    assert wire["explanation"] == sentence
    assert wire["field"] == field and wire["received"] and wire["allowed"] and wire["message"].startswith(f"set.{field}")


def test_cross_entropy_on_a_regression_set_says_why():
    lab = Session("e" * 24, dict(DEFAULT_CONFIG)).lab
    lab.apply_settings({"dataset": "plane"})
    with pytest.raises(ControlError) as caught:
        lab.apply_settings({"loss": "cross_entropy"})
    wire = caught.value.to_wire("set")
    assert wire["explanation"].startswith("Cross-entropy needs a classification dataset; plane is regression")
    assert (wire["field"], wire["received"]) == ("loss", '"cross_entropy"') and lab.settings["loss"] == "mse"
