"""A search, described: which lab and data, which hyperparameters over which ranges, which sampler, what budget.

``SearchSpec.from_dict`` checks everything before anything starts, against the lab's own schema (the ranges of
app/labs/<lab>/schema.py) and ``LIMITS`` below; what it refuses raises ``SearchError`` naming the field, what was
given and what is allowed. The page and the command line build their specs the same way.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from app.labs import LABS
from app.server.errors import ControlError, Described

from . import space

SAMPLERS = ("grid", "random", "tpe", "gp")
OBJECTIVES = {"test_loss": "minimize", "test_accuracy": "maximize"}
GP_NEEDS = ("torch", "scipy")


@dataclass(frozen=True)
class SearchLimits:
    """The largest search one request may start (the page sends the same limits to its widgets)."""

    max_trials: int = 1000
    max_epochs: int = 200
    max_workers: int = 16
    max_params: int = 8
    max_choices: int = 32          # values of one choice hyperparameter
    max_grid_points: int = 32      # points of one numeric axis of a grid
    max_trial_epochs: int = 20_000  # trials × epochs: a budget beyond it is hours, not a lesson


LIMITS = SearchLimits()


class SearchError(ControlError):
    """A search refused before it starts: ``field`` (a dotted path into the spec), ``received``, ``allowed``; the
    same shape as the app's ControlError, so a page shows it as any refused control."""


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter: numbers in [``low``, ``high``] (``log``: sampled in log space; ``points``:
    grid points on the axis, None for as many as the budget allows), or one of ``choices``."""

    name: str
    kind: str  # "float", "int" or "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    points: int | None = None

    def to_dict(self) -> dict:
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        out = {"low": self.low, "high": self.high, "log": self.log}
        if self.points is not None:
            out["points"] = self.points
        return out


@dataclass(frozen=True)
class SearchSpec:
    lab: str
    dataset: str
    sampler: str
    trials: int
    epochs: int
    params: tuple[Param, ...]
    objective: str = "test_loss"
    seed: int = 0
    workers: int = 1
    pruning: bool = False
    base: dict = field(default_factory=dict)

    # --- reading one
    @classmethod
    def from_dict(cls, d: dict) -> "SearchSpec":
        """A checked spec from a JSON-like dict (the keys of ``to_dict``); SearchError for anything refused."""
        if not isinstance(d, dict):
            raise SearchError("", d, "an object with the keys " + ", ".join(FIELDS))
        unknown = sorted(set(d) - set(FIELDS))
        if unknown:
            raise SearchError(unknown[0], Described(unknown[0]), "one of the keys " + ", ".join(FIELDS),
                              f"unknown key {unknown[0]!r}; allowed: {', '.join(FIELDS)}")
        missing = [k for k in REQUIRED if k not in d]
        if missing:
            raise SearchError(missing[0], Described("<missing>"), FIELDS[missing[0]],
                              f"{missing[0]} is missing; allowed: {FIELDS[missing[0]]}")
        lab = _one_of("lab", d["lab"], tuple(LABS))
        dataset = _one_of("dataset", d["dataset"], space.datasets(lab))
        sampler = _one_of("sampler", d["sampler"], SAMPLERS)
        if sampler == "gp":
            check_gp_available()
        objective = _one_of("objective", d.get("objective", "test_loss"), tuple(OBJECTIVES))
        trials = _integer("trials", d["trials"], 1, LIMITS.max_trials)
        epochs = _integer("epochs", d["epochs"], 1, LIMITS.max_epochs)
        if trials * epochs > LIMITS.max_trial_epochs:
            raise SearchError("trials", trials * epochs, f"trials × epochs at most {LIMITS.max_trial_epochs:,}",
                              f"trials × epochs = {trials} × {epochs} = {trials * epochs:,} epochs of training; "
                              f"allowed: at most {LIMITS.max_trial_epochs:,}")
        workers = _integer("workers", d.get("workers", 1), 1, LIMITS.max_workers)
        seed = _integer("seed", d.get("seed", 0), 0, 2**31 - 1)
        pruning = d.get("pruning", False)
        if not isinstance(pruning, bool):
            raise SearchError("pruning", pruning, "true or false")
        base = d.get("base", {}) or {}
        if not isinstance(base, dict):
            raise SearchError("base", base, "an object of the lab's other settings")
        params = _params(lab, d["params"])
        spec = cls(lab, dataset, sampler, trials, epochs, params, objective, seed, workers, pruning, dict(base))
        spec._check_base()
        if sampler == "grid":
            size = spec.grid_size()
            if size > trials:
                raise SearchError("trials", trials, f"at least {size} (the grid's lattice: {spec.grid_shape()})",
                                  f"the grid has {size} points ({spec.grid_shape()}) but the budget is {trials} "
                                  f"trials; allowed: at least {size} trials, or fewer values per hyperparameter")
        return spec

    def _check_base(self) -> None:
        """The base settings and the dataset through the lab's own validation; the objective must exist there."""
        from app.sessions.headless import build_lab, evaluate

        data_name = space.data_control(self.lab).name
        searched = {name for p in self.params for name in space.searchable(self.lab)[p.name].sets}
        for key in self.base:
            if key == data_name:
                raise SearchError(f"base.{key}", self.base[key], "the dataset field, not base")
            if key in searched:
                raise SearchError(f"base.{key}", self.base[key], "a setting no searched hyperparameter sets",
                                  f"base.{key} is set by a searched hyperparameter; leave it out of base")
        try:
            lab = build_lab(self.lab, self.settings({}))
        except ControlError as error:  # the lab's own words, the field as the spec names it
            where = "dataset" if error.field == data_name else f"base.{error.field}"
            raise SearchError(where, Described(error.received), error.allowed, error.detail) from None
        if self.objective == "test_accuracy" and evaluate(lab).accuracy is None:
            raise SearchError("objective", self.objective, '"test_loss" (this dataset has no accuracy)',
                              f"{self.dataset} has no accuracy (it is not classification); allowed: test_loss")

    # --- writing one
    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = {p.name: p.to_dict() for p in self.params}
        return d

    # --- what it means
    @property
    def direction(self) -> str:
        return OBJECTIVES[self.objective]

    def settings(self, params: dict) -> dict:
        """The lab settings of a trial with hyperparameters ``params``."""
        base = {**self.base, space.data_control(self.lab).name: self.dataset}
        return space.settings_for(self.lab, base, params)

    def grid_space(self) -> dict[str, list]:
        """Each parameter's grid values: the choices, or ``points`` (default: as many as the budget allows, the
        same number on every numeric axis) evenly spaced over the range (in log space for a log range)."""
        numeric = [p for p in self.params if p.kind != "choice"]
        lattice = math.prod(len(p.choices) for p in self.params if p.kind == "choice")
        fixed = math.prod(p.points for p in numeric if p.points is not None)
        free = [p for p in numeric if p.points is None]
        per_axis = 1
        if free:  # the most points per free axis whose lattice fits the budget
            per_axis = max(1, int((self.trials / (lattice * fixed)) ** (1 / len(free)) + 1e-9))
            per_axis = min(per_axis, LIMITS.max_grid_points)
        out = {}
        for p in self.params:
            if p.kind == "choice":
                out[p.name] = list(p.choices)
            else:
                out[p.name] = axis(p, p.points or max(per_axis, 2))
        return out

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid_space().values())

    def grid_shape(self) -> str:
        return " × ".join(f"{len(v)} {name}" for name, v in self.grid_space().items())

    @property
    def budget(self) -> int:
        """Trials the search runs: the budget, or a grid's lattice when it is smaller."""
        return min(self.trials, self.grid_size()) if self.sampler == "grid" else self.trials


