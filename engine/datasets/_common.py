"""Checks shared by the dataset makers: seeds and the shipped-data folder."""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"


def generator(where: str, seed) -> np.random.Generator:
    """A fresh generator from a non-negative int seed (or a Generator passed through), so the
    same seed always gives the same arrays whatever else has drawn random numbers."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{where}: seed must be a non-negative integer or a numpy.random.Generator, "
                         f"got {seed!r}")
    return np.random.default_rng(int(seed))


def size(where: str, field: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer count in [minimum, maximum]."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        allowed = f"an integer in [{minimum}, {maximum}]" if maximum is not None else f"an integer >= {minimum}"
        raise ValueError(f"{where}: {field} must be {allowed}, got {value!r}")
    return int(value)
