"""One session's training: the network, its optimizer and cost over the data, a minibatch at a time.

Hyperparameters are read from the session's settings at every step, so a control applied between two
steps takes effect at the next one. Nothing here knows about sockets or threads.
"""

from __future__ import annotations

import math

import numpy as np

from engine import CrossEntropyLoss, MSELoss, clip_grad_norm_, clip_grad_value_, regularization

from app.labs.training import Trainer as BaseTrainer, finite_in_float32

from . import network
from .data import Data, output_layout, predicted_classes, targets


class Trainer(BaseTrainer):
    """``model`` (an engine Sequential), ``optimizer``, the cost, and the shuffled minibatch order."""

    def __init__(self, model, data: Data, settings: dict, rng: np.random.Generator):
        super().__init__(model, settings, rng)
        self.use_data(data)
        self.build_optimizer()

    def n_train(self) -> int:
        return len(self.data.X_train)

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
        s, d = self.settings, self.data
        batch = self.next_batch()
        self.model.train()
        output = self.model(d.X_train[batch])
        loss, grad = self.cost(output, self.T_train[batch])
        if not finite_in_float32(loss):  # app.labs.training: frames' float32
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
        return self.update(loss, len(batch))

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
