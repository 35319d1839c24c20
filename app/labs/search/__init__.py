"""The search lab: grid, random and Bayesian (TPE) hyperparameter search racing live on another lab's controls,
and the winner loaded into that lab. ``Lab`` is what app.labs registers; the searching is app.search's."""

from .lab import SearchLab as Lab

__all__ = ["Lab"]