def axis(p: Param, points: int) -> list:
    """``points`` values from ``p.low`` to ``p.high`` (log-spaced for a log range); integers rounded, distinct."""
    values = (np.geomspace if p.log else np.linspace)(p.low, p.high, points)
    if p.kind == "int":
        return sorted({int(round(v)) for v in values})
    return [float(f"{v:.6g}") for v in values]


# The spec's keys and what each allows (error messages name them).
FIELDS = {
    "lab": "one of " + ", ".join(f'"{n}"' for n in LABS),
    "dataset": "one of the lab's datasets",
    "sampler": "one of " + ", ".join(f'"{s}"' for s in SAMPLERS),
    "trials": f"an integer in [1, {LIMITS.max_trials}]",
    "epochs": f"an integer in [1, {LIMITS.max_epochs}]",
    "params": "an object: hyperparameter name -> {low, high, log?, points?} or {choices: [...]}",
    "objective": "one of " + ", ".join(f'"{o}"' for o in OBJECTIVES),
    "seed": f"an integer in [0, {2**31 - 1}]",
    "workers": f"an integer in [1, {LIMITS.max_workers}]",
    "pruning": "true or false",
    "base": "an object of the lab's other settings",
}
REQUIRED = ("lab", "dataset", "sampler", "trials", "epochs", "params")


def check_gp_available() -> None:
    """SearchError unless GPSampler's optional dependencies import."""
    missing = [name for name in GP_NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise SearchError("sampler", "gp", '"grid", "random" or "tpe" (gp is not installed here)',
                          f"the gp sampler (Gaussian-process Bayesian optimisation) needs {' and '.join(missing)}, "
                          f"which are not installed here: pip install {' '.join(missing)}; or choose grid, "
                          f"random or tpe (tpe is Bayesian too and needs nothing more)")


def gp_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in GP_NEEDS)


def _one_of(name: str, value, allowed: tuple) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise SearchError(name, value, "one of " + ", ".join(f'"{a}"' for a in allowed))
    return value


