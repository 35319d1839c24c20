"""Live surgery: untouched weights stay bit-for-bit, optimizer state is carried, training continues."""

import numpy as np
import pytest

import engine
from engine import surgery
from engine.builders import mlp
from engine.inspect import linear_positions

X = np.random.default_rng(0).uniform(-1, 1, (32, 2))
Y = np.sin(2 * X[:, :1]) * X[:, 1:]


def trained(sizes=(2, 3, 4, 1), optimizer="adam", steps=5, dtype=np.float64):
    model = mlp(list(sizes), rng=1, dtype=dtype)
    opt = engine.Adam(model.parameters(), lr=0.01) if optimizer == "adam" else \
        engine.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train(model, opt, steps)
    return model, opt


def train(model, opt, steps):
    loss_fn, losses = engine.MSELoss(), []
    x, y = X.astype(model.dtype), Y.astype(model.dtype)
    for _ in range(steps):
        opt.zero_grad()
        losses.append(loss_fn(model(x), y))
        model.backward(loss_fn.backward())
        opt.step()
    return losses


def linears(model):
    return [model[i] for i in linear_positions(model)]


def snapshot(model, opt):
    """Per Linear layer: weight, bias and their optimizer state, all copies."""
    return [{name: (getattr(l, name).data.copy(), opt.state_of(getattr(l, name))) for name in ("weight", "bias")}
            for l in linears(model)]


def assert_kept(before, after_layer, opt, rows=slice(None), cols=slice(None), old_cols=slice(None)):
    """The kept block (``rows``, ``cols``) of a layer's weight and bias, and of their optimizer state, is
    bit-for-bit the old one (its ``old_cols`` when the layer lost inputs)."""
    for name in ("weight", "bias"):
        old_value, old_state = before[name]
        p = getattr(after_layer, name)
        index, old_index = ((rows, cols), (slice(None), old_cols)) if name == "weight" else ((rows,), (slice(None),))
        np.testing.assert_array_equal(p.data[index], old_value[old_index])
        for key, value in opt.state_of(p).items():
            np.testing.assert_array_equal(value[index], old_state[key][old_index])


def assert_optimizer_owns(model, opt):
    params = list(model.parameters())
    assert len(params) == len(opt.params) and all(a is b for a, b in zip(params, opt.params))
    assert all(np.shares_memory(p.data, opt.flat.data) for p in params)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_add_neuron_keeps_everything_else_and_the_optimizer_state(optimizer):
    model, opt = trained(optimizer=optimizer)
    before = snapshot(model, opt)
    out_before = model(X)
    surgery.add_neuron(model, 0, optimizer=opt, rng=5)
    l0, l1, l2 = linears(model)
    assert l0.weight.shape == (4, 2) and l0.out_features == 4 and l1.weight.shape == (4, 4) and l1.in_features == 4
    assert_kept(before[0], l0, opt, rows=slice(0, 3))
    assert_kept(before[1], l1, opt, cols=slice(0, 3))
    assert_kept(before[2], l2, opt)
    # the new neuron has random incoming and outgoing weights with zero optimizer state
    assert np.all(l0.weight.data[3] != 0) and np.all(l1.weight.data[:, 3] != 0)
    assert np.abs(l1.weight.data[:, 3]).max() <= 1 / np.sqrt(4)
    assert all(not v[..., 3:].any() for v in opt.state_of(l1.weight).values())
    assert not np.array_equal(model(X), out_before)  # it contributes at once
    assert_optimizer_owns(model, opt)
    losses = train(model, opt, 40)
    assert losses[-1] < losses[0]


def test_remove_neuron_keeps_the_other_rows_and_columns():
    model, opt = trained(optimizer="sgd")
    before = snapshot(model, opt)
    surgery.remove_neuron(model, 1, neuron=2, optimizer=opt)
    l0, l1, l2 = linears(model)
    assert l1.weight.shape == (3, 3) and l2.weight.shape == (1, 3)
    assert_kept(before[0], l0, opt)
    kept = [0, 1, 3]
    for name in ("weight", "bias"):
        np.testing.assert_array_equal(getattr(l1, name).data, before[1][name][0][kept])
        np.testing.assert_array_equal(opt.state_of(getattr(l1, name))["momentum_buffer"],
                                      before[1][name][1]["momentum_buffer"][kept])
    np.testing.assert_array_equal(l2.weight.data, before[2]["weight"][0][:, kept])
    np.testing.assert_array_equal(opt.state_of(l2.weight)["momentum_buffer"],
                                  before[2]["weight"][1]["momentum_buffer"][:, kept])
    surgery.remove_neuron(model, 1, optimizer=opt)  # default: the last one
    assert linears(model)[1].out_features == 2
    assert_optimizer_owns(model, opt)
    losses = train(model, opt, 40)
    assert losses[-1] < losses[0]


def test_removing_a_neuron_then_adding_one_restores_the_function_of_kept_ones():
    model, opt = trained()
    surgery.add_neuron(model, 1, optimizer=opt, rng=0)
    surgery.remove_neuron(model, 1, optimizer=opt)
    fresh, _ = trained()
    np.testing.assert_array_equal(model(X), fresh(X))


