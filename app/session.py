"""A training session: one network, its data, optimizer, counters and settings, changed live.

Every method that changes the session runs under ``controlled()`` (the handlers' side) and validates
everything before it mutates anything, raising ``ControlError``: a refused control leaves the session
exactly as it was. The scheduler trains through ``train_slice`` under the same lock and yields it between
two steps as soon as a control is waiting.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager

import numpy as np

from engine import surgery

from . import data as datamod
from . import network
from .drawing import drawing_to_image
from .edits import NetworkEdits
from .errors import ControlError
from .frames import FrameBuilder
from .landscape_feed import LandscapeFeed
from .schema import (CONTROLS_BY_NAME, DATASETS, PRESETS, default_settings, is_image, preset_family,
                     task_of)
from .training import Trainer

DATA_KEYS = ("dataset", "noise", "train_fraction", "seed", "features")


class Session(NetworkEdits):
    """State of one tab's training run. ``viewers`` is the set of Socket.IO sids watching it."""

    def __init__(self, token: str, config: dict):
        self.token = token
        self.config = config
        self.lock = threading.Lock()
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self.viewers: set[str] = set()
        self.left_at = time.monotonic()
        self.settings = default_settings()
        self.status = "paused"
        self.divergence: dict | None = None
        self.config_version = 0
        self.model_version = 0
        self.dataset_version = 0
        self.resets = 0
        self.dirty = True  # a frame is owed to the viewers even while paused
        self.batch_loss: float | None = None
        self.steps_since_frame = 0
        self.frame_cost = 0.005  # s to build and publish a frame (running average; the scheduler's budget)
        self.probe: dict = {"split": "train", "index": 0}
        self.probe_image: np.ndarray | None = None
        self.frames = FrameBuilder(self)
        self.landscape = LandscapeFeed(self)
        self._build_fresh(datamod.load(self.settings))

    # --- locking
    @contextmanager
    def controlled(self):
        """Hold the session for a control; the scheduler gives the lock up between steps while we wait."""
        with self._waiting_lock:
            self._waiting += 1
        with self.lock:
            with self._waiting_lock:
                self._waiting -= 1
            yield self

    # --- the scheduler's side
    def train_slice(self, max_steps: int, deadline: float) -> int:
        """Train up to ``max_steps`` minibatches, until ``deadline`` (perf_counter), or until a control waits."""
        with self.lock:
            if self.status != "running" or not self.viewers:
                return 0
            done = self._run_steps(max_steps, deadline)
            if done:
                self.model_version += 1
        return done

    def _run_steps(self, count: int, deadline: float | None = None) -> int:
        """Train up to ``count`` minibatches — with a ``deadline`` (perf_counter) also stopping there or when a
        control waits. A non-finite loss, gradient or weights diverges the session. Returns the updates made."""
        trainer, done = self.trainer, 0
        while done < count and not (deadline is not None and self._waiting):
            loss = trainer.train_step()
            if trainer.blew_up or not math.isfinite(loss):
                done += trainer.blew_up == "weights"  # that step's update was made
                self._diverge(loss)
                break
            self.batch_loss = loss
            done += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        self.steps_since_frame += done
        return done

    def frame_due(self) -> bool:
        return bool(self.viewers) and (self.status == "running" or self.dirty)

    def build_frame(self):
        """The next frame (app.bundle.Frame) and the sids to offer it to, built under the lock."""
        with self.lock:
            frame = self.frames.build()
            if frame.nonfinite and self.status != "diverged":
                # Finite in float64 but not in a frame's float32 (or NaN/inf in an activation): the viewers would
                # see infinities with no word of divergence. The session says it diverged, and the frame too.
                self._diverge(self.batch_loss if self.batch_loss is not None else math.inf, cause="weights")
                frame = self.frames.build()
            self.dirty = False
            self.steps_since_frame = 0
            return frame, list(self.viewers)

    @property
    def trains(self) -> bool:
        return self.status == "running" and bool(self.viewers)

    # --- building
    def _build_fresh(self, data: datamod.Data) -> None:
        """A new network for ``data`` from the settings; counters, history and divergence start over."""
        s = self.settings
        self.rng = np.random.default_rng([s["seed"], self.resets])
        width, activation = datamod.output_layout(data.task, data.num_classes, s["loss"])
        sizes = [data.input_width] + list(s["hidden_sizes"]) + [width]
        model = network.build(sizes, s["activation"], activation, s["dropout"], self.rng)
        self.data = data
        self.trainer = Trainer(model, data, s, self.rng)
        self.divergence = None
        self.batch_loss = None
        if self.status == "diverged":
            self.status = "paused"
        self.dataset_version += 1
        self.frames.restart()
        self.landscape.restart()
        self._clamp_probe()

    def _changed(self, weights: bool = True) -> None:
        self.config_version += 1
        if weights:
            self.model_version += 1
        self.dirty = True

    # --- controls (call under controlled())
    def play(self) -> None:
        self._require_finite_to_continue("play")
        self.status = "running"
        self._changed(weights=False)

    def pause(self) -> None:
        if self.status == "running":
            self.status = "paused"
        self._changed(weights=False)

    def step(self, unit: str = "batch") -> None:
        """Pause, then one minibatch or the rest of the current epoch."""
        self._require_finite_to_continue("step")
        self.status = "paused"
        count = 1 if unit == "batch" else self.trainer.steps_left_in_epoch()
        with np.errstate(all="ignore"):
            self._run_steps(count)
        self._changed()

    def reset(self) -> None:
        """Fresh weights of the same shape (a new draw), fresh optimizer, step 0, history cleared."""
        model = self.trainer.model
        hidden = network.hidden_activations(model)
        self.resets += 1
        self._build_fresh(self.data)
        new = self.trainer.model
        for k, name in enumerate(hidden):
            if name != self.settings["activation"]:
                surgery.set_activation(new, name, layer=k)
        self._changed()

    def _require_finite_to_continue(self, event: str) -> None:
        if self.status == "diverged":
            if not self.trainer.parameters_finite():
                raise ControlError("", self.status, "reset first", event=event,
                                   message="the weights are no longer finite after the divergence; press reset")
            self.divergence = None
            self.status = "paused"

    def _diverge(self, loss: float, cause: str | None = None) -> None:
        """Pause as diverged: the loss, the gradient or (after an update) the weights are no longer finite —
        or (``cause="weights"`` from build_frame) no longer fit a frame's float32."""
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
        self.status = "diverged"
        self.batch_loss = loss if math.isfinite(loss) else self.batch_loss
        self.divergence = {
            "step": step, "cause": cause, "loss": kind,
            "message": (f"{what} became {'NaN' if kind == 'nan' else 'infinite'} after step {step}: training "
                        f"diverged. Try a lower learning rate (now {lr:g}), turn on gradient clipping, or a "
                        f"smaller network; then press reset."),
        }
        self.dirty = True
        self.config_version += 1

    # --- settings
    def apply_settings(self, changes: dict) -> None:
        """Apply any subset of the controls at once; all or nothing."""
        old = self.settings
        new = {**old, **{k: (list(v) if isinstance(v, list) else v) for k, v in changes.items()}}
        if "dataset" in changes:
            task = task_of(new["dataset"])
            if "problem" in changes and changes["problem"] != task:
                raise ControlError("problem", changes["problem"], f'"{task}" (the problem {new["dataset"]} poses)')
            new["problem"] = task
        elif "problem" in changes and task_of(new["dataset"]) != new["problem"]:
            new["dataset"] = next(d for d in DATASETS if task_of(d) == new["problem"])
        family = preset_family(new["dataset"])
        family_changed = family != preset_family(old["dataset"])
        if family_changed:
            for key, value in PRESETS[family].items():
                if key not in changes:
                    new[key] = list(value) if isinstance(value, list) else value
        if new["problem"] == "regression" and new["loss"] == "cross_entropy":
            if "loss" in changes:
                raise ControlError("loss", "cross_entropy", '"mse" (cross-entropy needs a classification dataset)')
            new["loss"] = "mse"
        keys = DATA_KEYS if not is_image(new["dataset"]) else DATA_KEYS[:-1]
        data_changed = family_changed or any(new[k] != old[k] for k in keys)
        data = self._load(new) if data_changed else self.data
        width, output_activation = datamod.output_layout(data.task, data.num_classes, new["loss"])
        self._check_size([data.input_width] + new["hidden_sizes"] + [width], "hidden_sizes", new["hidden_sizes"])

        old = dict(old)
        self.settings.update(new)  # in place: the trainer reads this dict
        if family_changed:
            self._build_fresh(data)
            self._changed()
            return
        t = self.trainer
        model = t.model
        if data_changed:
            t.use_data(data)
            self.data = data
            self.dataset_version += 1
            self._clamp_probe()
        elif new["loss"] != old["loss"]:
            t.use_loss()
        if not is_image(new["dataset"]) and new["features"] != old["features"]:
            network.remap_inputs(model, t.optimizer, old["features"], new["features"], self.rng)
        if new["hidden_sizes"] != network.layer_sizes(model)[1:-1]:
            network.resize_hidden(model, t.optimizer, new["hidden_sizes"], new["activation"], self.rng)
        if new["activation"] != old["activation"] and new["hidden_sizes"]:
            surgery.set_activation(model, new["activation"])
        if network.layer_sizes(model)[-1] != width:
            network.replace_output(model, t.optimizer, width, output_activation, self.rng)
        else:
            network.set_output_activation(model, output_activation)
        network.sync_dropout(model, new["dropout"])
        t.sync_optimizer()
        self._changed()

    def _load(self, settings: dict) -> datamod.Data:
        try:
            return datamod.load(settings)
        except ValueError as error:  # the schema's ranges match the engine's, so this is a server bug
            raise ControlError("dataset", settings["dataset"], "a dataset the engine can make", str(error))

    # --- probe
    def set_probe(self, split: str | None = None, index: int | None = None, point=None, image=None,
                  drawing=None) -> None:
        d = self.data
        if drawing is not None:
            if d.input_kind != "image":
                raise ControlError("drawing", "<a drawing>", "a point or an index (2-D dataset)")
            if drawing.label is not None and drawing.label >= d.num_classes:
                raise ControlError("drawing.label", drawing.label, f"an integer in [0, {d.num_classes - 1}]")
            image = drawing_to_image(drawing.width, drawing.height, drawing.pixels, d.image_shape)
            self.probe = {"drawing": True, "label": drawing.label}
            self.probe_image = image.reshape(-1).astype(np.float64)
        elif point is not None:
            if d.input_kind != "points":
                raise ControlError("point", point, "an image probe (this dataset's inputs are images)")
            self.probe = {"point": [float(point[0]), float(point[1])]}
        elif image is not None:
            if d.input_kind != "image":
                raise ControlError("image", f"<{len(image)} numbers>", "a point or an index (2-D dataset)")
            h, w = d.image_shape
            if len(image) != h * w:
                raise ControlError("image", f"<{len(image)} numbers>", f"exactly {h * w} numbers ({h}x{w}, row-major)")
            self.probe = {"image": True}
            self.probe_image = np.asarray(image, dtype=np.float64)
        else:
            split = split or "train"
            n = len(d.split(split)[0])
            if index is None or not 0 <= index < n:
                raise ControlError("index", index, f"an integer in [0, {n - 1}] (the {split} set's size)")
            self.probe = {"split": split, "index": index}
        self._changed(weights=False)

    def _clamp_probe(self) -> None:
        d = self.data
        if "point" in self.probe and d.input_kind != "points" or "image" in self.probe or "drawing" in self.probe:
            self.probe = {"split": "train", "index": 0}
        if "index" in self.probe:
            n = len(d.split(self.probe["split"])[0])
            self.probe["index"] = min(self.probe["index"], n - 1)

    def probe_input(self) -> tuple[np.ndarray, int | float | None]:
        """The probe's network input (F,) and its label (None for a drawn image)."""
        d = self.data
        if "point" in self.probe:
            from engine.datasets import featurize

            return featurize(np.array([self.probe["point"]]), d.feature_names)[0], None
        if "image" in self.probe or "drawing" in self.probe:
            return self.probe_image, self.probe.get("label")
        X, y = d.split(self.probe["split"])
        i = self.probe["index"]
        label = y[i].item()
        return X[i], label

    def set_landscape(self, sid: str, show: bool | None, weights="unset") -> None:
        """The `landscape` event: show it to ``sid`` or not; choose its two parameters (None: the steepest)."""
        self.landscape.control(sid, self.trainer.model, show=show, weights=weights)
        self._changed(weights=False)

    # --- what the page shows
    def state(self) -> dict:
        model = self.trainer.model
        d = self.data
        t = self.trainer
        return {
            "config_version": self.config_version,
            "settings": {k: (list(v) if isinstance(v, list) else v) for k, v in self.settings.items()},
            "status": self.status,
            "divergence": self.divergence,
            "step": t.step,
            "epoch": t.epoch,
            "layer_sizes": network.layer_sizes(model),
            "hidden_activations": network.hidden_activations(model),
            "output_activation": t.output_activation,
            "parameter_names": network.parameter_names(model),
            "num_parameters": model.num_parameters(),
            "task": d.task,
            "num_classes": d.num_classes if d.task == "classification" else 1,
            "input_kind": d.input_kind,
            "image_shape": list(d.image_shape) if d.image_shape else None,
            "feature_names": list(d.feature_names),
            "n_train": len(d.X_train),
            "n_test": len(d.X_test),
            "probe": dict(self.probe),
            "grid": None if d.image_shape else {"resolution": self.config["GRID_RESOLUTION"],
                                                "neuron_resolution": self.config["NEURON_GRID_RESOLUTION"],
                                                "extent": list(datamod.EXTENT)},
            "viewers": len(self.viewers),
            "landscape": self.landscape.state(),
        }


assert set(DATA_KEYS) <= set(CONTROLS_BY_NAME)
