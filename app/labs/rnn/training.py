"""The RNN lab's training: a SequenceModel, its optimizer and cost over a task's sequences, a minibatch at a time.

The data are batch-first; the model is fed in the layout its ``batch_first`` says (so the shapes it sees are the
shapes panel's), and its outputs are turned back for the cost. Hyperparameters are read from the settings at
every step. Nothing here knows about sockets or threads.
"""

from __future__ import annotations

import math

import numpy as np

from engine import CrossEntropyLoss, MSELoss, clip_grad_norm_
from engine.sequence import SequenceModel

from app.labs.training import Trainer as BaseTrainer, finite_in_float32

from .data import Data
from .schema import flag

EVAL_STEPS = 4096  # the metrics read about this many time steps of each split (at least EVAL_MIN sequences)
EVAL_MIN = 16


def build_model(settings: dict, data: Data, rng: np.random.Generator) -> SequenceModel:
    s = settings
    return SequenceModel(s["cell_type"], data.input_size, s["hidden_size"], data.output_size,
                         num_layers=s["num_layers"], nonlinearity=s["nonlinearity"], bias=flag(s["bias"]),
                         batch_first=flag(s["batch_first"]), dropout=s["dropout"],
                         bidirectional=flag(s["bidirectional"]), readout=data.readout, rng=rng)


class Trainer(BaseTrainer):
    """``model``, ``optimizer``, the cost, and the shuffled minibatch order over ``data``'s training sequences."""

    def __init__(self, model: SequenceModel, data: Data, settings: dict, rng: np.random.Generator):
        super().__init__(model, settings, rng)
        self.grad_norm: float | None = None  # the last step's total gradient norm, before clipping
        self.use_data(data)
        self.build_optimizer()

    def n_train(self) -> int:
        return len(self.data.x_train)

    def use_data(self, data: Data) -> None:
        """Train on ``data`` from the next step (a new epoch starts)."""
        self.data = data
        self._order = None
        self.loss_fn = CrossEntropyLoss() if data.loss == "cross_entropy" else MSELoss()

    # --- the model in its layout, the cost in the data's
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Rows of ``x_*`` (batch-first) → outputs, batch-first: (N, L, out) or (N, out) for the last step."""
        rnn = self.model.rnn
        out = self.model(self.data.inputs(x, rnn.batch_first))
        return out if rnn.batch_first or self.data.readout == "last_step" else out.transpose(1, 0, 2)

    def cost(self, output: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, dLoss/doutput): mean squared error, or cross-entropy in nats per character."""
        if self.data.loss == "cross_entropy" and output.ndim == 3:
            # torch's (N, C, L) form: the loss reads the logits in their own memory layout (time-major when the
            # model is), so neither they nor their gradient is copied into (N·L, C) rows
            loss = self.loss_fn(output.transpose(0, 2, 1), target)
            return loss, self.loss_fn.backward().transpose(0, 2, 1)
        return self.loss_fn(output, target), self.loss_fn.backward()

    def backward(self, grad: np.ndarray) -> None:
        if not self.model.rnn.batch_first and self.data.readout != "last_step":
            grad = grad.transpose(1, 0, 2)
        self.model.backward(grad)

    # --- training
    def train_step(self) -> float:
        """One minibatch: forward, cost, backward through time, clipping, update. Returns the loss (see
        app.labs.base); ``grad_norm`` is the gradient's norm before clipping."""
        s, d = self.settings, self.data
        batch = self.next_batch()
        self.model.train()
        loss, grad = self.cost(self.predict(d.x_train[batch]), d.y_train[batch])
        if not finite_in_float32(loss):  # app.labs.training: frames' float32
            return loss
        self.optimizer.zero_grad()
        self.backward(grad)
        if s["clipping"] == "norm":
            self.grad_norm = clip_grad_norm_(self.optimizer.params, s["clip_threshold"])
        else:
            flat = self.optimizer.flat
            self.grad_norm = math.sqrt(float(flat.grad @ flat.grad))
        return self.update(loss, len(batch), grad_norm=self.grad_norm)

    # --- evaluation
    def evaluate(self, split: str) -> tuple[float, float | None]:
        """(loss, accuracy) over the first EVAL_STEPS / L sequences of ``split`` (a fixed sample, so the curve is
        comparable from frame to frame); accuracy (the next character guessed right) for chars only."""
        x, y = self.data.split(split)
        count = max(EVAL_MIN, EVAL_STEPS // self.data.seq_len)
        x, y = x[:count], y[:count]
        self.model.eval()
        try:
            output = self.predict(x)
            loss, _ = self.cost(output, y)
        finally:
            self.model.train()
        accuracy = float(np.mean(output.argmax(axis=-1) == y)) if self.data.loss == "cross_entropy" else None
        return loss, accuracy