def test_insert_hidden_layer_with_default_width_touches_no_weight():
    model, opt = trained()
    before = snapshot(model, opt)
    surgery.insert_hidden_layer(model, 0, activation="relu", optimizer=opt, rng=3, init="random")
    layers = linears(model)
    assert [l.weight.shape for l in layers] == [(3, 2), (3, 3), (4, 3), (1, 4)]
    assert isinstance(model[3], engine.ReLU)
    for old, new in zip(before, [layers[0], layers[2], layers[3]]):
        assert_kept(old, new, opt)
    assert opt.step_count == 5
    assert not opt.state_of(layers[1].weight)["exp_avg"].any()
    assert_optimizer_owns(model, opt)
    assert list(model.state_dict()) == [f"{i}.{n}" for i in (0, 2, 4, 6) for n in ("weight", "bias")]
    losses = train(model, opt, 40)
    assert losses[-1] < losses[0]


def test_insert_hidden_layer_after_the_input_and_with_a_new_width():
    model, opt = trained(sizes=(2, 1))  # no hidden layer at all, as TF Playground allows
    before = snapshot(model, opt)
    surgery.insert_hidden_layer(model, -1, width=5, optimizer=opt, rng=0, init="random")
    first, output = linears(model)
    assert first.weight.shape == (5, 2) and output.weight.shape == (1, 5)
    assert_kept(before[0], output, opt, cols=slice(0, 2))  # the old 2 input columns stay
    narrower, opt2 = trained()
    before2 = snapshot(narrower, opt2)
    surgery.insert_hidden_layer(narrower, 1, width=2, optimizer=opt2, rng=0, init="random")
    assert_kept(before2[2], linears(narrower)[3], opt2, old_cols=slice(0, 2))
    losses = train(narrower, opt2, 40)
    assert losses[-1] < losses[0]


WIDE = np.random.default_rng(1).uniform(-6, 6, (200, 2))


@pytest.mark.parametrize("before", ["tanh", "relu", "sigmoid", "linear", "leaky_relu", "swish"])
@pytest.mark.parametrize("activation, tolerance", [("linear", 1e-12), ("relu", 1e-12), ("leaky_relu", 1e-12),
                                                   ("swish", 1e-3), ("tanh", 0.03), ("sigmoid", 0.03)])
def test_an_inserted_layer_starts_as_the_identity_its_activation_allows(before, activation, tolerance):
    model = mlp([2, 4, 4, 1], activation=before, rng=1)
    opt = engine.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, opt, 3)
    output = model(WIDE).copy()
    surgery.insert_hidden_layer(model, 1, activation=activation, optimizer=opt, rng=0, inputs=WIDE)
    relative = np.abs(model(WIDE) - output).max() / np.abs(output).max()
    assert relative <= tolerance, relative
    new, following = linears(model)[2:]
    scaled = activation in ("tanh", "sigmoid")
    diagonal = np.diag(new.weight.data)
    assert np.allclose(new.weight.data, np.diag(diagonal)) and (scaled or np.all(diagonal == 1))
    if scaled:  # the next layer's momentum no longer matches its rescaled weights: it starts afresh
        assert not opt.state_of(following.weight)["momentum_buffer"].any()
    assert_optimizer_owns(model, opt)
    losses = train(model, opt, 30)
    assert np.isfinite(losses).all()


def test_an_inserted_layer_wider_than_its_input_gives_new_units_no_say_at_first():
    model = mlp([2, 3, 1], activation="relu", rng=0)
    output = model(WIDE).copy()
    surgery.insert_hidden_layer(model, 0, width=5, activation="tanh", rng=0, inputs=WIDE)
    new, following = linears(model)[1:]
    assert new.weight.shape == (5, 3) and following.weight.shape == (1, 5)
    assert not following.weight.data[:, 3:].any() and new.weight.data[3:].any()
    assert np.abs(model(WIDE) - output).max() <= 0.03 * np.abs(output).max()


def test_without_inputs_a_relu_layer_after_tanh_uses_tanh_bounds():
    model = mlp([2, 3, 1], activation="tanh", rng=0)
    output = model(WIDE).copy()
    surgery.insert_hidden_layer(model, 0, activation="relu", rng=0)  # tanh's outputs are > -1: shift by 1
    np.testing.assert_allclose(model(WIDE), output, atol=1e-12)
    assert surgery.identity_start("relu").startswith("the identity on the data")


def test_remove_hidden_layer():
    model, opt = trained(sizes=(2, 4, 4, 1))
    before = snapshot(model, opt)
    surgery.remove_hidden_layer(model, 1, optimizer=opt)
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear"]
    assert_kept(before[0], model[0], opt)
    assert_kept(before[2], model[2], opt)  # equal widths: untouched
    surgery.remove_hidden_layer(model, 0, optimizer=opt)
    assert model[0].weight.shape == (1, 2)
    assert_kept(before[2], model[0], opt, old_cols=slice(0, 2))
    assert_optimizer_owns(model, opt)
    train(model, opt, 3)


