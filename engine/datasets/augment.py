"""Data augmentation for image batches: random shifts, a regularizer a class can see.

The trainer applies ``random_shift`` to each minibatch; ``shift_images`` is the same move with given offsets,
for a view that shows a strip of augmented samples next to the offsets they got.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine import _checks
from engine.random import resolve_rng


def shift_images(images: np.ndarray, shifts) -> np.ndarray:
    """Each image moved by its ``(dy, dx)`` whole pixels (down and right are positive), the uncovered border
    filled with zeros: ``images`` (N, C, H, W), ``shifts`` (N, 2) ints → a new (N, C, H, W) array."""
    where = "shift_images"
    _checks.array(where, images, 4, name="images", layout="(N, C, H, W)")
    shifts = np.asarray(shifts)
    if shifts.shape != (len(images), 2) or shifts.dtype.kind not in "iu":
        raise ValueError(f"{where}: shifts must be integers of shape ({len(images)}, 2) (dy, dx per image), "
                         f"got {shifts.dtype} {shifts.shape}")
    k = int(np.abs(shifts).max()) if shifts.size else 0
    n, c, h, w = images.shape
    if k >= min(h, w):
        raise ValueError(f"{where}: a shift of {k} pixels would move a {h}×{w} image out of sight; "
                         f"expected |shift| < {min(h, w)}")
    padded = np.zeros((n, c, h + 2 * k, w + 2 * k), images.dtype)
    padded[:, :, k:k + h, k:k + w] = images
    windows = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, 2k+1, 2k+1, H, W), a view
    # Moving the image by +dy shows the window that starts dy rows above it.
    return windows[np.arange(n), :, k - shifts[:, 0], k - shifts[:, 1]]


def random_shift(images: np.ndarray, max_shift: int, rng=None) -> np.ndarray:
    """Each image of ``images`` (N, C, H, W) moved by its own random ``(dy, dx)``, each uniform in
    ``[-max_shift, max_shift]`` whole pixels; zeros fill the border. ``rng``: a Generator, an int seed, or None
    for the engine's default generator (``engine.manual_seed`` governs it, as it does dropout's masks).
    ``max_shift = 0`` returns ``images`` itself."""
    max_shift = _checks.positive_int("random_shift", "max_shift", max_shift, minimum=0)
    if max_shift == 0:
        return images
    rng = resolve_rng(rng)
    return shift_images(images, rng.integers(-max_shift, max_shift + 1, (len(images), 2)))
