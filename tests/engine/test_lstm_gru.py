"""engine.LSTM and engine.GRU (and the shared RNNBase): torch's names, shapes and gate order; BPTT checked by
finite differences always and against PyTorch where it is installed; dL/dh_t over time."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import engine
from engine.gradcheck import gradcheck_module
from engine.gru import GRU
from engine.lstm import LSTM
from engine.rnn import RNN

H_STEP = 1e-5
CELLS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def run(model, x, states):
    """Forward with the states as separate arrays; returns (output, *final states) flat."""
    if isinstance(model, LSTM):
        output, (h_n, c_n) = model(x, None if states is None else tuple(states))
        return output, h_n, c_n
    output, h_n = model(x, None if states is None else states[0])
    return output, h_n


def run_backward(model, grad_output, *grad_finals):
    if isinstance(model, LSTM):
        grad_x, (grad_h0, grad_c0) = model.backward(grad_output, tuple(grad_finals))
        return grad_x, grad_h0, grad_c0
    grad_x, grad_h0 = model.backward(grad_output, grad_finals[0])
    return grad_x, grad_h0


def initial_states(model, batch, data):
    count = 2 if isinstance(model, LSTM) else 1
    shape = (model.num_directions * model.num_layers, batch, model.hidden_size)
    return [0.5 * data.standard_normal(shape) for _ in range(count)]


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("config", [
    dict(num_layers=2, batch_first=True, bidirectional=True),
    dict(num_layers=1, bias=False),
    dict(num_layers=2, bias=False, bidirectional=True),
])
def test_gradients_match_finite_differences(cell, config):
    model = CELLS[cell](3, 4, rng=0, **config)
    data = np.random.default_rng(1)
    x = data.standard_normal((2, 5, 3))
    states = initial_states(model, 5 if not model.batch_first else 2, data)
    errors = gradcheck_module(model, x, *states, h=H_STEP,
                              forward=lambda x, *s: run(model, x, list(s)),
                              backward=lambda *grads: run_backward(model, *grads))
    assert set(errors) == {f"input{i}" for i in range(1 + len(states))} | {n for n, _ in model.named_parameters()}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_gradients_unbatched_without_initial_state_and_with_dropout(cell):
    model = CELLS[cell](2, 3, num_layers=2, dropout=0.4, rng=6)
    x = np.random.default_rng(5).standard_normal((4, 2))  # unbatched (L, H_in)

    def forward(x):
        model._rng = np.random.default_rng(7)  # the same dropout masks on every call
        return run(model, x, None)
    errors = gradcheck_module(model, x, h=H_STEP, forward=forward,
                              backward=lambda *grads: run_backward(model, *grads))
    assert max(errors.values()) < 1e-6, errors
    assert all(m is not None and (m == 0).any() for m in model._dropout_masks)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_parameter_names_shapes_and_order_match_torch(cell):
    G = GATES[cell]
    model = CELLS[cell](3, 5, num_layers=2, bidirectional=True)
    expected = []
    for k, suffix in itertools.product(range(2), ["", "_reverse"]):
        fan_in = 3 if k == 0 else 10
        expected += [(f"weight_ih_l{k}{suffix}", (G * 5, fan_in)), (f"weight_hh_l{k}{suffix}", (G * 5, 5)),
                     (f"bias_ih_l{k}{suffix}", (G * 5,)), (f"bias_hh_l{k}{suffix}", (G * 5,))]
    assert [(n, p.shape) for n, p in model.named_parameters()] == expected
    assert list(CELLS[cell](3, 5, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    values = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert 1 / np.sqrt(5) * 0.97 < np.abs(values).max() <= 1 / np.sqrt(5)  # U(±1/√H_out), as torch


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias",
                         list(itertools.product([1, 2], [False, True], [False, True], [True, False])))
def test_shapes_follow_torch_docs(cell, num_layers, bidirectional, batch_first, bias):
    model = CELLS[cell](3, 4, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                        bias=bias, rng=0)
    L, N, D = 6, 2, 2 if bidirectional else 1
    x = np.zeros((N, L, 3) if batch_first else (L, N, 3))
    output, *finals = run(model, x, None)
    assert output.shape == ((N, L, D * 4) if batch_first else (L, N, D * 4))
    assert all(f.shape == (D * num_layers, N, 4) for f in finals)  # batch_first never applies to h_n, c_n
    assert len(list(model.parameters())) == num_layers * D * (4 if bias else 2)


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias",
                         list(itertools.product([1, 2], [False, True], [False, True], [True, False])))
def test_matches_torch_forward_and_backward(cell, num_layers, bidirectional, batch_first, bias):
    torch = pytest.importorskip("torch")
    config = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    ours = CELLS[cell](3, 4, rng=0, **config)
    theirs = getattr(torch.nn, cell)(3, 4, **config).double()
    assert [(n, tuple(p.shape)) for n, p in theirs.named_parameters()] == \
        [(n, p.shape) for n, p in ours.named_parameters()]
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    data = np.random.default_rng(1)
    x = data.standard_normal((2, 5, 3))
    states = initial_states(ours, 2 if batch_first else 5, data)
    outs = run(ours, x, states)
    grads = [data.standard_normal(o.shape) for o in outs]
    grads_in = run_backward(ours, *grads)

    x_t = torch.tensor(x, requires_grad=True)
    states_t = [torch.tensor(s, requires_grad=True) for s in states]
    outs_t = theirs(x_t, tuple(states_t) if cell == "LSTM" else states_t[0])
    outs_t = (outs_t[0], *outs_t[1]) if cell == "LSTM" else outs_t
    sum((o * torch.from_numpy(g)).sum() for o, g in zip(outs_t, grads)).backward()
    for ours_value, theirs_value in zip(outs, outs_t):
        np.testing.assert_allclose(ours_value, theirs_value.detach().numpy(), rtol=0, atol=1e-12)
    for ours_grad, leaf in zip(grads_in, [x_t, *states_t]):
        np.testing.assert_allclose(ours_grad, leaf.grad.numpy(), rtol=0, atol=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad, p.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("optimizer, kwargs", [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9))])
def test_training_steps_match_torch(cell, optimizer, kwargs):
    """Ten steps of a sequence model (recurrent layer + Linear head, MSE) stay within 1e-6 of torch's."""
    torch = pytest.importorskip("torch")
    config = dict(num_layers=2, bidirectional=True, batch_first=True)
    ours_rnn = CELLS[cell](2, 5, rng=0, **config)
    ours_head = engine.Linear(10, 1, rng=1)
    params = list(ours_rnn.parameters()) + list(ours_head.parameters())
    ours_opt = getattr(engine, optimizer)(params, **kwargs)
    theirs_rnn = getattr(torch.nn, cell)(2, 5, **config).double()
    theirs_head = torch.nn.Linear(10, 1).double()
    theirs_rnn.load_state_dict({k: torch.from_numpy(v) for k, v in ours_rnn.state_dict().items()})
    theirs_head.load_state_dict({k: torch.from_numpy(v) for k, v in ours_head.state_dict().items()})
    theirs_opt = getattr(torch.optim, optimizer)(list(theirs_rnn.parameters()) + list(theirs_head.parameters()),
                                                 **kwargs)
    x, y = engine.datasets.adding_problem(n_sequences=8, length=7, seed=0)
    loss_fn = engine.MSELoss()
    for _ in range(10):
        ours_opt.zero_grad()
        output, *_ = run(ours_rnn, x, None)
        loss = loss_fn(ours_head(output[:, -1]), y)
        grad_last = ours_head.backward(loss_fn.backward())
        grad_output = np.zeros_like(output)
        grad_output[:, -1] = grad_last
        ours_rnn.backward(grad_output)
        ours_opt.step()

        theirs_opt.zero_grad()
        output_t = theirs_rnn(torch.from_numpy(x))[0]
        loss_t = torch.nn.functional.mse_loss(theirs_head(output_t[:, -1]), torch.from_numpy(y))
        loss_t.backward()
        theirs_opt.step()
        assert abs(loss - loss_t.item()) < 1e-6
    for name, p in theirs_rnn.named_parameters():
        np.testing.assert_allclose(getattr(ours_rnn, name).data, p.detach().numpy(), rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
def test_grad_hidden_states_is_what_the_loss_owes_each_step(cell):
    """dL/dh_t (total: through the output at t and every later step) equals, when the sequence is cut after t,
    the output's own gradient at t plus the gradient the second half sends back to its initial state."""
    model = CELLS[cell](2, 3, rng=0)
    data = np.random.default_rng(1)
    x = data.standard_normal((7, 2, 2))
    output, *finals = run(model, x, None)
    grad_output = data.standard_normal(output.shape)
    run_backward(model, grad_output, *[None] * len(finals))
    whole = model.grad_hidden_states[0].copy()
    assert whole.shape == output.shape
    for t in (0, 3):
        head = run(model, x[:t + 1], None)  # the states after step t
        run(model, x[t + 1:], list(head[1:]))  # the rest of the sequence, starting from them
        tail_grad_h0 = run_backward(model, grad_output[t + 1:], *[None] * len(finals))[1]
        np.testing.assert_allclose(whole[t], grad_output[t] + tail_grad_h0[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(whole[-1], grad_output[-1])  # the last step owes only its own output


def test_grad_h0_is_the_gradient_at_the_start():
    model = LSTM(2, 3, num_layers=2, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 2))
    output, _ = model(x)
    grad_x, (grad_h0, _) = model.backward(np.ones_like(output))
    assert model.grad_h0 is grad_h0 and grad_h0.shape == (2, 2, 3)
    assert len(model.grad_hidden_states) == 2 and model.grad_hidden_states[1].shape == (5, 2, 3)


def test_lstm_keeps_cell_states_for_the_views():
    model = LSTM(2, 3, bidirectional=True, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 2))
    output, (h_n, c_n) = model(x)
    cells = model.cell_states[0]
    assert cells.shape == (5, 2, 6)
    np.testing.assert_array_equal(c_n[0], cells[-1, :, :3])
    np.testing.assert_array_equal(c_n[1], cells[0, :, 3:])  # the reverse direction ends at t = 0


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_float32(cell):
    model = CELLS[cell](2, 3, bidirectional=True, rng=0, dtype=np.float32)
    outs = run(model, np.ones((4, 2, 2), dtype=np.float32), None)
    grads = run_backward(model, np.ones_like(outs[0]), *[None] * (len(outs) - 1))
    assert all(a.dtype == np.float32 for a in (*outs, *grads))


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("kwargs, message", [
    (dict(input_size=4, hidden_size=0), "hidden_size must be an integer >= 1, got 0"),
    (dict(input_size=4, hidden_size=8, num_layers=2, dropout=1.5), "dropout must be a number in [0, 1)"),
    (dict(input_size=4, hidden_size=8, batch_first=1), "batch_first must be True or False"),
])
def test_constructor_errors_name_the_layer(cell, kwargs, message):
    with pytest.raises(ValueError) as error:
        CELLS[cell](**kwargs)
    assert str(error.value).startswith(f"{cell}(") and message in str(error.value)


def test_dropout_warning_names_the_cell():
    with pytest.warns(UserWarning, match=r"^GRU\(2, 3, dropout=0.5\): dropout=0.5 has no effect with num_layers=1") as caught:
        model = GRU(2, 3, dropout=0.5)
    assert len(caught) == 1 and model.dropout == 0.5


def test_lstm_state_errors():
    model = LSTM(4, 8, num_layers=2)
    x = np.zeros((5, 2, 4))
    with pytest.raises(ValueError, match=r"hx must be a pair \(h0, c0\) or None, got ndarray"):
        model(x, np.zeros((2, 2, 8)))
    with pytest.raises(ValueError, match=r"c0 has shape \(1, 2, 8\); expected \(2, 2, 8\)"):
        model(x, (np.zeros((2, 2, 8)), np.zeros((1, 2, 8))))
    output, _ = model(x)
    with pytest.raises(ValueError, match=r"grad_c_n has shape \(2, 8\); expected \(2, 2, 8\)"):
        model.backward(np.zeros_like(output), (None, np.zeros((2, 8))))


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("config, shape", [
    (dict(), (6, 3)), (dict(batch_first=True, bidirectional=True, num_layers=2), (3, 6)), (dict(), (6,)),
])
def test_token_ids_are_their_one_hot_rows(cell, config, shape):
    """Integer ids stand for one-hot input rows: same outputs, same weight gradients, no input gradient."""
    dense = CELLS[cell](5, 4, rng=0, **config)
    sparse = CELLS[cell](5, 4, rng=0, **config)
    ids = np.random.default_rng(1).integers(0, 5, size=shape)
    ids[0] = 4  # an id seen more than once, and another never: the per-id row sums
    one_hot = np.eye(5)[ids]
    dense_out = run(dense, one_hot, None)
    sparse_out = run(sparse, ids, None)
    for a, b in zip(dense_out, sparse_out):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-14)
    grads = [np.random.default_rng(2).standard_normal(o.shape) for o in dense_out]
    run_backward(dense, *grads)
    grad_x, *_ = run_backward(sparse, *grads)
    assert grad_x is None
    for (name, p), q in zip(dense.named_parameters(), sparse.parameters()):
        np.testing.assert_allclose(q.grad, p.grad, rtol=0, atol=1e-13, err_msg=name)


def test_token_id_errors():
    model = LSTM(5, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"token ids hold 0\.\.5; expected ids in \[0, 4\] \(input_size=5\)"):
        model(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"token ids have shape \(1, 2, 1\); expected \(N, L\) or unbatched"):
        model(np.zeros((1, 2, 1), dtype=np.int64))
