"""A session's data: the dataset split into train and test, as network inputs and as cost targets.

The 2-D sets are TF Playground's 500 points; the image sets are flattened to one input per pixel.
How labels become targets depends on the cost (see docs/protocol.md, "Costs, targets and outputs").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from engine import datasets

from ..mnist import MNIST_FILES, full_mnist  # noqa: F401  (MNIST_FILES: the names, for tests)
from .points import Points
from .schema import DATASETS_CUSTOM, is_image, task_of

N_POINTS_2D = 500  # TF Playground's dataset size
EXTENT = (-6.0, 6.0)  # the input plane of every 2-D dataset


@dataclass
class Data:
    """Train/test split of one dataset. ``X_*`` (N, F) float64 network inputs; ``y_*`` (N,) labels (int64)
    or regression targets (float64); ``points_*`` (N, 2) raw (x1, x2) for 2-D sets, None for images."""

    name: str
    task: str
    num_classes: int
    feature_names: list[str]
    image_shape: tuple[int, int] | None
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    points_train: np.ndarray | None
    points_test: np.ndarray | None

    @property
    def input_kind(self) -> str:
        return "image" if self.image_shape else "points"

    @property
    def input_width(self) -> int:
        return self.X_train.shape[1]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return (self.X_train, self.y_train) if name == "train" else (self.X_test, self.y_test)


@functools.lru_cache(maxsize=None)
def _images(name: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = datasets.load_digits() if name == "digits" else datasets.load_mnist_subset()
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


SUBSET_NOTE = ("MNIST here is the shipped 5,000-image subset (500 per digit, split by the training ratio): "
               "784-16-16-10 peaks at about 91 % test accuracy. On the full 60,000/10,000 set it reaches about "
               "95 %, as in the videos: get it with nnplayground fetch-mnist DIR, then start the server with "
               "nnplayground --mnist DIR.")
FULL_NOTE = ("MNIST here is the full set from {dir}: 60,000 training and 10,000 test images, MNIST's own split "
             "(the training ratio does not apply). 784-16-16-10 reaches about 95 % test accuracy here in about 10 "
             "epochs.")


def load(settings: dict, points: Points | None = None, mnist_dir: str | None = None) -> Data:
    """The data ``settings`` ask for (dataset, noise, train_fraction, features, seed); for the custom dataset,
    ``points`` (none yet: an empty set of the settings' problem), which may have fewer than two rows; "mnist" is
    the full set in ``mnist_dir`` when given (MNIST's own split), else the shipped subset."""
    name, seed, fraction = settings["dataset"], settings["seed"], settings["train_fraction"]
    if name == "mnist" and mnist_dir is not None:
        X_train, y_train, X_test, y_test = full_mnist(str(mnist_dir))
        return Data(name, "classification", 10, ["pixel"], (28, 28), X_train, y_train, X_test, y_test, None, None)
    if name in DATASETS_CUSTOM:
        points = points if points is not None else Points.empty(settings["problem"])
        train, test = points.split(fraction, seed)
        features = list(settings["features"])
        return Data(name, points.task, points.num_classes, features, None,
                    points.features(train, features), points.y[train], points.features(test, features),
                    points.y[test], points.X[train], points.X[test])
    if is_image(name):
        images, labels = _images(name)
        n, h, w = images.shape
        X_train, y_train, X_test, y_test = datasets.train_test_split(images.reshape(n, h * w), labels,
                                                                     fraction, seed=seed)
        return Data(name, "classification", 10, ["pixel"], (h, w), X_train, y_train, X_test, y_test, None, None)
    data = datasets.make_2d(name, N_POINTS_2D, noise=settings["noise"], seed=seed)
    p_train, y_train, p_test, y_test = datasets.train_test_split(data.X, data.y, fraction, seed=seed)
    features = list(settings["features"])
    return Data(name, task_of(name), data.num_classes, features, None,
                datasets.featurize(p_train, features), y_train, datasets.featurize(p_test, features), y_test,
                p_train, p_test)


def note(name: str, mnist_dir: str | None) -> str | None:
    """What the page says about a dataset's source and the accuracy to expect (None: nothing to say)."""
    if name != "mnist":
        return None
    return FULL_NOTE.format(dir=mnist_dir) if mnist_dir is not None else SUBSET_NOTE


def output_layout(task: str, num_classes: int, loss: str) -> tuple[int, str]:
    """(output width, output activation name) for a problem and cost.

    "softmax" means linear logits with the softmax inside the cross-entropy cost.
    """
    if task == "regression":
        return 1, "linear"
    if loss == "cross_entropy":
        return max(2, num_classes), "softmax"
    if num_classes == 2:
        return 1, "tanh"  # TF Playground: one tanh output, targets ±1
    return num_classes, "sigmoid"  # 3Blue1Brown: one sigmoid per class, one-hot targets


def targets(y: np.ndarray, task: str, num_classes: int, loss: str) -> np.ndarray:
    """Labels → what the cost compares the output with: (N,) int64 classes for cross-entropy,
    else (N, C) float64 (±1 for one tanh output, one-hot for several, the value for regression)."""
    if task == "regression":
        return y.astype(np.float64).reshape(-1, 1)
    if loss == "cross_entropy":
        return y.astype(np.int64)
    if num_classes == 2:
        return np.where(y == 1, 1.0, -1.0).reshape(-1, 1)
    return np.eye(num_classes)[y]


def predicted_classes(output: np.ndarray) -> np.ndarray:
    """Network outputs (N, C) → predicted classes (N,): the sign for one output, else the argmax."""
    if output.shape[1] == 1:
        return (output[:, 0] > 0).astype(np.int64)
    return output.argmax(axis=1)


def grid_points(resolution: int) -> np.ndarray:
    """(resolution², 2) points over the plane, row-major with y outer (engine.inspect.make_grid)."""
    from engine.inspect import make_grid

    return make_grid(resolution, EXTENT)
