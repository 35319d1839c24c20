"""What the CNN lab's frames carry (docs/protocol.md, "The cnn lab's frames"), built between two training steps.

Per frame: the probe image and every layer's output for it (feature maps before and after each activation and
after each pooling, quantized per channel; the dense layers' values), the output probabilities, each conv
layer's kernels and their gradients, and per-layer gradient norms. Slower parts travel in versioned bundles:
the loss and accuracy history (train and test) and a strip of augmented training images.
"""

from __future__ import annotations

import copy
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from engine import Conv2d, Dropout, Flatten, Linear

from app.labs.history import History
from app.server.bundle import Bundle, Frame, finite_or_none

from .detail import add_detail
from .training import evaluate

EVAL_OVERHEAD = 2.0  # wait twice as long as the last evaluation took before the next: at most a third of a core
HISTORY_FIELDS = ("step", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "batch_loss")
HISTORY_CAPACITY = 1000
STRIP_SAMPLES = 8
STRIP_INTERVAL = 1.0  # s between two strips of augmented samples while training


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def shown_layers(model) -> list[int]:
    """The positions whose output a frame carries: every layer but Flatten and Dropout (in eval mode they repeat
    what comes in)."""
    return [k for k, m in enumerate(model) if not isinstance(m, (Flatten, Dropout))]


def parameter_layers(model) -> list[int]:
    return [k for k, m in enumerate(model) if isinstance(m, (Conv2d, Linear))]


# Evaluations run on one worker thread shared by every CNN lab, on a snapshot of the weights: the scheduler never
# waits for one (it would stall every session's frames), and many sessions queue rather than multiply threads.
_worker: ThreadPoolExecutor | None = None
_worker_lock = threading.Lock()


def _submit(job, *args) -> Future:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnplayground-cnn-evaluation")
        return _worker.submit(job, *args)


def _evaluate(model, train: tuple, test: tuple) -> tuple:
    began = time.perf_counter()
    return evaluate(model, *train), evaluate(model, *test), time.perf_counter() - began


class FrameBuilder:
    """Builds the lab's frames; call with the session's lock held."""

    def __init__(self, lab):
        self.lab = lab
        self.seq = 0
        self.history = History(HISTORY_FIELDS, HISTORY_CAPACITY)
        self.strip_version = 0
        self.restart()

    def restart(self) -> None:
        """Forget metrics and history (a fresh network or new data)."""
        self.history.clear()
        self.metrics = {"train_loss": None, "test_loss": None, "train_accuracy": None, "test_accuracy": None,
                        "metrics_step": 0}
        self._metrics_model_version = None
        self._eval_duration = 0.0
        self._eval_end = 0.0
        self._evaluation: tuple | None = None  # (future, model version, step, batch loss) being computed
        self._strip = None
        self._strip_time = -1e9

    # --- evaluation and history
    def _maybe_evaluate(self) -> None:
        """Take a finished evaluation; start one of the current weights when they changed and the last one has
        had its turn (while training, evaluations get at most as much time as the pauses between them)."""
        lab = self.lab
        t = lab.trainer
        if self._evaluation is not None:
            future, version, step, batch_loss = self._evaluation
            if not future.done():
                return
            self._evaluation = None
            if future.cancelled() or future.exception() is not None:
                return
            (train_loss, train_accuracy, _), (test_loss, test_accuracy, _), duration = future.result()
            self._eval_duration = duration
            self._eval_end = time.perf_counter()
            self._metrics_model_version = version
            self.metrics = {"train_loss": finite_or_none(train_loss), "test_loss": finite_or_none(test_loss),
                            "train_accuracy": train_accuracy, "test_accuracy": test_accuracy, "metrics_step": step}
            self.history.append((step, train_loss, test_loss, train_accuracy, test_accuracy, batch_loss))
        if self._metrics_model_version == lab.model_version:
            return
        if lab.status == "running" and time.perf_counter() - self._eval_end < EVAL_OVERHEAD * self._eval_duration:
            return
        snapshot = copy.deepcopy(t.model)
        job = _submit(_evaluate, snapshot, t.split("train"), t.split("test"))
        self._evaluation = (job, lab.model_version, t.step, lab.batch_loss)

    def evaluation_owed(self) -> bool:
        """Whether a frame would bring news: a finished evaluation to take, or weights no evaluation has seen
        (so a paused lab still shows the metrics of its last weights)."""
        if self._evaluation is not None:
            return self._evaluation[0].done()
        return self._metrics_model_version != self.lab.model_version

    def settle(self, timeout: float = 60.0) -> None:
        """Wait for the evaluation under way and take it (tests and scripts; the scheduler never waits)."""
        if self._evaluation is not None:
            self._evaluation[0].result(timeout)
        self._maybe_evaluate()
        if self._evaluation is not None:
            self._evaluation[0].result(timeout)
            self._maybe_evaluate()
        self.lab.dirty = True  # what it took is news to the next frame

    def _strip_section(self) -> tuple[int, dict] | None:
        """A strip of the last minibatch's images as trained on (shifted), while augmentation is on."""
        lab = self.lab
        batch = lab.trainer.last_batch
        if lab.settings["augment_shift"] == 0 or batch is None:
            return None
        now = time.perf_counter()
        if self._strip is None or (now - self._strip_time >= STRIP_INTERVAL and lab.status == "running"):
            self.strip_version += 1
            b = Bundle()
            b.add_quantized("augmented", batch[:STRIP_SAMPLES])
            self._strip = (self.strip_version, b.to_wire(version=self.strip_version,
                                                         shift=lab.settings["augment_shift"]))
            self._strip_time = now
        return self._strip

    # --- the frame
    def build(self) -> Frame:
        lab = self.lab
        t = lab.trainer
        model = t.model
        self._maybe_evaluate()
        b = Bundle()
        x, label = lab.probe_input()
        b.add("probe.input", x)
        model.eval()
        try:
            out = x[None]
            for k, layer in enumerate(model):
                out = layer(out)
                if isinstance(layer, (Flatten, Dropout)):
                    continue
                if out.ndim == 4:  # feature maps (C, H, W): one byte a pixel, each channel on its own scale
                    b.add_quantized(f"probe.output.{k}", out[0])
                else:
                    b.add(f"probe.output.{k}", out[0])
        finally:
            model.train()
        b.add("probe.probabilities", softmax(out[0]))
        norms = []
        for k in parameter_layers(model):
            layer = model[k]
            if isinstance(layer, Conv2d):
                b.add(f"weight.{k}", layer.weight.data)
                b.add(f"weight_grad.{k}", layer.weight.grad)
            grad = layer.weight.grad
            bias = layer.bias.grad if layer.bias is not None else np.zeros(0)
            norms.append(np.sqrt(np.vdot(grad, grad) + np.vdot(bias, bias)))
        b.add("grad_norm", np.array(norms))
        detail = add_detail(lab, b)  # the inspected pixel taken apart, for the probe (app/labs/cnn/detail.py)
        self.seq += 1
        fields = {
            "seq": self.seq, "step": t.step, "epoch": t.epoch, "status": lab.status, "divergence": lab.divergence,
            "config_version": lab.config_version, "learning_rate": lab.settings["learning_rate"],
            "steps_this_frame": lab.steps_since_frame, "batch_loss": finite_or_none(lab.batch_loss),
            **self.metrics, "probe_label": label, **detail,
            **b.to_wire(),
        }
        sections = {"history": self.history.section()}
        strip = self._strip_section()
        if strip is not None:
            sections["augmented"] = strip
        return Frame(fields, sections, b.raw_f4_bytes)
