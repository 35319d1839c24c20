"""Conv2d (and what pools share with it): gradients against finite differences, torch's shapes, hand-computed values,
bad input, dtypes and seeds. The comparison with torch itself runs only where torch is installed."""

import numpy as np
import pytest

import engine
from engine.conv import AvgPool2d, Conv2d, MaxPool2d
from engine.gradcheck import gradcheck_module
from engine.parameter import FlatParameters

TOL = 1e-6


def assert_gradients(module, x, h=1e-4):
    # Convolution and average pooling are linear in every input and weight, and max pooling is linear
    # between kinks, so a central difference has no truncation error: a larger h only shrinks round-off.
    errors = gradcheck_module(module, x, h=h)
    assert errors, "nothing was checked"
    assert max(errors.values()) < TOL, errors


def distinct_values(rng, shape):
    """A shuffled 0.1-spaced ramp: no ties, and no finite-difference step (h = 1e-4) can change a window's max."""
    return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64) * 0.1 - 1.0).reshape(shape)


def torch_output_size(size, kernel, stride=1, padding=0):
    """The formula in torch.nn.Conv2d's documentation (dilation 1): floor((size + 2p − k) / s) + 1."""
    return int(np.floor((size + 2 * padding - kernel) / stride)) + 1


# --- gradients ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, shape", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1), (2, 3, 7, 6)),
    (dict(in_channels=2, out_channels=3, kernel_size=(2, 3)), (2, 2, 5, 6)),
    (dict(in_channels=2, out_channels=3, kernel_size=3, padding=1, bias=False), (2, 2, 5, 5)),
    (dict(in_channels=2, out_channels=2, kernel_size=(3, 2), stride=(2, 3), padding=(1, 2)), (2, 2, 6, 7)),
    (dict(in_channels=1, out_channels=4, kernel_size=3, padding=1), (3, 1, 6, 6)),  # the digits CNN's layer
], ids=["stride2-pad1", "non-square", "no-bias", "mixed-pairs", "digits-layer"])
def test_conv2d_gradients(kwargs, shape):
    conv = Conv2d(**kwargs, rng=1)
    assert_gradients(conv, np.random.default_rng(0).standard_normal(shape))


def test_small_cnn_gradients_through_sequential():
    rng = np.random.default_rng(3)
    model = engine.Sequential(Conv2d(1, 2, 3, padding=1, rng=4), engine.Tanh(), MaxPool2d(2), AvgPool2d(2, 1),
                              engine.Flatten(), engine.Linear(2 * 2 * 2, 3, rng=5))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "5.weight", "5.bias"]
    assert_gradients(model, rng.standard_normal((2, 1, 6, 6)), h=1e-5)


def test_backward_accumulates_in_place_into_flat_buffer_views():
    rng = np.random.default_rng(6)
    conv = Conv2d(2, 3, 3, padding=1, rng=7)
    flat = FlatParameters(conv.parameters())
    x, g = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    grads_before = [p.grad for p in conv.parameters()]
    conv(x)
    conv.backward(g)
    once = flat.grad.copy()
    conv(x)
    conv.backward(g)
    assert all(p.grad is before for p, before in zip(conv.parameters(), grads_before))
    assert flat.is_intact()
    np.testing.assert_allclose(flat.grad, 2 * once)
    assert np.abs(once).sum() > 0


# --- shapes and values --------------------------------------------------------------------------------------

# (H, W, kernel, stride, padding)
SHAPE_CASES = [(8, 8, 3, 1, 1), (8, 8, 3, 1, 0), (28, 28, 5, 1, 2), (7, 6, 3, 2, 1), (9, 9, 3, 3, 0),
               (5, 7, (2, 3), (1, 2), (0, 1)), (10, 4, (4, 1), (3, 1), (1, 0)), (1, 1, 1, 1, 0), (3, 3, 5, 2, 1)]


@pytest.mark.parametrize("h, w, kernel, stride, padding", SHAPE_CASES)
def test_conv2d_output_shape_follows_torch_formula(h, w, kernel, stride, padding):
    conv = Conv2d(2, 5, kernel, stride=stride, padding=padding, rng=0)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    expected = (3, 5, torch_output_size(h, kh, sh, ph), torch_output_size(w, kw, sw, pw))
    assert conv.output_shape((3, 2, h, w)) == expected
    assert conv(np.random.default_rng(0).standard_normal((3, 2, h, w))).shape == expected


