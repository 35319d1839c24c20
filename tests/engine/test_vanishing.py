"""The phenomenon the RNN lab shows, asserted: on the adding problem a tanh RNN learns at a short length and
fails at a long one in the same number of steps, because the gradient reaching the first steps vanishes; the
LSTM learns at that long length."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.datasets import adding_problem
from engine.sequence import SequenceModel

SHORT, LONG = 10, 40
STEPS = 800
# predicting the mean, 1, scores the variance of a sum of two U(0, 1): 1/6
BASELINE = 1 / 6


def train(cell: str, length: int, seed: int = 0) -> tuple[float, SequenceModel]:
    """Test MSE after STEPS Adam steps on batches of 32, hidden 16, the answer read at the last step."""
    x, y = adding_problem(n_sequences=4096, length=length, seed=seed)
    x_test, y_test = adding_problem(n_sequences=512, length=length, seed=seed + 1000)
    model = SequenceModel(cell, 2, 16, 1, batch_first=True, readout="last_step", rng=seed)
    optimizer = engine.Adam(model.parameters(), lr=0.02)
    loss_fn = engine.MSELoss()
    batches = np.random.default_rng(seed)
    for _ in range(STEPS):
        idx = batches.integers(0, len(x), 32)
        optimizer.zero_grad()
        loss_fn(model(x[idx]), y[idx])
        model.backward(loss_fn.backward())
        optimizer.step()
    model.eval()
    return loss_fn(model(x_test), y_test), model


def gradient_through_time(model: SequenceModel, length: int) -> np.ndarray:
    """‖dLoss/dh_t‖ averaged over a batch, for t = 0 (h_0) … L: how much each step still matters."""
    x, y = adding_problem(n_sequences=64, length=length, seed=7)
    loss_fn = engine.MSELoss()
    model.zero_grad()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    per_step = np.linalg.norm(model.rnn.grad_hidden_states[0], axis=2).mean(axis=1)  # (L,)
    at_h0 = np.linalg.norm(model.rnn.grad_h0[0], axis=1).mean()
    return np.concatenate([[at_h0], per_step])


@pytest.mark.slow
def test_tanh_rnn_learns_short_fails_long_and_its_gradient_vanishes():
    short_error, _ = train("RNN", SHORT)
    long_error, long_model = train("RNN", LONG)
    assert short_error < 0.3 * BASELINE, short_error
    assert long_error > 0.8 * BASELINE, long_error
    gradient = gradient_through_time(long_model, LONG)
    assert gradient[0] < 1e-3 * gradient[-1], gradient  # h_0 gets orders of magnitude less than h_L


@pytest.mark.slow
def test_lstm_learns_at_the_long_length():
    error, model = train("LSTM", LONG)
    assert error < 0.3 * BASELINE, error
    gradient = gradient_through_time(model, LONG)
    # a trained LSTM still sends the loss's gradient to the first half's marked step
    assert gradient[LONG // 4] > 1e-3 * gradient[-1], gradient
