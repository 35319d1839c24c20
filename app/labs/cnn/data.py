"""The CNN lab's data: images as ``(N, C, H, W)``, split into train and test, the training set cut to a size.

2-D data is ``(w, h)`` points; a grey image is ``(1, H, W)``; a colour image is ``(3, H, W)`` with red, green
and blue. ``mnist`` is the shipped 5,000-image subset, or full MNIST (60,000 + 10,000, its own split) when
the server was started with ``--mnist DIR`` (config ``MNIST_DIR``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from engine import datasets

from ..mnist import full_mnist

SHAPES_SAMPLES = 1800
SHAPES_SIDE = 16


@dataclass
class ImageData:
    """``X_*`` (N, C, H, W) float32 in [0, 1] (the lab trains in float32, as torch does); ``y_*`` (N,) int64 classes; ``classes`` their names."""

    name: str
    classes: tuple[str, ...]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    full_train: int  # the training split's size before train_size cut it

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.X_train.shape[1:])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return (self.X_train, self.y_train) if name == "train" else (self.X_test, self.y_test)


def _frozen(*arrays):
    for array in arrays:
        array.setflags(write=False)
    return arrays


@functools.lru_cache(maxsize=4)
def _images(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    if name == "shapes":
        made = datasets.make_color_shapes(SHAPES_SAMPLES, SHAPES_SIDE, seed=0)
        return (*_frozen(made.images.astype(np.float32), made.labels), tuple(made.classes))
    images, labels = datasets.load_digits() if name == "digits" else datasets.load_mnist_subset()
    return (*_frozen(images[:, None].astype(np.float32), labels), tuple(str(d) for d in range(10)))


@functools.lru_cache(maxsize=1)
def _full_mnist(folder: str) -> tuple[np.ndarray, ...]:
    """The full set (app.labs.mnist) as this lab trains on it: (N, 1, 28, 28) float32."""
    X_train, y_train, X_test, y_test = full_mnist(folder)
    return _frozen(X_train.reshape(-1, 1, 28, 28).astype(np.float32), y_train,
                   X_test.reshape(-1, 1, 28, 28).astype(np.float32), y_test)


def load(settings: dict, mnist_dir: str | None = None) -> ImageData:
    """The data ``settings`` ask for (dataset, train_fraction, train_size, seed)."""
    name, seed = settings["dataset"], settings["seed"]
    if name == "mnist" and mnist_dir:
        X_train, y_train, X_test, y_test = _full_mnist(str(mnist_dir))
        classes = tuple(str(d) for d in range(10))
    else:
        images, labels, classes = _images(name)
        X_train, y_train, X_test, y_test = datasets.train_test_split(images, labels, settings["train_fraction"],
                                                                     seed=seed)
    full = len(X_train)
    size = settings["train_size"]
    if size:
        X_train, y_train = X_train[:size], y_train[:size]
    return ImageData(name, classes, X_train, y_train, X_test, y_test, full)
