"""It learns: the course's four networks reach their targets in a few seconds each."""

import numpy as np
import pytest

import engine
from engine.builders import mlp
from engine.datasets import load_digits, make_2d, sine_wave, train_test_split

pytestmark = pytest.mark.slow


def fit(model, optimizer, loss_fn, x, y, steps, batch_size, seed=0):
    """Minibatch training for ``steps`` steps; returns the last loss."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.integers(0, len(x), batch_size)
        optimizer.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        model.backward(loss_fn.backward())
        optimizer.step()
    return loss


def accuracy(model, x, y) -> float:
    model.eval()
    try:
        return float((model(x).argmax(axis=1) == y).mean())
    finally:
        model.train()


def digits_split():
    images, labels = load_digits()
    return train_test_split(images, labels, train_fraction=0.8, seed=0)


def test_spiral_with_two_hidden_layers_of_eight_tanh():
    data = make_2d("spiral", n_samples=500, noise=0.0, seed=0)
    model = mlp([2, 8, 8, 2], activation="tanh", rng=0)  # raw x1, x2: no extra features
    optimizer = engine.Adam(model.parameters(), lr=0.03)
    fit(model, optimizer, engine.CrossEntropyLoss(), data.X, data.y, steps=4000, batch_size=32)
    assert accuracy(model, data.X, data.y) >= 0.95


def test_mlp_64_16_16_10_on_8x8_digits():
    x_train, y_train, x_test, y_test = digits_split()
    flat_train, flat_test = x_train.reshape(len(x_train), 64), x_test.reshape(len(x_test), 64)
    model = mlp([64, 16, 16, 10], activation="tanh", rng=0)
    optimizer = engine.Adam(model.parameters(), lr=0.01)
    fit(model, optimizer, engine.CrossEntropyLoss(), flat_train, y_train, steps=1500, batch_size=32)
    assert accuracy(model, flat_test, y_test) >= 0.90


def test_small_cnn_on_8x8_digits():
    x_train, y_train, x_test, y_test = digits_split()
    engine.manual_seed(0)
    model = engine.Sequential(
        engine.Conv2d(1, 8, kernel_size=3, padding=1), engine.ReLU(), engine.MaxPool2d(2),  # (N, 8, 4, 4)
        engine.Flatten(), engine.Linear(8 * 4 * 4, 10),
    )
    optimizer = engine.Adam(model.parameters(), lr=0.01)
    fit(model, optimizer, engine.CrossEntropyLoss(), x_train[:, None], y_train, steps=600, batch_size=32)
    assert accuracy(model, x_test[:, None], y_test) >= 0.90


def test_rnn_predicts_the_next_sine_step():
    x, y = sine_wave(n_sequences=64, length=30, seed=0)
    engine.manual_seed(0)
    rnn, head = engine.RNN(1, 16, batch_first=True), engine.Linear(16, 1)
    optimizer = engine.Adam(list(rnn.parameters()) + list(head.parameters()), lr=0.01)
    loss_fn = engine.MSELoss()
    for _ in range(600):
        optimizer.zero_grad()
        output, _ = rnn(x)
        loss = loss_fn(head(output), y)
        rnn.backward(head.backward(loss_fn.backward()))
        optimizer.step()
    x_new, y_new = sine_wave(n_sequences=32, length=30, seed=1)
    output, _ = rnn(x_new)
    # the first steps have too little history to know the phase; judge from step 5 on
    error = engine.MSELoss()(head(output)[:, 5:], y_new[:, 5:])
    assert error < 0.005, error  # the wave's own variance is 0.5


def test_a_cnn_on_a_small_training_set_overfits_and_dropout_narrows_the_gap():
    """The seed notes: "CNNs have a habit of overfitting, even with pooling layers. Dropout should be used."

    50 training digits, the same steps, three seeds: without dropout the network learns the training set by heart
    (train loss ≈ 0) and its test loss is far higher; with Dropout(0.5) after pooling and after the dense layer
    the test-minus-train loss gap is clearly smaller, in the mean and for every seed.
    """
    images, labels = load_digits()

    def gap(p, seed):
        x_train, y_train, x_test, y_test = train_test_split(images[:, None], labels, train_fraction=0.5, seed=seed)
        x_train, y_train = x_train[:50], y_train[:50]
        engine.manual_seed(seed)  # dropout's masks
        model = engine.builders.sequential(
            [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
             {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Dropout", "p": p},
             {"type": "Linear", "out_features": 256}, {"type": "ReLU"}, {"type": "Dropout", "p": p},
             {"type": "Linear", "out_features": 10}], (1, 8, 8), rng=seed)
        loss_fn = engine.CrossEntropyLoss()
        fit(model, engine.Adam(model.parameters(), lr=0.01), loss_fn, x_train, y_train, steps=300, batch_size=20,
            seed=seed)
        model.eval()
        return loss_fn(model(x_test), y_test) - loss_fn(model(x_train), y_train)

    without = [gap(0.0, seed) for seed in range(3)]
    with_dropout = [gap(0.5, seed) for seed in range(3)]
    assert np.mean(without) > 1.2 * np.mean(with_dropout), (without, with_dropout)
    assert min(without) > max(with_dropout), (without, with_dropout)
