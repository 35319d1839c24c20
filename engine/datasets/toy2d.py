"""TF Playground's 2-D datasets, seeded, plus a 4-class set, input features and a train/test split.

The generators follow TF Playground's ``src/dataset.ts`` (Apache-2.0, re-written here for numpy):
same shapes, radii, centres and noise rules, on the plane [-6, 6]². Differences, each on purpose:

- Labels are 0..K-1 (TF uses +1/-1): class 1 is TF's positive (blue) class.
- Classes are balanced exactly. Where TF's noise flips labels (circle, xor: a point is labelled by
  where it lands after a random jitter), we draw candidates until each class has its share, so the
  jitter still blurs the boundary but never tilts the class counts.
- Gaussian points are redrawn if they fall outside [-6, 6]² (TF lets them fall off the canvas).
- Regression targets are clamped to [-1, 1] (TF's plane target can reach ±1.8 with noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from engine import _checks
from engine.datasets._common import generator, size

EXTENT = 6.0  # every point lies in [-EXTENT, EXTENT]²
MAX_NOISE = 0.5  # TF Playground's noise slider tops out at 50 %
MAX_SAMPLES = 1_000_000

DATASETS_2D: dict[str, str] = {
    "circle": "classification",
    "xor": "classification",
    "gaussian": "classification",
    "spiral": "classification",
    "multi-class": "classification",
    "plane": "regression",
    "multi-gaussian": "regression",
}

FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")

_FEATURE_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin(x1)": lambda x1, x2: np.sin(x1),
    "sin(x2)": lambda x1, x2: np.sin(x2),
}


@dataclass(frozen=True)
class Dataset2D:
    """``X`` (N, 2) float64 points; ``y`` (N,) int64 labels 0..K-1 or float64 targets in [-1, 1]."""

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" | "regression"
    num_classes: int  # 1 for regression


def _class_counts(n: int, k: int) -> list[int]:
    """n split over k classes as evenly as possible (the first n % k classes get one more)."""
    return [n // k + (c < n % k) for c in range(k)]


def _balanced(draw: Callable[[int], tuple[np.ndarray, np.ndarray]], counts: list[int]):
    """Call ``draw(m) -> (points (m, 2), labels (m,))`` until every class c has counts[c] points;
    keep the first ones of each class, in the order drawn."""
    kept: list[list[np.ndarray]] = [[] for _ in counts]
    have = [0] * len(counts)
    batch = 2 * sum(counts)
    while any(h < c for h, c in zip(have, counts)):
        points, labels = draw(batch)
        for c, need in enumerate(counts):
            if have[c] < need:
                mine = points[labels == c][: need - have[c]]
                kept[c].append(mine)
                have[c] += len(mine)
    X = np.concatenate([np.concatenate(parts) for parts in kept])
    y = np.repeat(np.arange(len(counts)), counts)
    return X, y


def _circle(counts, noise, rng):
    radius = 5.0

    def draw(m):
        # Half the candidates inside radius/2, half in the ring [0.7, 1]·radius, as TF draws them.
        r = np.concatenate([rng.uniform(0, radius * 0.5, m // 2), rng.uniform(radius * 0.7, radius, m - m // 2)])
        angle = rng.uniform(0, 2 * np.pi, m)
        points = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
        jitter = rng.uniform(-radius, radius, size=(m, 2)) * noise
        inside = np.hypot(*(points + jitter).T) < radius * 0.5
        return points, inside.astype(np.int64)

    return _balanced(draw, counts)


def _xor(counts, noise, rng):
    padding = 0.3  # keeps points off the axes, where the label is ambiguous

    def draw(m):
        points = rng.uniform(-5, 5, size=(m, 2))
        points += np.where(points > 0, padding, -padding)
        jitter = rng.uniform(-5, 5, size=(m, 2)) * noise
        same_sign = np.prod(points + jitter, axis=1) >= 0
        return points, same_sign.astype(np.int64)

    return _balanced(draw, counts)


def _truncated_gaussian(rng, centre, std, n) -> np.ndarray:
    """n points around ``centre``, redrawn until all lie in [-EXTENT, EXTENT]²."""
    points = rng.normal(centre, std, size=(n, 2))
    outside = np.abs(points).max(axis=1) > EXTENT
    while outside.any():
        points[outside] = rng.normal(centre, std, size=(int(outside.sum()), 2))
        outside = np.abs(points).max(axis=1) > EXTENT
    return points


def _blob_std(noise: float) -> float:
    # TF maps noise 0 → 0.5 onto variance 0.5 → 4.
    variance = 0.5 + (4.0 - 0.5) * noise / MAX_NOISE
    return float(np.sqrt(variance))


def _gaussian(counts, noise, rng):
    std = _blob_std(noise)
    centres = [(-2.0, -2.0), (2.0, 2.0)]  # class 0 (TF's negative), class 1
    X = np.concatenate([_truncated_gaussian(rng, centre, std, n) for centre, n in zip(centres, counts)])
    return X, np.repeat(np.arange(2), counts)


def _multi_class(counts, noise, rng):
    std = _blob_std(noise)
    centres = [(3.0, 3.0), (-3.0, 3.0), (-3.0, -3.0), (3.0, -3.0)]  # one per quadrant, counter-clockwise
    X = np.concatenate([_truncated_gaussian(rng, centre, std, n) for centre, n in zip(centres, counts)])
    return X, np.repeat(np.arange(4), counts)


def _spiral(counts, noise, rng):
    arms = []
    for delta_t, n in ((np.pi, counts[0]), (0.0, counts[1])):  # class 1 is TF's positive arm (delta 0)
        i = np.arange(n) / n
        r = 5.0 * i
        t = 1.75 * i * 2 * np.pi + delta_t
        jitter = rng.uniform(-1, 1, size=(n, 2)) * noise
        arms.append(np.column_stack([r * np.sin(t), r * np.cos(t)]) + jitter)
    return np.concatenate(arms), np.repeat(np.arange(2), counts)


def _plane(n, noise, rng):
    X = rng.uniform(-EXTENT, EXTENT, size=(n, 2))
    jitter = rng.uniform(-EXTENT, EXTENT, size=(n, 2)) * noise
    # TF's scale maps x1 + x2 in [-10, 10] onto [-1, 1]; clamp the corners (and the noise) to [-1, 1].
    y = np.clip((X + jitter).sum(axis=1) / 10.0, -1.0, 1.0)
    return X, y


_MULTI_GAUSSIAN_CENTRES = np.array([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5]])
_MULTI_GAUSSIAN_SIGNS = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])


def _multi_gaussian(n, noise, rng):
    X = rng.uniform(-EXTENT, EXTENT, size=(n, 2))
    jitter = rng.uniform(-EXTENT, EXTENT, size=(n, 2)) * noise
    noisy = X + jitter
    # Each bump falls linearly from ±1 at its centre to 0 at distance 2; the target is the bump
    # largest in absolute value (TF's getLabel).
    dist = np.linalg.norm(noisy[:, None, :] - _MULTI_GAUSSIAN_CENTRES[None], axis=2)  # (N, 6)
    bumps = _MULTI_GAUSSIAN_SIGNS * np.clip(1.0 - dist / 2.0, 0.0, 1.0)
    strongest = np.abs(bumps).argmax(axis=1)
    return X, bumps[np.arange(n), strongest]


_CLASSIFIERS = {"circle": (_circle, 2), "xor": (_xor, 2), "gaussian": (_gaussian, 2),
                "spiral": (_spiral, 2), "multi-class": (_multi_class, 4)}
_REGRESSORS = {"plane": _plane, "multi-gaussian": _multi_gaussian}


def make_2d(name: str, n_samples: int = 500, noise: float = 0.0, seed=0) -> Dataset2D:
    """One of ``DATASETS_2D``: ``X`` (N, 2) float64 in [-6, 6]², ``y`` (N,) int64 classes or float64
    targets in [-1, 1]. ``noise`` in [0, 0.5] as TF Playground's 0–50 %. Same seed → same arrays;
    rows come shuffled."""
    where = "make_2d"
    if name not in DATASETS_2D:
        raise ValueError(f"{where}: name must be one of {', '.join(map(repr, DATASETS_2D))}, got {name!r}")
    noise = _checks.real(where, "noise", noise, 0.0, MAX_NOISE)
    rng = generator(where, seed)
    if name in _CLASSIFIERS:
        make, num_classes = _CLASSIFIERS[name]
        n = size(where, "n_samples", n_samples, minimum=max(2, num_classes), maximum=MAX_SAMPLES)
        X, y = make(_class_counts(n, num_classes), noise, rng)
        y = y.astype(np.int64)
    else:
        num_classes = 1
        n = size(where, "n_samples", n_samples, minimum=2, maximum=MAX_SAMPLES)
        X, y = _REGRESSORS[name](n, noise, rng)
    order = rng.permutation(n)
    return Dataset2D(name=name, X=np.ascontiguousarray(X[order], dtype=np.float64), y=y[order],
                     task=DATASETS_2D[name], num_classes=num_classes)


def featurize(X: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """Input features of TF Playground from points ``X`` (N, 2): returns (N, F), one column per
    name in ``features`` (a subset of ``FEATURES``, in the order given)."""
    where = "featurize"
    X = _checks.array(where, X, 2, last_dim=2, name="X", layout="(N, 2)")
    if isinstance(features, str):
        features = (features,)
    features = tuple(features)
    if not features:
        raise ValueError(f"{where}: features must name at least one of {', '.join(FEATURES)}, got none")
    for name in features:
        if name not in _FEATURE_FUNCTIONS:
            raise ValueError(f"{where}: unknown feature {name!r}; allowed: {', '.join(FEATURES)}")
    if len(set(features)) != len(features):
        raise ValueError(f"{where}: features must not repeat, got {list(features)}")
    x1, x2 = X[:, 0], X[:, 1]
    return np.column_stack([_FEATURE_FUNCTIONS[name](x1, x2) for name in features]).astype(np.float64, copy=False)


def train_test_split(X: np.ndarray, y: np.ndarray, train_fraction: float = 0.5, seed=0):
    """Shuffle the rows of ``X`` (N, ...) and ``y`` (N, ...) together and cut them: returns
    ``(X_train, y_train, X_test, y_test)`` with round(N · train_fraction) training rows."""
    where = "train_test_split"
    if not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray) or X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{where}: X and y must be numpy arrays with a first (sample) dimension, "
                         f"got {type(X).__name__} and {type(y).__name__}")
    if len(X) != len(y):
        raise ValueError(f"{where}: X has {len(X)} rows but y has {len(y)}; expected the same number")
    n = len(X)
    fraction = _checks.real(where, "train_fraction", train_fraction, 0.0, 1.0, low_open=True)
    n_train = int(round(n * fraction))
    if fraction >= 1.0 or not 1 <= n_train <= n - 1:
        raise ValueError(f"{where}: train_fraction must be in (0, 1) and leave both splits non-empty "
                         f"for {n} samples, got {train_fraction!r} ({n_train} train, {n - n_train} test)")
    order = generator(where, seed).permutation(n)
    train, test = order[:n_train], order[n_train:]
    return X[train], y[train], X[test], y[test]
