"""A race: one search run (app.search.SearchRun) per sampler on the same space and budget, and what each has done
so far, folded from its events (docs/search.md lists them).

``SamplerLog.take(event)`` is the whole bookkeeping of one sampler: trials finished (in the order they finished),
trials running with their learning curves, the best so far after each finished trial, and the epochs trained.
It is pure: the lab feeds it what ``run.events()`` returned, under the session's lock.
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque

RECENT_CURVES = 8   # finished trials' learning curves the page keeps showing (faded) per sampler
DIRECTIONS = {"test_loss": "minimize", "test_accuracy": "maximize"}


def _finite(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class SamplerLog:
    """One sampler's trials so far. ``direction``: "minimize" or "maximize" (the objective's)."""

    def __init__(self, sampler: str, budget: int, direction: str):
        self.sampler = sampler
        self.budget = budget
        self.direction = direction
        self.finished: list[dict] = []   # {number, state, value, params, seconds, reason, curve}, in finishing order
        self.running: dict[int, dict] = {}  # number -> {number, params, curve: [value per epoch], train: [...]}
        self.recent: deque[dict] = deque(maxlen=RECENT_CURVES)  # {number, state, curve} of the last finished
        self.best: dict | None = None    # the best complete trial
        self.best_so_far: list[float | None] = []  # the best value after each finished trial
        self.epochs = 0                  # epochs trained over all trials
        self.searching = True            # until search_finished
        self.curve_version = 0           # bumped by every event that changes a curve
        self.summary: dict | None = None
        self.failures: list[str] = []    # workers that stopped on an error (the others go on)

    def better(self, a: float, b: float) -> bool:
        return a < b if self.direction == "minimize" else a > b

    def take(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "trial_started":
            self.running[event["number"]] = {"number": event["number"], "params": event.get("params") or {},
                                             "curve": [], "train": []}
            self.curve_version += 1
        elif kind == "trial_epoch":
            trial = self.running.setdefault(event["number"], {"number": event["number"], "params": {},
                                                              "curve": [], "train": []})
            trial["curve"].append(_finite(event.get("value")))
            trial["train"].append(_finite(event.get("train_loss")))
            self.epochs += 1
            self.curve_version += 1
        elif kind == "trial_finished":
            self._finish(event)
        elif kind == "worker_failed":
            self.failures.append(str(event.get("reason", "")))
        elif kind == "search_finished":
            self.searching = False
            self.summary = event.get("summary")
            self.running.clear()
            self.curve_version += 1

    def _finish(self, event: dict) -> None:
        number = event["number"]
        running = self.running.pop(number, None) or {"curve": []}
        state = str(event.get("state", "")).lower()
        if state == "fail" and str(event.get("reason") or "").startswith("stopped"):
            state = "stopped"  # cut short by a stop: not a failure of its hyperparameters
        value = _finite(event.get("value"))
        trial = {"number": number, "state": state, "value": value, "params": event.get("params") or {},
                 "seconds": event.get("seconds"), "reason": event.get("reason"), "curve": running["curve"]}
        self.finished.append(trial)
        self.recent.append({"number": number, "state": state, "curve": running["curve"]})
        if state == "complete" and value is not None and (self.best is None or self.better(value, self.best["value"])):
            self.best = trial
        self.best_so_far.append(None if self.best is None else self.best["value"])
        self.curve_version += 1

    # --- what the page is sent
    def progress(self) -> dict:
        states = [t["state"] for t in self.finished]
        best = self.best
        return {"sampler": self.sampler, "done": len(self.finished), "budget": self.budget,
                "running": len(self.running), "complete": states.count("complete"),
                "pruned": states.count("pruned"), "failed": states.count("fail"),
                "stopped": states.count("stopped"), "worker_failures": self.failures, "searching": self.searching,
                "best_value": None if best is None else best["value"],
                "best_number": None if best is None else best["number"],
                "best_params": None if best is None else best["params"]}

    def trials_wire(self) -> list[dict]:
        """The finished trials as the page draws them (the curves travel in ``curves_wire``)."""
        return [{k: t[k] for k in ("number", "state", "value", "params", "seconds", "reason")}
                | {"best_so_far": b} for t, b in zip(self.finished, self.best_so_far)]

    def curves_wire(self) -> list[dict]:
        running = [{"number": t["number"], "state": "running", "curve": t["curve"], "params": t["params"]}
                   for t in self.running.values()]
        return list(self.recent) + running


class WorkerBudget:
    """The search processes the whole server runs at once: a race takes its share or is refused, so no client
    can fill the machine with workers (one race of three samplers always fits). A race gives its share back when
    it ends or stops — or, found when another asks, once its workers have all exited (a race that finished while
    its session showed another lab has not been told yet)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.holders: dict[int, tuple] = {}  # id(race) -> (race, processes)
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return sum(count for _race, count in self.holders.values())

    def take(self, race, count: int) -> bool:
        with self._lock:
            for key, (holder, _count) in list(self.holders.items()):
                if holder.workers_exited():
                    del self.holders[key]
            if self.used + count > self.limit:
                return False
            self.holders[id(race)] = (race, count)
            return True

    def give_back(self, race) -> None:
        with self._lock:
            self.holders.pop(id(race), None)


WORKERS = WorkerBudget(max(3, os.cpu_count() or 1))


