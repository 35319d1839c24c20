"""The CNN lab's training: the network, its optimizer and the cross-entropy over the images, a minibatch at a time.

Hyperparameters are read from the lab's settings at every step, so a control applied between two steps takes
effect at the next one. Each minibatch is shifted at random by up to ``augment_shift`` pixels
(engine.datasets.random_shift). Nothing here knows about sockets or threads.
"""

from __future__ import annotations


import numpy as np

from engine import Conv2d, CrossEntropyLoss, Linear, regularization
from engine.datasets import random_shift

from app.labs.training import Trainer as BaseTrainer, finite_in_float32

from .data import ImageData

EVAL_BATCH = 500  # images per forward pass when evaluating (bounded memory for full MNIST)
TRAIN_EVAL_SAMPLE = 500  # the training loss and accuracy are measured on at most this many training images


def weights(model) -> list:
    """The weights the L2 penalty applies to (not the biases)."""
    return [m.weight for m in model if isinstance(m, (Conv2d, Linear))]


class Trainer(BaseTrainer):
    """``model`` (an engine Sequential), ``optimizer``, the cost, and the shuffled minibatch order."""

    def __init__(self, model, data: ImageData, settings: dict, rng: np.random.Generator):
        super().__init__(model, settings, rng)
        self.loss_fn = CrossEntropyLoss()
        self.last_batch: np.ndarray | None = None  # the last minibatch as trained on (augmented), for the strip
        self.use_data(data)
        self.build_optimizer()

    def n_train(self) -> int:
        return len(self.data.X_train)

    def use_data(self, data: ImageData) -> None:
        """Train on ``data`` from the next step (a new epoch starts)."""
        self.data = data
        self._order = None
        n = len(data.X_train)
        sample = np.random.default_rng(0).permutation(n)[:TRAIN_EVAL_SAMPLE] if n > TRAIN_EVAL_SAMPLE else None
        self._train_sample = sample

    def train_step(self) -> float:
        """One minibatch: augment, forward, cost, backward, L2, update. Returns the loss (see app.labs.base)."""
        s, d = self.settings, self.data
        batch = self.next_batch()
        images = random_shift(d.X_train[batch], s["augment_shift"], self.rng)
        self.last_batch = images
        self.model.train()
        loss = self.loss_fn(self.model(images), d.y_train[batch])
        if not finite_in_float32(loss):  # app.labs.training: frames' float32
            return loss
        self.optimizer.zero_grad()
        self.model.backward(self.loss_fn.backward(), input_grad=False)  # no gradient for the images
        if s["l2"] > 0:
            regularization.l2_(weights(self.model), s["l2"])
        return self.update(loss, len(batch))

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The images and labels an evaluation of ``split`` uses (the training split's fixed sample of at most
        TRAIN_EVAL_SAMPLE images)."""
        X, y = self.data.split(split)
        if split == "train" and self._train_sample is not None:
            X, y = X[self._train_sample], y[self._train_sample]
        return X, y

    def evaluate(self, split: str) -> tuple[float, float, np.ndarray]:
        return evaluate(self.model, *self.split(split))



def evaluate(model, X: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(loss, accuracy, predicted classes) of ``model`` on images ``X`` (N, C, H, W) with labels ``y``, in eval mode
    (no dropout), batch by batch."""
    model.eval()
    try:
        logits = np.concatenate([model(X[i:i + EVAL_BATCH]) for i in range(0, len(X), EVAL_BATCH)])
    finally:
        model.train()
    loss = float(CrossEntropyLoss()(logits, y))
    predicted = logits.argmax(axis=1)
    return loss, float(np.mean(predicted == y)), predicted