def test_conv2d_value_by_hand():
    conv = Conv2d(1, 1, 2, padding=1, rng=0)
    conv.weight.data[...] = [[[[1.0, 2.0], [3.0, 4.0]]]]
    conv.bias.data[...] = 0.5
    x = np.arange(9.0).reshape(1, 1, 3, 3)  # [[0 1 2] [3 4 5] [6 7 8]]
    out = conv(x)
    assert out.shape == (1, 1, 4, 4)
    # Cross-correlation, as torch: out[y, x] = Σ w[i, j]·x_padded[y + i, x + j] + b.
    assert out[0, 0, 1, 1] == 0 * 1 + 1 * 2 + 3 * 3 + 4 * 4 + 0.5  # 27.5: the window over x[0:2, 0:2]
    assert out[0, 0, 2, 2] == 4 * 1 + 5 * 2 + 7 * 3 + 8 * 4 + 0.5  # 67.5
    assert out[0, 0, 0, 0] == 0 * 4 + 0.5  # only the kernel's bottom-right tap is on the image
    assert out[0, 0, 3, 3] == 8 * 1 + 0.5


def test_conv2d_channels_sum_and_output_channels_are_separate_filters():
    conv = Conv2d(2, 2, 1, bias=False, rng=0)
    conv.weight.data[...] = np.array([[1.0, 10.0], [-1.0, 0.0]]).reshape(2, 2, 1, 1)
    x = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 2.0)])[None]
    np.testing.assert_array_equal(conv(x), np.stack([np.full((2, 2), 21.0), np.full((2, 2), -1.0)])[None])


def test_forward_keeps_references_not_copies():
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5))
    for layer in (Conv2d(1, 2, 3, rng=0), MaxPool2d(2), AvgPool2d(2)):
        out = layer(x)
        assert layer.input is x
        assert layer.output is out
        assert not np.shares_memory(out, x)


def test_non_contiguous_input_gives_the_same_result():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 6, 5))
    strided = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values, other strides
    assert not strided.flags.c_contiguous
    for make in (lambda: Conv2d(3, 2, 3, rng=0), lambda: Conv2d(3, 2, 2, stride=2, padding=1, rng=0),
                 lambda: MaxPool2d((1, 2)), lambda: AvgPool2d(2, 1)):
        a, b = make(), make()
        np.testing.assert_array_equal(a(x), b(strided))
        g = rng.standard_normal(a.output.shape)
        np.testing.assert_array_equal(a.backward(g), b.backward(g[..., ::-1].copy()[..., ::-1]))


def test_torch_names_shapes_and_repr():
    conv = Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), rng=0)
    assert {k: v.shape for k, v in conv.state_dict().items()} == {"weight": (8, 3, 3, 5), "bias": (8,)}
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 5), (2, 2), (1, 2))
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2))"
    assert repr(Conv2d(1, 2, 3, bias=False, rng=0)) == "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), bias=False)"
    assert Conv2d(1, 2, 3, bias=False, rng=0).num_parameters() == 18
    pool = MaxPool2d(2)
    assert (pool.kernel_size, pool.stride) == (2, 2)  # as torch: stride=None means the kernel size
    assert (AvgPool2d((2, 3), 1).kernel_size, AvgPool2d((2, 3), 1).stride) == ((2, 3), 1)
    assert list(pool.parameters()) == []


# --- initialization, dtypes, seeds --------------------------------------------------------------------------

def test_default_init_is_torch_uniform_over_fan_in():
    conv = Conv2d(4, 16, 3, rng=0)
    bound = 1 / np.sqrt(4 * 3 * 3)
    for p in (conv.weight.data, conv.bias.data):
        assert np.abs(p).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound  # spread over the whole interval, not a narrower one


def test_same_seed_same_weights_and_different_seed_different_weights():
    a, b, c = Conv2d(2, 3, 3, rng=42), Conv2d(2, 3, 3, rng=42), Conv2d(2, 3, 3, rng=43)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    engine.manual_seed(7)
    d = Conv2d(2, 3, 3)
    engine.manual_seed(7)
    np.testing.assert_array_equal(d.weight.data, Conv2d(2, 3, 3).weight.data)


