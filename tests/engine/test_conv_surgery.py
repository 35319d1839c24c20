"""Live surgery on a CNN: a kernel added or removed keeps every other weight and its optimizer state."""

import numpy as np
import pytest

import engine
from engine import conv_surgery as surgery
from tests.engine.test_surgery import assert_optimizer_owns

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
