"""What a search may vary: a lab's hyperparameters, read from its schema (app/labs/<lab>/schema.py, the one place
their types and ranges live), and how a point of the search space becomes the lab's settings.

Searchable are the numeric and choice controls of a lab's network, training and regularization groups, less those
that are not hyperparameters of the learning (``NOT_SEARCHED``). Beside them, named for what a student varies:
``width`` and ``depth`` of a list-of-layer-sizes control (MLP ``hidden_sizes`` = ``[width] * depth``), and ``l1``
/ ``l2`` where a lab chooses its penalty with a ``regularization`` control (``l2=x`` is regularization "l2" at
rate x).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

SEARCH_GROUPS = ("network", "training", "regularization")
NOT_SEARCHED = {
    "speed": "it paces the page, not the learning",
    "loss": "it changes what the test loss measures, so trials would not compare",
    "batch_first": "it changes the tensors' layout, not the maths",
}
# The control a lab's data comes from: SearchSpec's "dataset" sets it.
DATA_CONTROLS = ("dataset", "task")
NOT_SEARCHED_DATASETS = ("custom",)  # the user's own points: a fresh headless lab has none


@dataclass(frozen=True)
class Searchable:
    """One hyperparameter a search may vary: ``kind`` "number", "integer" or "choice"; ``minimum``..``maximum``
    (numbers) or ``choices``; ``apply(settings, value)`` writes a value into a lab's settings dict."""

    name: str
    kind: str
    label: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    scale: str = "linear"
    apply: Callable[[dict, object], None] = field(default=None, compare=False, repr=False)
    sets: tuple[str, ...] = ()  # the lab controls it writes

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        what = "an integer" if self.kind == "integer" else "a number"
        return f"{what} in [{self.minimum:g}, {self.maximum:g}]"

    def to_wire(self) -> dict:
        """What a page needs to offer it (no storage, nothing but the schema's facts)."""
        out = {"name": self.name, "kind": self.kind, "label": self.label, "scale": self.scale}
        if self.kind == "choice":
            out["choices"] = list(self.choices)
        else:
            out.update(minimum=self.minimum, maximum=self.maximum)
        return out


def _set(name: str):
    def apply(settings: dict, value) -> None:
        settings[name] = value
    return apply


def _controls(lab: str):
    from app.labs import LABS  # here: the search lab's schema reads this module while app.labs registers labs

    return LABS[lab].controls


def searchable(lab: str) -> dict[str, Searchable]:
    """The hyperparameters of lab ``lab`` a search may vary, by name, in the schema's order."""
    return searchable_in(_controls(lab))


def searchable_in(lab_controls) -> dict[str, Searchable]:
    """The hyperparameters a search may vary among a lab's controls (its schema's CONTROLS)."""
    out: dict[str, Searchable] = {}
    controls = {c.name: c for c in lab_controls}
    for c in controls.values():
        if c.group not in SEARCH_GROUPS or c.name in NOT_SEARCHED:
            continue
        if c.kind in ("number", "integer"):
            out[c.name] = Searchable(c.name, c.kind, c.label, c.minimum, c.maximum, scale=c.scale,
                                     apply=_set(c.name), sets=(c.name,))
        elif c.kind == "choice":
            out[c.name] = Searchable(c.name, "choice", c.label, choices=c.choices, apply=_set(c.name),
                                     sets=(c.name,))
        elif c.kind == "integer_list":
            out.update(_width_and_depth(c))
    penalty, rate = controls.get("regularization"), controls.get("regularization_rate")
    if penalty is not None and rate is not None:
        for kind in ("l1", "l2"):
            if kind in penalty.choices:
                out[kind] = Searchable(kind, "number", f"{kind.upper()} rate", rate.minimum, rate.maximum,
                                       scale="log", apply=_penalty(kind), sets=(penalty.name, rate.name))
    return out


def _penalty(kind: str):
    def apply(settings: dict, value) -> None:
        settings["regularization"] = kind
        settings["regularization_rate"] = value
    return apply


def _width_and_depth(control) -> dict[str, Searchable]:
    """``width`` (neurons in every layer) and ``depth`` (how many layers) of a list of layer sizes; the one not
    searched keeps the base settings' value (width: their first layer's)."""
    name = control.name

    def width(settings: dict, value) -> None:
        settings[name] = [int(value)] * len(settings[name])

    def depth(settings: dict, value) -> None:
        sizes = settings[name]
        settings[name] = [sizes[0] if sizes else _first(control)] * int(value)

    return {"width": Searchable("width", "integer", f"Width ({control.label})", control.minimum, control.maximum,
                                apply=width, sets=(name,)),
            "depth": Searchable("depth", "integer", f"Depth ({control.label})", control.min_items,
                                control.max_items, apply=depth, sets=(name,))}


def _first(control) -> int:
    return control.default[0] if control.default else int(control.minimum)


def data_control(lab: str):
    """The control a lab's data is chosen with ("dataset", or the RNN lab's "task")."""
    return data_control_in(_controls(lab))


def data_control_in(lab_controls):
    return next(c for c in lab_controls if c.name in DATA_CONTROLS)


def datasets(lab: str) -> tuple[str, ...]:
    return datasets_in(_controls(lab))


def datasets_in(lab_controls) -> tuple[str, ...]:
    """The datasets a search may train on among a lab's controls (its schema's CONTROLS)."""
    return tuple(d for d in data_control_in(lab_controls).choices if d not in NOT_SEARCHED_DATASETS)


def settings_for(lab: str, base: dict, params: dict) -> dict:
    """The lab settings of one trial: ``base`` with ``params`` (name -> value) written in. Depth is applied after
    width, so ``[width] * depth`` whichever order they come in."""
    table = searchable(lab)
    settings = {k: (list(v) if isinstance(v, list) else v) for k, v in base.items()}
    for name in sorted(params, key=lambda n: n == "depth"):
        entry = table[name]
        for key in entry.sets:  # a derived one reads the base value (hidden_sizes for width, say)
            settings.setdefault(key, _default(lab, key))
        entry.apply(settings, params[name])
    return settings


def _default(lab: str, name: str):
    control = next(c for c in _controls(lab) if c.name == name)
    return list(control.default) if isinstance(control.default, list) else control.default