@pytest.mark.parametrize("init", ["xavier_uniform", "kaiming_normal"])
def test_other_init_schemes_start_bias_at_zero(init):
    conv = Conv2d(2, 3, 3, init=init, rng=0)
    assert conv.weight.data.std() > 0
    np.testing.assert_array_equal(conv.bias.data, 0.0)


def test_float32_end_to_end():
    rng = np.random.default_rng(8)
    conv64 = Conv2d(2, 3, 3, stride=2, padding=1, rng=9)
    conv32 = Conv2d(2, 3, 3, stride=2, padding=1, rng=9, dtype=np.float32)
    assert conv32.weight.data.dtype == np.float32
    x, g = rng.standard_normal((2, 2, 7, 7)), rng.standard_normal((2, 3, 4, 4))
    model32 = engine.Sequential(conv32, MaxPool2d(2, 1), AvgPool2d(2, 1))
    model64 = engine.Sequential(conv64, MaxPool2d(2, 1), AvgPool2d(2, 1))
    out32 = model32(x.astype(np.float32))
    grad32 = model32.backward(g[:, :, :2, :2].astype(np.float32))
    assert out32.dtype == grad32.dtype == conv32.weight.grad.dtype == conv32.bias.grad.dtype == np.float32
    out64 = model64(x)
    grad64 = model64.backward(g[:, :, :2, :2])
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(conv32.weight.grad, conv64.weight.grad, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(conv32.bias.grad, conv64.bias.grad, rtol=1e-4, atol=1e-5)  # float32's own product
    conv64.to(np.float32)
    assert conv64(x.astype(np.float32)).dtype == np.float32


# --- bad input ----------------------------------------------------------------------------------------------

CONV = "Conv2d(3, 8, kernel_size=(3, 3)"


@pytest.mark.parametrize("x, message", [
    (np.zeros((3, 5, 5)), r"input has shape \(3, 5, 5\); expected \(N, C, H, W\)"),
    (np.zeros((2, 4, 5, 5)), r"input has 4 channels .*; expected 3 channels"),
    (np.zeros((2, 3, 5, 5), np.float32), r"dtype float32; expected float64"),
    (np.zeros((2, 3, 5, 5), np.int64), r"dtype int64; expected float32 or float64"),
    (np.full((2, 3, 5, 5), np.nan), r"NaN"),
    (np.zeros((2, 3, 2, 5)), r"spatial size \(H, W\) = \(2, 5\) is smaller than kernel_size \(3, 3\)"),
    (np.zeros((0, 3, 5, 5)), r"expected no empty dimension"),
    ([[[[0.0]]]], r"must be a numpy array, got list"),
])
def test_conv2d_rejects_bad_input_naming_layer_got_and_expected(x, message):
    with pytest.raises(ValueError, match=r"^Conv2d\(3, 8, kernel_size=\(3, 3\).*: .*" + message):
        Conv2d(3, 8, 3, rng=0)(x)


def test_padding_counts_when_checking_that_the_kernel_fits():
    conv = Conv2d(1, 1, 5, padding=1, rng=0)
    with pytest.raises(ValueError, match=r"\(H, W\) = \(2, 2\), padded to \(4, 4\), is smaller than kernel_size"):
        conv(np.zeros((1, 1, 2, 2)))
    assert conv(np.zeros((1, 1, 3, 3))).shape == (1, 1, 1, 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=0, out_channels=8, kernel_size=3), r"in_channels must be an integer >= 1, got 0"),
    (dict(in_channels=3, out_channels=-2, kernel_size=3), r"out_channels must be an integer >= 1, got -2"),
    (dict(in_channels=3, out_channels=8, kernel_size=0), r"kernel_size must be an integer >= 1, got 0"),
    (dict(in_channels=3, out_channels=8, kernel_size=(3, 3, 3)), r"kernel_size must be an int or a pair"),
    (dict(in_channels=3, out_channels=8, kernel_size=3, stride=0), r"stride must be an integer >= 1, got 0"),
    (dict(in_channels=3, out_channels=8, kernel_size=3, padding=-1), r"padding must be an integer >= 0, got -1"),
    (dict(in_channels=3.5, out_channels=8, kernel_size=3), r"in_channels must be an integer >= 1, got 3.5"),
    (dict(in_channels=3, out_channels=8, kernel_size=3, init="zeros"), r"init must be one of"),
    (dict(in_channels=3, out_channels=8, kernel_size=3, dtype=np.int32), r"dtype must be float32 or float64"),
])
def test_conv2d_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=r"^Conv2d: " + message):
        Conv2d(**kwargs)


