"""One session's training: the network, its optimizer and cost over the data, a minibatch at a time.

Hyperparameters are read from the session's settings at every step, so a control applied between two
steps takes effect at the next one. Nothing here knows about sockets or threads.
"""

from __future__ import annotations

import math

import numpy as np

from engine import SGD, Adam, CrossEntropyLoss, MSELoss, clip_grad_norm_, clip_grad_value_, regularization

from . import network
from .data import Data, output_layout, predicted_classes, targets


class Trainer:
    """``model`` (an engine Sequential), ``optimizer``, the cost, and the shuffled minibatch order."""

    def __init__(self, model, data: Data, settings: dict, rng: np.random.Generator):
        self.model = model
        self.settings = settings  # the session's dict: read afresh at every step
        self.rng = rng
        self.step = 0
        self.epoch = 0
        self.optimizer = None
        self.blew_up: str | None = None  # "gradient" or "weights": what the last step found non-finite
        self.use_data(data)
        self.build_optimizer()

    # --- configuration
    def use_data(self, data: Data) -> None:
        """Train on ``data`` from the next step (a new epoch starts)."""
        self.data = data
        self._order = None
        self.use_loss()

    def use_loss(self) -> None:
        """Cost and targets for the current settings' loss."""
        d, loss = self.data, self.settings["loss"]
        self.output_width, self.output_activation = output_layout(d.task, d.num_classes, loss)
        # The cost in force: cross-entropy exactly when the outputs are softmax logits.
        self.cost_name = "cross_entropy" if self.output_activation == "softmax" else "mse"
        self.loss_fn = CrossEntropyLoss() if self.cost_name == "cross_entropy" else MSELoss(reduction="sum")
        self.T_train = targets(d.y_train, d.task, d.num_classes, loss)
        self.T_test = targets(d.y_test, d.task, d.num_classes, loss)

    def build_optimizer(self) -> None:
        """A fresh optimizer (fresh state) of the settings' kind over the model's parameters."""
        s = self.settings
        params = list(self.model.parameters())
        if s["optimizer"] == "adam":
            self.optimizer = Adam(params, lr=s["learning_rate"])
        else:
            momentum = s["momentum"] if s["optimizer"] == "momentum" else 0.0
            self.optimizer = SGD(params, lr=s["learning_rate"], momentum=momentum)
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

    # --- the cost
    def cost(self, output: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, dLoss/doutput) averaged over the N rows; mse sums over the outputs (3Blue1Brown's C)."""
        loss = self.loss_fn(output, target)
        grad = self.loss_fn.backward()
        if self.output_activation != "softmax":  # MSELoss(reduction="sum"): per-example mean by hand
            n = len(output)
            loss /= n
            grad /= n
        return loss, grad

    # --- training
    def train_step(self) -> float:
        """One minibatch: forward, cost, backward, regularization, clipping, update. Returns the loss.

        A NaN or infinite loss returns before any gradient or weight changes (the caller pauses). So does a
        non-finite gradient (``blew_up = "gradient"``, no update). Weights that overflow in the update set
        ``blew_up = "weights"`` (the update is done: the step counts). A bounded output (tanh, sigmoid) keeps
        the loss finite while the weights run off, hence the checks beyond the loss.
        """
        self.blew_up = None
        s, d = self.settings, self.data
        n = len(d.X_train)
        if self._order is None:
            self._order = self.rng.permutation(n)
            self._cursor = 0
        batch = self._order[self._cursor:self._cursor + min(s["batch_size"], n)]
        self.model.train()
        output = self.model(d.X_train[batch])
        loss, grad = self.cost(output, self.T_train[batch])
        if not math.isfinite(loss):
            return loss
        self.optimizer.zero_grad()
        self.model.backward(grad)
        if s["regularization"] != "none" and s["regularization_rate"] > 0:
            penalty = regularization.l1_ if s["regularization"] == "l1" else regularization.l2_
            penalty(network.weights(self.model), s["regularization_rate"])
        if s["clipping"] == "norm":
            clip_grad_norm_(self.optimizer.params, s["clip_threshold"])
        elif s["clipping"] == "value":
            clip_grad_value_(self.optimizer.params, s["clip_threshold"])
        flat = self.optimizer.flat
        if not math.isfinite(float(flat.grad @ flat.grad)):  # one dot: cheap, and overflows only when absurd
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
        n, b = len(self.data.X_train), min(self.settings["batch_size"], len(self.data.X_train))
        if not n:
            return 0
        done = 0 if self._order is None else self._cursor
        return max(1, math.ceil((n - done) / b))

    # --- evaluation
    def evaluate(self, split: str) -> tuple[float, float | None, np.ndarray]:
        """(loss, accuracy or None for regression, predicted classes or outputs) over a whole split."""
        X, y = self.data.split(split)
        T = self.T_train if split == "train" else self.T_test
        if not len(X):  # a drawn dataset with no point in this split yet
            return math.nan, None, np.zeros(0, np.int64 if self.data.task == "classification" else np.float64)
        self.model.eval()
        try:
            output = self.model(X)
            loss, _ = self.cost(output, T)
        finally:
            self.model.train()
        if self.data.task == "regression":
            return loss, None, output[:, 0]
        predicted = predicted_classes(output)
        return loss, float(np.mean(predicted == y)), predicted

    def parameters_finite(self) -> bool:
        """Every weight and bias finite as float32, the precision of frames and model files."""
        with np.errstate(over="ignore"):
            return bool(np.isfinite(self.optimizer.flat.data.astype(np.float32)).all())
