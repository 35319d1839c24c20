"""engine.sequence: the recurrent model + readout the RNN lab trains, and sampling text at a temperature."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.datasets import char_corpus, encode_chars, sum_of_sines
from engine.gradcheck import numerical_grad
from engine.sequence import SequenceModel, one_hot, sample_text


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("readout, batch_first, bidirectional", [
    # batch-first every step: the head reads the states batch-first when its 2 outputs outweigh half the 3
    # states (one direction), time-major and transposed when not (two directions: 6)
    ("every_step", True, False), ("every_step", True, True), ("every_step", False, True), ("last_step", True, True),
    ("last_step", False, False),
])
def test_gradients_through_readout_and_cell(cell, readout, batch_first, bidirectional):
    model = SequenceModel(cell, 2, 3, 2, num_layers=2, batch_first=batch_first, bidirectional=bidirectional,
                          readout=readout, rng=0)
    data = np.random.default_rng(1)
    x = data.standard_normal((3, 4, 2))
    y = model(x)
    N, L = (3, 4) if batch_first else (4, 3)
    assert y.shape == ((N, L, 2) if batch_first else (L, N, 2)) if readout == "every_step" else (N, 2)
    weights = data.standard_normal(y.shape)
    model.zero_grad()
    model(x)
    model.backward(weights)
    for name, p in model.named_parameters():
        numeric = numerical_grad(lambda: float(np.sum(model(x) * weights)), p.data, 1e-5)
        # relative to the tensor's largest entry: reading the last step only leaves some entries so small
        # (~1e-5) that the differences' own roundoff is a relative 1e-6 of them
        assert np.abs(p.grad - numeric).max() <= 1e-6 * np.abs(numeric).max(), name


def test_state_dict_keys_are_torch_modules():
    model = SequenceModel("GRU", 4, 8, 3, bidirectional=True)
    assert list(model.state_dict()) == [
        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
        "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse",
        "head.weight", "head.bias"]
    assert model.state_dict()["head.weight"].shape == (3, 16)  # the head reads D·H_out features


def test_unbatched_input():
    model = SequenceModel("LSTM", 2, 3, 1, rng=0)
    assert model(np.zeros((5, 2))).shape == (5, 1)
    last = SequenceModel("LSTM", 2, 3, 1, readout="last_step", rng=0)
    assert last(np.zeros((5, 2))).shape == (1,)


@pytest.mark.parametrize("kwargs, message", [
    (dict(cell_type="Transformer"), "cell_type must be one of ['RNN', 'LSTM', 'GRU'], got 'Transformer'"),
    (dict(readout="mean"), "readout must be one of ['every_step', 'last_step'], got 'mean'"),
])
def test_constructor_errors(kwargs, message):
    arguments = dict(cell_type="RNN", input_size=1, hidden_size=2, output_size=1) | kwargs
    with pytest.raises(ValueError) as error:
        SequenceModel(**arguments)
    assert message in str(error.value)


def test_sum_of_sines_is_the_next_step_of_a_mean_of_sines():
    x, y = sum_of_sines(n_sequences=4, length=30, seed=0, components=3)
    assert x.shape == y.shape == (4, 30, 1)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert np.abs(x).max() <= 1.0
    single, _ = engine.datasets.sine_wave(n_sequences=4, length=30, seed=0)
    assert not np.allclose(x, single)
    with pytest.raises(ValueError, match=r"sum_of_sines: components must be an integer in \[1, 8\], got 0"):
        sum_of_sines(components=0)


# --- sampling text ------------------------------------------------------------------------------------------
def char_model(seed=0):
    x_ids, y_ids, vocabulary = encode_chars(char_corpus()[:2000], 16)
    model = SequenceModel("LSTM", len(vocabulary), 16, len(vocabulary), batch_first=True, rng=seed)
    return model, vocabulary, one_hot(x_ids, len(vocabulary)), y_ids


def test_sampling_draws_from_the_vocabulary_and_is_seeded():
    model, vocabulary, _, _ = char_model()
    text = sample_text(model, vocabulary, length=80, temperature=1.0, rng=3)
    assert len(text) == 80 and set(text) <= set(vocabulary)
    assert sample_text(model, vocabulary, length=80, temperature=1.0, rng=3) == text
    assert model.training  # restored after sampling in eval mode


def test_low_temperature_picks_the_likeliest_character():
    model, vocabulary, _, _ = char_model()
    cold = sample_text(model, vocabulary, length=40, temperature=1e-3, prime="th", rng=0)
    # the same prime and a near-zero temperature leave no choice: any generator gives the same text
    assert sample_text(model, vocabulary, length=40, temperature=1e-3, prime="th", rng=99) == cold
    hot = {sample_text(model, vocabulary, length=40, temperature=5.0, prime="th", rng=seed) for seed in range(3)}
    assert len(hot) == 3


def test_training_makes_samples_more_like_the_corpus():
    """After a few hundred Adam steps the model's loss has fallen well below the uniform log(V)."""
    model, vocabulary, x, y = char_model()
    optimizer = engine.Adam(model.parameters(), lr=0.02)
    loss_fn = engine.CrossEntropyLoss()
    V = len(vocabulary)
    losses = []
    for step in range(150):
        batch = slice((step * 16) % (len(x) - 16), (step * 16) % (len(x) - 16) + 16)
        optimizer.zero_grad()
        losses.append(loss_fn(model(x[batch]).reshape(-1, V), y[batch].reshape(-1)))
        model.backward(loss_fn.backward().reshape(16, 16, V))
        optimizer.step()
    assert losses[0] > 0.95 * np.log(V) and np.mean(losses[-10:]) < 0.8 * np.log(V), losses[::15]


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=0), "temperature must be a finite number in (0.0, 10.0], got 0"),
    (dict(temperature=11), "temperature must be a finite number in (0.0, 10.0]"),
    (dict(length=0), "length must be an integer >= 1, got 0"),
    (dict(length=10_001), "length must be an integer in [1, 10000], got 10001"),
    (dict(prime="th\u00e9"), "prime holds characters outside the vocabulary"),
])
def test_sampling_errors(kwargs, message):
    model, vocabulary, _, _ = char_model()
    with pytest.raises(ValueError) as error:
        sample_text(model, vocabulary, **kwargs)
    assert message in str(error.value)
