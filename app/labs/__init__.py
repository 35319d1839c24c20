"""The labs: one model family per folder (docs/labs.md says how to add one).

Each ``app/labs/<name>/__init__.py`` exports ``Lab``, a subclass of ``app.labs.base.Lab``. Registering a lab
is adding its name to ``LAB_NAMES`` (the page's ``#lab`` switcher lists them in this order).
"""

from __future__ import annotations

import importlib

from .base import Lab

LAB_NAMES = ("mlp", "cnn", "rnn", "search")
DEFAULT_LAB = "mlp"

LABS: dict[str, type[Lab]] = {name: importlib.import_module(f"{__name__}.{name}").Lab for name in LAB_NAMES}


def lab_list() -> list[dict]:
    """The labs as the `schema` event lists them: [{name, label}]."""
    return [{"name": name, "label": lab.label} for name, lab in LABS.items()]
