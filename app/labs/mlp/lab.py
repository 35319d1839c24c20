"""The MLP lab: one fully connected network, its data, optimizer, counters and settings, changed live.

Every method that changes the lab runs under the session's ``controlled()`` (the handlers' side) and validates
everything before it mutates anything, raising ``ControlError``: a refused control leaves the lab exactly as
it was. The run itself (play, pause, step, divergence, the scheduler's slices) is app.labs.base.Lab's.
"""

from __future__ import annotations

import numpy as np

from app.labs.base import Lab
from app.labs.drawing import drawing_to_image
from app.server.errors import ControlError
from engine import surgery

from . import data as datamod
from . import modelio, network
from .data_edits import DataEdits
from .edits import NetworkEdits
from .events import EVENTS
from .frames import FrameBuilder
from .landscape_feed import LandscapeFeed
from .points import Points
from .schema import (CONTROLS, CONTROLS_BY_NAME, DATASETS, DATASETS_CUSTOM, PRESETS, is_image, preset_family,
                     schema_extras, task_of)
from .training import Trainer

DATA_KEYS = ("dataset", "noise", "train_fraction", "seed", "features")


class MlpLab(DataEdits, NetworkEdits, Lab):
    """Fully connected networks on 2-D data, digits and MNIST."""

    name = "mlp"
    label = "MLP playground"
    controls = CONTROLS
    events = EVENTS
    model_io = modelio

    def __init__(self, host):
        super().__init__(host)
        self.probe: dict = {"split": "train", "index": 0}
        self.probe_image: np.ndarray | None = None
        self.points: Points | None = None  # the custom dataset's points (kept while another dataset is shown)
        self.frames = FrameBuilder(self)
        self.landscape = LandscapeFeed(self)
        self.build()

    def schema_extras(self) -> dict:
        return schema_extras(self.config["GRID_RESOLUTION"], self.config["NEURON_GRID_RESOLUTION"])

    def viewer_left(self, sid: str) -> None:
        self.landscape.showing.discard(sid)

    def build_frame(self):
        return self.frames.build()

    def _run_steps(self, count: int, deadline: float | None = None) -> int:
        if not len(self.data.X_train):  # an empty drawn dataset: nothing to learn until a point is drawn
            return 0
        return super()._run_steps(count, deadline)

    # --- building
    def build(self, data: datamod.Data | None = None) -> None:
        """A new network for ``data`` (default: the settings' dataset) from the settings; counters, history and
        divergence start over."""
        s = self.settings
        data = self._load(s, self.points) if data is None else data
        self.rng = np.random.default_rng([s["seed"], self.resets])
        width, activation = datamod.output_layout(data.task, data.num_classes, s["loss"])
        sizes = [data.input_width] + list(s["hidden_sizes"]) + [width]
        model = network.build(sizes, s["activation"], activation, s["dropout"], self.rng, s["init"])
        self.data = data
        self.trainer = Trainer(model, data, s, self.rng)
        self.note_drawn()
        self._started_over()
        self.frames.restart()
        self.landscape.restart()
        self._clamp_probe()

    def reset(self) -> None:
        """Fresh weights of the same shape (a new draw), fresh optimizer, step 0, history cleared; each hidden
        layer keeps the activation it was given."""
        hidden = network.hidden_activations(self.trainer.model)
        self.resets += 1
        self.build(self.data)
        new = self.trainer.model
        for k, name in enumerate(hidden):
            if name != self.settings["activation"]:
                surgery.set_activation(new, name, layer=k)
        self.note_drawn()
        self._changed()

    def regenerate(self) -> None:
        """New data from the same distribution, weights kept (TF Playground's Regenerate): the next data seed.
        The seed is a setting, so the URL and a saved model still say exactly which draw this is."""
        self.apply_settings({"seed": (self.settings["seed"] + 1) % (CONTROLS_BY_NAME["seed"].maximum + 1)})

    # --- settings
    def apply_settings(self, changes: dict) -> None:
        """Apply any subset of the controls at once; all or nothing."""
        self._apply(changes)

    def _apply(self, changes: dict, points: Points | None = None) -> None:
        """apply_settings, and with ``points`` the custom dataset becomes those points (the settings in
        ``changes`` then name it); all or nothing."""
        old = self.settings
        new = {**old, **{k: (list(v) if isinstance(v, list) else v) for k, v in changes.items()}}
        own = points if points is not None else self.points

        def task(dataset: str) -> str:  # the custom set poses its own points' problem (none yet: any)
            if dataset in DATASETS_CUSTOM:
                return own.task if own is not None else changes.get("problem", old["problem"])
            return task_of(dataset)

        if "dataset" in changes:
            posed = task(new["dataset"])
            if "problem" in changes and changes["problem"] != posed:
                raise ControlError("problem", changes["problem"], f'"{posed}" (the problem {new["dataset"]} poses)',
                                   explanation=f"{new['dataset']} is a {posed} dataset.")
            new["problem"] = posed
        elif "problem" in changes and task(new["dataset"]) != new["problem"]:
            new["dataset"] = next(d for d in DATASETS if task_of(d) == new["problem"])
        if new["dataset"] in DATASETS_CUSTOM and own is None:
            own = Points.empty(new["problem"])
        family = preset_family(new["dataset"])
        family_changed = family != preset_family(old["dataset"])
        if family_changed:
            for key, value in PRESETS[family].items():
                if key not in changes:
                    new[key] = list(value) if isinstance(value, list) else value
        if new["problem"] == "regression" and new["loss"] == "cross_entropy":
            if "loss" in changes:
                raise ControlError("loss", "cross_entropy", '"mse" (cross-entropy needs a classification dataset)',
                                   explanation=f"Cross-entropy needs a classification dataset; {new['dataset']} is "
                                               f"regression, so its cost is squared error.")
            new["loss"] = "mse"
        keys = DATA_KEYS if not is_image(new["dataset"]) else DATA_KEYS[:-1]
        data_changed = family_changed or any(new[k] != old[k] for k in keys) or points is not None
        data = self._load(new, own) if data_changed else self.data
        width, output_activation = datamod.output_layout(data.task, data.num_classes, new["loss"])
        self._check_size([data.input_width] + new["hidden_sizes"] + [width], "hidden_sizes", new["hidden_sizes"])

        old = dict(old)
        self.points = own
        self.settings.update(new)  # in place: the trainer reads this dict
        if family_changed or new["init"] != old["init"]:  # a new initialisation is a fresh draw of every weight
            self.build(data)
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
            network.resize_hidden(model, t.optimizer, new["hidden_sizes"], new["activation"], self.rng,
                                  inputs=data.X_train)
        if new["activation"] != old["activation"] and new["hidden_sizes"]:
            surgery.set_activation(model, new["activation"])
        if network.layer_sizes(model)[-1] != width:
            network.replace_output(model, t.optimizer, width, output_activation, self.rng)
        else:
            network.set_output_activation(model, output_activation)
        network.sync_dropout(model, new["dropout"])
        t.sync_optimizer()
        self._changed()

    def _load(self, settings: dict, points: Points | None) -> datamod.Data:
        try:
            return datamod.load(settings, points, self.config.get("MNIST_DIR"))
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
            if n:
                self.probe["index"] = min(self.probe["index"], n - 1)
            else:  # a drawn dataset with no point in that split yet: probe the plane's centre
                self.probe = {"point": [0.0, 0.0]}

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
    def lab_state(self) -> dict:
        model = self.trainer.model
        d = self.data
        t = self.trainer
        return {
            "layer_sizes": network.layer_sizes(model),
            "hidden_activations": network.hidden_activations(model),
            "switched_layers": self.switched_layers(),
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
            "data_note": datamod.note(d.name, self.config.get("MNIST_DIR")),
            "probe": dict(self.probe),
            "grid": None if d.image_shape else {"resolution": self.config["GRID_RESOLUTION"],
                                                "neuron_resolution": self.config["NEURON_GRID_RESOLUTION"],
                                                "extent": list(datamod.EXTENT)},
            "landscape": self.landscape.state(),
            "points": self.points_state(),
        }


assert set(DATA_KEYS) <= set(CONTROLS_BY_NAME)
