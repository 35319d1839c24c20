"""engine.rnn_shapes: the shapes panel's numbers and symbols, against torch.nn's documented formulas always
and against torch itself where it is installed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.gru import GRU
from engine.lstm import LSTM
from engine.rnn import RNN
from engine.rnn_shapes import BATCH_FIRST_NOTE, rnn_shapes

CELLS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
COMBINATIONS = list(itertools.product(CELLS, [1, 2], [False, True], [False, True], [True, False]))


def rows(shapes, which):
    return {r.name: r for r in getattr(shapes, which)}


@pytest.mark.parametrize("cell, num_layers, bidirectional, batch_first, bias", COMBINATIONS)
def test_documented_formulas(cell, num_layers, bidirectional, batch_first, bias):
    rnn = CELLS[cell](3, 16, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                      bias=bias)
    L, N, D, G = 50, 32, 2 if bidirectional else 1, rnn.gate_count
    shapes = rnn_shapes(rnn, seq_len=L, batch_size=N)
    tensors = rows(shapes, "tensors")
    assert tensors["input"].shape == ((N, L, 3) if batch_first else (L, N, 3))
    assert tensors["output"].shape == ((N, L, D * 16) if batch_first else (L, N, D * 16))
    assert tensors["input"].symbols == ("(N, L, H_in)" if batch_first else "(L, N, H_in)")
    state_names = ["h_0", "h_n"] + (["c_0", "c_n"] if cell == "LSTM" else [])
    for name in state_names:  # batch_first never applies to the states
        assert tensors[name].shape == (D * num_layers, N, 16) and tensors[name].symbols == "(D·num_layers, N, H_out)"
    assert list(tensors) == ["input", "h_0"] + (["c_0"] if cell == "LSTM" else []) + ["output", "h_n"] + \
        (["c_n"] if cell == "LSTM" else [])
    params = rows(shapes, "parameters")
    assert list(params) == [n for n, _ in rnn.named_parameters()]
    gates = "" if G == 1 else f"{G}·"
    assert params["weight_ih_l0"].shape == (G * 16, 3) and params["weight_ih_l0"].symbols == f"({gates}H_out, H_in)"
    assert params["weight_hh_l0"].symbols == f"({gates}H_out, H_out)"
    if num_layers == 2:
        assert params["weight_ih_l1"].shape == (G * 16, D * 16)
        assert params["weight_ih_l1"].symbols == f"({gates}H_out, D·H_out)"
    if bias:
        assert params["bias_hh_l0"].shape == (G * 16,) and params["bias_hh_l0"].symbols == f"({gates}H_out,)"
    if bidirectional:
        assert "weight_hh_l0_reverse" in params
    per_direction = G * 16 * (3 + 16 + (2 if bias else 0)) + (num_layers - 1) * G * 16 * (D * 16 + 16 + (2 if bias else 0))
    assert shapes.total == D * per_direction == rnn.num_parameters()
    assert BATCH_FIRST_NOTE in shapes.notes
    assert shapes.symbols == {"L": 50, "N": 32, "H_in": 3, "H_out": 16, "D": D, "num_layers": num_layers}


@pytest.mark.parametrize("cell, num_layers, bidirectional, batch_first, bias", COMBINATIONS)
def test_shapes_are_what_torch_gives(cell, num_layers, bidirectional, batch_first, bias):
    torch = pytest.importorskip("torch")
    config = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    theirs = getattr(torch.nn, cell)(3, 5, **config)
    shapes = rnn_shapes(CELLS[cell](3, 5, **config), seq_len=7, batch_size=4)
    tensors = rows(shapes, "tensors")
    output, states = theirs(torch.zeros(tensors["input"].shape))
    states = states if isinstance(states, tuple) else (states,)
    assert tuple(output.shape) == tensors["output"].shape
    assert [tuple(s.shape) for s in states] == [tensors[n].shape for n in ("h_n", "c_n") if n in tensors]
    assert [(r.name, r.shape) for r in shapes.parameters] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert shapes.total == sum(p.numel() for p in theirs.parameters())


def test_dropout_on_one_layer_is_noted():
    with pytest.warns(UserWarning):
        rnn = RNN(2, 4, dropout=0.2)
    assert any("dropout=0.2 has no effect with num_layers=1" in note for note in rnn_shapes(rnn, 5, 2).notes)
    assert len(rnn_shapes(RNN(2, 4, num_layers=2, dropout=0.2), 5, 2).notes) == 1


def test_bad_sizes():
    with pytest.raises(ValueError, match="rnn_shapes: seq_len must be an integer >= 1, got 0"):
        rnn_shapes(RNN(2, 4), 0, 2)
    assert np.isscalar(rnn_shapes(RNN(2, 4), 1, 1).total)
