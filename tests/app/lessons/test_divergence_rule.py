"""One divergence rule for the page and the headless runs: a loss, gradient or weight that leaves float32's range
(the precision of frames and model files) diverges the run at that step — in the scheduler's slices, in
`nnplayground lessons --check` and in search trials alike. Before, headless runs went on until float64
overflowed, many steps after the page had stopped."""

import math
import time

import numpy as np
import pytest

from app.labs.training import FLOAT32_MAX, finite_in_float32
from app.lessons.loader import load_text
from app.lessons.runner import check_lesson
from app.sessions.headless import build_lab

# A linear network on the plane at η = 0.3: the loss grows geometrically and passes float32's largest
# (3.4e38) at step 4 while it is still ~1e63, finite in float64, with weights ~1e15.
OVERFLOWS_FLOAT32 = {"dataset": "plane", "hidden_sizes": [4], "activation": "linear", "learning_rate": 0.3,
                     "batch_size": 10, "seed": 0}


@pytest.mark.parametrize("values, finite", [
    (1.0, True), (3e38, True), (FLOAT32_MAX, True), (1e39, False), (1e300, False), (math.inf, False),
    (math.nan, False), (np.array([1e30] * 1000), True),  # ‖v‖ beyond float32, every entry within it
    (np.array([1.0, -4e38, 2.0]), False), (np.array([]), True),
])
def test_finite_in_float32(values, finite):
    assert finite_in_float32(values) is finite


def test_a_headless_run_stops_where_float32_overflows_not_float64():
    lab = build_lab("mlp", OVERFLOWS_FLOAT32)
    with np.errstate(all="ignore"):
        lab._run_steps(100)
    assert lab.status == "diverged" and lab.trainer.step == 4
    assert math.isfinite(lab.batch_loss) and lab.batch_loss > FLOAT32_MAX  # float64 would have gone on
    assert np.isfinite(lab.trainer.optimizer.flat.data).all()
    assert lab.divergence["cause"] == "loss" and "after step 4" in lab.divergence["message"]


def test_the_pages_slices_stop_at_the_same_step():
    """Lab.train_slice is what the scheduler runs for a watched session."""
    lab = build_lab("mlp", OVERFLOWS_FLOAT32)
    lab.play()
    deadline = time.perf_counter() + 60
    with np.errstate(all="ignore"):
        while lab.status == "running" and time.perf_counter() < deadline:
            lab.train_slice(1, deadline)
    assert lab.status == "diverged" and lab.trainer.step == 4


def test_a_lesson_check_reports_it_diverged():
    text = f"""
title: Overflow
concept: Gradient descent
steps:
  - title: Too fast for float32
    text: The loss passes float32's largest number long before float64's.
    settings: {OVERFLOWS_FLOAT32}
    run: {{steps: 100}}
    check:
      - that: diverged == 1
        text: The run diverged
      - that: step == 4
        text: at step 4, as on the page
"""
    result = check_lesson(load_text(text, "overflow", "overflow.yaml"))
    assert result.passed, result.to_wire()
    assert result.steps[0].stopped_by == "diverged" and result.steps[0].steps_trained == 4


def test_a_search_trial_that_overflows_float32_fails_with_the_labs_reason():
    from app.search import SearchSpec
    from app.search.worker import run_trial

    class Trial:  # the two things run_trial asks of an Optuna trial
        number = 0
        params = {"learning_rate": 0.3}

    spec = SearchSpec.from_dict({"lab": "mlp", "dataset": "plane", "sampler": "random", "trials": 2, "epochs": 2,
                                 "params": {"learning_rate": {"low": 0.01, "high": 1.0, "log": True}},
                                 "base": {k: v for k, v in OVERFLOWS_FLOAT32.items()
                                          if k not in ("dataset", "learning_rate")}})
    state, value, reason = run_trial(spec, Trial(), lambda event: None, lambda: False)
    assert state.name == "FAIL" and value is None and "after step 4" in reason
