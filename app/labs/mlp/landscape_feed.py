"""A session's loss landscape on the wire: which two weights, their path, and the `landscape` bundle.

The landscape costs a few hundred network passes over the training set (engine/landscape.py), so it is built
only while some viewer shows it (the `landscape` event's ``show``), only when the weights moved, at most
``MAX_PER_SECOND`` times a second and at most ~10 % of the time (the next waits 9× the last one's duration).
It is computed off the session's lock, on a snapshot of the weights, by one worker thread shared by every
session: training and controls never wait for it, and many sessions showing landscapes queue rather than
pile up. Frames carry the newest finished bundle's version (a client is sent each version once, as the other
bundles); the page moves the current point with every frame's weights in between. docs/protocol.md, "landscape".
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from app.server.bundle import Bundle, finite_or_none
from app.server.errors import ControlError

from engine import landscape

from . import network
from .landscape_path import LandscapePath, spans_with_path

log = logging.getLogger(__name__)

MAX_PER_SECOND = 4
OVERHEAD = 9.0  # wait 9× the last landscape's duration before the next: ≤ 10 % of the time
RESOLUTION = 25  # grid points per side (odd: the current point is the centre)
MIN_RESOLUTION = 11
ARROWS = 9  # arrows per side
PATH_CAPACITY = 500
# settings × examples × widest layer output per landscape: 2-8-8-1 on 250 points at 25² is 1.25 M; bigger
# networks and data sets get a coarser grid (down to MIN_RESOLUTION²) rather than a much slower one.
CELL_BUDGET = 2_500_000

_worker: ThreadPoolExecutor | None = None
_worker_lock = threading.Lock()


def _submit(job, *args):
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnplayground-landscape")
        return _worker.submit(job, *args)


def resolution_for(n_examples: int, widest: int) -> int:
    """The odd grid size R in [MIN_RESOLUTION, RESOLUTION] with R² · n_examples · widest ≤ CELL_BUDGET."""
    r = int(np.sqrt(CELL_BUDGET / max(1, n_examples * widest)))
    r -= 1 - r % 2  # odd
    return max(MIN_RESOLUTION, min(RESOLUTION, r))


def schema() -> dict:
    """What the `schema` event says about the landscape (its limits live here, next to the code)."""
    return {"resolution": RESOLUTION, "min_resolution": MIN_RESOLUTION, "arrows": ARROWS,
            "max_per_second": MAX_PER_SECOND, "path_capacity": PATH_CAPACITY, "max_span": landscape.MAX_SPAN}


class LandscapeFeed:
    """One session's landscape. ``section`` and ``control`` are called with the session's lock held."""

    def __init__(self, session):
        self.session = session
        self.showing: set[str] = set()  # sids whose page shows the landscape
        self.chosen: tuple | None = None  # the two WeightRefs a viewer chose; None: the steepest pair
        self.version = 0
        self.path = LandscapePath(PATH_CAPACITY)
        self._finished = None  # (generation, wire) from the worker, taken by the next section()
        self._reminder: threading.Timer | None = None  # asks for a frame when a rate-limited landscape is due
        self._generation = 0  # +1 whenever what is shown changes meaning: stale results are dropped
        self.restart()

    def restart(self) -> None:
        """A fresh network (reset, new dataset family, loaded model): the path and the automatic pair start over."""
        self._invalidate()
        self._network_key = None

    def _invalidate(self) -> None:
        self.refs: tuple | None = None
        self.path.clear()
        self._generation += 1
        self._wire = None
        self._computed_for = None
        self._next_time = 0.0
        self._busy = False

    # --- controls
    def control(self, sid: str, model, show: bool | None = None, weights="unset") -> None:
        """The `landscape` event: ``show`` for this connection; ``weights`` two [layer, neuron, input?], or None
        for the steepest pair. Validates before changing anything (ControlError naming e.g. "weights.1.neuron")."""
        if weights != "unset":
            refs = None
            if weights is not None:
                try:
                    refs = landscape.check_weights(model, [tuple(w) for w in weights])
                except landscape.WeightChoiceError as error:
                    field = error.field.replace("[", ".").replace("]", "")
                    raise ControlError(field, error.received, error.allowed) from None
            self.chosen = refs
            self._invalidate()
        if show is not None:
            (self.showing.add if show else self.showing.discard)(sid)

    def state(self) -> dict:
        """For the `state` event: the pair shown (null until first chosen) and whether it is the automatic one."""
        refs = self.refs or self.chosen
        return {"weights": [r.to_wire() for r in refs] if refs else None, "auto": self.chosen is None}

    # --- frames
    def section(self) -> tuple[int, dict] | None:
        """(version, bundle) for the next frame, or None (nobody shows it, nothing computed yet, or a network
        with fewer than two parameters). Records the path and starts a new landscape when one is due."""
        s = self.session
        if not (self.showing & s.host.viewers) or not len(s.data.X_train):  # (no drawn point yet: no cost to map)
            return None
        t = s.trainer
        model = t.model
        key = (id(model), tuple(network.layer_sizes(model)))
        if key != self._network_key:
            self._network_key = key
            self._invalidate()
        if self.refs is None and not self._choose():
            return None
        self.path.record(t.step, *(r.value(model) for r in self.refs))
        finished, self._finished = self._finished, None
        if finished is not None and finished[0] == self._generation:
            _, wire, duration = finished
            self._wire = (wire["version"], wire) if wire is not None else self._wire
            self._busy = False
            self._next_time = time.perf_counter() + max(1.0 / MAX_PER_SECOND, OVERHEAD * duration)
        stamp = (s.model_version, s.dataset_version)
        if stamp != self._computed_for and not self._busy:
            wait = self._next_time - time.perf_counter()
            if wait <= 0:
                self._start(stamp)
            elif self._reminder is None:  # a paused session builds no frame by itself: ask for one when due
                self._reminder = threading.Timer(wait, self._remind)
                self._reminder.daemon = True
                self._reminder.start()
        return self._wire

    def _remind(self) -> None:
        with self.session.host.lock:
            self._reminder = None
            self.session.dirty = True

    def _choose(self) -> bool:
        s = self.session
        if self.chosen is not None:
            try:
                self.refs = landscape.check_weights(s.trainer.model, self.chosen)
                return True
            except landscape.WeightChoiceError:  # the network changed under the choice: back to automatic
                self.chosen = None
        try:
            self.refs = landscape.default_weights(s.trainer.model, s.data.X_train, s.trainer.T_train, s.trainer.cost_name)
        except ValueError:  # fewer than two weights: nothing to plot
            return False
        return True

    def _start(self, stamp) -> None:
        s = self.session
        t = s.trainer
        model = t.model
        self._computed_for = stamp
        self._busy = True
        self.version += 1
        steps, values = self.path.arrays()
        meta = {"version": self.version, "step": t.step, "weights": [r.to_wire() for r in self.refs],
                "auto": self.chosen is None, "cost": s.trainer.cost_name, "layer_sizes": network.layer_sizes(model)}
        centre = np.array([r.value(model) for r in self.refs])
        job = (landscape.snapshot(model), s.data.X_train, t.T_train, self.refs,
               spans_with_path(centre, self.path), steps, values, meta, self._generation)
        _submit(self._compute, *job)

    def _compute(self, model, X, T, refs, spans, steps, values, meta, generation) -> None:
        """On the worker thread: the landscape of the snapshot, then hand it to the session's next frame."""
        began = time.perf_counter()
        try:
            widest = max(network.layer_sizes(model)[1:])  # the batched arrays are layer outputs
            view = landscape.compute(model, X, T, meta["cost"], refs, resolution=resolution_for(len(X), widest),
                                     arrows=ARROWS, spans=spans)
            b = Bundle()
            b.add("landscape.w1", view.axes[0])
            b.add("landscape.w2", view.axes[1])
            b.add("landscape.loss", view.loss)
            b.add("landscape.arrow_w1", view.arrow_axes[0])
            b.add("landscape.arrow_w2", view.arrow_axes[1])
            b.add("landscape.grad", view.gradient)
            b.add("landscape.path", values)
            b.add("landscape.path_step", steps, "i4")
            wire = b.to_wire(**meta, labels=list(view.labels), loss=finite_or_none(view.current_loss),
                             gradient=[finite_or_none(g) for g in view.current_gradient])
        except Exception:  # a bug: log it, keep the session; the landscape simply is not updated
            log.exception("landscape failed")
            wire = None
        with self.session.host.lock:
            self._finished = (generation, wire, time.perf_counter() - began)
            self.session.dirty = True  # owed to the viewers even while paused
