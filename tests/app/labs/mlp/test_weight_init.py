"""The MLP lab's weight initialisation control: each scheme draws weights of the variance its formula says,
changing it redraws every weight (training starts over), and the same seed and scheme give the same draw."""

import math

import numpy as np
import pytest

from app import DEFAULT_CONFIG
from app.labs.mlp import network
from app.server.errors import ControlError
from app.server.messages import validate
from app.sessions.session import Session

WIDTH = 32  # the widest layer the limits allow: 32·32 = 1,024 draws per hidden-to-hidden weight


def lab(**settings):
    """A lab with four hidden layers of WIDTH freshly drawn (resizing live would keep the first draw's layers and
    add near-identity ones), ``settings`` validated as the page's `set` is."""
    session = Session("i" * 24, dict(DEFAULT_CONFIG), lab="mlp")
    message = validate("set", ({"hidden_sizes": [WIDTH] * 4, **settings},), session.lab.event_models())
    session.lab.apply_settings(message.model_dump(exclude_unset=True))
    session.lab.reset()
    return session.lab


def hidden_weights(lab_):
    """The weights of the hidden-to-hidden layers, (WIDTH, WIDTH) each: fan_in = fan_out = WIDTH."""
    return [linear.weight.data for linear in network.linears(lab_.trainer.model)[1:-1]]


# variance of each scheme for a (WIDTH, WIDTH) weight followed by ``activation`` (torch.nn.init's formulas)
EXPECTED = {
    ("default", "relu"): 1 / (3 * WIDTH),                  # U(±1/√fan_in)
    ("xavier_uniform", "tanh"): (5 / 3) ** 2 * 2 / (2 * WIDTH),   # gain² · 2/(fan_in + fan_out)
    ("xavier_normal", "sigmoid"): 2 / (2 * WIDTH),
    ("kaiming_uniform", "relu"): 2 / WIDTH,                # gain² / fan_in, gain √2
    ("kaiming_normal", "relu"): 2 / WIDTH,
}


@pytest.mark.parametrize("scheme,activation", list(EXPECTED))
def test_each_initialisation_draws_the_variance_of_its_formula(scheme, activation):
    weights = np.concatenate([w.ravel() for w in hidden_weights(lab(init=scheme, activation=activation))])
    expected = EXPECTED[scheme, activation]
    # 3,072 draws: the sample variance is within ~5 % (2.5 standard errors) of the true one
    assert abs(weights.var() / expected - 1) < 0.1, (scheme, weights.var(), expected)
    assert abs(weights.mean()) < 3 * math.sqrt(expected / weights.size)


def test_xavier_and_he_start_the_biases_at_zero_and_default_does_not():
    for scheme in ("xavier_uniform", "kaiming_normal"):
        biases = [linear.bias.data for linear in network.linears(lab(init=scheme).trainer.model)]
        assert not any(b.any() for b in biases)
    default = network.linears(lab(init="default").trainer.model)[1].bias.data
    assert np.abs(default).max() <= 1 / math.sqrt(WIDTH) and default.any()


def test_changing_the_initialisation_redraws_every_weight_and_starts_over():
    lab_ = lab(activation="relu")
    first = lab_.trainer.model.state_dict()
    for _ in range(5):
        lab_.trainer.train_step()
    lab_.apply_settings({"init": "kaiming_uniform"})
    assert lab_.trainer.step == 0 and lab_.settings["init"] == "kaiming_uniform"
    he = lab_.trainer.model.state_dict()
    assert he["2.weight"].std() > 2 * first["2.weight"].std()  # √2·√3 ≈ 2.45 times wider
    lab_.apply_settings({"init": "default"})  # the same seed and scheme: the very first draw again
    for key, value in lab_.trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, first[key])


def test_reset_draws_with_the_chosen_initialisation():
    lab_ = lab(activation="relu", init="kaiming_normal")
    lab_.reset()
    assert not any(linear.bias.data.any() for linear in network.linears(lab_.trainer.model))
    weights = np.concatenate([w.ravel() for w in hidden_weights(lab_)])
    assert abs(weights.var() * WIDTH / 2 - 1) < 0.1


def test_an_unknown_initialisation_is_refused_naming_the_field_and_the_choices():
    with pytest.raises(ControlError) as refused:
        lab(init="orthogonal")
    error = refused.value
    assert error.field == "init" and "orthogonal" in error.received and "kaiming_uniform" in error.allowed