@pytest.mark.parametrize("layer", [Conv2d(2, 3, 3, rng=0), MaxPool2d(2), AvgPool2d(2)], ids=lambda m: type(m).__name__)
def test_output_shape_rejects_shapes_that_give_an_empty_output(layer):
    assert layer.output_shape((1, 2, 3, 3))[2:] in ((1, 1),)
    for shape, message in [((1, 2, 1, 3), r"smaller than kernel_size"), ((1, 2, 0, 3), r"every size >= 1"),
                           ((1, 2, 3), r"expected \(N, C, H, W\)"), ((1, 2, -3, 3), r"every size >= 1"),
                           (5, r"must be \(N, C, H, W\)")]:
        with pytest.raises(ValueError, match=message):
            layer.output_shape(shape)


def test_backward_rejects_a_wrong_gradient_shape_and_backward_before_forward():
    conv = Conv2d(1, 2, 3, rng=0)
    with pytest.raises(ValueError, match="backward called before forward"):
        conv.backward(np.zeros((1, 2, 3, 3)))
    conv(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"grad_output has shape \(1, 2, 5, 5\); expected \(1, 2, 3, 3\)"):
        conv.backward(np.zeros((1, 2, 5, 5)))


# --- against torch, where installed -------------------------------------------------------------------------

def test_forward_and_backward_match_torch():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(10)
    for c_in, c_out, kernel, stride, padding, bias in [(1, 8, 3, 1, 1, True), (3, 4, (3, 2), 2, (1, 0), True),
                                                       (2, 3, 5, (2, 1), 2, False)]:
        conv = Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias, rng=11)
        x = rng.standard_normal((3, c_in, 9, 8))
        out = conv(x)
        g = rng.standard_normal(out.shape)
        grad_x = conv.backward(g)
        tx = torch.tensor(x, requires_grad=True)
        tw = torch.tensor(conv.weight.data, requires_grad=True)
        tb = torch.tensor(conv.bias.data, requires_grad=True) if bias else None
        t_out = functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
        t_out.backward(torch.tensor(g))
        np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(conv.weight.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-12)
        if bias:
            np.testing.assert_allclose(conv.bias.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-12)
    # (3, None), (4, None) and (3, 2) run MaxPool2d's planes-innermost passes (kH·kW >= 9); width 300 needs
    # offsets (i·W + j) past uint8's range.
    for kernel, stride, shape in [(2, None, (2, 3, 8, 9)), (3, 2, (2, 3, 8, 9)), (2, 1, (2, 3, 8, 9)),
                                  ((2, 3), (1, 2), (2, 3, 8, 9)), (3, None, (4, 5, 10, 9)), (4, None, (3, 2, 9, 8)),
                                  (2, None, (1, 2, 4, 300)), (3, None, (1, 2, 6, 300))]:
        # ReLU-like input, full of ties at zero: the winners (and so the gradients) must still match torch's.
        x = np.maximum(rng.standard_normal(shape), 0.0)
        for pool, reference in [(MaxPool2d(kernel, stride), functional.max_pool2d),
                                (AvgPool2d(kernel, stride), functional.avg_pool2d)]:
            out = pool(x)
            g = rng.standard_normal(out.shape)
            tx = torch.tensor(x, requires_grad=True)
            t_out = reference(tx, kernel, stride)
            t_out.backward(torch.tensor(g))
            np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(pool.backward(g), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
        _, indices = functional.max_pool2d(torch.tensor(x), kernel, stride, return_indices=True)
        pool = MaxPool2d(kernel, stride)
        pool(x)
        np.testing.assert_array_equal(pool.indices, indices.numpy())


@pytest.mark.parametrize("first", ["conv", "linear", "activation"])
def test_backward_without_the_input_gradient_gives_the_same_parameter_gradients(first):
    rng = np.random.default_rng(6)
    if first == "linear":
        model, x = engine.Sequential(engine.Linear(6, 4, rng=1), engine.Tanh(), engine.Linear(4, 3, rng=2)), \
            rng.standard_normal((5, 6))
    else:
        layers = [Conv2d(2, 3, 3, stride=2, padding=1, rng=1), engine.ReLU(), MaxPool2d(2), engine.Flatten(),
                  engine.Linear(3 * 2 * 2, 3, rng=2)]
        model, x = engine.Sequential(*([engine.Tanh()] if first == "activation" else []), *layers), \
            rng.standard_normal((5, 2, 7, 8))
    g = rng.standard_normal(model(x).shape)
    full = model.backward(g)
    expected = [p.grad.copy() for p in model.parameters()]
    assert full.shape == x.shape
    model.zero_grad()
    assert model.backward(g, input_grad=False) is None
    for p, grad in zip(model.parameters(), expected):
        np.testing.assert_array_equal(p.grad, grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c_in, kernel, stride, padding, size", [
    (1, 5, 1, 2, 28), (8, 5, 1, 2, 14), (3, (3, 2), 1, (1, 0), 7), (2, 3, 2, (4, 3), 6), (2, (2, 3), (3, 2), 0, 8)],
    ids=["convnetjs-1", "convnetjs-2", "non-square", "padding-past-kernel", "strided-no-padding"])
