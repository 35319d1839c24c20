"""Run a lesson's steps on a session — headless for `nnplayground lessons --check` and the suite, or the live
session a page drives (app.lessons.events): the same three moves either way.

1. ``open_step``: the step's lab, its settings (the lessons' settings so far over the lab's defaults) and, for
   ``start: fresh``, the network a new session would build from them (seeded: the same on every machine); then
   the step's own events (``do``), through the lab's event handlers like the page's messages.
2. ``advance``: train up to the run's cap, testing ``until`` every ``every`` steps (the page's run stops at the
   same step: app.lessons.events trains in the same chunks). In the search lab the run is a race of samplers
   to the end of their budget: headless, in this process (Race.run_here); live, in worker processes.
3. ``check``: each condition on the lab's numbers; with ``seeds``, the median over fresh headless runs of the
   lesson up to this step, one per seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import time

import numpy as np

from app.server import commands
from app.server import messages
from app.server.errors import ControlError

from app.sessions.headless import build_lab

from .conditions import Condition, Outcome
from .loader import LoadedLesson, LoadedStep, Problem

HEADLESS_SID = "lesson"


class StepError(ValueError):
    """A step could not be applied to the lab (a combination its schema allows but the lab refuses)."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


@dataclass
class CheckResult:
    text: str
    that: str
    passed: bool
    measured: dict
    explain: str | None = None
    error: str | None = None
    seeds: list[int] | None = None
    per_seed: list[dict] | None = None

    def to_wire(self) -> dict:
        out = {"text": self.text, "that": self.that, "measured": _jsonable(self.measured), "passed": self.passed}
        for key in ("explain", "error", "seeds"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.per_seed is not None:
            out["per_seed"] = [_jsonable(m) for m in self.per_seed]
        return out


@dataclass
class StepResult:
    index: int
    title: str
    steps_trained: int = 0
    stopped_by: str | None = None   # "until", "cap", "diverged", "race" (a race ran its budget) or None (no run)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def _jsonable(measured: dict) -> dict:
    """Measured numbers for JSON: NaN and infinities as strings ("nan", "inf", "-inf")."""
    out = {}
    for key, value in measured.items():
        v = float(value)
        out[key] = v if np.isfinite(v) else ("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf"))
    return out


# --- 1. opening a step
def open_step(session, loaded: LoadedLesson, k: int, seed: int | None = None) -> None:
    """Bring ``session`` (its lock held) to step ``k``'s start. Raises StepError naming the step, field and line."""
    step = loaded.steps[k]
    spec = step.spec
    try:
        session.set_lab(step.lab)
        lab = session.lab
        if spec.start == "fresh":
            settings = dict(step.settings)
            if seed is not None:
                settings["seed"] = seed
            restart(lab, settings)
        elif spec.settings or seed is not None:
            lab.apply_settings({**spec.settings, **({"seed": seed} if seed is not None else {})})
        lab.pause()
    except ControlError as error:
        raise StepError(loaded.problem(k, f"settings.{error.field}" if error.field else "settings",
                                       error.explanation or str(error))) from None
    for i, item in enumerate(spec.do):
        (event, payload), = item.items()
        try:
            message = messages.validate(event, (payload,), lab.event_models())
            message = commands.prepare(lab, event, message)
            commands.apply(session, event, message, HEADLESS_SID, lab)
        except ControlError as error:
            raise StepError(loaded.problem(k, f"do.{i}.{event}", error.explanation or str(error))) from None


def restart(lab, settings: dict) -> None:
    """The lab as a new session would build it from ``settings`` over the lab's defaults: the settings checked
    together by the lab itself (a scratch copy applies them, so a refusal changes nothing), then one fresh,
    seeded build (the first draw: ``resets`` 0). The pace (``speed``) stays the teacher's unless the lesson
    sets it: it changes how fast the class watches, not what happens."""
    if "speed" in lab.settings and "speed" not in settings:
        settings = {**settings, "speed": lab.settings["speed"]}
    scratch = build_lab(lab.name, settings, lab.host.config)  # app.sessions.headless: the schema, then the lab
    lab.settings.clear()
    lab.settings.update(scratch.settings)
    lab.resets = 0
    lab.status = "paused"
    lab.build()
    lab._changed()


# --- 2. the run
def run_done(lab, step: LoadedStep, start_step: int, start_epoch: int) -> str | None:
    """Why the run of ``step`` is over now, or None: "diverged", "until" or "cap"."""
    run = step.spec.run
    t = lab.trainer
    if lab.status == "diverged":
        return "diverged"
    if run.steps is not None and t.step - start_step >= run.steps:
        return "cap"
    if run.epochs is not None and t.epoch - start_epoch >= run.epochs:
        return "cap"
    if step.until is not None and (t.step - start_step) % run.every == 0 and t.step > start_step:
        if step.until.evaluate(lab).passed:
            return "until"
    return None


