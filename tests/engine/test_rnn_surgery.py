"""engine.rnn_surgery: live changes to a recurrent model keep every other trained weight bit-for-bit, carry
the optimizer's state, and (where possible) leave the model's output unchanged the moment they are made."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import rnn_surgery
from engine.sequence import SequenceModel

CELLS = ["RNN", "LSTM", "GRU"]


def trained(cell, **config):
    """A model and Adam after three steps (so gradients, moments and weights are all non-trivial)."""
    model = SequenceModel(cell, 2, 4, 1, batch_first=True, rng=0, **config)
    optimizer = engine.Adam(model.parameters(), lr=0.01)
    x, y = engine.datasets.sine_wave(n_sequences=8, length=6, seed=0)
    x = np.concatenate([x, -x], axis=2)
    loss_fn = engine.MSELoss()
    for _ in range(3):
        optimizer.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()
    return model, optimizer, x, y


def snapshot(model, optimizer):
    return {name: (p.data.copy(), p.grad.copy(), optimizer.state_of(p)) for name, p in model.named_parameters()}


def fresh_names_and_shapes(model):
    """What torch would register for the model's current settings."""
    rnn = model.rnn
    kwargs = dict(num_layers=rnn.num_layers, bias=rnn.bias, bidirectional=rnn.bidirectional, batch_first=True)
    fresh = SequenceModel(model.cell_type, rnn.input_size, rnn.hidden_size, model.head.out_features, **kwargs)
    return [(n, p.shape) for n, p in fresh.named_parameters()]


def assert_still_trains(model, optimizer, x, y):
    loss_fn = engine.MSELoss()
    optimizer.zero_grad()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    optimizer.step()
    assert optimizer.flat.is_intact()
    assert [(n, p.shape) for n, p in model.named_parameters()] == fresh_names_and_shapes(model)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_add_hidden_unit_keeps_weights_state_and_output(cell, bidirectional):
    model, optimizer, x, y = trained(cell, num_layers=2, bidirectional=bidirectional)
    before, output = snapshot(model, optimizer), model(x)
    rnn_surgery.add_hidden_unit(model, optimizer, rng=5)
    assert model.rnn.hidden_size == 5 and model.head.in_features == model.rnn.num_directions * 5
    G, D = model.rnn.gate_count, model.rnn.num_directions
    old_rows = np.concatenate([g * 5 + np.arange(4) for g in range(G)])  # each gate block keeps units 0..3
    old_feature_cols = np.concatenate([d * 5 + np.arange(4) for d in range(D)])
    for name, p in model.named_parameters():
        data, grad, state = before[name]
        rows = slice(None) if name.startswith("head") else old_rows
        if p.data.ndim == 1:
            index = rows
        elif name.startswith("rnn.weight_hh"):
            index = np.ix_(old_rows, np.arange(4))
        elif name.startswith("head") or not name.startswith("rnn.weight_ih_l0"):
            index = np.ix_(np.arange(p.shape[0]) if name.startswith("head") else old_rows, old_feature_cols)
        else:
            index = np.ix_(old_rows, np.arange(2))
        np.testing.assert_array_equal(p.data[index], data, err_msg=name)
        np.testing.assert_array_equal(p.grad[index], grad, err_msg=name)
        for key, values in optimizer.state_of(p).items():
            np.testing.assert_array_equal(values[index], state[key], err_msg=f"{name} {key}")
            assert np.count_nonzero(values) == np.count_nonzero(state[key]), f"new entries start at zero: {name}"
    np.testing.assert_allclose(model(x), output, rtol=0, atol=1e-15)  # the new unit is read with weight 0
    assert_still_trains(model, optimizer, x, y)


@pytest.mark.parametrize("cell", CELLS)
def test_remove_hidden_unit_keeps_the_others(cell):
    model, optimizer, x, y = trained(cell, num_layers=2, bidirectional=True)
    before = snapshot(model, optimizer)
    rnn_surgery.remove_hidden_unit(model, 1, optimizer)
    G = model.rnn.gate_count
    kept = [0, 2, 3]
    kept_rows = np.concatenate([g * 4 + np.array(kept) for g in range(G)])
    kept_cols = np.concatenate([d * 4 + np.array(kept) for d in range(2)])
    np.testing.assert_array_equal(model.rnn.weight_hh_l1_reverse.data,
                                  before["rnn.weight_hh_l1_reverse"][0][np.ix_(kept_rows, kept)])
    np.testing.assert_array_equal(model.rnn.weight_ih_l1.data, before["rnn.weight_ih_l1"][0][np.ix_(kept_rows, kept_cols)])
    np.testing.assert_array_equal(model.head.weight.data, before["head.weight"][0][:, kept_cols])
    np.testing.assert_array_equal(optimizer.state_of(model.rnn.bias_ih_l0)["exp_avg"],
                                  before["rnn.bias_ih_l0"][2]["exp_avg"][kept_rows])
    assert_still_trains(model, optimizer, x, y)


