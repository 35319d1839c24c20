"""The registry of the measures a lesson's conditions may name (app.lessons.measures and its siblings register
into it with ``@measure``; app.lessons.conditions reads it), and what they share."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable


class MeasureError(ValueError):
    """A measure cannot be read on this lab as asked (a layer that does not exist, a lab it does not know)."""


@dataclass(frozen=True)
class Measure:
    name: str
    function: Callable[..., float]
    args: tuple[str, ...]
    labs: tuple[str, ...]  # the labs it reads; () = every lab
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # arguments written as names: those allowed

    @property
    def doc(self) -> str:
        return (inspect.getdoc(self.function) or "").split("\n\n")[0].replace("\n", " ")

    def signature(self) -> str:
        return f"{self.name}({', '.join(self.args)})" if self.args else self.name

    def read(self, lab, args: tuple) -> float:
        if self.labs and lab.name not in self.labs:
            raise MeasureError(f"{self.signature()} reads the {', '.join(self.labs)} lab, not {lab.name}")
        return float(self.function(lab, *args))


MEASURES: dict[str, Measure] = {}


def measure(name: str, labs: tuple[str, ...] = (), args: tuple[str, ...] = (),
            names: dict[str, tuple[str, ...]] | None = None):
    """Register ``function(lab, *args) -> float`` as the measure ``name``; ``names``: the arguments that are
    names (each with the names allowed), the others are numbers."""
    def register(function):
        if name in MEASURES:
            raise ValueError(f"measure {name!r} is registered twice")
        MEASURES[name] = Measure(name, function, tuple(args), tuple(labs), dict(names or {}))
        return function
    return register


def index_in(k: int, n: int, what: str) -> int:
    """``k`` into a list of ``n`` (negative counts from the end, as in Python), or MeasureError."""
    if not -n <= k < n:
        raise MeasureError(f"{what} {k} does not exist (there are {n}: 0 … {n - 1}, or -1 … -{n})")
    return k % n
