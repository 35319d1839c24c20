"""Small previews of every dataset for the page's picker thumbnails, sent once in the ``schema`` event.

2-D sets: a seeded sample of their points (noise 0) with labels; image sets: one example digit. Computed
once per process: the data never change.
"""

from __future__ import annotations

import functools

import numpy as np

from engine import datasets

PREVIEW_POINTS = 120


@functools.lru_cache(maxsize=1)
def dataset_previews() -> dict[str, dict]:
    """``{name: {"x": [[x1, x2], ...], "y": [...]}}`` for 2-D sets, ``{name: {"shape": [H, W],
    "pixels": [0..255 row-major]}}`` for image sets; numbers rounded to keep the schema small."""
    previews: dict[str, dict] = {}
    for name in datasets.DATASETS_2D:
        data = datasets.make_2d(name, n_samples=PREVIEW_POINTS, noise=0.0, seed=0)
        previews[name] = {"x": np.round(data.X, 2).tolist(), "y": np.round(data.y.astype(float), 2).tolist()}
    # custom: the user's own points; its thumbnail is a few hand-placed dots of three classes until it is drawn
    previews["custom"] = {"x": [[-4, 3], [-3, 4], [-2.5, 2.5], [3, 3.5], [4, 2], [2.5, 2], [0, -3], [1, -4],
                                [-1, -4.5], [-1.5, -2.5]],
                          "y": [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]}
    for name, loader in (("digits", datasets.load_digits), ("mnist", datasets.load_mnist_subset)):
        images, labels = loader()
        example = images[int(np.flatnonzero(labels == 3)[0])]  # a 3, as in the videos
        previews[name] = {"shape": list(example.shape),
                          "pixels": np.round(example * 255).astype(int).ravel().tolist()}
    return previews