def _integer(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SearchError(name, value, f"an integer in [{low}, {high}]")
    return value


def _number(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SearchError(where, value, "a finite number")
    return value


def _params(lab: str, params) -> tuple[Param, ...]:
    table = space.searchable(lab)
    names = ", ".join(table)
    if not isinstance(params, dict) or not params:
        raise SearchError("params", params, f"an object of at least one of the {lab} lab's hyperparameters: {names}")
    if len(params) > LIMITS.max_params:
        raise SearchError("params", Described(f"<{len(params)} hyperparameters>"),
                          f"at most {LIMITS.max_params} hyperparameters")
    out = []
    written: dict[str, str] = {}
    for name, value in params.items():
        if name not in table:
            raise SearchError(f"params.{name}", Described(name) if isinstance(name, str) else name,
                              f"one of the {lab} lab's searchable hyperparameters: {names}",
                              f"{name!r} is not a hyperparameter the {lab} lab can search; allowed: {names}")
        for setting in table[name].sets:
            if setting in written:
                raise SearchError(f"params.{name}", Described(name), f"not together with {written[setting]}",
                                  f"{name} and {written[setting]} both set {setting}: search one of them")
            written[setting] = name
        out.append(_param(table[name], value))
    return tuple(out)


def _param(entry: space.Searchable, value) -> Param:
    where = f"params.{entry.name}"
    shape = "{low, high, log?, points?}" if entry.kind != "choice" else "{choices: [...]}"
    if not isinstance(value, dict):
        raise SearchError(where, value, f"an object {shape}; {entry.name} is {entry.allowed()}")
    if "choices" in value:
        extra = sorted(set(value) - {"choices"})
        if extra:
            raise SearchError(f"{where}.{extra[0]}", value[extra[0]], "nothing beside choices")
        choices = value["choices"]
        if not isinstance(choices, list) or not 1 <= len(choices) <= LIMITS.max_choices:
            raise SearchError(f"{where}.choices", choices, f"a list of 1 to {LIMITS.max_choices} values, each "
                                                           f"{entry.allowed()}")
        choices = [_check_value(f"{where}.choices.{k}", entry, c) for k, c in enumerate(choices)]
        if len({(type(c), c) for c in choices}) != len(choices):
            raise SearchError(f"{where}.choices", choices, "distinct values")
        return Param(entry.name, "choice", choices=tuple(choices))
    if entry.kind == "choice":
        raise SearchError(where, value, f"{{choices: [...]}}, each {entry.allowed()}",
                          f"{entry.name} is a choice: give {{choices: [...]}} of {entry.allowed()}")
    allowed_keys = {"low", "high", "log", "points"}
    extra = sorted(set(value) - allowed_keys)
    if extra:
        raise SearchError(f"{where}.{extra[0]}", value[extra[0]], "the keys low, high, log, points")
    for key in ("low", "high"):
        if key not in value:
            raise SearchError(f"{where}.{key}", Described("<missing>"), entry.allowed())
    low, high = (_check_value(f"{where}.{key}", entry, value[key]) for key in ("low", "high"))
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise SearchError(f"{where}.log", log, "true or false")
    if low == high:
        raise SearchError(where, Described(f"<[{low:g}, {high:g}]>"), "a range with low < high",
                          f"{entry.name}: the range [{low:g}, {high:g}] is empty; allowed: low < high within "
                          f"{entry.allowed()}")
    if low > high:
        raise SearchError(where, Described(f"<[{low:g}, {high:g}]>"), "a range with low < high",
                          f"{entry.name}: the range [{low:g}, {high:g}] is inverted (low > high); allowed: "
                          f"low < high within {entry.allowed()}")
    if log and low <= 0:
        raise SearchError(f"{where}.low", low, "a number above 0 (a log range cannot touch 0)",
                          f"{entry.name}: a log range needs low > 0, got {low:g}; choose a positive low or log: "
                          f"false")
    points = value.get("points")
    if points is not None:
        points = _integer(f"{where}.points", points, 2, LIMITS.max_grid_points)
    return Param(entry.name, "int" if entry.kind == "integer" else "float", low, high, log, points=points)


def _check_value(where: str, entry: space.Searchable, value):
    """``value`` as the hyperparameter takes it (an int for an integer, a float for a number), or SearchError."""
    if entry.kind == "choice":
        if not isinstance(value, str) or value not in entry.choices:
            raise SearchError(where, value, entry.allowed())
        return value
    _number(where, value)
    if entry.kind == "integer" and not float(value).is_integer():
        raise SearchError(where, value, entry.allowed())
    if not entry.minimum <= value <= entry.maximum:
        raise SearchError(where, value, entry.allowed())
    return int(value) if entry.kind == "integer" else float(value)


def options() -> dict:
    """What a page offers (JSON): each lab's datasets and searchable hyperparameters (the schema's ranges), the
    samplers (gp with ``available`` false and the reason when its dependencies are missing), objectives, limits."""
    from app.labs import LABS as labs

    samplers = []
    for name in SAMPLERS:
        entry = {"name": name, "available": True}
        if name == "gp" and not gp_available():
            try:
                check_gp_available()
            except SearchError as error:
                entry.update(available=False, reason=error.detail)
        samplers.append(entry)
    return {"labs": {lab: {"datasets": list(space.datasets(lab)),
                           "params": [s.to_wire() for s in space.searchable(lab).values()]} for lab in labs},
            "samplers": samplers, "objectives": list(OBJECTIVES), "limits": asdict(LIMITS)}
