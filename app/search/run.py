"""A search running: its study in a storage, its worker processes, its events, its summary and its best model.

    run = SearchRun(spec)          # checks the storage and creates the study: nothing trains yet
    run.start()                    # worker processes (not threads: the GIL), sharing the study
    run.events()                   # what happened since the last call, never blocking
    run.stop()                     # finished trials are kept
    run.summary()                  # the command line's JSON object

Workers are separate Python processes (``python -m app.search.worker --managed``), the same program a worker on
another machine runs: they share nothing with the page's process but the study's storage and a pipe (events out,
tickets and stop in), so forking a threaded server never happens and a worker never outlives its pipe.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from typing import Callable

import optuna
from optuna.trial import TrialState

from app.server.errors import Described
from app.sessions.headless import build_lab, train_epochs

from . import worker as workermod
from .spec import SearchError, SearchSpec
from .storage import open_storage

JOURNAL_FILE = "search.journal"
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # holds app/
STOP_TIMEOUT = 10.0  # s a worker has to finish its epoch and tell its trial after stop()
POLL_SECONDS = 1.0   # how often a run reads the storage for the trials other runs' workers take (other machines)
FOREIGN_WAIT = 120.0  # s a run whose own workers are done still waits for the other runs' trials to finish

optuna.logging.set_verbosity(optuna.logging.WARNING)


class WorkerPool:
    """``count`` worker processes on one study. ``tickets``: how many trials they may start between them (None:
    no count of their own). ``budget_left()``: how many trials the study's budget still allows, counted in the
    storage (every run's and machine's trials). A ticket is granted only while the trials recorded plus the
    tickets granted and not yet turned into a recorded trial stay within the budget, so two workers of one pool
    never both take the last trial (workers on another machine still can: the later one is told FAIL, "over the
    budget")."""

    def __init__(self, storage_url: str, study_name: str, count: int, tickets: int | None = None,
                 first_index: int = 0, origin: str | None = None, budget_left: Callable[[], int] | None = None):
        self.events: queue.Queue[dict] = queue.Queue()
        self._tickets = tickets
        self._budget_left = budget_left
        self._lock = threading.Lock()
        self._granted = threading.Condition(self._lock)  # notified when a granted ticket is used or given back
        self._pending: set[subprocess.Popen] = set()  # workers holding a ticket whose trial is not recorded yet
        self.processes: list[subprocess.Popen] = []
        self._readers: list[threading.Thread] = []
        for k in range(first_index, first_index + count):
            process = subprocess.Popen(
                [sys.executable, "-m", "app.search", "--storage", storage_url, "--study", study_name,
                 "--index", str(k), "--managed", *(["--origin", origin] if origin else [])],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_PARENT,
                                                                              os.environ.get("PYTHONPATH")]))})
            reader = threading.Thread(target=self._read, args=(process,), name=f"nnp-search-reader-{k}", daemon=True)
            reader.start()
            self.processes.append(process)
            self._readers.append(reader)

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not ours (a library printing): stdout is the events' only by convention
            if event.get("type") == "ticket":
                self._answer(process, self._take(process))
            else:
                if event.get("type") == "trial_started":  # asked before it is announced: now in the storage
                    self._release(process)
                self.events.put(event)
        self._release(process)  # the worker is gone: a ticket it held is not going to be used

    def _release(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._pending.discard(process)
            self._granted.notify_all()

    def _take(self, process: subprocess.Popen) -> bool:
        with self._lock:
            self._pending.discard(process)  # a worker asks again only after its last trial was told
            if self._tickets is not None and self._tickets <= 0:
                return False
            if self._budget_left is not None:
                while self._budget_left() - len(self._pending) <= 0:
                    if not self._pending:
                        return False
                    # another worker's ticket may yet come back unused (it found the study full): wait for it
                    self._granted.wait(0.5)
            if self._tickets is not None:
                self._tickets -= 1
            self._pending.add(process)
            return True

    @staticmethod
    def _answer(process: subprocess.Popen, yes: bool) -> None:
        try:
            process.stdin.write("yes\n" if yes else "no\n")
            process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    @property
    def alive(self) -> bool:
        """A worker runs, or a reader still has its last events to queue."""
        return any(p.poll() is None for p in self.processes) or any(r.is_alive() for r in self._readers)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask each worker to stop at its next epoch; terminate one that has not exited after ``timeout`` s."""
        for process in self.processes:
            try:
                process.stdin.write("stop\n")
                process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass
        self.wait(timeout)
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(2.0)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        for reader in self._readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process.stdin and not process.stdin.closed:
                try:
                    process.stdin.close()
                except OSError:
                    pass
        return not self.alive


class SearchRun:
    """One search: ``spec`` (a checked SearchSpec) in ``storage`` (a URL; None: a journal file in a temporary
    folder, removed when the run is closed) under ``study_name`` (None: a fresh one). Raises SearchError when the
    storage cannot be reached or the study name is taken: nothing is started then."""

    def __init__(self, spec: SearchSpec, storage: str | None = None, study_name: str | None = None):
        self.spec = spec
        self._tmp = tempfile.mkdtemp(prefix="nnp-search-") if storage is None else None
        self._url = os.path.join(self._tmp, JOURNAL_FILE) if storage is None else storage
        self._tickets: int | None = spec.budget  # this run's workers share the budget between them
        self._first_index = 0  # worker k's sampler is seeded with seed + k
        self._pool: WorkerPool | None = None
        self._started_at: float | None = None
        self._finished_sent = False
        self.failures: list[str] = []
        self._init_foreign()
        try:
            self._storage = open_storage(self._url)
            self.study_name = study_name or f"{spec.lab}-{spec.sampler}-{secrets.token_hex(4)}"
            try:
                self.study = optuna.create_study(study_name=self.study_name, storage=self._storage,
                                                 direction=spec.direction)
            except optuna.exceptions.DuplicatedStudyError:
                raise SearchError("study", self.study_name, "a name no study in this storage has",
                                  f"a study named {self.study_name!r} exists in this storage: choose another "
                                  f"name, or join it with nnplayground search-worker") from None
            self.study.set_user_attr(workermod.SPEC_ATTR, spec.to_dict())
        except BaseException:
            self.close()
            raise

    @classmethod
    def join(cls, storage: str, study_name: str, workers: int = 1, first_index: int = 0) -> "SearchRun":
        """A run of ``workers`` more processes on an existing study (another machine's, say): the spec is the
        study's own; they take trials until the study's budget is spent, counted in the storage."""
        run = cls.__new__(cls)
        run._tmp, run._url, run._tickets, run._pool = None, storage, None, None
        run._started_at, run._finished_sent, run.failures = None, False, []
        run._first_index = first_index
        run._init_foreign()
        run._storage = open_storage(storage)
        try:
            run.study = optuna.load_study(study_name=study_name, storage=run._storage)
        except KeyError:
            raise SearchError("study", study_name, "the name of a study in this storage",
                              f"no study named {study_name!r} in this storage") from None
        if workermod.SPEC_ATTR not in run.study.user_attrs:
            raise SearchError("study", study_name, "a study started by nnplayground search",
                              f"the study {study_name!r} was not started by nnplayground search (it has no spec)")
        run.study_name = study_name
        run.spec = dataclasses.replace(workermod.load_spec(run.study), workers=workers)
        return run

    @property
    def storage_url(self) -> str:
        """Where the study lives (this process's workers are handed it; never shown in a page)."""
        return self._url

    # --- running
    def start(self) -> None:
        """Start ``spec.workers`` worker processes (returns at once)."""
        if self._pool is not None:
            raise SearchError("", Described("<start>"), "one start per run", "this search has started already")
        self._started_at = time.monotonic()
        self._pool = WorkerPool(self._url, self.study_name, self.spec.workers, tickets=self._tickets,
                                first_index=self._first_index, origin=self.origin, budget_left=self._budget_left)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the workers: each tells its running trial (FAIL, "stopped") at its next epoch and exits; one that
        has not within ``timeout`` s is terminated. Finished trials stay in the study."""
        self._stopping = True  # and the other runs' trials are not waited for
        if self._pool is not None:
            self._pool.stop(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every worker has exited (or ``timeout`` s); True when they have."""
        return self._pool is not None and self._pool.wait(timeout)

    @property
    def started(self) -> bool:
        return self._pool is not None

    @property
    def done(self) -> bool:
        """Every worker has exited and ``events()`` has returned all their events, search_finished last."""
        return self._finished_sent

    def events(self, timeout: float = 0.0) -> list[dict]:
        """The events since the last call: trial_started, trial_epoch, trial_finished, worker_failed, and once,
        after the last, search_finished with the summary. Never blocks, unless ``timeout`` > 0: then waits up to
        that long for a first event."""
        out: list[dict] = []
        if self._pool is None or self._finished_sent:
            return out
        if timeout > 0:
            try:
                out.append(self._pool.events.get(timeout=timeout))
            except queue.Empty:
                pass
        alive = self._pool.alive  # read first: events queued before the workers ended are all drained below
        while True:
            try:
                event = self._pool.events.get_nowait()
            except queue.Empty:
                break
            out.append(event)
        self.failures += [e["reason"] for e in out if e.get("type") == "worker_failed"]
        if not alive and self._own_ended is None:
            self._own_ended = time.monotonic()
        out += self._foreign_events(force=not alive)
        if not alive and not self._waiting_for_foreign():
            self._finished_sent = True
            out.append({"type": "search_finished", "summary": self.summary()})
        return out

    # --- the trials other runs take (workers joined from other machines, on a shared storage)
    def _budget_left(self) -> int:
        """Trials the study's budget still allows, counted in the storage (every run's, every machine's)."""
        return self.spec.budget - len(self.study.get_trials(deepcopy=False))

    def _init_foreign(self) -> None:
        self.origin = secrets.token_hex(8)  # written on every trial this run's workers take
        self._foreign: dict[int, dict] = {}  # trial number -> what was told of it: started, epochs, finished
        self._polled = -math.inf
        self._own_ended: float | None = None
        self._stopping = False

    def _foreign_events(self, force: bool = False) -> list[dict]:
        """The same events as this run's workers send, for the trials other runs' workers took since the last
        look (read from the storage at most every POLL_SECONDS): each trial_started, trial_epoch (where the
        storage has the epoch: with pruning on) and trial_finished exactly once."""
        now = time.monotonic()
        if not force and now - self._polled < POLL_SECONDS:
            return []
        self._polled = now
        out = []
        for t in self.study.get_trials(deepcopy=False):
            origin = t.user_attrs.get(workermod.ORIGIN_ATTR)
            if origin is None or origin == self.origin:  # ours (or not yet marked: the next look)
                continue
            told = self._foreign.setdefault(t.number, {"started": False, "epochs": 0, "finished": False})
            if told["finished"]:
                continue
            if not told["started"]:
                told["started"] = True
                out.append({"type": "trial_started", "number": t.number, "params": dict(t.params)})
            for epoch in sorted(e for e in t.intermediate_values if e > told["epochs"]):
                value = t.intermediate_values[epoch]
                out.append({"type": "trial_epoch", "number": t.number, "epoch": epoch,
                            "value": value if math.isfinite(value) else None, "train_loss": None})
                told["epochs"] = epoch
            if t.state.is_finished():
                told["finished"] = True
                record = trial_record(t)
                out.append({"type": "trial_finished", **{k: record[k] for k in
                                                         ("number", "state", "value", "params", "seconds",
                                                          "reason")}})
        return out

    def _waiting_for_foreign(self) -> bool:
        """This run's workers are done, but trials other runs took are still training (up to FOREIGN_WAIT)."""
        if self._stopping or self._own_ended is None:
            return False
        running = any(not told["finished"] for told in self._foreign.values())
        return running and time.monotonic() - self._own_ended < FOREIGN_WAIT

    def progress(self) -> dict:
        """Trials done of the budget, best so far, seconds elapsed and (an estimate) left."""
        trials = self.study.get_trials(deepcopy=False)
        done = sum(t.state.is_finished() for t in trials)
        elapsed = 0.0 if self._started_at is None else time.monotonic() - self._started_at
        left = None
        if done:
            left = max(0.0, elapsed / done * (self.spec.budget - done))
        return {"done": done, "budget": self.spec.budget, "best_value": _best(self.study, self.spec)[0],
                "elapsed": elapsed, "left": left}

    # --- results
    def summary(self) -> dict:
        """The command line's JSON object: sampler, n_trials (trials recorded), budget, best_value, best_params,
        objective, direction, and each trial {number, state, value, params, seconds, reason}. No storage URL."""
        trials = self.study.get_trials(deepcopy=False)
        best_value, best_params = _best(self.study, self.spec)
        return {
            "lab": self.spec.lab, "dataset": self.spec.dataset, "sampler": self.spec.sampler,
            "objective": self.spec.objective, "direction": self.spec.direction, "study": self.study_name,
            "n_trials": len(trials), "budget": self.spec.budget, "epochs": self.spec.epochs,
            "best_value": best_value, "best_params": best_params,
            "trials": [trial_record(t) for t in trials],
        }

    def importances(self) -> dict[str, float]:
        return param_importances(self.study)

    def best_model(self) -> tuple[dict, bytes | None]:
        """(settings, model file) of the best finished trial: its lab settings, and the model retrained from them
        (the same settings and seed give the same weights) saved in the lab's own .npz format — what the page's
        Load accepts — or None for a lab without model files. SearchError when no trial has finished."""
        lab = self.best_lab()
        settings = {k: (list(v) if isinstance(v, list) else v) for k, v in lab.settings.items()}
        model_io = lab.model_io
        if model_io is None or not hasattr(model_io, "to_npz"):
            return settings, None
        return settings, model_io.to_npz(lab)

    def best_lab(self):
        """The best finished trial's lab, rebuilt from its settings and trained its epochs again, headless (the
        same settings and seed give the same weights, so its test value is the trial's). SearchError when no
        trial has finished."""
        value, params = _best(self.study, self.spec)
        if params is None:
            raise SearchError("", Described("<no finished trial>"), "a search with a finished trial",
                              "no trial has finished yet: there is no best model")
        lab = build_lab(self.spec.lab, self.spec.settings(params))
        train_epochs(lab, self.spec.epochs)
        return lab

    def close(self) -> None:
        """Stop the workers if they run, and remove the temporary journal (if the run made one)."""
        if getattr(self, "_pool", None) is not None:
            self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "SearchRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _best(study: optuna.Study, spec: SearchSpec) -> tuple[float | None, dict | None]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return None, None
    pick = min if spec.direction == "minimize" else max
    best = pick(complete, key=lambda t: (t.value, -t.number) if pick is max else (t.value, t.number))
    return best.value, dict(best.params)


def trial_record(t: optuna.trial.FrozenTrial) -> dict:
    seconds = t.user_attrs.get(workermod.SECONDS_ATTR)
    if seconds is None and t.datetime_start and t.datetime_complete:
        seconds = (t.datetime_complete - t.datetime_start) / timedelta(seconds=1)
    value = t.value if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None
    if t.state == TrialState.PRUNED and value is None and t.intermediate_values:
        value = t.intermediate_values[max(t.intermediate_values)]
    return {"number": t.number, "state": t.state.name,
            "value": value if value is None or math.isfinite(value) else None,
            "params": dict(t.params), "seconds": seconds, "reason": t.user_attrs.get(workermod.REASON_ATTR)}


def param_importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's get_param_importances with its default evaluator (PED-ANOVA: numpy only, no scikit-learn), over
    the finished trials so far; {} while fewer than two trials have finished or nothing varied."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    try:
        return {name: float(v) for name, v in optuna.importance.get_param_importances(study).items()}
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
