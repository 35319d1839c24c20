"""Hyperparameter search on Optuna: grid, random and Bayesian (TPE; GP where PyTorch and SciPy are installed) over a
lab's controls, trials in worker processes sharing one study, on a local journal file or a database server.

    from app.search import SearchSpec, SearchRun, SearchError
    spec = SearchSpec.from_dict({...})       # checked against the lab's schema; SearchError names the field
    run = SearchRun(spec); run.start(); run.events(); run.stop(); run.summary(); run.best_model()

docs/search.md says it all: the command line (``nnplayground search``, ``search-worker``), storage URLs, events.
"""

from .run import SearchRun, param_importances
from .space import searchable
from .spec import LIMITS, SAMPLERS, SearchError, SearchSpec, gp_available, options

__all__ = ["LIMITS", "SAMPLERS", "SearchError", "SearchRun", "SearchSpec", "gp_available", "options",
           "param_importances", "searchable"]
