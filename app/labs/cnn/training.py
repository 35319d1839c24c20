"""The CNN lab's training: the network, its optimizer and the cross-entropy over the images, a minibatch at a time.

Hyperparameters are read from the lab's settings at every step, so a control applied between two steps takes
effect at the next one. Each minibatch is shifted at random by up to ``augment_shift`` pixels
(engine.datasets.random_shift). Nothing here knows about sockets or threads.
"""

from __future__ import annotations

import math

import numpy as np

from engine import SGD, Adam, Conv2d, CrossEntropyLoss, Linear, regularization
from engine.datasets import random_shift

from .data import ImageData

EVAL_BATCH = 500  # images per forward pass when evaluating (bounded memory for full MNIST)
TRAIN_EVAL_SAMPLE = 500  # the training loss and accuracy are measured on at most this many training images


def weights(model) -> list:
    """The weights the L2 penalty applies to (not the biases)."""
    return [m.weight for m in model if isinstance(m, (Conv2d, Linear))]


class Trainer:
    """``model`` (an engine Sequential), ``optimizer``, the cost, and the shuffled minibatch order."""

    def __init__(self, model, data: ImageData, settings: dict, rng: np.random.Generator):
        self.model = model
        self.settings = settings  # the lab's dict: read afresh at every step
        self.rng = rng
        self.loss_fn = CrossEntropyLoss()
        self.step = 0
        self.epoch = 0
        self.blew_up: str | None = None
        self.last_batch: np.ndarray | None = None  # the last minibatch as trained on (augmented), for the strip
        self.use_data(data)
        self.build_optimizer()

    def use_data(self, data: ImageData) -> None:
        """Train on ``data`` from the next step (a new epoch starts)."""
        self.data = data
        self._order = None
        n = len(data.X_train)
        sample = np.random.default_rng(0).permutation(n)[:TRAIN_EVAL_SAMPLE] if n > TRAIN_EVAL_SAMPLE else None
        self._train_sample = sample

    def build_optimizer(self) -> None:
        s = self.settings
        params = list(self.model.parameters())
        if s["optimizer"] == "adam":
            self.optimizer = Adam(params, lr=s["learning_rate"])
        else:
            self.optimizer = SGD(params, lr=s["learning_rate"], momentum=s["momentum"] if s["optimizer"] == "momentum"
                                 else 0.0)
        self.optimizer_kind = "adam" if s["optimizer"] == "adam" else "sgd"

    def sync_optimizer(self) -> None:
        """Apply the settings' optimizer kind, learning rate and momentum (rebuilding only for a new kind)."""
        s = self.settings
        if ("adam" if s["optimizer"] == "adam" else "sgd") != self.optimizer_kind:
            self.build_optimizer()
            return
        self.optimizer.lr = s["learning_rate"]
        if self.optimizer_kind == "sgd":
            self.optimizer.momentum = s["momentum"] if s["optimizer"] == "momentum" else 0.0

    def train_step(self) -> float:
        """One minibatch: augment, forward, cost, backward, L2, update. Returns the loss (see app.labs.base)."""
        self.blew_up = None
        s, d = self.settings, self.data
        n = len(d.X_train)
        if self._order is None:
            self._order = self.rng.permutation(n)
            self._cursor = 0
        batch = self._order[self._cursor:self._cursor + min(s["batch_size"], n)]
        images = random_shift(d.X_train[batch], s["augment_shift"], self.rng)
        self.last_batch = images
        self.model.train()
        loss = self.loss_fn(self.model(images), d.y_train[batch])
        if not math.isfinite(loss):
            return loss
        self.optimizer.zero_grad()
        self.model.backward(self.loss_fn.backward(), input_grad=False)  # the images need no gradient
        if s["l2"] > 0:
            regularization.l2_(weights(self.model), s["l2"])
        flat = self.optimizer.flat
        if not math.isfinite(float(flat.grad @ flat.grad)):
            self.blew_up = "gradient"
            return loss
        self.optimizer.step()
        if not math.isfinite(float(flat.data @ flat.data)):
            self.blew_up = "weights"
        self.step += 1
        self._cursor += len(batch)
        if self._cursor >= n:
            self.epoch += 1
            self._order = None
        return loss

    def steps_left_in_epoch(self) -> int:
        n = len(self.data.X_train)
        b = min(self.settings["batch_size"], n)
        done = 0 if self._order is None else self._cursor
        return max(1, math.ceil((n - done) / b))

    def evaluate(self, split: str) -> tuple[float, float, np.ndarray]:
        """(loss, accuracy, predicted classes) over a split (the training split's fixed sample of at most
        TRAIN_EVAL_SAMPLE images), in eval mode (no dropout), batch by batch."""
        X, y = self.data.split(split)
        if split == "train" and self._train_sample is not None:
            X, y = X[self._train_sample], y[self._train_sample]
        self.model.eval()
        try:
            logits = np.concatenate([self.model(X[i:i + EVAL_BATCH]) for i in range(0, len(X), EVAL_BATCH)])
        finally:
            self.model.train()
        loss = float(CrossEntropyLoss()(logits, y))
        predicted = logits.argmax(axis=1)
        return loss, float(np.mean(predicted == y)), predicted

    def parameters_finite(self) -> bool:
        return bool(np.isfinite(self.optimizer.flat.data).all())
