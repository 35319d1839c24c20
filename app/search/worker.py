"""A search worker: a process that takes trials from a shared study until its budget is spent.

Each trial builds the lab from the trial's settings and trains it headless (app.sessions.headless), sending the
objective after every epoch as an event (the page draws it) and, with pruning on, reporting it to Optuna (the
pruner reads it from the storage). A trial
that diverges — a non-finite loss, gradient, weight or test loss — is told FAIL with its reason and the worker
goes on. Workers on one machine are processes started by app.search.run; a worker on another machine is
``nnplayground search-worker`` on the same storage URL: the study itself carries the spec (its user attribute
"spec"), so a URL and a study name are all a worker needs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import signal
import sys
import threading
import time
from typing import Callable

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from app.server.errors import ControlError
from app.sessions.headless import build_lab, train_epochs

from .spec import SearchSpec
from .storage import open_storage

NICE = 10  # workers yield the CPU to a live page on the same machine
SPEC_ATTR = "spec"
REASON_ATTR = "reason"
SECONDS_ATTR = "seconds"
ORIGIN_ATTR = "origin"  # which run's workers took the trial: a run shows the others' trials from the storage

Emit = Callable[[dict], None]


class _Grid(optuna.samplers.GridSampler):
    """Optuna's GridSampler, minus its ``study.stop()`` once the lattice is done: that call works only inside
    ``study.optimize``, and our workers ask and tell (the budget, the lattice's size, stops them)."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def make_sampler(spec: SearchSpec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler for worker number ``worker``. Random and Bayesian samplers get seed + worker (the same
    seed in two processes would draw the same points); the grid's seed only shuffles its order, and every worker
    must share it: trial number k takes the lattice's k-th point, so the lattice is covered exactly once."""
    seed = spec.seed + worker
    startup = max(2, min(10, spec.budget // 4))  # random trials before the model kicks in: a tenth to a quarter
    if spec.sampler == "grid":
        return _Grid(spec.grid_space(), seed=spec.seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)


def make_pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    if spec.pruning:  # a trial worse than the median of the others at the same epoch stops there
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def distributions(spec: SearchSpec) -> dict:
    out = {}
    for p in spec.params:
        if p.kind == "choice":
            out[p.name] = CategoricalDistribution(p.choices)
        elif p.kind == "int":
            out[p.name] = IntDistribution(p.low, p.high, log=p.log)
        else:
            out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
    return out


def load_spec(study: optuna.Study) -> SearchSpec:
    return SearchSpec.from_dict(study.user_attrs[SPEC_ATTR])


class _Stopped(Exception):
    pass


class _Failed(Exception):
    pass


def run_trial(spec: SearchSpec, trial: optuna.Trial, emit: Emit, stopping: Callable[[], bool]):
    """Train one trial; returns (state, value, reason). Intermediate values go to ``trial.report`` and ``emit``."""
    number = trial.number
    try:
        lab = build_lab(spec.lab, spec.settings(trial.params))
    except ControlError as error:  # e.g. width × depth over the lab's parameter limit
        return TrialState.FAIL, None, str(error)
    last = {}

    def on_epoch(result) -> None:
        value = result.test.loss if spec.objective == "test_loss" else result.test.accuracy
        emit({"type": "trial_epoch", "number": number, "epoch": result.epoch, "value": _json_number(value),
              "train_loss": _json_number(result.train_loss)})
        if value is None or not math.isfinite(value):
            raise _Failed(f"the test loss became {value} after epoch {result.epoch}: training diverged")
        last["value"] = value
        if spec.pruning:  # a write to the shared storage each epoch: only when the pruner reads it (the page's
            trial.report(value, result.epoch)  # curves come by the events)
            if trial.should_prune():
                raise optuna.TrialPruned()
        if stopping():
            raise _Stopped()

    try:
        train_epochs(lab, spec.epochs, on_epoch)
    except optuna.TrialPruned:
        return TrialState.PRUNED, last.get("value"), "pruned: worse than the median of the other trials"
    except _Failed as failure:
        return TrialState.FAIL, None, str(failure)
    except _Stopped:
        return TrialState.FAIL, None, "stopped: the search was stopped before this trial finished"
    if lab.status == "diverged":
        return TrialState.FAIL, None, lab.divergence["message"]
    if "value" not in last:
        return TrialState.FAIL, None, "no epoch was trained"
    return TrialState.COMPLETE, last["value"], None


def _json_number(x):
    return x if x is None or math.isfinite(x) else None


def work(storage_url: str, study_name: str, worker: int = 0, emit: Emit | None = None,
         stopping: Callable[[], bool] = lambda: False, take_ticket: Callable[[], bool] = lambda: True,
         origin: str | None = None) -> int:
    """Take trials from the study until its budget is spent (or ``stopping()``); returns the trials this worker
    ran. ``take_ticket()`` (the local workers' shared counter) must say yes before each trial. ``origin``: the
    run this worker belongs to, written on each trial it takes (``ORIGIN_ATTR``) so the other runs on the study
    can tell its trials from theirs."""
    emit = emit or (lambda event: None)
    storage = open_storage(storage_url)
    spec = load_spec(optuna.load_study(study_name=study_name, storage=storage))
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=make_sampler(spec, worker),
                              pruner=make_pruner(spec))
    space = distributions(spec)
    ran = 0
    while not stopping():
        if len(study.get_trials(deepcopy=False)) >= spec.budget or not take_ticket():
            break
        trial = study.ask(space)
        if origin:
            trial.set_user_attr(ORIGIN_ATTR, origin)
        if trial.number >= spec.budget:  # a worker elsewhere took the last trial at the same moment
            trial.set_user_attr(REASON_ATTR, "over the budget: another worker took the last trial")
            study.tell(trial, state=TrialState.FAIL)
            break
        started = time.perf_counter()
        emit({"type": "trial_started", "number": trial.number, "params": dict(trial.params)})
        try:
            state, value, reason = run_trial(spec, trial, emit, stopping)
        except KeyboardInterrupt:
            state, value, reason = TrialState.FAIL, None, "stopped: the worker was interrupted"
        seconds = time.perf_counter() - started
        trial.set_user_attr(SECONDS_ATTR, seconds)
        if reason:
            trial.set_user_attr(REASON_ATTR, reason)
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
        emit({"type": "trial_finished", "number": trial.number, "state": state.name, "value": value,
              "params": dict(trial.params), "seconds": seconds, "reason": reason})
        ran += 1
        if reason and reason.startswith("stopped: the worker"):
            break
    return ran


class Managed:
    """A worker's side of the pipe to the process that started it (app.search.run.WorkerPool): events go out as
    JSON lines on stdout; before each trial it asks for a ticket and reads "yes" or "no" on stdin; "stop" on
    stdin (or stdin closing: the parent is gone) stops it at the next epoch."""

    def __init__(self, stdin=None, stdout=None):
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self._answers: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        threading.Thread(target=self._read, name="nnp-search-stdin", daemon=True).start()

    def _read(self) -> None:
        for line in self._in:
            line = line.strip()
            if line == "stop":
                self._stop.set()
            else:
                self._answers.put(line)
        self._stop.set()  # the parent closed the pipe: it is gone, or it wants us gone
        self._answers.put("no")

    def emit(self, event: dict) -> None:
        with self._write_lock:
            self._out.write(json.dumps(event) + "\n")
            self._out.flush()

    def stopping(self) -> bool:
        return self._stop.is_set()

    def take_ticket(self) -> bool:
        self.emit({"type": "ticket"})
        return self._answers.get() == "yes"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app.search",
                                     description="One search worker (started by nnplayground search, search-worker "
                                                 "or the page): trials from a shared study until its budget is spent.")
    parser.add_argument("--storage", required=True, help="the study's storage URL (docs/search.md)")
    parser.add_argument("--study", required=True, help="the study's name")
    parser.add_argument("--index", type=int, default=0, help="this worker's number (seeds its sampler: seed + index)")
    parser.add_argument("--origin", default=None, help="the run this worker belongs to (written on its trials)")
    parser.add_argument("--managed", action="store_true",
                        help="events as JSON lines on stdout; tickets and stop on stdin (the starting process's pipe)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        os.nice(NICE)
    except OSError:
        pass
    if not args.managed:
        work(args.storage, args.study, args.index, origin=args.origin)
        return
    # Ctrl+C on a terminal reaches the whole process group: the parent stops us through the pipe instead, at an
    # epoch's end (an interrupt in the middle of a storage write could leave the journal's lock behind).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    link = Managed()
    try:
        work(args.storage, args.study, args.index, link.emit, link.stopping, link.take_ticket, args.origin)
    except Exception as error:  # a bug or a storage that went away: the parent shows it, the others go on
        # (the traceback goes to stderr; the event names the error's kind only: its text may hold an address)
        link.emit({"type": "worker_failed", "worker": args.index,
                   "reason": f"worker {args.index} stopped on {type(error).__name__} (see the server's log)"})
        raise

