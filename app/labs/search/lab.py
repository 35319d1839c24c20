"""The search lab: grid, random and Bayesian (TPE) search racing on the same hyperparameters of another lab, with
the same budget, live (docs/page.md, "The search lab"). The searching is app.search's (Optuna samplers in worker
processes); this lab starts and stops races, folds their events (race.py) and sends them to the page in its
frames, and loads a race's best trial — its settings and its trained weights — into the target lab.

Its run is not a training run: ``play`` starts a race (as ``search_start``), ``pause`` stops it (as
``search_stop``: its finished trials stay), ``reset`` forgets it, and there is no ``step``. A race goes on while
the session shows another lab, and ends when the session is closed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.labs.base import Lab
from app.server.bundle import Bundle, Frame
from app.server.errors import ControlError, Described

from . import importance
from .events import EVENTS
from .race import WORKERS, Race
from .schema import (BY_NAME, CONTROLS, DATASETS, DEFAULT_DATASET, DEFAULT_PARAMS, GROUPS, HYPERPARAMETERS, OFFERED,
                     PARAM_NAMES, TARGETS)


class SearchLab(Lab):
    """Hyperparameter search: the samplers race on one budget; the winner goes to its lab."""

    name = "search"
    label = "Hyperparameter search"
    controls = CONTROLS
    events = EVENTS

    def __init__(self, host):
        super().__init__(host)
        self.race: Race | None = None
        self.races = 0
        self.seq = 0
        self.importances = importance.Importances(on_new=self._owe_frame)
        self._sections: dict[str, tuple] = {}  # name -> (version, wire): rebuilt only when the version moves
        self.build()

    def _owe_frame(self) -> None:
        self.dirty = True  # a new estimate came from the importances' thread: the viewers get it in a frame

    def build(self) -> None:
        """Nothing to build before a race (the trials build their own models in the worker processes): a fresh
        start forgets the race shown."""
        if self.race is not None:
            self._forget_race()
            self.importances.restart(None)
        self._started_over()

    # --- settings
    def apply_settings(self, changes: dict) -> None:
        """Any subset of the controls. Another lab to tune brings its own dataset and hyperparameters (unless
        they are given too and it has them); a plane axis that is no longer searched moves to one that is. The
        range checks wait for ``start`` (a range is set one end at a time)."""
        new = {**self.settings, **changes}
        target = new["target"]
        if new["dataset"] not in DATASETS[target]:
            if "dataset" in changes and "target" not in changes:
                raise ControlError("dataset", new["dataset"], _one_of(DATASETS[target]),
                                   message=f"the {target} lab has no dataset {new['dataset']!r}; its datasets are "
                                           f"{', '.join(DATASETS[target])}")
            new["dataset"] = DEFAULT_DATASET[target]
        foreign = [p for p in new["params"] if p not in OFFERED[target]]
        if foreign:
            if "params" in changes and "target" not in changes:
                raise ControlError("params", foreign, _one_of(OFFERED[target]),
                                   message=f"the {target} lab has no hyperparameter {', '.join(foreign)} to search; "
                                           f"its are: {', '.join(OFFERED[target])}")
            new["params"] = list(DEFAULT_PARAMS[target])
        searched = [name for name in PARAM_NAMES if name in new["params"]]
        for axis in ("plane_x", "plane_y"):
            if new[axis] not in searched:
                others = [n for n in searched if n != new["plane_y" if axis == "plane_x" else "plane_x"]]
                new[axis] = (others or searched)[0]
        new["params"] = searched
        self.settings.update(new)
        self._changed(weights=False)

    # --- the race
    def start(self) -> None:
        """Start a race with the settings in force; any range or budget refused: an error and nothing started."""
        if self.race is not None and self.race.phase == "running":
            raise ControlError("", "search_start", "search_stop first", event="search_start",
                               message="a race is running already; stop it first (its finished trials stay)")
        self._check_ranges()
        try:
            race = Race(self.settings, self.races + 1)
        except ControlError as error:  # the search module's SearchError: name the control at fault
            raise _control_error(error) from None
        if not race.start():
            raise ControlError("", "search_start", f"at most {WORKERS.limit} search processes on this server",
                               event="search_start",
                               message=f"the server runs {WORKERS.used} of its {WORKERS.limit} search processes "
                                       f"already; this race needs {race.processes}: wait for a race to end, or use "
                                       "fewer samplers or workers")
        self._forget_race()
        self.races += 1
        self.race = race
        self.importances.restart(race)
        self.status = "running"
        self._changed(weights=False)

    def race_here(self) -> None:
        """Run a race with the settings in force to its end in this process (a lesson's headless check: see
        Race.run_here); refused like ``start``."""
        self._check_ranges()
        try:
            race = Race(self.settings, self.races + 1)
        except ControlError as error:
            raise _control_error(error) from None
        self._forget_race()
        self.races += 1
        self.race = race
        self.importances.restart(race)
        race.run_here()
        self.status = "paused"
        self._changed(weights=False)

    def _check_ranges(self) -> None:
        s = self.settings
        for name in s["params"]:
            h = BY_NAME[name]
            if h.kind != "choice" and not s[h.low] < s[h.high]:
                raise ControlError(h.low, s[h.low], f"less than {h.high} ({s[h.high]:g})", event="search_start",
                                   message=f"the {h.label} range is empty or inverted: from {s[h.low]:g} to "
                                           f"{s[h.high]:g}; set {h.low} below {h.high}")

    def stop(self) -> None:
        if self.race is not None and self.race.phase == "running":
            self.race.poll()  # what finished before the stop stays
            self.race.stop()
            self.importances.touch()
        self.status = "paused"
        self._changed(weights=False)

    def poll(self) -> None:
        """The runs' new events into the race (scheduler ticks, under the session's lock)."""
        race = self.race
        if race is None or not race.poll():
            return
        self.importances.touch()
        if race.phase != "running" and self.status == "running":
            self.status = "paused"
            self._changed(weights=False)
        plan = self.run_plan  # a lesson's race (app.lessons.runner.LiveRun): over when the race is
        if plan is not None and plan.finished(self):
            self.run_plan = None
        self.dirty = True

    def prepare_best(self, sampler: str | None) -> "BestModel":
        """The best trial's lab (of one sampler, or of the race): its settings retrained to the weights the trial
        had (app.search: the same settings and seed give the same weights), headless. Runs before the session's
        lock is taken — retraining takes as long as a trial — and reads only the race's runs."""
        race = self.race
        best = race.best(sampler) if race is not None else None
        if best is None:
            which = f"the {sampler} sampler" if sampler else "the race"
            raise ControlError("sampler" if sampler else "", sampler, "a sampler with a finished trial",
                               event="apply_best", message=f"{which} has no finished trial yet: start a race and "
                                                          "wait for its first trial")
        name, trial = best
        return BestModel(race.number, name, trial["number"], race.runs[name].best_lab())

    def apply_best(self, best: "BestModel") -> None:
        """Put a prepared best lab in its place in this session — a copy (app.sessions.copying) with its settings,
        weights, optimizer state and curves, as the trial left them — and show it."""
        from app.sessions.copying import copy_lab

        race = self.race
        if race is None or race.number != best.race:
            raise ControlError("", "apply_best", "the race shown", event="apply_best",
                               message="a new race started while the best model was prepared; nothing was applied")
        target = race.settings["target"]
        replaced = self.host.labs.get(target)
        self.host.labs[target] = copy_lab(best.lab, self.host)
        if replaced is not None and replaced is not self.host.lab:
            replaced.close()
        self.host.set_lab(target)

    # --- the common controls, in a search's terms
    def play(self) -> None:
        self.start()

    def pause(self) -> None:
        self.stop()

    def step(self, unit: str = "batch") -> None:
        raise ControlError("", "step", "search_start", event="step",
                           message="a search has no steps to take: press start (▶) to race the samplers")

    def reset(self) -> None:
        """Forget the race (stopping it first)."""
        self._forget_race()
        self.race = None
        self.importances.restart(None)
        self.status = "paused"
        self._changed(weights=False)

    def leave(self) -> None:
        """Another lab is shown: the race goes on in its processes (this lab's frames wait for it)."""

    def close(self) -> None:
        """The session is closed: no worker process outlives it."""
        race, self.race = self.race, None
        if race is not None:
            race.close()
        self.importances.close()

    def _forget_race(self) -> None:
        """The race shown is replaced or forgotten: its workers stop and its studies go, on a thread (the
        workers finish the epoch they are in first)."""
        race, self.race = self.race, None
        if race is not None:
            threading.Thread(target=race.close, name="nnplayground-search-close", daemon=True).start()

    # --- the scheduler's side
    def steps_due(self) -> int:
        return 0

    def train_slice(self, max_steps: int, deadline: float) -> int:
        self.poll()
        return 0

    # --- what the page is sent
    def state(self) -> dict:
        race = self.race
        done = sum(len(log.finished) for log in race.logs.values()) if race else 0
        epochs = sum(log.epochs for log in race.logs.values()) if race else 0
        return {"lab": self.name, "settings": {k: (list(v) if isinstance(v, list) else v)
                                               for k, v in self.settings.items()},
                "status": self.status, "divergence": None, "notice": self.notice, "step": done, "epoch": epochs,
                **self.lab_state()}

    def lab_state(self) -> dict:
        return {"race": self.race.progress() if self.race else None,
                "processes": {"in_use": WORKERS.used, "limit": WORKERS.limit}}

    def schema_extras(self) -> dict:
        return {"groups": [list(g) for g in GROUPS],
                "hyperparameters": [{"name": h.name, "label": h.label, "kind": h.kind, "log": h.log,
                                     "controls": [h.choices] if h.kind == "choice" else [h.low, h.high]}
                                    for h in HYPERPARAMETERS],
                "targets": {t: {"datasets": list(DATASETS[t]), "params": list(OFFERED[t])} for t in TARGETS}}

    def build_frame(self) -> Frame:
        self.poll()
        self.seq += 1
        race = self.race
        best = race.best() if race else None
        value = best[1]["value"] if best else None
        objective = race.objective if race else self.settings["objective"]
        state = self.state()
        fields = {
            "seq": self.seq, "step": state["step"], "epoch": state["epoch"], "status": self.status,
            "divergence": None, "config_version": self.config_version, "learning_rate": None,
            "steps_this_frame": 0, "batch_loss": None, "train_loss": None,
            "test_loss": value if objective == "test_loss" else None, "train_accuracy": None,
            "test_accuracy": value if objective == "test_accuracy" else None, "metrics_step": state["step"],
            "race": state["race"], **Bundle().to_wire(),
        }
        return Frame(fields, self._race_sections(), 0)

    def _race_sections(self) -> dict[str, tuple]:
        """The finished trials of each sampler, the learning curves and the importances: each sent to a viewer
        only when it changed since the one it has."""
        race = self.race
        if race is None:
            return {}
        wanted = {f"trials.{name}": ((race.number, len(log.finished)),
                                     lambda log=log: {"sampler": log.sampler, "trials": log.trials_wire()})
                  for name, log in race.logs.items()}
        wanted["curves"] = ((race.number, sum(log.curve_version for log in race.logs.values())),
                            lambda: {"curves": {name: log.curves_wire() for name, log in race.logs.items()}})
        wanted["importances"] = ((race.number, self.importances.version), self.importances.wire)
        for name, (version, meta) in wanted.items():
            if self._sections.get(name, (None,))[0] != version:
                self._sections[name] = (version, Bundle().to_wire(race=race.number, **meta()))
        return {name: self._sections[name] for name in wanted}


# Which control a field of the search module's spec is set by (the page shows the error under it).
SPEC_FIELDS = {"trials": "trials", "epochs": "epochs", "workers": "workers", "seed": "seed", "dataset": "dataset",
               "objective": "objective", "sampler": "samplers", "lab": "target"}


def _control_error(error: ControlError) -> ControlError:
    """The search module's refusal as the page's `error`, its field named as the control that sets it."""
    parts = error.field.split(".")
    if parts[0] == "params" and len(parts) > 1 and parts[1] in BY_NAME:
        h = BY_NAME[parts[1]]
        field = h.choices or (h.high if parts[-1] == "high" else h.low)
    else:
        field = SPEC_FIELDS.get(parts[0], error.field)
    return ControlError(field, Described(error.received), error.allowed, message=error.detail,
                        event="search_start")


def _one_of(names) -> str:
    return "one of " + ", ".join(f'"{n}"' for n in names)


@dataclass(frozen=True)
class BestModel:
    """A race's best trial, retrained headless (``lab``: nobody's session)."""

    race: int
    sampler: str
    number: int
    lab: object
