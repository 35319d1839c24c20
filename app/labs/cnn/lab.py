"""The CNN lab: a convolutional network on images, its layer list edited live, its feature maps streamed.

Every method that changes the lab runs under the session's ``controlled()`` and validates everything before it
mutates anything, raising ``ControlError``: a refused control leaves the lab exactly as it was. The run itself
(play, pause, step, divergence, the scheduler's slices) is app.labs.base.Lab's.
"""

from __future__ import annotations

import difflib
import json

import numpy as np

from app.labs.base import Lab
from app.labs.drawing import drawing_to_image
from app.server.errors import ControlError
from engine import Conv2d, Dropout, conv_surgery as surgery
from engine.builders import sequential
from engine.summary import summary

from . import data as datamod
from . import modelio
from .events import EVENTS
from .frames import FrameBuilder, parameter_layers, shown_layers
from .layers import PRESETS, normalized
from .schema import CONTROLS, MAX_PARAMETERS, default_settings
from .training import Trainer

DATA_KEYS = ("dataset", "train_fraction", "train_size", "seed")
DTYPE = np.float32  # as torch trains: twice the speed of float64 on this engine


def _engine_spec(layer: dict) -> dict:
    """A layer of the settings as engine.builders.sequential reads it (no None stride: the pool's own default)."""
    return {k: v for k, v in layer.items() if v is not None}


def _key(layer: dict) -> str:
    return json.dumps(layer, sort_keys=True)


