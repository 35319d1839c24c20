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
    surgery.insert_hidden_layer(model, 0, activation="relu", optimizer=opt, rng=3)
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
    surgery.insert_hidden_layer(model, -1, width=5, optimizer=opt, rng=0)
    first, output = linears(model)
    assert first.weight.shape == (5, 2) and output.weight.shape == (1, 5)
    assert_kept(before[0], output, opt, cols=slice(0, 2))  # the old 2 input columns stay
    narrower, opt2 = trained()
    before2 = snapshot(narrower, opt2)
    surgery.insert_hidden_layer(narrower, 1, width=2, optimizer=opt2, rng=0)
    assert_kept(before2[2], linears(narrower)[3], opt2, old_cols=slice(0, 2))
    losses = train(narrower, opt2, 40)
    assert losses[-1] < losses[0]


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


# --- CNN: kernels and geometry of a Conv2d ---------------------------------------------------------------------

IMAGES = np.random.default_rng(1).uniform(0, 1, (16, 2, 10, 10))
LABELS = np.arange(16) % 3
CNN = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
       {"type": "MaxPool2d", "kernel_size": 2},
       {"type": "Conv2d", "out_channels": 5, "kernel_size": 3}, {"type": "Tanh"}, {"type": "Dropout", "p": 0.2},
       {"type": "Flatten"}, {"type": "Linear", "out_features": 3}]  # 5 channels of 3×3 into the Linear


def trained_cnn(optimizer="adam", steps=4, dtype=np.float64):
    model = engine.builders.sequential(CNN, (2, 10, 10), rng=2, dtype=dtype)
    opt = engine.Adam(model.parameters(), lr=0.01) if optimizer == "adam" else \
        engine.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_cnn(model, opt, steps)
    return model, opt


def train_cnn(model, opt, steps):
    loss_fn, losses = engine.CrossEntropyLoss(), []
    engine.manual_seed(0)
    for _ in range(steps):
        opt.zero_grad()
        losses.append(loss_fn(model(IMAGES.astype(model.dtype)), LABELS))
        model.backward(loss_fn.backward())
        opt.step()
    return losses


def cnn_snapshot(model, opt):
    """Every parameter's value and optimizer state, by state_dict name, as copies."""
    return {name: (p.data.copy(), opt.state_of(p)) for name, p in model.named_parameters()}


def assert_kept_block(before, model, opt, name, new_index, old_index=None):
    """``model``'s parameter ``name`` at ``new_index`` is, bit for bit, the old one at ``old_index`` — value and
    every optimizer state buffer."""
    old_value, old_state = before[name]
    p = dict(model.named_parameters())[name]
    old_index = new_index if old_index is None else old_index
    np.testing.assert_array_equal(p.data[new_index], old_value[old_index])
    for key, value in opt.state_of(p).items():
        np.testing.assert_array_equal(value[new_index], old_state[key][old_index])


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_add_kernel_keeps_every_other_weight_and_state_and_feeds_the_next_conv(optimizer):
    model, opt = trained_cnn(optimizer)
    before = cnn_snapshot(model, opt)
    surgery.add_kernel(model, 0, optimizer=opt, rng=7)
    assert model[0].weight.shape == (5, 2, 3, 3) and model[0].out_channels == 5
    assert model[3].weight.shape == (5, 5, 3, 3) and model[3].in_channels == 5
    assert_kept_block(before, model, opt, "0.weight", slice(0, 4))
    assert_kept_block(before, model, opt, "0.bias", slice(0, 4))
    assert_kept_block(before, model, opt, "3.weight", (slice(None), slice(0, 4)))
    for name in ("3.bias", "7.weight", "7.bias"):
        assert_kept_block(before, model, opt, name, ...)
    new_kernel, new_input = model[0].weight.data[4], model[3].weight.data[:, 4]
    assert np.all(new_kernel != 0) and np.abs(new_kernel).max() <= 1 / np.sqrt(2 * 9)
    assert np.all(new_input != 0) and np.abs(new_input).max() <= 1 / np.sqrt(5 * 9)
    assert all(not v[4].any() for v in opt.state_of(model[0].weight).values())
    assert_optimizer_owns(model, opt)
    assert "Conv2d(2, 5" in repr(model[0])
    losses = train_cnn(model, opt, 30)
    assert losses[-1] < losses[0]


def test_add_and_remove_a_kernel_of_the_last_conv_edit_its_block_of_linear_columns():
    model, opt = trained_cnn()
    before = cnn_snapshot(model, opt)
    surgery.add_kernel(model, 3, optimizer=opt, rng=0)
    assert model[3].weight.shape == (6, 4, 3, 3) and model[7].weight.shape == (3, 6 * 9)
    assert_kept_block(before, model, opt, "7.weight", (slice(None), slice(0, 45)))  # channels 0..4, 9 columns each
    assert np.all(model[7].weight.data[:, 45:] != 0)
    assert model(IMAGES).shape == (16, 3)
    surgery.remove_kernel(model, 3, kernel=1, optimizer=opt)  # channel 1: columns 9..17
    kept_columns = np.r_[0:9, 18:45]
    assert model[7].weight.shape == (3, 5 * 9)
    assert_kept_block(before, model, opt, "7.weight", (slice(None), slice(0, 36)), (slice(None), kept_columns))
    assert_kept_block(before, model, opt, "3.weight", [0, 1, 2, 3], [0, 2, 3, 4])
    assert_kept_block(before, model, opt, "3.bias", [0, 1, 2, 3], [0, 2, 3, 4])
    assert_kept_block(before, model, opt, "0.weight", ...)
    assert_optimizer_owns(model, opt)


