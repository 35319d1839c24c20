"""What a frame carries, built from a session between two training steps (docs/protocol.md, "Frames").

Per frame: every weight, bias and gradient; the probe's pre-activations and activations (and its own
output-layer gradient, for the backprop step-through); per-layer gradient norms and pre-activation
histograms; for 2-D data the output over a 100×100 grid and each hidden neuron over a 25×25 grid.
Slower or bigger parts travel in versioned bundles a client is sent once per version: the dataset, the
loss history, and the evaluation (confusion matrix, misclassified test images).
"""

from __future__ import annotations

import copy
import time

import numpy as np

from engine.inspect import activation_after, dead_units, grid_activations, linear_positions, mlp_records

from app.labs.history import History
from app.server.bundle import Bundle, Frame, finite_or_none

from . import network
from .backprop import output_layer_step
from .data import EXTENT, grid_points, targets

HIST_RANGE = (-6.0, 6.0)
HIST_BINS = 40
HIST_SAMPLE = 256
EVALUATION_INTERVAL = 0.5  # s between evaluation bundles while training
EVAL_OVERHEAD = 9.0  # wait 9× the last evaluation's duration before the next: evaluation ≤ 10 % of the time
MAX_MISCLASSIFIED = 32
HISTORY_FIELDS = ("step", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "batch_loss")
BACKPROP_ARRAYS = ("delta", "output_grad", "activation_slope", "cost_terms", "weight_grad",
                   "prev_activation_grad_parts", "prev_activation_grad")


class Float32Mirror:
    """A float32 copy of the trained model for the grid passes, made once per network structure and refreshed
    in place each frame (a cast copy of every parameter: the same numbers ``deepcopy(model).to(float32)`` gives,
    without rebuilding the modules). The trained model is not touched."""

    _SKIP = ("training", "_dtype")

    def __init__(self):
        self._key = None
        self._pairs: list = []
        self.model = None

    @classmethod
    def _structure(cls, model) -> tuple:
        """What a refresh cannot follow: which modules, their parameters' shapes and their scalar settings."""
        return tuple((m, tuple(p.data.shape if p is not None else None for p in m._parameters.values()),
                      tuple((k, v) for k, v in m.__dict__.items()
                            if k not in cls._SKIP and isinstance(v, (bool, int, float, str))))
                     for m in model.modules())

    def of(self, model):
        key = self._structure(model)
        if key != self._key:
            self.model = copy.deepcopy(model).to(np.float32)
            self._pairs = list(zip(model.parameters(), self.model.parameters()))
            self._key = key
        else:
            for source, mirror in self._pairs:
                np.copyto(mirror.data, source.data, casting="same_kind")
        return self.model


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


HIST_EDGES = np.linspace(*HIST_RANGE, HIST_BINS + 1)


