"""Small searches for the search's tests (the real Redis server on a free loopback port: tests/conftest.py)."""

from __future__ import annotations


def tiny(**changes) -> dict:
    """A search spec small enough to run in a few seconds: spiral, 3 epochs a trial."""
    spec = {"lab": "mlp", "dataset": "spiral", "sampler": "random", "trials": 6, "epochs": 3,
            "params": {"learning_rate": {"low": 1e-3, "high": 1.0, "log": True},
                       "activation": {"choices": ["relu", "tanh"]}},
            "objective": "test_loss", "seed": 0, "workers": 1, "pruning": False, "base": {}}
    spec.update(changes)
    return spec