def test_removing_a_kernel_removes_exactly_its_contribution():
    """With dropout off, the edited network equals the old one with that channel's output zeroed."""
    model, opt = trained_cnn("sgd")
    model.eval()
    model[0].weight.data[2] = 0.0  # what kernel 2 contributes is then its ReLU(bias), which the next conv reads:
    model[0].bias.data[2] = 0.0    # zero it too, and kernel 2 contributes nothing at all
    expected = model(IMAGES)
    surgery.remove_kernel(model, 0, kernel=2, optimizer=opt)
    np.testing.assert_allclose(model(IMAGES), expected, rtol=1e-12, atol=1e-12)


def test_set_conv_geometry_reinitialises_only_what_changed_shape():
    model, opt = trained_cnn()
    before = cnn_snapshot(model, opt)
    # Padding 1 on the second conv: 5×5 feature maps, same kernels; the Linear now reads 5·5·5 features.
    surgery.set_conv_geometry(model, 3, (2, 10, 10), padding=1, optimizer=opt)
    for name in ("0.weight", "0.bias", "3.weight", "3.bias"):
        assert_kept_block(before, model, opt, name, ...)
    assert model[3].padding == (1, 1) and model[7].weight.shape == (3, 125)
    rebuilt = engine.builders.sequential([dict(spec, padding=1) if i == 3 else spec for i, spec in enumerate(CNN)],
                                         (2, 10, 10), rng=0)
    rebuilt.load_state_dict(model.state_dict())
    for network in (model, rebuilt):  # the edited layer computes as one built that way (its caches are fresh)
        network.eval()
        network.zero_grad()
        network.backward(np.ones_like(network(IMAGES)))
    for (name, p), q in zip(model.named_parameters(), rebuilt.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, atol=1e-12, err_msg=name)
    model.train()
    # A new kernel size re-initialises that conv; 3×3 maps again, so the Linear starts afresh once more.
    linear_before = model[7].weight.data.copy()
    surgery.set_conv_geometry(model, 3, (2, 10, 10), kernel_size=5, padding=1, optimizer=opt)
    assert model[3].weight.shape == (5, 4, 5, 5) and model[7].weight.shape == (3, 45)
    for name in ("0.weight", "0.bias"):
        assert_kept_block(before, model, opt, name, ...)
    # The first conv's kernel size with "same" padding changes no map size: nothing after it moves.
    linear_before = model[7].weight.data.copy()
    surgery.set_conv_geometry(model, 0, (2, 10, 10), kernel_size=5, padding=2, optimizer=opt)
    assert model[0].weight.shape == (4, 2, 5, 5)
    np.testing.assert_array_equal(model[7].weight.data, linear_before)
    assert_optimizer_owns(model, opt)
    losses = train_cnn(model, opt, 30)
    assert losses[-1] < losses[0]


def test_cnn_surgery_keeps_float32():
    model, opt = trained_cnn(dtype=np.float32)
    surgery.add_kernel(model, 0, optimizer=opt)
    surgery.remove_kernel(model, 3, optimizer=opt)
    surgery.set_conv_geometry(model, 0, (2, 10, 10), kernel_size=1, padding=0, optimizer=opt)
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    train_cnn(model, opt, 2)


@pytest.mark.parametrize("operation, message", [
    (lambda m: surgery.add_kernel(m, 1), r"add_kernel: index must be the position of a Conv2d in the model, "
                                         r"one of \[0, 3\], got 1"),
    (lambda m: surgery.remove_kernel(m, 0, kernel=4), r"remove_kernel: kernel must be an integer in \[-4, 3\]"),
    (lambda m: surgery.set_conv_geometry(m, 3, (2, 10, 10), kernel_size=6),
     r"layer 3 Conv2d: kernel 6 is larger than the padded input H = 5 \+ 2·0 = 5"),
    (lambda m: surgery.set_conv_geometry(m, 0, (2, 10, 10), stride=0), r"stride must be an integer >= 1"),
])
def test_bad_cnn_surgery_is_a_value_error_and_changes_nothing(operation, message):
    model = engine.builders.sequential(CNN, (2, 10, 10), rng=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=message):
        operation(model)
    after = model.state_dict()
    assert list(after) == list(before) and all(np.array_equal(before[k], after[k]) for k in before)


def test_a_single_kernel_stays_and_a_channel_read_by_an_unknown_layer_is_refused():
    model = engine.Sequential(engine.Conv2d(1, 1, 3), engine.ReLU())
    with pytest.raises(ValueError, match="remove_kernel: layer 0 has a single kernel"):
        surgery.remove_kernel(model, 0)
    surgery.add_kernel(model, 0)  # nothing reads its channels: only the conv grows
    assert model(np.zeros((1, 1, 5, 5))).shape == (1, 2, 3, 3)
    model = engine.Sequential(engine.Conv2d(1, 2, 3), engine.ReLU(), engine.Flatten(2), engine.Linear(9, 2))
    with pytest.raises(ValueError, match=r"cannot follow the channels of layer 0 through layer 2 \(Flatten\)"):
        surgery.add_kernel(model, 0)