def chunk(lab, step: LoadedStep, start_step: int) -> int:
    """Steps to train before the run must be looked at again: to the next multiple of ``every`` (from the run's
    start), the steps cap, or the epoch's end when the cap is in epochs."""
    run = step.spec.run
    t = lab.trainer
    done = t.step - start_step
    n = run.every - done % run.every
    if run.steps is not None:
        n = min(n, run.steps - done)
    if run.epochs is not None:
        n = min(n, t.steps_left_in_epoch())
    return max(1, n)


class OverBudget(RuntimeError):
    """Headless runs for the page took longer than the time they were given (``deadline``)."""


def advance(lab, step: LoadedStep, deadline: float | None = None) -> tuple[int, str]:
    """Train the step's run headless (the lock held): (steps trained, why it stopped). Past ``deadline``
    (time.perf_counter) it raises OverBudget. A race (the search lab) runs whole: (trials finished, "race")."""
    if step.spec.run.race:
        if deadline is not None and time.perf_counter() > deadline:
            raise OverBudget("the races over seeds took too long for the page; `nnplayground lessons --check "
                             "NAME` measures them")
        lab.race_here()
        return race_trials(lab), "race"
    t = lab.trainer
    start_step, start_epoch = t.step, t.epoch
    with np.errstate(all="ignore"):
        while True:
            why = run_done(lab, step, start_step, start_epoch)
            if why:
                break
            if deadline is not None and time.perf_counter() > deadline:
                raise OverBudget(f"the runs over seeds took too long for the page; `nnplayground lessons --check "
                                 f"NAME` measures them")
            if not lab._run_steps(chunk(lab, step, start_step)):
                why = "diverged" if lab.status == "diverged" else "cap"  # nothing to train on
                break
            lab.model_version += 1
    lab.dirty = True
    return t.step - start_step, why


def catch_up(session, loaded: LoadedLesson, k: int, deadline: float) -> list[int]:
    """Before opening step ``k`` (``start: continue``) on a live session that is not where step k - 1 left it:
    replay the steps it continues — from the last fresh one — with their runs, as --check plays them. The
    session's lock is taken one chunk at a time, so its viewers watch the replay and the scheduler serves the
    other sessions meanwhile; past ``deadline`` (time.perf_counter) it raises OverBudget. The steps replayed."""
    first = max([j for j in range(k) if loaded.steps[j].spec.start == "fresh"], default=0)
    for j in range(first, k):
        step = loaded.steps[j]
        if step.spec.run is not None and step.spec.run.race:  # the search lab: the race, whole, in this process
            with session.controlled():
                open_step(session, loaded, j)
                session.lab.race_here()
            continue
        with session.controlled():
            open_step(session, loaded, j)
            start = (session.lab.trainer.step, session.lab.trainer.epoch)
        while step.spec.run is not None:
            with session.controlled():
                lab = session.lab
                if run_done(lab, step, *start):
                    break
                if time.perf_counter() > deadline:
                    raise OverBudget(f"replaying steps {first + 1}–{k} (step {k + 1} continues them) took too long; "
                                     f"open step {k} and run it first")
                with np.errstate(all="ignore"):
                    done = lab._run_steps(chunk(lab, step, start[0]))
                lab.model_version += 1
                lab.dirty = True
            if not done:
                break
    return list(range(first, k))


# --- 3. the checks
def check_step(session, loaded: LoadedLesson, k: int, seed_runs: dict | None = None,
               seeded: bool | None = None, deadline: float | None = None) -> list[CheckResult]:
    """Step ``k``'s checks on the session's lab as it is now; checks with ``seeds`` on fresh headless runs
    (trained no later than ``deadline``, else that check fails saying so). ``seeded``: None every check, True
    only those over seeds (``session`` unused), False only the others."""
    step = loaded.steps[k]
    results = []
    for check, condition in zip(step.spec.check, step.checks):
        if seeded is not None and bool(check.seeds) != seeded:
            continue
        if check.seeds:
            results.append(_median_check(loaded, k, check, condition, seed_runs, deadline))
        else:
            with np.errstate(all="ignore"):
                outcome = condition.evaluate(session.lab)
            results.append(CheckResult(check.text, check.that, outcome.passed, outcome.measured, check.explain,
                                       outcome.error))
    return results