def pre_activation_histograms(layers: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each layer's finite pre-activations clipped to HIST_RANGE → (fractions per bin (L, HIST_BINS),
    (mean, std, min, max) (L, 4)). The counts are ``np.histogram(z, HIST_BINS, HIST_RANGE)``'s, bin for bin
    (its own index arithmetic and edge corrections, in float64), for every float64 layer in one ``bincount``."""
    hist = np.zeros((len(layers), HIST_BINS))
    stats = np.zeros((len(layers), 4))
    clipped, offsets, sizes = [], [], []
    for k, z in enumerate(layers):
        z = z.ravel()
        z = z[np.isfinite(z)]
        if not z.size:
            continue
        stats[k] = (z.mean(), z.std(), z.min(), z.max())
        if z.dtype != np.float64:  # np.histogram bins a float32 array in float32: let it
            counts, _ = np.histogram(np.clip(z, *HIST_RANGE), bins=HIST_BINS, range=HIST_RANGE)
            hist[k] = counts / z.size
        else:
            clipped.append(np.clip(z, *HIST_RANGE))
            offsets.append(np.full(z.size, k * HIST_BINS, np.intp))
            sizes.append((k, z.size))
    if not clipped:
        return hist, stats
    a = np.concatenate(clipped)
    first, last = HIST_RANGE
    indices = ((a - first) / (last - first) * HIST_BINS).astype(np.intp)
    indices[indices == HIST_BINS] -= 1
    indices[a < HIST_EDGES[indices]] -= 1
    indices[(a >= HIST_EDGES[indices + 1]) & (indices != HIST_BINS - 1)] += 1
    counts = np.bincount(indices + np.concatenate(offsets), minlength=len(layers) * HIST_BINS)
    counts = counts.reshape(len(layers), HIST_BINS)
    for k, size in sizes:
        hist[k] = counts[k] / size
    return hist, stats


class FrameBuilder:
    """Builds a session's frames and caches what changes slowly. Call with the session's lock held."""

    def __init__(self, session):
        self.session = session
        self.seq = 0
        # the cost chart grows from each frame's metrics: the history is sent again only when it starts over
        self.history = History(HISTORY_FIELDS, resend_on_change=False, nan_means_unknown=True)
        self._backprop_meta = None
        self._mirror = Float32Mirror()
        self.restart()

    def restart(self) -> None:
        """Forget metrics and history (a fresh network)."""
        self.history.clear()
        self.metrics = {"train_loss": None, "test_loss": None, "train_accuracy": None, "test_accuracy": None,
                        "metrics_step": 0}
        self._metrics_model_version = None
        self._eval_duration = 0.0
        self._eval_end = 0.0
        self._test_predicted = None
        self._evaluation = (0, None)
        self._evaluation_time = 0.0
        self._evaluation_source = None  # the predictions the evaluation bundle was built from
        self._dataset = (None, None)
        self._grid = (None, None)

    # --- evaluation
    def _maybe_evaluate(self) -> bool:
        s = self.session
        if self._metrics_model_version == s.model_version:
            return False
        now = time.perf_counter()
        if s.status == "running" and now - self._eval_end < EVAL_OVERHEAD * self._eval_duration:
            return False
        t = s.trainer
        train_loss, train_accuracy, _ = t.evaluate("train")
        test_loss, test_accuracy, predicted = t.evaluate("test")
        self._eval_end = time.perf_counter()
        self._eval_duration = self._eval_end - now
        self._metrics_model_version = s.model_version
        self._test_predicted = predicted
        self.metrics = {"train_loss": finite_or_none(train_loss), "test_loss": finite_or_none(test_loss),
                        "train_accuracy": train_accuracy, "test_accuracy": test_accuracy, "metrics_step": t.step}
        self.history.append((t.step, train_loss, test_loss, train_accuracy, test_accuracy, s.batch_loss))
        return True

    def _evaluation_section(self) -> tuple[int, dict] | None:
        s = self.session
        d = s.data
        if d.task != "classification" or self._test_predicted is None:
            return None
        version, wire = self._evaluation
        now = time.perf_counter()
        # Behind the latest evaluation: rebuilt at most every EVALUATION_INTERVAL while training, and at once
        # when training stops (so a paused page's gallery and confusion matrix match its accuracy).
        behind = self._evaluation_source is not self._test_predicted
        stale = wire is None or (behind and (s.status != "running" or now - self._evaluation_time
                                             >= EVALUATION_INTERVAL))
        if not stale:
            return self._evaluation
        k = d.num_classes
        predicted = self._test_predicted
        confusion = np.bincount(d.y_test * k + predicted, minlength=k * k).reshape(k, k)
        b = Bundle()
        b.add("confusion", confusion)
        if d.image_shape:
            wrong = np.flatnonzero(predicted != d.y_test)[:MAX_MISCLASSIFIED]
            b.add("misclassified.index", wrong, "i4")
            b.add("misclassified.image", np.round(d.X_test[wrong] * 255).reshape((-1,) + d.image_shape), "u1",
                  low=[0.0] * len(wrong), high=[1.0] * len(wrong))
            b.add("misclassified.label", d.y_test[wrong], "u1")
            b.add("misclassified.predicted", predicted[wrong], "u1")
        self._evaluation = (version + 1, b.to_wire(version=version + 1, step=self.metrics["metrics_step"]))
        self._evaluation_time = now
        self._evaluation_source = predicted
        return self._evaluation

    # --- static parts
    def _dataset_section(self) -> tuple[int, dict]:
        s = self.session
        version, _ = self._dataset
        if version == s.dataset_version:
            return self._dataset
        d = s.data
        b = Bundle()
        b.add("train.y", d.y_train)
        b.add("test.y", d.y_test)
        if d.points_train is not None:
            b.add("train.x", d.points_train)
            b.add("test.x", d.points_test)
            b.add_quantized("feature_grid", self._grid_inputs()[1].T.reshape(
                len(d.feature_names), *(self.session.config["NEURON_GRID_RESOLUTION"],) * 2))
        meta = {"version": s.dataset_version, "name": d.name, "task": d.task, "num_classes": d.num_classes,
                "n_train": len(d.X_train), "n_test": len(d.X_test), "input_kind": d.input_kind,
                "image_shape": list(d.image_shape) if d.image_shape else None,
                "feature_names": list(d.feature_names), "extent": list(EXTENT)}
        self._dataset = (s.dataset_version, b.to_wire(**meta))
        return self._dataset

    def _grid_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The featurized fine grid (R², F) and coarse grid (r², F), cached per dataset version and features."""
        from engine.datasets import featurize

        s = self.session
        key = (s.dataset_version, tuple(s.data.feature_names))
        if self._grid[0] != key:
            fine = featurize(grid_points(s.config["GRID_RESOLUTION"]), s.data.feature_names)
            coarse = featurize(grid_points(s.config["NEURON_GRID_RESOLUTION"]), s.data.feature_names)
            self._grid = (key, (fine, coarse, np.concatenate([fine, coarse]).astype(np.float32)))
        fine, coarse, _ = self._grid[1]
        return fine, coarse

    # --- the frame
    def build(self) -> Frame:
        s = self.session
        t = s.trainer
        model = t.model
        self._maybe_evaluate()
        b = Bundle()
        layers = network.linears(model)
        norms = []
        for k, linear in enumerate(layers):
            w, bias = linear.weight, linear.bias
            b.add(f"weight.{k}", w.data)
            b.add(f"bias.{k}", bias.data)
            b.add(f"weight_grad.{k}", w.grad)
            b.add(f"bias_grad.{k}", bias.grad)
            norms.append(np.sqrt(np.vdot(w.grad, w.grad) + np.vdot(bias.grad, bias.grad)))
        b.add("grad_norm", norms)
        probe_label = self._add_probe(b)
        if s.data.points_train is not None:
            self._add_grids(b, len(layers))
        self.seq += 1
        fields = {
            "seq": self.seq, "step": t.step, "epoch": t.epoch, "status": s.status, "divergence": s.divergence,
            "config_version": s.config_version, "learning_rate": s.settings["learning_rate"],
            "steps_this_frame": s.steps_since_frame, "batch_loss": finite_or_none(s.batch_loss),
            **self.metrics,
            "layer_sizes": network.layer_sizes(model), "probe_label": probe_label,
            "hist_range": list(HIST_RANGE), "hist_bins": HIST_BINS, "backprop": self._backprop_meta,
            **b.to_wire(),
        }
        sections = {"dataset": self._dataset_section(), "history": self.history.section()}
        for name, section in (("evaluation", self._evaluation_section()),
                              ("landscape", s.landscape.section())):
            if section is not None:
                sections[name] = section
        return Frame(fields, sections, b.raw_f4_bytes, b.nonfinite)

    def _add_probe(self, b: Bundle):
        """Probe activations, its own output-layer gradient, and the histogram sample, in one forward pass."""
        s = self.session
        t = s.trainer
        model = t.model
        d = s.data
        x, label = s.probe_input()
        target = None  # in the cost's terms: a row of T, or a class index for cross-entropy
        if label is not None and "index" in s.probe:
            target = (t.T_train if s.probe["split"] == "train" else t.T_test)[s.probe["index"]]
        elif label is not None:  # a drawing the user labelled
            target = targets(np.array([label]), d.task, d.num_classes, s.settings["loss"])[0]
        sample = d.X_train[:HIST_SAMPLE]
        batch = np.concatenate([x[None, :], sample])
        model.eval()
        try:
            output = model(batch)
            records = mlp_records(model)
            if target is not None:
                _, grad = t.cost(output[:1], target[None] if np.ndim(target) else np.array([target]))
                full = np.zeros_like(output)
                full[0] = grad[0]
                self._add_output_layer_grad(b, model, records[-1], full)
        finally:
            model.train()
        b.add("probe.input", x.reshape(d.image_shape) if d.image_shape else x)
        last_index = len(records) - 1
        for r in records:
            a = r.activation[0]
            if r.index == last_index and t.output_activation == "softmax":
                a = softmax(r.pre_activation[0])
            b.add(f"probe.pre_activation.{r.index}", r.pre_activation[0])
            b.add(f"probe.activation.{r.index}", a)
        if target is not None:
            self._add_backprop(b, records[-1], target)
            if np.ndim(target) == 0:  # a class index (cross-entropy): one-hot
                target = np.eye(t.output_width)[int(target)]
            b.add("probe.target", target)
        else:
            self._backprop_meta = None
        hist, stats = pre_activation_histograms([r.pre_activation[1:] for r in records])
        b.add("pre_activation_hist", hist)
        b.add("pre_activation_stats", stats)
        positions = linear_positions(model)
        for r in records[:-1]:  # hidden layers: units no gradient gets through on any sampled input
            dead = dead_units(r.pre_activation[1:], activation_after(model, positions[r.index]))
            b.add(f"dead.{r.index}", dead, "u1")
        return label

    @staticmethod
    def _add_output_layer_grad(b: Bundle, model, last, grad_output) -> None:
        """The engine's own ∂C/∂w, ∂C/∂b of the output layer for the probe alone: backward through the modules
        from the last Linear on (nothing earlier is shown), into its grads — which hold the minibatch's gradient
        the optimizer uses, so they are put back."""
        saved = last.weight.grad.copy(), last.bias.grad.copy()
        last.weight.grad.fill(0.0)
        last.bias.grad.fill(0.0)
        try:
            for module in reversed(list(model)[linear_positions(model)[-1]:]):
                grad_output = module.backward(grad_output)
            b.add("probe.output_weight_grad", last.weight.grad)
            b.add("probe.output_bias_grad", last.bias.grad)
        finally:
            last.weight.grad[...] = saved[0]
            last.bias.grad[...] = saved[1]

    def _add_backprop(self, b: Bundle, last, target) -> None:
        """3Blue1Brown's step-through numbers for the probe's output layer (app/backprop.py)."""
        t = self.session.trainer
        cost = t.cost_name
        step = output_layer_step(last.input[0], last.weight.data, last.bias.data, target,
                                 t.output_activation if cost == "mse" else "softmax", cost)
        for name in BACKPROP_ARRAYS:
            value = getattr(step, name)
            if value is not None:
                b.add(f"backprop.{name}", value)
        self._backprop_meta = {"cost": step.cost, "output_activation": step.output_activation,
                               "cost_value": finite_or_none(step.cost_value)}

    def _add_grids(self, b: Bundle, num_layers: int) -> None:
        s = self.session
        t = s.trainer
        fine, _ = self._grid_inputs()
        inputs = self._grid[1][2]
        n_fine = len(fine)
        r_fine, r_coarse = s.config["GRID_RESOLUTION"], s.config["NEURON_GRID_RESOLUTION"]
        # A float32 copy for the grid passes: half the time of float64 for 10,625 points, and the heatmaps
        # are quantized to 8 bits anyway. The trained model is not touched.
        outputs = grid_activations(self._mirror.of(t.model), inputs)
        out = outputs[-1][:n_fine]
        if t.output_activation == "softmax":
            out = softmax(out)
        b.add_quantized("output_grid", out.T.reshape(-1, r_fine, r_fine))
        for k in range(num_layers - 1):
            b.add_quantized(f"neuron_grid.{k}", outputs[k][n_fine:].T.reshape(-1, r_coarse, r_coarse))
