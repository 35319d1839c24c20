"""What the RNN lab's frames carry (docs/protocol.md, "RNN lab"), built between two training steps.

Per frame: the probe sequence (a test sequence) through the network — every layer's hidden state at every step,
the prediction against the target — and, from the last training step's backward pass, the mean norm of
dLoss/dh_t at every step of every layer and direction (and at h_0): how much each step still influences the
loss. Versioned bundles: the loss history, and for the characters task the text sampled at the temperature.
"""

from __future__ import annotations

import time

import numpy as np

from app.labs.history import History
from app.server.bundle import Bundle, Frame, finite_or_none
from engine.sequence import sample_text

HISTORY_FIELDS = ("step", "train_loss", "test_loss", "batch_loss")
EVAL_OVERHEAD = 9.0  # wait 9× the last evaluation's duration before the next: evaluation ≤ 10 % of the time
SAMPLE_INTERVAL = 1.5  # s between two samples of text while training
SAMPLE_LENGTH = 200
PRIME_LENGTH = 12


def gradient_through_time(rnn) -> tuple[np.ndarray, np.ndarray] | None:
    """From the last backward pass: ``(num_layers, D, L)`` mean over the batch of ‖dLoss/dh_t‖ per layer and
    direction, and ``(num_layers·D,)`` the same at h_0 (index layer·D + direction); None before any."""
    if not rnn.grad_hidden_states or rnn.grad_h0 is None:
        return None
    H, D = rnn.hidden_size, rnn.num_directions
    per_step = np.stack([
        np.linalg.norm(g.reshape(g.shape[0], g.shape[1], D, H), axis=3).mean(axis=1).T  # (D, L)
        for g in rnn.grad_hidden_states])
    h0 = rnn.grad_h0 if rnn.grad_h0.ndim == 3 else rnn.grad_h0[:, None, :]
    return per_step, np.linalg.norm(h0, axis=2).mean(axis=1)


class FrameBuilder:
    """Builds the lab's frames and caches what changes slowly. Call with the session's lock held."""

    def __init__(self, lab):
        self.lab = lab
        self.seq = 0
        self.history = History(HISTORY_FIELDS)
        self.sample_version = 0
        self.restart()

    def restart(self) -> None:
        """Forget metrics, history and samples (a fresh model)."""
        self.history.clear()
        self.metrics = {"train_loss": None, "test_loss": None, "train_accuracy": None, "test_accuracy": None,
                        "metrics_step": 0}
        self._metrics_model_version = None
        self._eval_duration = 0.0
        self._eval_end = 0.0
        self._sample = None
        self._sample_key = None
        self._sample_time = 0.0

    # --- evaluation
    def _maybe_evaluate(self) -> None:
        lab = self.lab
        if self._metrics_model_version == lab.model_version:
            return
        now = time.perf_counter()
        if lab.status == "running" and now - self._eval_end < EVAL_OVERHEAD * self._eval_duration:
            return
        t = lab.trainer
        train_loss, train_accuracy = t.evaluate("train")
        test_loss, test_accuracy = t.evaluate("test")
        self._eval_end = time.perf_counter()
        self._eval_duration = self._eval_end - now
        self._metrics_model_version = lab.model_version
        self.metrics = {"train_loss": finite_or_none(train_loss), "test_loss": finite_or_none(test_loss),
                        "train_accuracy": train_accuracy, "test_accuracy": test_accuracy, "metrics_step": t.step}
        self.history.append((t.step, train_loss, test_loss, lab.batch_loss))

    # --- text
    def _sample_section(self) -> tuple[int, dict] | None:
        """The generated text, sampled again when the model or the temperature changed (at most once a
        SAMPLE_INTERVAL while training)."""
        lab = self.lab
        d = lab.data
        if d.vocabulary is None:
            return None
        key = (lab.model_version, lab.settings["temperature"], lab.probe_index, lab.dataset_version)
        now = time.perf_counter()
        due = self._sample is None or (key != self._sample_key and (
            lab.status != "running" or now - self._sample_time >= SAMPLE_INTERVAL
            or key[1] != self._sample_key[1]))
        if due:
            self._sample_key, self._sample_time = key, now
            self.sample_version += 1
            rnn = lab.trainer.model.rnn
            prime = "".join(d.vocabulary[i] for i in d.x_test[lab.probe_index][:PRIME_LENGTH])
            meta = {"version": self.sample_version, "step": lab.trainer.step,
                    "temperature": lab.settings["temperature"], "prime": prime}
            if rnn.bidirectional:
                meta.update(text="", note="A bidirectional model reads the future too, so it cannot write text one "
                                          "character at a time: set bidirectional to False to sample.")
            else:
                rng = np.random.default_rng([lab.settings["seed"], self.sample_version])
                meta.update(text=sample_text(lab.trainer.model, d.vocabulary, SAMPLE_LENGTH,
                                             lab.settings["temperature"], prime=prime, rng=rng), note="")
            self._sample = (self.sample_version, Bundle().to_wire(**meta))
        return self._sample

    # --- the frame
    def build(self) -> Frame:
        lab = self.lab
        t = lab.trainer
        rnn = t.model.rnn
        self._maybe_evaluate()
        b = Bundle()
        gradients = gradient_through_time(rnn)  # before the probe's pass (it runs no backward, but be plain)
        if gradients is not None:
            b.add("grad_h", gradients[0])
            b.add("grad_h0", gradients[1])
        self._add_probe(b)
        self.seq += 1
        fields = {
            "seq": self.seq, "step": t.step, "epoch": t.epoch, "status": lab.status, "divergence": lab.divergence,
            "config_version": lab.config_version, "learning_rate": lab.settings["learning_rate"],
            "steps_this_frame": lab.steps_since_frame, "batch_loss": finite_or_none(lab.batch_loss),
            **self.metrics,
            "grad_norm": finite_or_none(t.grad_norm), "probe_index": lab.probe_index,
            **b.to_wire(),
        }
        sections = {"history": self.history.section()}
        sample = self._sample_section()  # last: sampling runs the model step by step
        if sample is not None:
            sections["sample"] = sample
        return Frame(fields, sections, b.raw_f4_bytes)

    def _add_probe(self, b: Bundle) -> None:
        """The probe sequence through the model in eval mode: hidden states of every layer, prediction, target."""
        lab = self.lab
        t = lab.trainer
        d = lab.data
        i = lab.probe_index
        x, y = d.x_test[i:i + 1], d.y_test[i:i + 1]
        model = t.model
        model.eval()
        try:
            output = t.predict(x)[0]  # (L, out) or (out,)
        finally:
            model.train()
        for k, states in enumerate(model.rnn.hidden_states):  # time-major (L, 1, D·H)
            b.add(f"hidden.{k}", states[:, 0])
        if d.vocabulary is not None:
            z = output - output.max(axis=-1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=-1, keepdims=True)
            b.add("probe.ids", x[0], "i4")
            b.add("probe.target", y[0], "i4")
            b.add("probe.predicted", p.argmax(axis=-1), "i4")
            b.add("probe.target_probability", p[np.arange(len(p)), y[0]])
        else:
            b.add("probe.input", x[0])
            b.add("probe.target", y[0].reshape(-1))
            b.add("probe.prediction", output.reshape(-1))