class CnnLab(Lab):
    """Convolutional networks on MNIST, the 8×8 digits and colour shapes."""

    name = "cnn"
    label = "Convolutional network"
    controls = CONTROLS
    events = EVENTS
    model_io = modelio  # the PyTorch export only

    def __init__(self, host):
        super().__init__(host)
        self.settings = default_settings()
        self.probe: dict = {"split": "test", "index": 0}
        self.probe_image: np.ndarray | None = None
        self.inspected: dict | None = None
        self.frames = FrameBuilder(self)
        self.build()

    # --- building: data, model, optimizer and trainer from the settings, in one step
    def build(self, data: datamod.ImageData | None = None) -> None:
        s = self.settings
        data = self._load(s) if data is None else data
        self.table = self._check_layers(s["layers"], data)
        self.rng = np.random.default_rng([s["seed"], self.resets])
        model = sequential([_engine_spec(layer) for layer in s["layers"]], data.image_shape, rng=self.rng,
                           dtype=DTYPE)
        self.data = data
        self.trainer = Trainer(model, data, s, self.rng)
        self._started_over()
        self.frames.restart()
        self.inspected = None
        self._clamp_probe()

    def _load(self, settings: dict) -> datamod.ImageData:
        try:
            return datamod.load(settings, self.config.get("MNIST_DIR"))
        except (ValueError, OSError) as error:
            raise ControlError("dataset", settings["dataset"], "a dataset the server can read", str(error))

    def _check_layers(self, layers: list[dict], data: datamod.ImageData):
        """The engine's summary of ``layers`` on ``data``'s images, or ControlError naming the layer, the formula
        and the numbers (engine.summary's own words)."""
        classes = data.num_classes
        last = layers[-1]
        if last["type"] != "Linear" or last["out_features"] != classes:
            raise ControlError(f"layers.{len(layers) - 1}", last, f"a Linear with out_features = {classes}",
                               f"layer {len(layers) - 1} ({last['type']}): the last layer must be Linear with one "
                               f"output per class, out_features = {classes} for {data.name}")
        runs = "an architecture that runs on " + "×".join(map(str, data.image_shape)) + " images"
        try:
            table = summary([_engine_spec(layer) for layer in layers], data.image_shape,
                            max_parameters=MAX_PARAMETERS)
        except ValueError as error:
            text = str(error)
            words = text.split("the largest is ")[-1].split() if "the largest is " in text else text.split()
            index = words[1] if words[:1] == ["layer"] else ""
            raise ControlError(f"layers.{index}" if index.isdigit() else "layers", "<the layer list>", runs,
                               text) from None
        if table.output_shape != (classes,):
            shape = ", ".join(map(str, table.output_shape))
            first = next(k for k, layer in enumerate(layers) if layer["type"] == "Linear")
            raise ControlError(f"layers.{first}", layers[first], runs,
                               f"the network's output is (N, {shape}) but the cost needs (N, {classes}), one score "
                               f"per class: add a Flatten before layer {first} (Linear) so that it reads (N, C·H·W)")
        return table

    # --- settings
    def apply_settings(self, changes: dict) -> None:
        """Apply any subset of the controls at once; all or nothing."""
        old = self.settings
        new = {**old, **changes}
        if "layers" in changes:
            new["layers"] = normalized(changes["layers"])
        elif "architecture" in changes and changes["architecture"] != "custom":
            new["layers"] = [dict(layer) for layer in PRESETS[changes["architecture"]]]
        else:
            new["layers"] = [dict(layer) for layer in old["layers"]]
        new["architecture"] = next((name for name, layers in PRESETS.items() if layers == new["layers"]), "custom")
        data_changed = any(new[k] != old[k] for k in DATA_KEYS)
        data = self._load(new) if data_changed else self.data
        last = new["layers"][-1]
        if "layers" not in changes and last["type"] == "Linear":  # a new dataset's classes, unless asked otherwise
            last["out_features"] = data.num_classes
        table = self._check_layers(new["layers"], data)

        old = {**old, "layers": old["layers"]}
        self.settings.update(new)  # in place: the trainer reads this dict
        self.table = table
        t = self.trainer
        if data_changed and (data.image_shape != self.data.image_shape or new["seed"] != old["seed"]):
            self.build(data)  # new image sizes or a new seed: a fresh network
        else:
            if new["layers"] != old["layers"]:
                self._edit_model(old["layers"], new["layers"])
            if data_changed:
                t.use_data(data)
                self.data = data
                self.dataset_version += 1
                self.frames.restart()
                self._clamp_probe()
            t.sync_optimizer()
        self._changed()

    def _edit_model(self, old: list[dict], new: list[dict]) -> None:
        """Change the network from ``old`` to ``new`` keeping every trained weight it can (settings already new)."""
        t = self.trainer
        model = t.model
        if len(old) == len(new) and all(a["type"] == b["type"] for a, b in zip(old, new)):
            changed = [k for k, (a, b) in enumerate(zip(old, new)) if a != b]
            if all(new[k]["type"] == "Dropout" for k in changed):  # a dropout rate: the same network
                for k in changed:
                    model[k].p = new[k]["p"]
                return
            if len(changed) == 1 and new[changed[0]]["type"] == "Conv2d":
                k = changed[0]
                a, b = old[k], new[k]
                if {key for key in a if a[key] != b[key]} == {"out_channels"}:
                    for _ in range(b["out_channels"] - a["out_channels"]):
                        surgery.add_kernel(model, k, optimizer=t.optimizer, rng=self.rng)
                    for _ in range(a["out_channels"] - b["out_channels"]):
                        surgery.remove_kernel(model, k, optimizer=t.optimizer)
                    return
                if a["out_channels"] == b["out_channels"]:
                    surgery.set_conv_geometry(model, k, self.data.image_shape, kernel_size=b["kernel_size"],
                                              stride=b["stride"], padding=b["padding"], optimizer=t.optimizer,
                                              rng=self.rng)
                    return
        self._rebuild_keeping(old, new)

    def _rebuild_keeping(self, old: list[dict], new: list[dict]) -> None:
        """A new network for ``new``; each layer that stands unchanged in both lists, on an input of the same shape,
        keeps its trained weights. The optimizer starts afresh."""
        t = self.trainer
        shape = self.data.image_shape
        old_rows = summary([_engine_spec(layer) for layer in old], shape).rows
        keyed = lambda layers, rows: [_key({**layer, "in": list(rows[k - 1].output_shape) if k else list(shape)})
                                      for k, layer in enumerate(layers)]
        matcher = difflib.SequenceMatcher(a=keyed(old, old_rows), b=keyed(new, self.table.rows), autojunk=False)
        model = sequential([_engine_spec(layer) for layer in new], shape, rng=self.rng, dtype=DTYPE)
        for block in matcher.get_matching_blocks():
            for offset in range(block.size):
                target = model[block.b + offset]
                target.load_state_dict(t.model[block.a + offset].state_dict())
        t.model = model
        t.build_optimizer()

    # --- probe
    def set_probe(self, split=None, index=None, point=None, image=None, drawing=None) -> None:
        d = self.data
        channels, height, width = d.image_shape
        if point is not None:
            raise ControlError("point", point, "an index, an image or a drawing (this lab's inputs are images)")
        if drawing is not None or image is not None:
            if channels != 1:
                raise ControlError("drawing" if drawing is not None else "image", "<an image>",
                                   f"an index: {d.name} images have {channels} channels (draw on mnist or digits)")
        if drawing is not None:
            if drawing.label is not None and drawing.label >= d.num_classes:
                raise ControlError("drawing.label", drawing.label, f"an integer in [0, {d.num_classes - 1}]")
            pixels = drawing_to_image(drawing.width, drawing.height, drawing.pixels, (height, width))
            self.probe = {"drawing": True, "label": drawing.label}
            self.probe_image = pixels.reshape(1, height, width).astype(DTYPE)
        elif image is not None:
            if len(image) != height * width:
                raise ControlError("image", f"<{len(image)} numbers>",
                                   f"exactly {height * width} numbers ({height}x{width}, row-major)")
            self.probe = {"image": True}
            self.probe_image = np.asarray(image, dtype=DTYPE).reshape(1, height, width)
        else:
            split = split or "train"
            n = len(d.split(split)[0])
            if index is None or not 0 <= index < n:
                raise ControlError("index", index, f"an integer in [0, {n - 1}] (the {split} set's size)")
            self.probe = {"split": split, "index": index}
        self._changed(weights=False)

    def _clamp_probe(self) -> None:
        if "index" not in self.probe or (self.probe_image is not None and
                                         self.probe_image.shape != self.data.image_shape):
            self.probe = {"split": "test", "index": 0}
        n = len(self.data.split(self.probe["split"])[0])
        self.probe["index"] = min(self.probe["index"], n - 1)

    def probe_input(self) -> tuple[np.ndarray, int | None]:
        """The probe image (C, H, W) and its label (None for an unlabelled drawing)."""
        if "index" not in self.probe:
            return self.probe_image, self.probe.get("label")
        X, y = self.data.split(self.probe["split"])
        return X[self.probe["index"]], int(y[self.probe["index"]])

    # --- a feature-map pixel asked about (the convolution and pooling detail views read it)
    def inspect(self, layer: int, channel: int, y: int, x: int) -> None:
        model = self.trainer.model
        shown = [k for k in shown_layers(model) if len(self.table.rows[k].output_shape) == 3]
        if layer not in shown:
            raise ControlError("layer", layer, "the position of a layer with feature maps, one of "
                               + ", ".join(map(str, shown)))
        c, h, w = self.table.rows[layer].output_shape
        for field, value, size in (("channel", channel, c), ("y", y, h), ("x", x, w)):
            if not 0 <= value < size:
                raise ControlError(field, value, f"an integer in [0, {size - 1}] (layer {layer}'s output is "
                                                 f"({c}, {h}, {w}))")
        self.inspected = {"layer": layer, "channel": channel, "y": y, "x": x}
        self._changed(weights=False)

    # --- what the page shows
    def frame_due(self) -> bool:
        return super().frame_due() or self.frames.evaluation_owed()

    def has_news(self) -> bool:
        return super().has_news() or self.frames.evaluation_owed()

    def build_frame(self):
        return self.frames.build()

    def lab_state(self) -> dict:
        model = self.trainer.model
        d = self.data
        return {
            "summary": self.table.as_dict(),
            "num_parameters": model.num_parameters(),
            "shown_layers": shown_layers(model),
            "parameter_layers": parameter_layers(model),
            "conv_layers": [k for k, m in enumerate(model) if isinstance(m, Conv2d)],
            "dropout_layers": [k for k, m in enumerate(model) if isinstance(m, Dropout)],
            "classes": list(d.classes),
            "image_shape": list(d.image_shape),
            "n_train": len(d.X_train), "n_test": len(d.X_test), "n_train_available": d.full_train,
            "probe": dict(self.probe),
            "inspected": self.inspected,
        }
