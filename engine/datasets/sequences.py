"""Sequence tasks for the RNN: sine-wave (and sum-of-sines) next-step prediction, the adding problem, character text.

Arrays are batch-first, ``(N, L, features)``: pass ``batch_first=True`` to ``RNN``.
"""

from __future__ import annotations

import functools

import numpy as np

from engine.datasets._common import DATA_DIR, generator, size

SINE_PERIOD_RANGE = (8.0, 40.0)  # steps per cycle, drawn per sequence
CORPUS_FILE = "devils_dictionary.txt"
MAX_LENGTH = 100_000
MAX_SEQUENCES = 1_000_000
MAX_COMPONENTS = 8


def sine_wave(n_sequences: int = 64, length: int = 50, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Next-step prediction on sines of random phase and period (``SINE_PERIOD_RANGE`` steps):
    ``x`` (N, L, 1) and ``y`` (N, L, 1) float64 in [-1, 1], where ``y[:, t] == x[:, t + 1]``."""
    return _waves("sine_wave", n_sequences, length, seed, components=1)


def sum_of_sines(n_sequences: int = 64, length: int = 50, seed=0, components: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """As ``sine_wave``, but each sequence is the mean of ``components`` sines of random period and phase
    (a wave that only repeats after many steps, so the network must track several phases at once)."""
    components = size("sum_of_sines", "components", components, maximum=MAX_COMPONENTS)
    return _waves("sum_of_sines", n_sequences, length, seed, components)


def _waves(where: str, n_sequences, length, seed, components: int) -> tuple[np.ndarray, np.ndarray]:
    n = size(where, "n_sequences", n_sequences, maximum=MAX_SEQUENCES)
    length = size(where, "length", length, maximum=MAX_LENGTH)
    rng = generator(where, seed)
    shortest, longest = SINE_PERIOD_RANGE
    omega = rng.uniform(2 * np.pi / longest, 2 * np.pi / shortest, size=(n, 1, components))  # radians per step
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, components))
    steps = np.arange(length + 1)[None, :, None]
    wave = np.sin(omega * steps + phase).mean(axis=2)  # one step longer: y is x moved one ahead
    return wave[:, :-1, None].copy(), wave[:, 1:, None].copy()


def adding_problem(n_sequences: int = 256, length: int = 50, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Hochreiter & Schmidhuber's adding problem: ``x`` (N, L, 2) float64 where ``x[:, :, 0]`` is
    uniform in [0, 1) and ``x[:, :, 1]`` is 1 at exactly two positions (one in each half, so the
    network must remember across L/2 steps) and 0 elsewhere; ``y`` (N, 1) = the sum of the two
    marked values, in [0, 2)."""
    where = "adding_problem"
    n = size(where, "n_sequences", n_sequences, maximum=MAX_SEQUENCES)
    length = size(where, "length", length, minimum=2, maximum=MAX_LENGTH)
    rng = generator(where, seed)
    values = rng.uniform(0.0, 1.0, size=(n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2)
    y = (values[rows, first] + values[rows, second])[:, None]
    return x, y


@functools.lru_cache(maxsize=1)
def char_corpus() -> str:
    """A public-domain English text shipped with the project (about 33 KB of Ambrose Bierce's
    *The Devil's Dictionary*, 1911; see ``data/LICENSES.md``)."""
    return (DATA_DIR / CORPUS_FILE).read_text(encoding="utf-8")


def encode_chars(text: str, seq_len: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Cut ``text`` into N = (len(text) − 1) // seq_len consecutive windows for next-character
    prediction: ``x_ids`` (N, L) and ``y_ids`` (N, L) int64 indices into ``vocabulary`` (the sorted
    distinct characters of ``text``), with ``y_ids[:, t]`` the character after ``x_ids[:, t]``."""
    where = "encode_chars"
    if not isinstance(text, str):
        raise ValueError(f"{where}: text must be a str, got {type(text).__name__}")
    seq_len = size(where, "seq_len", seq_len)
    if len(text) < seq_len + 1:
        raise ValueError(f"{where}: text has {len(text)} characters; seq_len={seq_len} needs at least "
                         f"{seq_len + 1} (one window plus the character after it)")
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    alphabet, ids = np.unique(codes, return_inverse=True)
    ids = ids.astype(np.int64).reshape(-1)
    n = (len(text) - 1) // seq_len
    x_ids = ids[: n * seq_len].reshape(n, seq_len)
    y_ids = ids[1: n * seq_len + 1].reshape(n, seq_len)
    vocabulary = "".join(map(chr, alphabet.tolist()))
    return x_ids, y_ids, vocabulary