def _median_check(loaded, k, check, condition: Condition, seed_runs: dict | None,
                  deadline: float | None = None) -> CheckResult:
    runs = []
    for seed in check.seeds:
        key = (k, seed)
        if seed_runs is None or key not in seed_runs:
            session = headless_session()
            try:
                play_through(session, loaded, k, seed=seed, deadline=deadline)
            except OverBudget as error:
                return CheckResult(check.text, check.that, False, {}, check.explain, str(error), list(check.seeds))
            if seed_runs is not None:
                seed_runs[key] = session
        else:
            session = seed_runs[key]
        measured: dict = {}
        with np.errstate(all="ignore"):
            try:
                sides = condition.sides_on(session.lab, measured)
            except ValueError as error:
                return CheckResult(check.text, check.that, False, measured, check.explain, str(error), check.seeds)
        runs.append((measured, sides))
    outcome: Outcome = Condition.median(runs, condition)
    return CheckResult(check.text, check.that, outcome.passed, outcome.measured, check.explain, None,
                       list(check.seeds), [m for m, _ in runs])


# --- whole lessons, headless
def headless_session(lab: str | None = None):
    """A session nobody watches, for a whole lesson (its steps may switch labs: build_lab makes one lab)."""
    from app.server.config import DEFAULT_CONFIG
    from app.sessions.session import Session

    return Session("lesson-" + "0" * 17, dict(DEFAULT_CONFIG), **({"lab": lab} if lab else {}))


def play_through(session, loaded: LoadedLesson, last: int, seed: int | None = None,
                 deadline: float | None = None) -> list[StepResult]:
    """Open and run steps 0 … ``last`` in order (predictions are the students'; the runs are the lesson's)."""
    return [play_step(session, loaded, k, seed, deadline) for k in range(last + 1)]


def play_step(session, loaded: LoadedLesson, k: int, seed: int | None = None,
              deadline: float | None = None) -> StepResult:
    """Open step ``k`` and train its run."""
    step = loaded.steps[k]
    open_step(session, loaded, k, seed=seed)
    result = StepResult(k, step.spec.title)
    if step.spec.run is not None:
        result.steps_trained, result.stopped_by = advance(session.lab, step, deadline)
    return result


@dataclass
class LessonResult:
    name: str
    title: str
    concept: str
    steps: list[StepResult]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(s.passed for s in self.steps)

    def checks(self) -> list[CheckResult]:
        return [c for s in self.steps for c in s.checks]

    def to_wire(self) -> dict:
        out = {"name": self.name, "title": self.title, "concept": self.concept, "passed": self.passed,
               "checks": [dict(c.to_wire(), step=s.index + 1) for s in self.steps for c in s.checks]}
        if self.error:
            out["error"] = self.error
        return out


def check_lesson(loaded: LoadedLesson) -> LessonResult:
    """Run every step of the lesson headless, in order, and every check after its step's run."""
    session = headless_session()
    results: list[StepResult] = []
    seed_runs: dict = {}
    try:
        for k in range(len(loaded.steps)):
            result = play_step(session, loaded, k)
            result.checks = check_step(session, loaded, k, seed_runs)
            results.append(result)
    except StepError as error:
        return LessonResult(loaded.name, loaded.title, loaded.concept, results, str(error))
    return LessonResult(loaded.name, loaded.title, loaded.concept, results)


class LiveRun:
    """A step's run on a live session: the scheduler trains it in its time slices (app.labs.base.Lab.run_plan),
    never past the next look (``chunk``), and pauses it when ``run_done`` says so — the steps `advance` takes."""

    def __init__(self, lab, step: LoadedStep):
        self.step = step
        self.race = bool(step.spec.run.race)  # the search lab: the race started with the run, to its end
        self.start_step, self.start_epoch = (0, 0) if self.race else (lab.trainer.step, lab.trainer.epoch)
        self.stopped_by: str | None = None
        self.steps_trained = 0

    def steps_allowed(self, lab) -> int:
        return chunk(lab, self.step, self.start_step)

    def finished(self, lab) -> bool:
        if self.race:
            self.steps_trained = race_trials(lab)
            if lab.race is not None and lab.race.phase != "running":
                self.stopped_by = "race"
            return self.stopped_by is not None
        with np.errstate(all="ignore"):
            self.stopped_by = run_done(lab, self.step, self.start_step, self.start_epoch)
        self.steps_trained = lab.trainer.step - self.start_step
        return self.stopped_by is not None

    def to_wire(self) -> dict:
        run = self.step.spec.run
        cap = ({"race": True} if self.race else {"steps": run.steps} if run.steps is not None
               else {"epochs": run.epochs})
        return {"steps_trained": self.steps_trained, "stopped_by": self.stopped_by, "cap": cap}


def race_trials(lab) -> int:
    """Trials the search lab's race has finished, over its samplers."""
    race = lab.race
    return 0 if race is None else sum(len(log.finished) for log in race.logs.values())


def steps_done(lab) -> int:
    """How far the lab's run has gone: minibatch steps, or in the search lab the race's trials finished."""
    return race_trials(lab) if lab.name == "search" else lab.trainer.step
