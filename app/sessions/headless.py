"""Labs without sockets: build one from settings, train it whole epochs, evaluate it — what a page's session does,
with nobody watching. Hyperparameter search trials (app.search) and lesson checks run this way.

Settings go through the lab's own schema (the `set` event's validation, then ``apply_settings``), so a value the
page would refuse is refused here with the same ControlError; the model is then built fresh from those settings
(the same settings and seed give the same run, exactly as a page's fresh session would).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.labs import DEFAULT_LAB
from app.labs.base import Lab
from app.server.config import DEFAULT_CONFIG
from app.server.messages import validate

from .session import Session


@dataclass(frozen=True)
class Evaluation:
    """A whole split through the model: mean ``loss``; ``accuracy`` in [0, 1], or None (regression)."""

    loss: float
    accuracy: float | None


@dataclass(frozen=True)
class EpochResult:
    """One epoch: its number (1 after the first), the mean minibatch loss over it, the test split's evaluation."""

    epoch: int
    train_loss: float
    test: Evaluation


def build_lab(lab: str = DEFAULT_LAB, settings: dict | None = None, config: dict | None = None) -> Lab:
    """A lab ``lab`` with ``settings`` (any subset of its controls) applied and a fresh model built from them.

    ControlError (a ValueError naming the field) for a setting the lab's schema refuses."""
    session = Session("headless", {**DEFAULT_CONFIG, **(config or {})}, lab=lab)
    lab_obj = session.lab
    if settings:
        message = validate("set", (dict(settings),), lab_obj.event_models())
        lab_obj.apply_settings(message.model_dump(exclude_unset=True))
    lab_obj.build()  # fresh weights from the settings and seed, whatever the live edits above kept
    return lab_obj


def evaluate(lab: Lab, split: str = "test") -> Evaluation:
    """The whole ``split`` ("train" or "test") through the model, in evaluation mode."""
    with np.errstate(all="ignore"):
        result = lab.trainer.evaluate(split)
    return Evaluation(float(result[0]), None if result[1] is None else float(result[1]))


def train_epochs(lab: Lab, epochs: int,
                 on_epoch: Callable[[EpochResult], None] | None = None) -> list[EpochResult]:
    """Train ``lab`` ``epochs`` more whole epochs, evaluating the test split after each (``on_epoch`` gets each
    result as it comes; it may raise to stop early). Stops at a divergence: ``lab.status`` is then "diverged" and
    ``lab.divergence["message"]`` says why (as the page shows it). Returns the epochs trained."""
    results = []
    trainer = lab.trainer
    for _ in range(epochs):
        end = trainer.epoch + 1
        losses = []
        with np.errstate(all="ignore"):
            while trainer.epoch < end:
                if lab._run_steps(1) == 0 and lab.status != "diverged":
                    break  # nothing to learn from (an empty drawn dataset)
                if lab.status == "diverged":
                    return results
                losses.append(lab.batch_loss)
        if not losses:
            return results
        result = EpochResult(trainer.epoch, float(np.mean(losses)), evaluate(lab))
        results.append(result)
        if on_epoch is not None:
            on_epoch(result)
    return results