@pytest.mark.parametrize("cell", CELLS)
def test_add_and_remove_layers_keep_the_layers_below(cell):
    model, optimizer, x, y = trained(cell, bidirectional=True)
    before = snapshot(model, optimizer)
    rnn_surgery.set_num_layers(model, 3, optimizer, rng=1)
    assert model.rnn.num_layers == 3
    for name, (data, grad, state) in before.items():
        p = dict(model.named_parameters())[name]
        np.testing.assert_array_equal(p.data, data, err_msg=name)
        np.testing.assert_array_equal(optimizer.state_of(p)["exp_avg_sq"], state["exp_avg_sq"], err_msg=name)
    assert_still_trains(model, optimizer, x, y)
    rnn_surgery.set_num_layers(model, 1, optimizer)
    assert [n for n, _ in model.named_parameters()] == list(before)
    assert_still_trains(model, optimizer, x, y)


@pytest.mark.parametrize("cell", CELLS)
def test_adding_the_reverse_direction_keeps_the_forward_one_and_the_output(cell):
    model, optimizer, x, y = trained(cell, num_layers=2)
    before, output = snapshot(model, optimizer), model(x)
    rnn_surgery.set_bidirectional(model, True, optimizer, rng=2)
    params = dict(model.named_parameters())
    for name, (data, grad, state) in before.items():
        p = params[name]
        if name in ("rnn.weight_ih_l1", "head.weight"):  # now also read the reverse states, with weight 0
            np.testing.assert_array_equal(p.data[:, :4], data)
            assert not p.data[:, 4:].any()
        else:
            np.testing.assert_array_equal(p.data, data, err_msg=name)
            np.testing.assert_array_equal(optimizer.state_of(p)["exp_avg"], state["exp_avg"], err_msg=name)
    assert params["rnn.weight_hh_l0_reverse"].data.any()
    np.testing.assert_allclose(model(x), output, rtol=0, atol=1e-15)
    assert_still_trains(model, optimizer, x, y)
    trained_forward = model.rnn.weight_hh_l1.data.copy()
    rnn_surgery.set_bidirectional(model, False, optimizer)
    assert not any(n.endswith("_reverse") for n, _ in model.named_parameters())
    np.testing.assert_array_equal(model.rnn.weight_hh_l1.data, trained_forward)
    assert_still_trains(model, optimizer, x, y)


@pytest.mark.parametrize("cell", CELLS)
def test_bias_on_and_off(cell):
    model, optimizer, x, y = trained(cell, bias=False)
    output = model(x)
    rnn_surgery.set_bias(model, True, optimizer)
    np.testing.assert_array_equal(model(x), output)  # zero biases change nothing
    assert_still_trains(model, optimizer, x, y)
    rnn_surgery.set_bias(model, False, optimizer)
    assert_still_trains(model, optimizer, x, y)


def test_hidden_size_to_any_value_and_backward_needs_a_new_forward():
    model, optimizer, x, y = trained("LSTM")
    rnn_surgery.set_hidden_size(model, 7, optimizer)
    with pytest.raises(ValueError, match="backward called before forward"):
        model.rnn.backward(np.zeros((8, 6, 7)))
    assert_still_trains(model, optimizer, x, y)
    rnn_surgery.set_hidden_size(model, 2, optimizer)
    assert model.rnn.weight_hh_l0.shape == (8, 2)
    assert_still_trains(model, optimizer, x, y)


@pytest.mark.parametrize("call, message", [
    (lambda m: rnn_surgery.set_hidden_size(m, 0), "set_hidden_size: hidden_size must be an integer >= 1, got 0"),
    (lambda m: rnn_surgery.remove_hidden_unit(m, 4), "unit must be an integer in [-4, 3], got 4"),
    (lambda m: rnn_surgery.set_num_layers(m, 0), "num_layers must be an integer >= 1, got 0"),
    (lambda m: rnn_surgery.set_bidirectional(m, "yes"), "bidirectional must be True or False, got 'yes'"),
])
def test_errors_change_nothing(call, message):
    model, optimizer, x, _ = trained("GRU")
    before = model.state_dict()
    with pytest.raises(ValueError) as error:
        call(model)
    assert message in str(error.value)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
