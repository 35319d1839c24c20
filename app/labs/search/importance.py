"""Parameter importances of a race's trials, computed on a thread of their own: Optuna's evaluator fits a forest
of trees, which takes longer than a scheduler tick may hold the session's lock. ``touch`` asks for a new
estimate (a trial finished); the newest is ``values`` with ``version`` bumped, and ``on_new`` tells the lab it
owes its viewers a frame.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)
MIN_TRIALS = 4  # fewer complete trials say nothing about what matters


class Importances:
    def __init__(self, on_new=lambda: None):
        self.on_new = on_new
        self.version = 0
        self.values: dict | None = None  # {"all": {param: share}, "<sampler>": {...}}
        self._race = None
        self._wanted = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def restart(self, race) -> None:
        with self._lock:
            self._race = race
            self.values = None
            self.version += 1

    def touch(self) -> None:
        """A trial finished: estimate again (once the thread is free; requests meanwhile fold into one)."""
        if self._closed:
            return
        self._wanted.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nnplayground-importances", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._wanted.set()

    def wire(self) -> dict:
        return {"importances": self.values}

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closed:
                return
            race = self._race
            if race is None:
                continue
            try:
                values = estimate(race)
            except Exception:  # an estimate is a view, not the race: log it and keep the race going
                log.exception("parameter importances failed")
                continue
            with self._lock:
                if race is not self._race or values is None:
                    continue
                self.values = values
                self.version += 1
            self.on_new()


def estimate(race) -> dict | None:
    """Each sampler's importances (Optuna's default evaluator over its study's complete trials) and their mean
    weighted by complete trials: {"all": {param: share}, "samplers": {sampler: {param: share}}, "trials": n};
    None until some sampler has MIN_TRIALS complete trials."""
    per, counts = {}, {}
    for sampler, run in list(race.runs.items()):
        complete = sum(1 for t in list(race.logs[sampler].finished) if t["state"] == "complete")
        if complete < MIN_TRIALS:
            continue
        values = run.importances()
        if values:
            per[sampler], counts[sampler] = values, complete
    if not per:
        return None
    total = sum(counts.values())
    mean = {p: sum(per[s].get(p, 0.0) * counts[s] for s in per) / total for p in race.params}
    norm = sum(mean.values()) or 1.0
    return {"all": {p: v / norm for p, v in mean.items()}, "samplers": per, "trials": total}
