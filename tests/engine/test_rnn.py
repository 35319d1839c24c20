"""engine.rnn.RNN: torch.nn.RNN's parameters, shapes and names; BPTT checked by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gradcheck import gradcheck_module
from engine.parameter import FlatParameters, Parameter
from engine.rnn import RNN

# central differences with h=1e-5: small enough for tanh's curvature, large enough that roundoff
# (~1e-16·|L|/h) stays far below 1e-6 of the smallest gradient entries we compare
H_STEP = 1e-5


def check_gradients(rnn: RNN, x: np.ndarray, h0: np.ndarray | None, reseed_dropout: int | None = None) -> dict:
    """Relative errors for x, h0 (if given) and every parameter, with non-zero grad_output and grad_h_n."""
    def forward(*inputs):
        if reseed_dropout is not None:  # the same dropout mask on every call
            rnn._rng = np.random.default_rng(reseed_dropout)
        return rnn(*inputs)

    inputs = (x,) if h0 is None else (x, h0)
    errors = gradcheck_module(rnn, *inputs, h=H_STEP, forward=forward,
                              backward=lambda grad_output, grad_h_n: rnn.backward(grad_output, grad_h_n))
    expected = {"input0"} | ({"input1"} if h0 is not None else set()) | {n for n, _ in rnn.named_parameters()}
    assert set(errors) == expected
    return errors


def assert_away_from_relu_kinks(rnn: RNN) -> None:
    # a pre-activation within h of 0 would make the finite difference straddle relu's kink
    smallest = min(np.abs(z).min() for z in rnn.pre_activations)
    assert smallest > 20 * H_STEP, "pick another seed: a pre-activation sits on relu's kink"


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_two_layer_bidirectional_batch_first_gradients(nonlinearity):
    rnn = RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, batch_first=True, bidirectional=True, rng=0)
    data = np.random.default_rng(1)
    x = data.standard_normal((2, 5, 3))  # (N, L, H_in)
    h0 = 0.5 * data.standard_normal((4, 2, 4))  # (D·num_layers, N, H_out)
    rnn(x, h0)
    if nonlinearity == "relu":
        assert_away_from_relu_kinks(rnn)
    errors = check_gradients(rnn, x, h0)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("config", [
    dict(num_layers=1),
    dict(num_layers=2, bias=False),
    dict(num_layers=1, bidirectional=True, bias=False, nonlinearity="relu"),
    dict(num_layers=3, nonlinearity="relu"),
])
def test_unidirectional_and_bias_free_gradients(config):
    rnn = RNN(2, 3, rng=2, **config)
    data = np.random.default_rng(3)
    x = data.standard_normal((6, 3, 2))  # time-major (L, N, H_in)
    h0 = 0.5 * data.standard_normal((rnn.num_directions * rnn.num_layers, 3, 3))
    rnn(x, h0)
    if rnn.nonlinearity == "relu":
        assert_away_from_relu_kinks(rnn)
    errors = check_gradients(rnn, x, h0)
    assert max(errors.values()) < 1e-6, errors


def test_gradients_without_h0_and_unbatched():
    rnn = RNN(2, 3, num_layers=2, bidirectional=True, rng=4)
    x = np.random.default_rng(5).standard_normal((4, 2))  # unbatched (L, H_in)
    errors = check_gradients(rnn, x, None)
    assert max(errors.values()) < 1e-6, errors
    output, h_n = rnn(x)
    grad_x, grad_h0 = rnn.backward(np.ones_like(output), np.ones_like(h_n))
    assert grad_x.shape == x.shape and grad_h0.shape == h_n.shape == (4, 3)


def test_dropout_gradients_with_a_fixed_mask():
    rnn = RNN(2, 3, num_layers=3, dropout=0.4, bidirectional=True, rng=6)
    data = np.random.default_rng(7)
    x, h0 = data.standard_normal((5, 2, 2)), 0.5 * data.standard_normal((6, 2, 3))
    errors = check_gradients(rnn, x, h0, reseed_dropout=8)
    assert max(errors.values()) < 1e-6, errors
    assert len(rnn._dropout_masks) == 2 and all(m is not None and (m == 0).any() for m in rnn._dropout_masks)


def test_dropout_is_off_in_eval_and_only_between_layers():
    x = np.random.default_rng(0).standard_normal((7, 4, 3))
    with_dropout = RNN(3, 5, num_layers=3, dropout=0.5, rng=11)
    without = RNN(3, 5, num_layers=3, dropout=0.0, rng=11)
    reference, reference_h_n = without(x)
    out_eval, h_n_eval = with_dropout.eval()(x)
    np.testing.assert_array_equal(out_eval, reference)
    np.testing.assert_array_equal(h_n_eval, reference_h_n)
    out_train, _ = with_dropout.train()(x)
    assert not np.allclose(out_train, reference)
    # the first layer never sees dropout: its input is x itself
    assert with_dropout._layer_inputs[0] is x


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers=1") as warnings:
        rnn = RNN(2, 3, dropout=0.3)
    assert len(warnings) == 1
    assert rnn.dropout == 0.3  # accepted, as torch does; it has no layer to act between


# (input shape, config, h0 given) -> output shape, h_n shape, from torch.nn.RNN's documentation
SHAPES = [
    ((5, 2, 3), dict(), (5, 2, 4), (1, 2, 4)),
    ((5, 2, 3), dict(num_layers=3), (5, 2, 4), (3, 2, 4)),
    ((5, 2, 3), dict(bidirectional=True), (5, 2, 8), (2, 2, 4)),
    ((5, 2, 3), dict(num_layers=2, bidirectional=True), (5, 2, 8), (4, 2, 4)),
    ((2, 5, 3), dict(batch_first=True), (2, 5, 4), (1, 2, 4)),
    ((2, 5, 3), dict(num_layers=2, bidirectional=True, batch_first=True), (2, 5, 8), (4, 2, 4)),
    ((5, 3), dict(), (5, 4), (1, 4)),
    ((5, 3), dict(num_layers=2, bidirectional=True, batch_first=True), (5, 8), (4, 4)),
    ((1, 1, 3), dict(nonlinearity="relu", bias=False), (1, 1, 4), (1, 1, 4)),
]


@pytest.mark.parametrize("input_shape, config, output_shape, h_n_shape", SHAPES)
@pytest.mark.parametrize("give_h0", [False, True])
def test_shapes_match_torch_docs(input_shape, config, output_shape, h_n_shape, give_h0):
    rnn = RNN(3, 4, rng=0, **config)
    x = np.random.default_rng(0).standard_normal(input_shape)
    h0 = np.zeros(h_n_shape) if give_h0 else None
    output, h_n = rnn(x, h0)
    assert output.shape == output_shape and h_n.shape == h_n_shape
    grad_x, grad_h0 = rnn.backward(np.ones(output_shape), np.ones(h_n_shape))
    assert grad_x.shape == input_shape and grad_h0.shape == h_n_shape


def test_h_n_is_each_direction_final_state():
    rnn = RNN(3, 4, num_layers=2, bidirectional=True, batch_first=True, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 6, 3))
    output, h_n = rnn(x)
    # index = layer·D + direction; the reverse direction ends at t = 0
    np.testing.assert_array_equal(h_n[2], output[:, -1, :4])
    np.testing.assert_array_equal(h_n[3], output[:, 0, 4:])
    first_layer = rnn.hidden_states[0]  # time-major (L, N, D·H_out)
    np.testing.assert_array_equal(h_n[0], first_layer[-1, :, :4])
    np.testing.assert_array_equal(h_n[1], first_layer[0, :, 4:])


def test_reverse_direction_reads_the_sequence_backwards():
    both = RNN(2, 3, bidirectional=True, rng=0)
    forward_only = RNN(2, 3, rng=1)
    forward_only.load_state_dict({name.replace("_reverse", ""): p.data for name, p in both.named_parameters()
                                  if name.endswith("_reverse")})
    x = np.random.default_rng(1).standard_normal((5, 2, 2))
    reversed_run, _ = forward_only(x[::-1].copy())
    output, _ = both(x)
    np.testing.assert_allclose(output[:, :, 3:], reversed_run[::-1], rtol=0, atol=1e-15)


def test_parameter_names_shapes_and_order_match_torch():
    rnn = RNN(3, 5, num_layers=2, bidirectional=True)
    assert [(n, p.shape) for n, p in rnn.named_parameters()] == [
        ("weight_ih_l0", (5, 3)), ("weight_hh_l0", (5, 5)), ("bias_ih_l0", (5,)), ("bias_hh_l0", (5,)),
        ("weight_ih_l0_reverse", (5, 3)), ("weight_hh_l0_reverse", (5, 5)),
        ("bias_ih_l0_reverse", (5,)), ("bias_hh_l0_reverse", (5,)),
        ("weight_ih_l1", (5, 10)), ("weight_hh_l1", (5, 5)), ("bias_ih_l1", (5,)), ("bias_hh_l1", (5,)),
        ("weight_ih_l1_reverse", (5, 10)), ("weight_hh_l1_reverse", (5, 5)),
        ("bias_ih_l1_reverse", (5,)), ("bias_hh_l1_reverse", (5,)),
    ]
    assert list(rnn.state_dict()) == [n for n, _ in rnn.named_parameters()]
    no_bias = RNN(3, 5, num_layers=2, bias=False)
    assert list(no_bias.state_dict()) == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"]


def test_init_is_uniform_within_one_over_sqrt_hidden_size():
    rnn = RNN(3, 16, num_layers=2, rng=0)
    values = np.concatenate([p.data.ravel() for p in rnn.parameters()])
    assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.24
    assert abs(values.mean()) < 0.02


def test_same_seed_same_run():
    x = np.random.default_rng(0).standard_normal((6, 3, 2))
    runs = []
    for _ in range(2):
        rnn = RNN(2, 4, num_layers=2, dropout=0.3, rng=42)
        runs.append(rnn(x)[0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(RNN(2, 4, num_layers=2, rng=43)(x)[0], runs[0])


def test_backward_accumulates_in_place_into_a_flat_buffer():
    rnn = RNN(2, 3, num_layers=2, bidirectional=True, rng=0)
    flat = FlatParameters(rnn.parameters())
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    output, h_n = rnn(x)
    rnn.backward(np.ones_like(output), np.ones_like(h_n))
    once = flat.grad.copy()
    assert np.abs(once).sum() > 0
    rnn(x)
    rnn.backward(np.ones_like(output), np.ones_like(h_n))
    assert flat.is_intact()
    np.testing.assert_allclose(flat.grad, 2 * once)


def test_views_reference_what_forward_got_and_gave():
    rnn = RNN(2, 3, num_layers=2, bidirectional=True, batch_first=True, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 5, 2))
    output, h_n = rnn(x)
    assert rnn.input is x and rnn.output is output and rnn.h_n is h_n
    assert len(rnn.hidden_states) == len(rnn.pre_activations) == 2
    assert np.shares_memory(rnn.hidden_states[-1], output)  # no copy of the last layer
    np.testing.assert_array_equal(rnn.hidden_states[0], np.tanh(rnn.pre_activations[0]))


def test_float32():
    rnn = RNN(2, 3, bidirectional=True, rng=0, dtype=np.float32)
    output, h_n = rnn(np.ones((4, 2, 2), dtype=np.float32))
    grad_x, grad_h0 = rnn.backward(np.ones_like(output))
    assert output.dtype == h_n.dtype == grad_x.dtype == grad_h0.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in rnn.parameters())


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_size=0, hidden_size=8), "input_size must be an integer >= 1, got 0"),
    (dict(input_size=4, hidden_size=-2), "hidden_size must be an integer >= 1, got -2"),
    (dict(input_size=4, hidden_size=8, num_layers=0), "num_layers must be an integer >= 1, got 0"),
    (dict(input_size=4, hidden_size=8, nonlinearity="sigmoid"), "nonlinearity must be one of ['tanh', 'relu']"),
    (dict(input_size=4, hidden_size=8, num_layers=2, dropout=1.0), "dropout must be a number in [0, 1)"),
    (dict(input_size=4, hidden_size=8, num_layers=2, dropout=-0.1), "dropout must be a number in [0, 1)"),
    (dict(input_size=4, hidden_size=8, bidirectional="yes"), "bidirectional must be True or False"),
    (dict(input_size=4, hidden_size=8, dtype=np.int32), "dtype must be float32 or float64"),
])
def test_constructor_errors_name_the_layer(kwargs, message):
    with pytest.raises(ValueError) as error:
        RNN(**kwargs)
    assert "RNN(" in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("x, h0, message", [
    (np.zeros(5), None, "input has shape (5,); expected (L, N, H_in) or unbatched (L, H_in)"),
    (np.zeros((5, 2, 3, 1)), None, "input has shape (5, 2, 3, 1)"),
    (np.zeros((5, 2, 3)), None, "expected last dimension 4"),
    (np.zeros((5, 2, 4), dtype=np.float32), None, "dtype float32; expected float64"),
    (np.zeros((5, 2, 4), dtype=np.int64), None, "token ids have shape (5, 2, 4); expected (L, N) or unbatched (L,)"),
    (np.full((5, 2, 4), np.nan), None, "input contains NaN"),
    ([[[0.0] * 4]], None, "input must be a numpy array, got list"),
    (np.zeros((5, 2, 4)), np.zeros((2, 3, 8)), "h0 has shape (2, 3, 8); expected (2, 2, 8)"),
    (np.zeros((5, 2, 4)), np.zeros((2, 8)), "h0 has shape (2, 8)"),
    (np.zeros((5, 4)), np.zeros((2, 2, 8)), "h0 has shape (2, 2, 8); expected (2, 8)"),
    (np.zeros((5, 2, 4)), np.full((2, 2, 8), np.inf), "h0 contains NaN or infinite values"),
])
def test_forward_errors_name_the_layer_what_it_got_and_expects(x, h0, message):
    rnn = RNN(4, 8, num_layers=2)
    with pytest.raises(ValueError) as error:
        rnn(x, h0)
    assert str(error.value).startswith("RNN(4, 8, num_layers=2): ") and message in str(error.value)


def test_backward_errors():
    rnn = RNN(4, 8, num_layers=2)
    with pytest.raises(ValueError, match="before forward"):
        rnn.backward(np.zeros((5, 2, 8)))
    output, h_n = rnn(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match=r"grad_output has shape \(5, 2, 4\); expected \(5, 2, 8\)"):
        rnn.backward(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match=r"grad_h_n has shape \(1, 2, 8\); expected \(2, 2, 8\)"):
        rnn.backward(np.zeros_like(output), np.zeros((1, 2, 8)))


# --- it learns: sine-wave next-step prediction ------------------------------------------------
def sine_sequences(n_sequences=64, length=50, seed=0):
    """(x (N, L, 1), y (N, L, 1)), y one step ahead; engine.datasets.sine_wave when it exists."""
    try:
        from engine.datasets import sine_wave
    except ImportError:
        data = np.random.default_rng(seed)
        phase = data.uniform(0, 2 * np.pi, (n_sequences, 1))
        frequency = data.uniform(0.1, 0.3, (n_sequences, 1))
        wave = np.sin(phase + frequency * np.arange(length + 1))
        return wave[:, :-1, None], wave[:, 1:, None]
    return sine_wave(n_sequences=n_sequences, length=length, seed=seed)


def readout_layer(hidden_size, rng):
    """engine.linear.Linear(hidden_size, 1) when it exists, else the same maths inline."""
    try:
        from engine.linear import Linear
    except ImportError:
        return _Readout(hidden_size, rng)
    return Linear(hidden_size, 1, rng=rng)


class _Readout:
    def __init__(self, in_features, rng):
        bound = 1 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (1, in_features)))
        self.bias = Parameter(rng.uniform(-bound, bound, (1,)))

    def __call__(self, x):
        self.input = x
        return x @ self.weight.data.T + self.bias.data

    def backward(self, grad_y):
        self.weight.grad += grad_y.T @ self.input
        self.bias.grad += grad_y.sum(axis=0)
        return grad_y @ self.weight.data

    def parameters(self):
        return [self.weight, self.bias]


def test_learns_sine_next_step_prediction():
    x, y = sine_sequences()
    hidden = 16
    rnn = RNN(1, hidden, batch_first=True, rng=0)
    readout = readout_layer(hidden, np.random.default_rng(1))
    params = list(rnn.parameters()) + list(readout.parameters())
    first_moment = [np.zeros_like(p.data) for p in params]
    second_moment = [np.zeros_like(p.data) for p in params]
    lr, beta1, beta2 = 0.01, 0.9, 0.999
    targets = y.reshape(-1, 1)
    losses = []
    for step in range(1, 401):
        output, _ = rnn(x)  # (N, L, H)
        features = output.reshape(-1, hidden)
        error = readout(features) - targets
        losses.append(float(np.mean(error ** 2)))
        for p in params:
            p.grad.fill(0.0)
        grad_features = readout.backward(2 * error / error.size)
        rnn.backward(grad_features.reshape(output.shape))
        for p, m, v in zip(params, first_moment, second_moment):  # Adam, as torch.optim.Adam
            m *= beta1
            m += (1 - beta1) * p.grad
            v *= beta2
            v += (1 - beta2) * p.grad ** 2
            p.data -= lr * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + 1e-8)
    assert losses[-1] < 0.01 and losses[-1] < losses[0] / 10, losses[::20]


# --- against PyTorch, where it is installed ----------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_matches_torch(nonlinearity):
    torch = pytest.importorskip("torch")
    ours = RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, batch_first=True, bidirectional=True, rng=0)
    theirs = torch.nn.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, batch_first=True,
                          bidirectional=True).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    assert list(theirs.state_dict()) == list(ours.state_dict())
    data = np.random.default_rng(1)
    x, h0 = data.standard_normal((2, 5, 3)), data.standard_normal((4, 2, 4))
    grad_output, grad_h_n = data.standard_normal((2, 5, 8)), data.standard_normal((4, 2, 4))

    output, h_n = ours(x, h0)
    grad_x, grad_h0 = ours.backward(grad_output, grad_h_n)
    x_t = torch.tensor(x, requires_grad=True)
    h0_t = torch.tensor(h0, requires_grad=True)
    output_t, h_n_t = theirs(x_t, h0_t)
    ((output_t * torch.from_numpy(grad_output)).sum() + (h_n_t * torch.from_numpy(grad_h_n)).sum()).backward()

    np.testing.assert_allclose(output, output_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n, h_n_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_h0, h0_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad, p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_matches_torch_unbatched_without_bias_or_h0():
    torch = pytest.importorskip("torch")
    ours = RNN(3, 4, num_layers=3, bias=False, rng=0)
    theirs = torch.nn.RNN(3, 4, num_layers=3, bias=False).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    data = np.random.default_rng(2)
    x, grad_output, grad_h_n = data.standard_normal((6, 3)), data.standard_normal((6, 4)), data.standard_normal((3, 4))

    output, h_n = ours(x)
    grad_x, _ = ours.backward(grad_output, grad_h_n)
    x_t = torch.tensor(x, requires_grad=True)
    output_t, h_n_t = theirs(x_t)
    ((output_t * torch.from_numpy(grad_output)).sum() + (h_n_t * torch.from_numpy(grad_h_n)).sum()).backward()

    np.testing.assert_allclose(output, output_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n, h_n_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad, p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
