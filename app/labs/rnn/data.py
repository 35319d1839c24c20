"""The RNN lab's tasks as train/test sequences, batch-first ``(N, L, features)``, from engine.datasets.

sine / sum_of_sines: next-step prediction of a wave, a target at every step (squared error).
adding: the adding problem, one target at the last step (squared error).
chars: next-character prediction on the shipped corpus, one-hot inputs, a class at every step (cross-entropy in
nats per character); the text's last tenth is the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import datasets

N_TRAIN = {"sine": 512, "sum_of_sines": 512, "adding": 2048}
N_TEST = {"sine": 128, "sum_of_sines": 128, "adding": 256}
TEST_FRACTION_CHARS = 0.1


@dataclass
class Data:
    """``x_*`` (N, L, H_in) float64 inputs (for chars: character ids (N, L), read as one-hot rows); ``y_*`` targets:
    (N, L, 1) floats (waves), (N, 1) floats (adding) or (N, L) class ids (chars)."""

    task: str
    seq_len: int
    input_size: int
    output_size: int
    readout: str  # "every_step" or "last_step"
    loss: str  # "mse" or "cross_entropy"
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    vocabulary: str | None = None

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return (self.x_train, self.y_train) if name == "train" else (self.x_test, self.y_test)

    def inputs(self, x: np.ndarray, batch_first: bool = True) -> np.ndarray:
        """Network inputs for rows of ``x_*`` in the model's layout: the waves' and adding problem's values
        (N, L, H_in), or the characters' ids (N, L), which the engine reads as their one-hot rows (N, L, V)."""
        if batch_first:
            return x
        return x.T if x.ndim == 2 else x.transpose(1, 0, 2)


def load(task: str, seq_len: int, seed: int) -> Data:
    if task in ("sine", "sum_of_sines"):
        make = datasets.sine_wave if task == "sine" else datasets.sum_of_sines
        x_train, y_train = make(n_sequences=N_TRAIN[task], length=seq_len, seed=seed)
        x_test, y_test = make(n_sequences=N_TEST[task], length=seq_len, seed=seed + 1)
        return Data(task, seq_len, 1, 1, "every_step", "mse", x_train, y_train, x_test, y_test)
    if task == "adding":
        x_train, y_train = datasets.adding_problem(n_sequences=N_TRAIN[task], length=seq_len, seed=seed)
        x_test, y_test = datasets.adding_problem(n_sequences=N_TEST[task], length=seq_len, seed=seed + 1)
        return Data(task, seq_len, 2, 1, "last_step", "mse", x_train, y_train, x_test, y_test)
    text = datasets.char_corpus()
    x_ids, y_ids, vocabulary = datasets.encode_chars(text, seq_len)
    n_test = max(1, int(round(len(x_ids) * TEST_FRACTION_CHARS)))
    V = len(vocabulary)
    return Data(task, seq_len, V, V, "every_step", "cross_entropy", x_ids[:-n_test], y_ids[:-n_test],
                x_ids[-n_test:], y_ids[-n_test:], vocabulary)
