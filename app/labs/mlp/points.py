"""The user's own 2-D data — drawn on the plane or uploaded as CSV — behind the `custom` dataset.

``Points`` is immutable: every edit returns a new set, so a refused edit changes nothing. The split into
train and test is stable as points come and go: each point draws a fixed key from its coordinates and the
seed, and the ``round(N · train_fraction)`` points with the smallest keys train — adding a point moves at
most one other across the split, so the network trains on the points live as they appear.

A small set also travels in a link (``?points=``): ``c<K>.<base64url>`` (classification with K classes) or
``r.<base64url>`` (regression) of int16 coordinates in thousandths, then uint8 labels or int16 values in
ten-thousandths. Drawn points are rounded to those steps when added, so their link is exact.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import numpy as np

from engine.datasets import PointsTable, featurize, read_points_csv, write_points_csv
from engine.datasets.csv_points import MAX_CLASSES, MAX_ROWS, MIN_CLASSES

EXTENT = 6.0
MAX_POINTS = MAX_ROWS  # drawn or uploaded, the same cap
MAX_POINTS_PER_MESSAGE = 500  # an add_points or remove_points event (a painted stroke is sent in pieces)
MAX_LINK_CHARS = 2_000  # a link's points parameter; bigger sets are shared as a saved model file
COORDINATE_STEP = 1e-3
VALUE_STEP = 1e-4
LINK = re.compile(r"^(?:c([2-6])|r)\.([A-Za-z0-9_-]*)$")


@dataclass(frozen=True)
class Points:
    """``X`` (N, 2) float64 in [-6, 6]²; ``y`` (N,) int64 classes (classification) or float64 values in
    [-1, 1] (regression); ``class_names`` one name per class (at least 2; empty for regression); ``note`` a
    sentence about how the data came in (e.g. rescaled), or None."""

    task: str
    class_names: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    note: str | None = None

    def __len__(self) -> int:
        return len(self.X)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.task == "classification" else 1

    # --- making one
    @classmethod
    def empty(cls, task: str) -> "Points":
        names = default_names(MIN_CLASSES) if task == "classification" else ()
        return cls(task, names, np.zeros((0, 2)), np.zeros(0, np.int64 if task == "classification" else np.float64))

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, task: str, num_classes: int) -> "Points":
        """A copy of generated data (the points of both splits), to draw on."""
        names = default_names(num_classes) if task == "classification" else ()
        return cls(task, names, np.array(X, dtype=np.float64), np.array(y))

    @classmethod
    def from_table(cls, table: PointsTable) -> "Points":
        return cls(table.task, tuple(table.class_names), table.X, table.y, table.rescaled)

    @classmethod
    def checked(cls, task, class_names: list, X: np.ndarray, y: np.ndarray) -> "Points":
        """Points from a saved model file, every field checked; ValueError says what is wrong."""
        if task not in ("classification", "regression"):
            raise ValueError(f'task must be "classification" or "regression", got {task!r}')
        X = np.asarray(X)
        y = np.asarray(y)
        if X.dtype.kind not in "fiu" or y.dtype.kind not in "fiu" or X.ndim != 2 or X.shape[1:] != (2,) \
                or y.shape != (len(X),):
            raise ValueError(f"x must be (N, 2) numbers and y (N,) numbers, got {X.shape} and {y.shape}")
        if len(X) > MAX_POINTS:
            raise ValueError(f"{len(X)} points; at most {MAX_POINTS}")
        if not (np.isfinite(X).all() and np.isfinite(y).all()) or np.abs(X).max(initial=0) > EXTENT:
            raise ValueError("x must be finite numbers in [-6, 6] and y finite numbers")
        if task == "regression":
            if np.abs(y).max(initial=0) > 1:
                raise ValueError("regression values must lie in [-1, 1]")
            return cls(task, (), X.astype(np.float64), y.astype(np.float64))
        names = tuple(class_names)
        if not MIN_CLASSES <= len(names) <= MAX_CLASSES or not all(isinstance(n, str) and 0 < len(n) <= 64
                                                                   for n in names):
            raise ValueError(f"class_names must be {MIN_CLASSES} to {MAX_CLASSES} names, got {list(names)!r}")
        if len(y) and (y.min() < 0 or y.max() >= len(names) or not np.array_equal(y, np.round(y))):
            raise ValueError(f"classification labels must be integers in [0, {len(names) - 1}]")
        return cls(task, names, X.astype(np.float64), y.astype(np.int64))

    @classmethod
    def from_csv(cls, data) -> "Points":
        """Parse an upload (engine.datasets.read_points_csv: CSVError names the line and column)."""
        return cls.from_table(read_points_csv(data))

    # --- edits (each returns a new set)
    def added(self, points: list, label: int | None = None, value: float | None = None) -> "Points":
        """These (x1, x2) with class ``label`` (classification, 0..5: a new class widens the set's classes) or
        ``value`` (regression). The caller has checked the label/value kind and the total size."""
        xy = np.round(np.asarray(points, dtype=np.float64) / COORDINATE_STEP) * COORDINATE_STEP
        xy = np.clip(xy, -EXTENT, EXTENT).reshape(-1, 2)
        if self.task == "classification":
            names = self.class_names + default_names(label + 1)[len(self.class_names):]
            new_y = np.full(len(xy), label, dtype=np.int64)
        else:
            names = ()
            new_y = np.full(len(xy), round(value / VALUE_STEP) * VALUE_STEP, dtype=np.float64)
        return Points(self.task, names, np.concatenate([self.X, xy]), np.concatenate([self.y, new_y]))

    def removed(self, at: list, radius: float) -> tuple["Points", int]:
        """Without every point within ``radius`` of any of ``at``; (the new set, how many went)."""
        centres = np.asarray(at, dtype=np.float64).reshape(-1, 2)
        if not len(self):
            return self, 0
        keep = np.ones(len(self), dtype=bool)
        squared = (self.X ** 2).sum(axis=1)[:, None]
        for start in range(0, len(centres), 64):  # |x − c|² = |x|² + |c|² − 2 x·c, 64 centres (N, 64) at a time
            chunk = centres[start:start + 64]
            distance2 = squared + (chunk ** 2).sum(axis=1)[None] - 2 * self.X @ chunk.T
            keep &= (distance2 > radius * radius).all(axis=1)
        gone = int(len(self) - keep.sum())
        return Points(self.task, self.class_names, self.X[keep], self.y[keep], self.note), gone

    # --- what the network gets
    def split(self, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(train indices, test indices), each ascending: the ``round(N · fraction)`` points with the smallest
        keys train (at least one when N ≥ 1, and at least one tests when N ≥ 2)."""
        n = len(self)
        n_train = n if n < 2 else min(n - 1, max(1, int(round(n * fraction))))
        order = np.argsort(split_keys(self.X, seed), kind="stable")
        return np.sort(order[:n_train]), np.sort(order[n_train:])

    def features(self, indices: np.ndarray, names: list[str]) -> np.ndarray:
        """(len(indices), F) network inputs; (0, F) for none."""
        if not len(indices):
            return np.zeros((0, len(names)))
        return featurize(self.X[indices], names)

    # --- out
    def csv(self) -> str:
        return write_points_csv(self.X, self.y, self.task, self.class_names or None)

    def link(self) -> str | None:
        """The set as a link parameter, or None when it is longer than MAX_LINK_CHARS."""
        if 6 * len(self) > MAX_LINK_CHARS:  # at least 5 bytes, so ~6.7 characters, a point
            return None
        coordinates = np.round(self.X / COORDINATE_STEP).astype("<i2").tobytes()
        if self.task == "classification":
            head, tail = f"c{self.num_classes}", self.y.astype("u1").tobytes()
        else:
            head, tail = "r", np.round(self.y / VALUE_STEP).astype("<i2").tobytes()
        text = f"{head}.{base64.urlsafe_b64encode(coordinates + tail).decode('ascii').rstrip('=')}"
        return text if len(text) <= MAX_LINK_CHARS else None

    @classmethod
    def from_link(cls, text: str) -> "Points":
        """Decode ``link()``'s text; ValueError saying what is wrong."""
        match = LINK.match(text) if isinstance(text, str) and len(text) <= MAX_LINK_CHARS else None
        if match is None:
            raise ValueError(f"a link's points: c<2-6>.<base64url> or r.<base64url>, at most {MAX_LINK_CHARS} "
                             "characters")
        body = match.group(2)
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("a link's points: the text after the dot is not base64url") from None
        task = "classification" if match.group(1) else "regression"
        per_point = 5 if task == "classification" else 6
        if len(raw) % per_point:
            raise ValueError(f"a link's points: {len(raw)} bytes is not a whole number of {per_point}-byte points")
        n = len(raw) // per_point
        X = np.frombuffer(raw[:4 * n], dtype="<i2").reshape(n, 2) * COORDINATE_STEP
        if np.abs(X).max(initial=0) > EXTENT:
            raise ValueError("a link's points: coordinates outside [-6, 6]")
        if task == "regression":
            y = np.frombuffer(raw[4 * n:], dtype="<i2") * VALUE_STEP
            if np.abs(y).max(initial=0) > 1:
                raise ValueError("a link's points: values outside [-1, 1]")
            return cls(task, (), X.astype(np.float64), y.astype(np.float64))
        k = int(match.group(1))
        y = np.frombuffer(raw[4 * n:], dtype="u1").astype(np.int64)
        if y.max(initial=0) >= k:
            raise ValueError(f"a link's points: a class {int(y.max())} for {k} classes")
        return cls(task, default_names(k), X.astype(np.float64), y)


def default_names(k: int) -> tuple[str, ...]:
    """Class names of drawn data: "0", "1", … (the page shows each class by its colour)."""
    return tuple(str(c) for c in range(min(k, MAX_CLASSES)))


def split_keys(X: np.ndarray, seed: int) -> np.ndarray:
    """(N,) uint64 keys, a fixed hash (splitmix64) of each point's coordinates and the seed: the same point
    always gets the same key, whatever other points come or go."""
    bits = np.ascontiguousarray(X, dtype=np.float64).view(np.uint64).reshape(-1, 2)
    with np.errstate(over="ignore"):
        z = bits[:, 0] * np.uint64(0x9E3779B97F4A7C15) ^ bits[:, 1] ^ np.uint64(seed * 0xD1B54A32D192ED03 % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))
