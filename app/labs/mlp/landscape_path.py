"""Descent's path on the loss landscape: where the two chosen weights have been, kept at a bounded size, and the
half-widths that show it (the surface itself is engine.landscape)."""

from __future__ import annotations

import numbers

import numpy as np

from engine.landscape import default_span, nice_ceil


class LandscapePath:
    """Where the two weights have been: (step, w1, w2) rows, at most ``capacity`` (+ the newest).

    When full, every other row is dropped and from then on only every ``stride``-th recorded row is kept
    (the stride doubles each time), so the whole run stays drawn at a bounded size; the first row and the
    newest point (``current``) are always kept. ``clear`` when the weights shown change (another pair,
    reset, a new network).
    """

    def __init__(self, capacity: int = 500):
        if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral) or capacity < 4:
            raise ValueError(f"LandscapePath: capacity is {capacity!r}; allowed: an integer ≥ 4")
        self.capacity = capacity
        self.clear()

    def clear(self) -> None:
        self.rows: list[tuple[int, float, float]] = []
        self.stride = 1
        self._skipped = 0
        self.current: tuple[int, float, float] | None = None

    def record(self, step: int, w1: float, w2: float) -> None:
        """Note the weights' values after ``step``; a call with nothing new (same step and values) is ignored."""
        row = (int(step), float(w1), float(w2))
        if row == self.current:
            return
        self.current = row
        self._skipped += 1
        if self.rows and self._skipped < self.stride:
            return
        self._skipped = 0
        self.rows.append(row)
        if len(self.rows) > self.capacity:
            self.rows = self.rows[::2]
            self.stride *= 2

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps (n,) int64, values (n, 2)) oldest first, ending at the current point."""
        rows = list(self.rows)
        if self.current is not None and (not rows or rows[-1] != self.current):
            rows.append(self.current)
        table = np.array(rows, dtype=np.float64).reshape(-1, 3)
        return table[:, 0].astype(np.int64), table[:, 1:]

    def reach(self, centre: np.ndarray) -> np.ndarray:
        """(2,) the farthest the path has been from ``centre`` along each weight (0 when empty)."""
        _, values = self.arrays()
        finite = values[np.all(np.isfinite(values), axis=1)]
        return np.abs(finite - centre).max(axis=0) if len(finite) else np.zeros(2)


def spans_with_path(centre: np.ndarray, path: LandscapePath) -> np.ndarray:
    """Half-widths that show the weights' surroundings and (up to MAX_SPAN) the path they took to get there:
    max(default_span(w), 1.1 × the path's reach), rounded up to a nice step."""
    reach = path.reach(centre)
    return np.array([nice_ceil(max(default_span(c), 1.1 * r)) for c, r in zip(centre, reach)])
