"""Hyperparameter search on Optuna: grid, random and Bayesian (TPE; GP where PyTorch and SciPy are installed) over a
lab's controls, trials in worker processes sharing one study, on a local journal file or a database server.

    from app.search import SearchSpec, SearchRun, SearchError
    spec = SearchSpec.from_dict({...})       # checked against the lab's schema; SearchError names the field
    run = SearchRun(spec); run.start(); run.events(); run.stop(); run.summary(); run.best_model()

docs/search.md says it all: the command line (``nnplayground search``, ``search-worker``), storage URLs, events.
"""

import importlib

# Where each name lives: imported on first use (PEP 562), so the search lab's schema can read app.search.space
# while app.labs is still registering the labs (space needs no lab registry at import).
_HOMES = {"SearchRun": "run", "param_importances": "run", "searchable": "space", "LIMITS": "spec",
          "SAMPLERS": "spec", "SearchError": "spec", "SearchSpec": "spec", "gp_available": "spec", "options": "spec"}
__all__ = sorted(_HOMES)


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