def spec_dict(settings: dict, sampler: str) -> dict:
    """The search module's spec (app.search.SearchSpec.from_dict) for one sampler of a race with ``settings``."""
    from .schema import BY_NAME

    params = {}
    for name in settings["params"]:
        h = BY_NAME[name]
        if h.kind == "choice":
            params[name] = {"choices": list(settings[h.choices])}
        else:
            params[name] = {"low": settings[h.low], "high": settings[h.high], "log": h.log}
    return {"lab": settings["target"], "dataset": settings["dataset"], "sampler": sampler,
            "trials": settings["trials"], "epochs": settings["epochs"], "params": params,
            "objective": settings["objective"], "seed": settings["seed"], "workers": settings["workers"],
            "pruning": settings["pruning"] != "off", "base": {}}


class Race:
    """The samplers of ``settings["samplers"]`` searching the same space with the same budget, one
    app.search.SearchRun each. ``number`` tells this race from the session's earlier ones (the page starts over).

    Construction checks every spec (SearchError, nothing started); ``start`` takes the worker processes from
    ``WORKERS`` and starts the runs; ``poll`` folds their new events into the logs; ``stop`` ends them (the
    finished trials stay). Call with the session's lock held."""

    def __init__(self, settings: dict, number: int):
        from app.search import SearchSpec

        self.number = number
        self.settings = {k: (list(v) if isinstance(v, list) else v) for k, v in settings.items()}
        self.objective = settings["objective"]
        self.direction = DIRECTIONS[self.objective]
        self.params = list(settings["params"])
        self.space = spec_dict(settings, "grid")["params"]  # each searched hyperparameter's range or choices
        self.specs = {s: SearchSpec.from_dict(spec_dict(settings, s)) for s in settings["samplers"]}
        self.logs = {s: SamplerLog(s, settings["trials"], self.direction) for s in self.specs}
        self.runs: dict = {}
        self.phase = "ready"  # "running" | "finished" | "stopped"
        self.processes = settings["workers"] * len(self.specs)
        self._stoppers: list[threading.Thread] = []

    def start(self) -> bool:
        """Start every run; False (nothing started) when the server runs too many search processes already."""
        from app.search import SearchRun

        if not WORKERS.take(self, self.processes):
            return False
        try:
            for sampler, spec in self.specs.items():
                run = SearchRun(spec)
                self.runs[sampler] = run
                run.start()
        except BaseException:
            self.close()  # what started stops, the studies go, the processes are given back
            raise
        self.phase = "running"
        return True

    def run_here(self) -> None:
        """Run the whole race in this process, one sampler after another, each by the code a worker process runs
        (app.search.worker.work, worker 0): the same trials as a race started with one worker per sampler.
        For headless lesson checks (app.lessons.runner), whose budgets are small; the studies are removed after."""
        from app.search import SearchRun
        from app.search.worker import work

        self.phase = "running"
        for sampler, spec in self.specs.items():
            log = self.logs[sampler]
            with SearchRun(spec) as run:
                work(run.storage_url, run.study_name, 0, emit=log.take)
                log.take({"type": "search_finished", "summary": run.summary()})
        self.phase = "finished"

    def poll(self) -> bool:
        """Fold every run's new events into its log; True when anything arrived. The race ends when every run
        has finished (its worker processes gone)."""
        news = False
        ended = all(run.done for run in self.runs.values())  # before draining: their last events are in
        for sampler, run in self.runs.items():
            for event in run.events():
                self.logs[sampler].take(event)
                news = True
        if self.phase == "running" and ended:
            for log in self.logs.values():
                log.searching = False
                log.running.clear()
            self.phase = "finished"
            self._release()
            news = True
        return news

    def stop(self) -> None:
        """Stop every run (their workers finish the epoch they are in and exit, on threads of their own: the
        session's lock is not held while they do). The finished trials stay."""
        if not self._stoppers:  # once: a run's stop is not to be called from two threads at a time
            self._stoppers = [threading.Thread(target=run.stop, name="nnplayground-search-stop", daemon=True)
                              for run in self.runs.values()]
            for thread in self._stoppers:
                thread.start()
        if self.phase in ("ready", "running"):
            self.phase = "stopped"
        for log in self.logs.values():
            log.searching = False
            log.running.clear()
            log.curve_version += 1
        # The processes stay counted until they have exited (WORKERS.take finds out): starting and stopping
        # races in a loop must not pile up workers that are still finishing their epoch.

    def close(self) -> None:
        """The race is over for good (replaced, forgotten, its session closed): stop the workers and remove the
        runs' studies. Blocks until they are gone."""
        self.stop()
        for thread in self._stoppers:
            thread.join()
        for run in self.runs.values():
            run.close()
        self._release()

    def _release(self) -> None:
        WORKERS.give_back(self)

    def workers_exited(self) -> bool:
        """Every run's worker processes have exited (whether or not their last events were read)."""
        if self._stoppers:  # stopping: done when the threads stopping them are
            return not any(thread.is_alive() for thread in self._stoppers)
        return all(run.wait(0) for run in self.runs.values())

    # --- results
    def better(self, a: float, b: float) -> bool:
        return a < b if self.direction == "minimize" else a > b

    def best(self, sampler: str | None = None) -> tuple[str, dict] | None:
        """(sampler, trial) of the best complete trial, of one sampler or of the race."""
        best = None
        for name, log in self.logs.items():
            if sampler not in (None, name) or log.best is None:
                continue
            if best is None or self.better(log.best["value"], best[1]["value"]):
                best = (name, log.best)
        return best

    def progress(self) -> dict:
        """The race at a glance (every frame, and the state): its phase and each sampler's progress."""
        return {"number": self.number, "phase": self.phase, "objective": self.objective,
                "direction": self.direction, "params": self.params, "space": self.space,
                "trials": self.settings["trials"],
                "epochs": self.settings["epochs"], "dataset": self.settings["dataset"],
                "target": self.settings["target"],
                "samplers": [log.progress() for log in self.logs.values()]}
