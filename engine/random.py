"""Seeded randomness. Every random draw in the engine comes from a ``numpy.random.Generator``.

Modules take ``rng=None``; ``None`` means the engine's default generator, which ``manual_seed``
resets (as ``torch.manual_seed`` does), so the same seed gives the same run.
"""

from __future__ import annotations

import numpy as np

_default = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator to ``seed`` and return it."""
    global _default
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _default = np.random.default_rng(int(seed))
    return _default


def default_rng() -> np.random.Generator:
    return _default


def resolve_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """``None`` → the default generator; an int → a new generator seeded with it."""
    if rng is None:
        return _default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
