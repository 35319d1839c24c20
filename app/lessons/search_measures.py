"""The search lab's measures: what a race of samplers did (app.labs.search.race), for the grid-vs-random-vs-Bayesian
lesson. A sampler and a hyperparameter are written as names: ``distinct_values(grid, learning_rate)``.

Trials count in the order a sampler ran them (trial number: with one worker per sampler, the order they
finished), so the page's race and `nnplayground lessons --check` count the same trials.
"""

from __future__ import annotations

import math

from app.labs.search.schema import PARAM_NAMES, SAMPLERS

from .registry import MeasureError, measure

SAMPLER = {"sampler": SAMPLERS}


def _trials(lab, sampler: str) -> list[dict]:
    """The finished trials of ``sampler`` in the lab's race, in the order it ran them."""
    race = lab.race
    if race is None:
        raise MeasureError("no race has run yet: the step's run starts one")
    if sampler not in race.logs:
        raise MeasureError(f"the race has no {sampler} sampler (it raced: {', '.join(race.logs)})")
    return sorted(race.logs[sampler].finished, key=lambda t: t["number"])


def _complete_values(lab, sampler: str) -> list[float | None]:
    return [t["value"] if t["state"] == "complete" else None for t in _trials(lab, sampler)]


def _best(lab, values: list[float | None]) -> float:
    finite = [v for v in values if v is not None]
    if not finite:
        return math.nan
    return min(finite) if lab.race.direction == "minimize" else max(finite)


@measure("trials_done", labs=("search",), args=("sampler",), names=SAMPLER)
def trials_done(lab, sampler):
    """Trials the sampler has finished (complete, failed or pruned)."""
    return len(_trials(lab, sampler))


@measure("best_value", labs=("search",), args=("sampler",), names=SAMPLER)
def best_value(lab, sampler):
    """The sampler's best objective value (lowest test loss, or highest test accuracy) over its complete trials."""
    return _best(lab, _complete_values(lab, sampler))


@measure("distinct_values", labs=("search",), args=("sampler", "param"),
         names={**SAMPLER, "param": PARAM_NAMES})
def distinct_values(lab, sampler, param):
    """How many different values of the hyperparameter the sampler's trials tried (grid repeats its few)."""
    if param not in lab.race.params:
        raise MeasureError(f"the race did not search {param} (it searched: {', '.join(lab.race.params)})")
    return len({repr(t["params"][param]) for t in _trials(lab, sampler) if param in t["params"]})


@measure("trials_to_within", labs=("search",), args=("sampler", "reference", "percent"),
         names={**SAMPLER, "reference": SAMPLERS})
def trials_to_within(lab, sampler, reference, percent):
    """Trials the sampler ran until one came within ``percent`` % of the reference sampler's best value (its
    budget + 1 when none did): how soon it found what the reference found at best."""
    target = best_value(lab, reference)
    if not math.isfinite(target):
        raise MeasureError(f"the {reference} sampler has no complete trial to compare with")
    slack = abs(target) * float(percent) / 100
    minimize = lab.race.direction == "minimize"
    values = _complete_values(lab, sampler)
    for count, value in enumerate(values, start=1):
        if value is not None and (value <= target + slack if minimize else value >= target - slack):
            return count
    return lab.race.logs[sampler].budget + 1