def test_set_activation():
    model, opt = trained(sizes=(2, 3, 3, 1))
    weights = model.state_dict()
    surgery.set_activation(model, "relu")
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    surgery.set_activation(model, "sigmoid", layer=1)
    assert isinstance(model[3], engine.Sigmoid)
    surgery.set_activation(model, "sigmoid", layer=2)  # the output layer gains one
    assert isinstance(model[5], engine.Sigmoid)
    assert all(np.array_equal(weights[k], v) for k, v in model.state_dict().items() if k in weights)
    train(model, opt, 2)


def test_surgery_keeps_float32():
    model, opt = trained(dtype=np.float32)
    surgery.add_neuron(model, 0, optimizer=opt)
    surgery.insert_hidden_layer(model, 0, width=2, optimizer=opt)
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    train(model, opt, 2)


def test_surgery_without_an_optimizer():
    model = mlp([2, 3, 1], rng=0)
    surgery.add_neuron(model, 0)
    assert model(X).shape == (32, 1)


@pytest.mark.parametrize("operation, message", [
    (lambda m: surgery.add_neuron(m, 2), r"add_neuron: layer must be an integer in \[0, 1\], got 2"),
    (lambda m: surgery.add_neuron(m, -1), r"add_neuron: layer must be an integer in \[0, 1\], got -1"),
    (lambda m: surgery.remove_neuron(m, 0, neuron=3), r"remove_neuron: neuron must be an integer in \[-3, 2\]"),
    (lambda m: surgery.remove_neuron(m, 1), "remove_neuron: hidden layer 1 has a single neuron"),
    (lambda m: surgery.remove_hidden_layer(m, 2), r"remove_hidden_layer: layer must be an integer in \[0, 1\]"),
    (lambda m: surgery.insert_hidden_layer(m, 2), r"insert_hidden_layer: after_layer must be .* \[-1, 1\]"),
    (lambda m: surgery.insert_hidden_layer(m, 0, width=0), "insert_hidden_layer: width must be an integer >= 1"),
    (lambda m: surgery.insert_hidden_layer(m, 0, activation="gelu"), "activation: name must be one of"),
    (lambda m: surgery.insert_hidden_layer(m, 0, init="zeros"), 'init must be "identity" or "random"'),
    (lambda m: surgery.set_activation(m, "gelu"), "activation: name must be one of"),
    (lambda m: surgery.set_activation(m, "relu", layer=3), r"set_activation: layer must be .* \[0, 2\]"),
])
def test_bad_surgery_is_a_value_error_and_changes_nothing(operation, message):
    model = mlp([2, 3, 1, 1], rng=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=message):
        operation(model)
    after = model.state_dict()
    assert list(after) == list(before) and all(np.array_equal(before[k], after[k]) for k in before)


def test_no_hidden_layer_to_edit():
    model = mlp([2, 1], rng=0)
    with pytest.raises(ValueError, match=r"add_neuron: layer must be an integer in none \(the model has no hidden"):
        surgery.add_neuron(model, 0)


def test_reinitialize_draws_a_layer_for_its_new_activation_and_revives_dead_units():
    from engine.inspect import dead_units, mlp_records

    model, opt = trained(sizes=(2, 4, 4, 1), optimizer="sgd")
    surgery.set_activation(model, "relu")
    for linear in linears(model)[:2]:
        linear.bias.data[...] = -50.0  # every unit below zero on every input: dead
    model(WIDE)
    assert all(dead_units(r.pre_activation, model[p + 1]).all()
               for r, p in zip(mlp_records(model)[:2], linear_positions(model)[:2]))
    output_layer = linears(model)[2].weight.data.copy()
    assert surgery.reinitialize(model, 0, optimizer=opt, rng=0) == "kaiming_uniform"
    assert surgery.reinitialize(model, 1, optimizer=opt, rng=1) == "kaiming_uniform"
    first = linears(model)[0]
    assert not first.bias.data.any() and np.abs(first.weight.data).max() <= np.sqrt(2) * np.sqrt(3 / 2)
    np.testing.assert_array_equal(linears(model)[2].weight.data, output_layer)
    assert not opt.state_of(first.weight)["momentum_buffer"].any()
    model(WIDE)
    assert not any(dead_units(r.pre_activation, model[p + 1]).all()
                   for r, p in zip(mlp_records(model)[:2], linear_positions(model)[:2]))
    assert np.isfinite(train(model, opt, 5)).all()


def test_dead_units_are_those_whose_slope_vanishes_on_every_input():
    from engine.inspect import dead_units

    z = np.array([[-1.0, 2.0, -8.0, 0.5], [-3.0, -1.0, -9.0, 9.0]])
    np.testing.assert_array_equal(dead_units(z, engine.ReLU()), [True, False, True, False])
    np.testing.assert_array_equal(dead_units(z, engine.Tanh()), [False, False, True, False])  # |z| ≥ 8: flat
    np.testing.assert_array_equal(dead_units(z, engine.Identity()), [False] * 4)
