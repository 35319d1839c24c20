"""What every lab is: a model family a session hosts — its controls, its build step, its training run, its frames.

A lab subclasses ``Lab`` (docs/labs.md). The session (app.sessions.session) holds one instance per lab it has
opened and shows one at a time; the scheduler trains the shown one through ``train_slice``. Every method that
changes a lab is called with the session's lock held (``session.controlled()``) and validates everything
before it mutates anything, raising ``ControlError``: a refused control leaves the lab exactly as it was.

What the shared run logic here expects of a lab (set by its ``build``): ``self.trainer`` with ``train_step()``
(returns the minibatch loss; sets ``blew_up`` to "gradient" or "weights" when those stop being finite),
``step``, ``epoch``, ``steps_left_in_epoch()``, ``parameters_finite()`` and ``optimizer.flat`` (data, grad);
``self.settings["learning_rate"]`` and ``["speed"]``.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from app.labs.training import finite_in_float32
from app.server.bundle import Frame
from app.server.controls import Control, default_settings, limits_payload
from app.server.errors import ControlError
from app.server.messages import COMMON_EVENTS, Message, settings_model

MAX_OWED_SECONDS = 0.25  # a stalled scheduler owes at most this much training time: no burst afterwards


@dataclass(frozen=True)
class LabEvent:
    """One event of a lab's own: its strict payload model, and what it does.

    ``apply(lab, message, sid)`` runs under the session's lock; ``prepare(message)`` (optional) runs before
    the lock is taken, for slow work such as parsing an upload, and what it returns is what ``apply`` gets.
    ``prepare_with_lab``: it is called ``prepare(lab, message)`` instead, for slow work on what the lab already
    holds (it must only read what the scheduler does not change under the lock, and ``apply`` check it still
    holds)."""

    model: type[Message]
    apply: Callable[[Any, Any, str], None]
    prepare: Callable[..., Any] | None = None
    prepare_with_lab: bool = False


class Lab:
    """A model family with its own controls, data, model building, live editing and frames."""

    name: ClassVar[str]                      # the registry key, `?lab=` and the `set_lab` event's value
    label: ClassVar[str]                     # what the page's lab switcher shows
    controls: ClassVar[tuple[Control, ...]]  # its schema: every live setting (the `set` event's fields)
    events: ClassVar[dict[str, LabEvent]] = {}  # its own events, beyond COMMON_EVENTS and `set`
    model_io: ClassVar[Any] = None           # a module with to_npz, to_json, parse(data, format): model files;
                                             # to_py(lab): the network as a PyTorch script (engine.export_torch)

    def __init__(self, host):
        self.host = host  # the app.sessions.session.Session: config, the shared config_version, the lock
        self.config = host.config
        self.settings = default_settings(self.controls)
        self.status = "paused"
        self.divergence: dict | None = None
        self.notice: dict | None = None  # {"config_version", "text"}: what the last edit did, for the page
        self.model_version = 0
        self.dataset_version = 0
        self.resets = 0
        self.dirty = True  # a frame is owed to the viewers even while paused
        self.batch_loss: float | None = None
        self.steps_since_frame = 0
        self._owed_steps = 0.0  # fraction of a step carried between slices (speed is in steps per second)
        self._last_paced: float | None = None
        self.epoch_step_ends: int | None = None  # during a `step {unit: "epoch"}`: the epoch count that ends it
        # A lesson's run (app.lessons.runner.LiveRun): steps_allowed(lab) caps each slice, finished(lab) ends it.
        self.run_plan = None

    # --- what a lab defines
    def build(self) -> None:
        """Data, model, optimizer and trainer from ``self.settings``: the one step a fresh run takes."""
        raise NotImplementedError

    def apply_settings(self, changes: dict) -> None:
        """Apply any subset of the controls at once; all or nothing (ControlError before any change)."""
        raise NotImplementedError

    def build_frame(self) -> Frame:
        """The next frame (docs/protocol.md, "Frames"), built with the session's lock held."""
        raise NotImplementedError

    def lab_state(self) -> dict:
        """The lab's part of the `state` event (settings, status, step and epoch are added here)."""
        raise NotImplementedError

    def schema_extras(self) -> dict:
        """What the lab's `schema` event carries beyond every lab's fields."""
        return {}

    def viewer_left(self, sid: str) -> None:
        """A connection closed: forget whatever the lab kept for it."""

    def leave(self) -> None:
        """The session shows another lab now: a training run pauses (only the lab shown trains)."""
        self.pause()

    def close(self) -> None:
        """The session is closed: end whatever the lab runs beside the scheduler (processes, threads)."""

    # --- validation: the lab's events and their models
    @classmethod
    @functools.cache
    def settings_message(cls) -> type[Message]:
        return settings_model(f"{cls.__name__}Settings", cls.controls)

    @classmethod
    @functools.cache
    def event_models(cls) -> dict[str, type[Message]]:
        models = {"set": cls.settings_message(), **COMMON_EVENTS}
        models.update({name: event.model for name, event in cls.events.items()})
        return models

    def schema(self, labs: list[dict]) -> dict:
        """The `schema` event's payload (docs/protocol.md): every lab's fields, then the lab's extras."""
        return {"version": 1, "lab": self.name, "labs": labs, "controls": [c.to_wire() for c in self.controls],
                "limits": limits_payload(self.config["FPS"]), "model_files": hasattr(self.model_io, "to_json"),
                "model_export": hasattr(self.model_io, "to_py"),
                **self.schema_extras()}

    def state(self) -> dict:
        t = self.trainer
        return {"lab": self.name, "settings": {k: (list(v) if isinstance(v, list) else v)
                                               for k, v in self.settings.items()},
                "status": self.status, "divergence": self.divergence, "notice": self.notice, "step": t.step,
                "epoch": t.epoch,
                **self.lab_state()}

    # --- the shared config version (the page drops frames older than the newest state)
    @property
    def config_version(self) -> int:
        return self.host.config_version

    def _changed(self, weights: bool = True) -> None:
        self.host.config_version += 1
        if weights:
            self.model_version += 1
        self.dirty = True

    # --- the training run (the scheduler's side)
    def frame_due(self) -> bool:
        return self.status == "running" or self.dirty

    def has_news(self) -> bool:
        """Whether a frame built now would show what the last one did not beyond new steps, controls and status
        (those the session checks itself): e.g. a result from a worker thread. Else the last frame is sent again."""
        return self.dirty

    def train_slice(self, max_steps: int, deadline: float) -> int:
        """Train up to ``max_steps`` minibatches, until ``deadline`` (perf_counter), or until a control waits.
        During a ``step {unit: "epoch"}``: no further than the epoch's end, then pause."""
        if self.status != "running":
            return 0
        stepping = self.epoch_step_ends is not None
        if stepping:  # at the session's `speed`, like play: two students stepping epochs cost what two playing do
            max_steps = min(max_steps, self.trainer.steps_left_in_epoch())
        plan = self.run_plan
        if plan is not None:
            max_steps = min(max_steps, plan.steps_allowed(self))
        done = self._run_steps(max_steps, deadline)
        if done:
            self.model_version += 1
        if plan is not None and self.run_plan is plan and plan.finished(self):
            self.run_plan = None
            if self.status == "running":
                self.status = "paused"
                self._changed(weights=False)
        if stepping and self.status == "running" and self.trainer.epoch >= self.epoch_step_ends:
            self.status = "paused"
            self._changed(weights=False)
        if self.status != "running":
            self.epoch_step_ends = None
        return done

    def _run_steps(self, count: int, deadline: float | None = None) -> int:
        """Train up to ``count`` minibatches — with a ``deadline`` (perf_counter) also stopping there or when a
        control waits. A non-finite loss, gradient or weights diverges the run. Returns the updates made."""
        trainer, done = self.trainer, 0
        while done < count and not (deadline is not None and self.host.control_waiting):
            before = trainer.step
            loss = trainer.train_step()
            if trainer.blew_up or not finite_in_float32(loss):  # the rule frames, lessons and searches share
                done += trainer.step - before  # an update made before the divergence showed counts
                self._diverge(loss)
                break
            self.batch_loss = loss
            done += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        self.steps_since_frame += done
        return done

    def steps_due(self) -> int:
        """Whole minibatch steps owed at ``speed`` steps per second since the last call; the fraction carries
        over, and at most MAX_OWED_SECONDS' worth is owed (a stall never turns into a burst)."""
        now = time.perf_counter()
        speed = self.settings["speed"]
        elapsed = 1.0 / self.config["FPS"] if self._last_paced is None else now - self._last_paced
        self._last_paced = now
        self._owed_steps = min(self._owed_steps + speed * elapsed, max(1.0, speed * MAX_OWED_SECONDS))
        steps = int(self._owed_steps)
        self._owed_steps -= steps
        return steps

    def frame_built(self) -> None:
        self.dirty = False
        self.steps_since_frame = 0

    # --- the common controls (call under controlled())
    def play(self) -> None:
        self._require_finite_to_continue("play")
        if self.status != "running":
            self._last_paced, self._owed_steps = None, 0.0
        self.status = "running"
        self.epoch_step_ends = None
        self.run_plan = None
        self._changed(weights=False)

    def pause(self) -> None:
        if self.status == "running":
            self.status = "paused"
        self.epoch_step_ends = None
        self.run_plan = None
        self._changed(weights=False)

    def step(self, unit: str = "batch") -> None:
        """One minibatch now, paused; or the rest of the current epoch, which the scheduler trains in its time
        slices like a play that pauses itself at the epoch's end (an epoch can take seconds: under the
        session's lock it would hold the one scheduler, and every other session's frames, that long)."""
        self._require_finite_to_continue("step")
        self.run_plan = None
        if unit == "batch":
            self.status = "paused"
            self.epoch_step_ends = None
            with np.errstate(all="ignore"):
                self._run_steps(1)
            self._changed()
        else:
            self.status = "running"
            self.epoch_step_ends = self.trainer.epoch + 1
            self._changed(weights=False)

    def reset(self) -> None:
        """Fresh weights of the same shape (a new draw), fresh optimizer, step 0, history cleared."""
        self.resets += 1
        self.build()
        self._changed()

    def _started_over(self) -> None:
        """Called by ``build``: counters and divergence start over with a fresh model."""
        self.divergence = None
        self.epoch_step_ends = None
        self.run_plan = None
        self.batch_loss = None
        if self.status == "diverged":
            self.status = "paused"
        self.dataset_version += 1

    def _require_finite_to_continue(self, event: str) -> None:
        if self.status == "diverged":
            if not self.trainer.parameters_finite():
                raise ControlError("", self.status, "reset first", event=event,
                                   message="the weights are no longer finite after the divergence; press reset")
            self.divergence = None
            self.status = "paused"

    def frame_overflowed(self) -> None:
        """A frame found NaN or infinity in its arrays while the run was not diverged (weights finite in float64
        but not in a frame's float32, or an activation beyond it): the run diverges, so the state says so."""
        self._diverge(self.batch_loss if self.batch_loss is not None else math.inf, cause="weights")

    def _diverge(self, loss: float, cause: str | None = None) -> None:
        """Pause as diverged: the loss, the gradient or (after an update) the weights are no longer finite."""
        t = self.trainer
        step = t.step
        cause = cause or t.blew_up or "loss"
        if cause == "loss":
            kind = "nan" if math.isnan(loss) else "inf"
        else:
            values = t.optimizer.flat.grad if cause == "gradient" else t.optimizer.flat.data
            kind = "nan" if np.isnan(values).any() else "inf"
        what = {"loss": "The loss", "gradient": "The gradient", "weights": "The weights"}[cause]
        lr = self.settings["learning_rate"]
        lowest = next(c.minimum for c in self.controls if c.name == "learning_rate")
        lower = max(lowest, float(f"{lr / 10:.3g}"))
        self.status = "diverged"
        self.batch_loss = loss if math.isfinite(loss) else self.batch_loss
        self.divergence = {
            "step": step, "cause": cause, "loss": kind, "learning_rate": lr, "suggested_learning_rate": lower,
            "message": (f"{what} became {'NaN' if kind == 'nan' else 'infinite'} after step {step} at learning rate "
                        f"{lr:g}: training diverged. Try a lower learning rate ({lower:g}), turn on gradient "
                        f"clipping, or a smaller network; then press reset."),
        }
        self.dirty = True
        self.host.config_version += 1
