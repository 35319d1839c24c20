"""What every lab's trainer shares: the optimizer from the settings, the shuffled minibatch order, and the checks
around an update that app.labs.base.Lab's divergence handling reads.

A lab's trainer subclasses ``Trainer`` and writes ``train_step`` as: ``batch = self.next_batch()``, its forward,
cost and backward (return the loss at once when it is not finite), its penalties, then
``return self.update(loss, len(batch))``. Hyperparameters are read from the lab's settings at every step, so a
control applied between two steps takes effect at the next one. Nothing here knows about sockets or threads.
"""

from __future__ import annotations

import math

import numpy as np

from engine import SGD, Adam

FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite_in_float32(values) -> bool:
    """Whether every value (a number or an array) is finite in float32 — the precision of the frames the page
    draws and of model files. The one divergence rule: the page's runs, `nnplayground lessons --check` and search
    trials all stop at the step where a loss, a gradient or a weight leaves float32's range, not float64's.

    One dot product when the numbers are sane (‖v‖ ≤ float32's largest means every |v_i| is); the exact test
    (rounding to float32, as a frame does) only past that."""
    values = np.asarray(values, dtype=np.float64).ravel()
    with np.errstate(over="ignore", invalid="ignore"):
        square = float(values @ values)
        if square <= FLOAT32_MAX ** 2:
            return True
        return bool(np.isfinite(values.astype(np.float32)).all())


class Trainer:
    """``model`` (an engine Module), its ``optimizer`` (settings: optimizer, learning_rate, momentum) and the
    minibatch order over ``n_train()`` examples (settings: batch_size)."""

    def __init__(self, model, settings: dict, rng: np.random.Generator):
        self.model = model
        self.settings = settings  # the lab's dict: read afresh at every step
        self.rng = rng
        self.step = 0
        self.epoch = 0
        self.optimizer = None
        self.blew_up: str | None = None  # "gradient" or "weights": what the last step found non-finite
        self._order = None

    def n_train(self) -> int:
        """How many training examples an epoch goes through."""
        raise NotImplementedError

    # --- the optimizer
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

    # --- a step
    def next_batch(self) -> np.ndarray:
        """The indices of the next minibatch (a new shuffle at each epoch's start); clears ``blew_up``."""
        self.blew_up = None
        n = self.n_train()
        if self._order is None:
            self._order = self.rng.permutation(n)
            self._cursor = 0
        return self._order[self._cursor:self._cursor + min(self.settings["batch_size"], n)]

    def update(self, loss: float, batch_size: int, grad_norm: float | None = None) -> float:
        """The optimizer's step after the gradients are in; returns ``loss``.

        A gradient not finite in float32 makes no update (``blew_up = "gradient"``); weights that leave float32's
        range in the update set ``blew_up = "weights"`` (the update is done: the step counts). finite_in_float32:
        one dot product each while the numbers are sane. ``grad_norm``: the gradient's norm when the caller has it
        already (e.g. from clipping), saving the first one while it is within float32's range."""
        flat = self.optimizer.flat
        if not (grad_norm is not None and grad_norm <= FLOAT32_MAX) and not finite_in_float32(flat.grad):
            self.blew_up = "gradient"
            return loss
        self.optimizer.step()
        if not finite_in_float32(flat.data):
            self.blew_up = "weights"
        self.step += 1
        self._cursor += batch_size
        if self._cursor >= self.n_train():
            self.epoch += 1
            self._order = None
        return loss

    def steps_left_in_epoch(self) -> int:
        n = self.n_train()
        if not n:  # a drawn dataset with no training point yet: nothing to step through
            return 0
        b = min(self.settings["batch_size"], n)
        done = 0 if self._order is None else self._cursor
        return max(1, math.ceil((n - done) / b))

    def parameters_finite(self) -> bool:
        """Every weight and bias finite as float32, the precision of frames and model files."""
        return finite_in_float32(self.optimizer.flat.data)
