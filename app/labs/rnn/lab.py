"""The RNN lab: one recurrent model (nn.RNN, nn.LSTM or nn.GRU plus a Linear readout) on a sequence task, its
settings changed live.

Every method that changes the lab runs under the session's ``controlled()`` and validates everything before it
mutates anything, raising ``ControlError``: a refused control leaves the lab exactly as it was. The run itself
(play, pause, step, divergence, the scheduler's slices) is app.labs.base.Lab's.
"""

from __future__ import annotations

import numpy as np

from app.labs.base import Lab
from app.server.errors import ControlError
from engine import rnn_surgery
from engine.recurrent import dropout_note
from engine.rnn_shapes import rnn_shapes

from . import data as datamod
from . import modelio
from .events import EVENTS
from .frames import FrameBuilder
from .schema import CONTROLS, PRESETS, flag
from .training import Trainer, build_model

DATA_KEYS = ("task", "seq_len", "seed")
REBUILD_KEYS = ("cell_type",)


class RnnLab(Lab):
    """Recurrent networks on sequences: waves, the adding problem, characters."""

    name = "rnn"
    label = "Recurrent networks"
    controls = CONTROLS
    events = EVENTS
    model_io = modelio  # the PyTorch export only

    def __init__(self, host):
        super().__init__(host)
        self.probe_index = 0
        self.frames = FrameBuilder(self)
        self.build()

    def build_frame(self):
        return self.frames.build()

    # --- building
    def build(self, data: datamod.Data | None = None) -> None:
        """A fresh model for the settings' task; counters, history and divergence start over."""
        s = self.settings
        data = self._load(s) if data is None else data
        self.rng = np.random.default_rng([s["seed"], self.resets])
        model = build_model(s, data, self.rng)
        self.data = data
        self.trainer = Trainer(model, data, s, self.rng)
        self._started_over()
        self.frames.restart()
        self.probe_index = min(self.probe_index, len(data.x_test) - 1)

    def reset(self) -> None:
        self.resets += 1
        self.build(self.data)
        self._changed()

    @staticmethod
    def _load(settings: dict) -> datamod.Data:
        if settings["task"] == "adding" and settings["seq_len"] < 2:
            raise ControlError("seq_len", settings["seq_len"], "an integer in [2, 200] for the adding problem "
                               "(two marked numbers, one in each half)")
        return datamod.load(settings["task"], settings["seq_len"], settings["seed"])

    # --- settings
    def apply_settings(self, changes: dict) -> None:
        """Apply any subset of the controls at once; all or nothing."""
        old = dict(self.settings)
        new = {**old, **changes}
        task_changed = new["task"] != old["task"]
        if task_changed:
            for key, value in PRESETS[new["task"]].items():
                if key not in changes:
                    new[key] = value
        data_changed = any(new[k] != old[k] for k in DATA_KEYS)
        data = self._load(new) if data_changed else self.data  # may refuse: nothing changed yet

        self.settings.update(new)  # in place: the trainer reads this dict
        if task_changed or any(new[k] != old[k] for k in REBUILD_KEYS):
            # new input/output sizes, or a new cell: fresh weights (surgery cannot turn an RNN into an LSTM)
            self.build(data)
            self._changed()
            return
        t = self.trainer
        model, optimizer = t.model, t.optimizer
        rnn = model.rnn
        if data_changed:
            t.use_data(data)
            self.data = data
            self.dataset_version += 1
            self.probe_index = min(self.probe_index, len(data.x_test) - 1)
        if new["hidden_size"] != rnn.hidden_size:
            rnn_surgery.set_hidden_size(model, new["hidden_size"], optimizer, self.rng)
        if new["num_layers"] != rnn.num_layers:
            rnn_surgery.set_num_layers(model, new["num_layers"], optimizer, self.rng)
        if flag(new["bidirectional"]) != rnn.bidirectional:
            rnn_surgery.set_bidirectional(model, flag(new["bidirectional"]), optimizer, self.rng)
        if flag(new["bias"]) != rnn.bias:
            rnn_surgery.set_bias(model, flag(new["bias"]), optimizer)
        if rnn.nonlinearity is not None:
            rnn.nonlinearity = new["nonlinearity"]  # the RNN cell's activation; LSTM and GRU have their gates
        rnn.batch_first = flag(new["batch_first"])
        rnn.dropout = float(new["dropout"])
        t.sync_optimizer()
        self._changed()

    def set_probe(self, index: int) -> None:
        n = len(self.data.x_test)
        if not 0 <= index < n:
            raise ControlError("index", index, f"an integer in [0, {n - 1}] (the test set's size)")
        self.probe_index = index
        self._changed(weights=False)

    # --- what the page shows
    def warnings(self) -> list[str]:
        rnn = self.trainer.model.rnn
        out = []
        if rnn.dropout > 0 and rnn.num_layers == 1:
            out.append(dropout_note(rnn.dropout))  # as torch warns
        if rnn.nonlinearity is None and self.settings["nonlinearity"] != "tanh":
            out.append(f"nonlinearity applies to nn.RNN only; {self.settings['cell_type']} has its own gates")
        return out

    def lab_state(self) -> dict:
        t = self.trainer
        rnn = t.model.rnn
        d = self.data
        shapes = rnn_shapes(rnn, d.seq_len, min(self.settings["batch_size"], len(d.x_train)))
        row = lambda r: {"name": r.name, "shape": list(r.shape), "symbols": r.symbols, "count": r.count}  # noqa: E731
        head = t.model.head
        return {
            "cell_type": self.settings["cell_type"],
            "task": d.task,
            "input_size": d.input_size,
            "output_size": d.output_size,
            "readout": d.readout,
            "loss_name": "cross-entropy (nats per character)" if d.loss == "cross_entropy" else "mean squared error",
            "hidden_size": rnn.hidden_size,
            "num_layers": rnn.num_layers,
            "num_directions": rnn.num_directions,
            "gate_count": rnn.gate_count,
            "seq_len": d.seq_len,
            "n_train": len(d.x_train),
            "n_test": len(d.x_test),
            "vocabulary": d.vocabulary,
            "probe_index": self.probe_index,
            "shapes": {"symbols": shapes.symbols, "tensors": [row(r) for r in shapes.tensors],
                       "parameters": [row(r) for r in shapes.parameters], "total": shapes.total,
                       "notes": shapes.notes,
                       "head": [{"name": f"head.{n}", "shape": list(p.shape), "count": p.size}
                                for n, p in head.named_parameters()],
                       "model_total": t.model.num_parameters()},
            "warnings": self.warnings(),
        }