def test_layers_of_either_column_layout_match_torch(c_in, kernel, stride, padding, size, dtype):
    # One input channel takes image-major columns, several (kW·C_in >= W_out) pixel-major ones, with the kernel
    # flattened in another order; the input gradient packs images and rows closer than the padded size, and
    # differs in float32 and float64: all must give torch's output and gradients.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    conv = Conv2d(c_in, 6, kernel, stride=stride, padding=padding, rng=16, dtype=dtype)
    x = rng.standard_normal((3, c_in, size, size)).astype(dtype)
    out = conv(x)
    g = rng.standard_normal(out.shape).astype(dtype)
    grad_x = conv.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(conv.weight.data, requires_grad=True)
    tb = torch.tensor(conv.bias.data, requires_grad=True)
    t_out = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
    t_out.backward(torch.tensor(g))
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    for ours, theirs in [(out, t_out), (grad_x, tx.grad), (conv.weight.grad, tw.grad), (conv.bias.grad, tb.grad)]:
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=tolerance, atol=tolerance)


def test_sequential_lets_go_of_the_last_pass_arrays_before_the_next_pass_allocates_its_own():
    # The memory the last pass kept (activations, im2col columns, pool winners) is freed before any layer of the
    # next pass runs, so the allocator can hand it straight back, still in cache; after the pass every layer keeps
    # this pass's arrays, as before.
    import weakref

    class Witness(engine.Module):
        def forward(self, x):
            self.__dict__["alive"] = [name for name, ref in refs.items() if ref() is not None]
            return x

        def backward(self, grad_output):
            return grad_output

    refs = {}
    witness = Witness()
    model = engine.Sequential(witness, Conv2d(1, 2, 3, padding=1, rng=0), engine.ReLU(), MaxPool2d(2),
                              engine.Flatten(), engine.Linear(2 * 3 * 3, 2, rng=1))
    rng = np.random.default_rng(3)
    model(rng.standard_normal((2, 1, 6, 6)))
    conv, relu, pool = model[1], model[2], model[3]
    refs.update({"conv columns": weakref.ref(conv._cols), "conv output": weakref.ref(conv.output),
            "relu output": weakref.ref(relu.output), "pool output": weakref.ref(pool.output),
            "pool winners": weakref.ref(pool._offset)})
    x = rng.standard_normal((2, 1, 6, 6))
    model(x)
    assert witness.alive == ["pool output"]  # only what Flatten and Linear (which keep nothing back) still view
    assert conv.input is x and relu.input is conv.output and pool.input is relu.output
    np.testing.assert_array_equal(pool.indices.shape, pool.output.shape)


def test_a_copy_of_a_model_lets_go_of_its_own_arrays_only():
    import copy
    model = engine.Sequential(Conv2d(1, 2, 3, rng=0), engine.ReLU(), MaxPool2d(2))
    x = np.random.default_rng(4).standard_normal((1, 1, 6, 6))
    model(x)
    kept = [(m.input, m.output) for m in model]
    twin = copy.deepcopy(model)
    twin(x)
    assert all(m.input is a and m.output is b for m, (a, b) in zip(model, kept))
    np.testing.assert_array_equal(twin[2].output, model[2].output)
