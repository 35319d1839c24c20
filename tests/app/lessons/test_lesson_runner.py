"""The runner: a step starts from the seeded network a new session would build; runs stop where the page's
would; checks over seeds take the median of fresh runs; a lab's refusal names the step and line."""

import textwrap

import numpy as np
import pytest

from app.lessons.loader import load_text
from app.lessons.runner import StepError, advance, check_lesson, headless_session, open_step

LESSON = """\
title: Runner test
concept: Testing
steps:
  - title: Train
    text: Train.
    settings: {dataset: gaussian, hidden_sizes: [3], seed: 4, learning_rate: 0.1}
    run: {steps: 500, until: test_accuracy >= 0.9, every: 7}
    check:
      - that: test_accuracy >= 0.9
        text: learned
  - title: Go on
    text: Continue.
    start: continue
    run: {epochs: 2}
  - title: Over seeds
    text: Seeds.
    settings: {dataset: circle, hidden_sizes: [4]}
    run: {steps: 30}
    check:
      - that: grad_norm(0) / grad_norm(-1) <= 1000
        text: ratio
        seeds: [1, 2, 3]
"""


def load(text):
    return load_text(textwrap.dedent(text), "runner-test", "lessons/runner-test.yaml")


def test_a_fresh_step_is_the_network_a_new_session_builds_from_those_settings():
    lesson = load(LESSON)
    session = headless_session()
    session.lab.apply_settings({"hidden_sizes": [7], "learning_rate": 1.0})  # whatever the page had before
    session.lab.reset()
    open_step(session, lesson, 0)
    fresh = headless_session()
    fresh.lab.apply_settings({"dataset": "gaussian", "seed": 4, "learning_rate": 0.1, "hidden_sizes": [3]})
    fresh.lab.resets = 0
    fresh.lab.build()  # what a new session with these settings draws
    assert session.lab.settings == fresh.lab.settings
    assert session.lab.trainer.step == 0 and session.lab.status == "paused"
    for a, b in zip(session.lab.trainer.model.parameters(), fresh.lab.trainer.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_until_is_tested_every_few_steps_and_epochs_cap_a_run():
    lesson = load(LESSON)
    session = headless_session()
    open_step(session, lesson, 0)
    steps, why = advance(session.lab, lesson.steps[0])
    assert why == "until" and steps % 7 == 0 and 0 < steps < 500
    open_step(session, lesson, 1)
    assert session.lab.trainer.step == steps  # continue: the same network
    epoch = session.lab.trainer.epoch
    _, why = advance(session.lab, lesson.steps[1])
    assert why == "cap" and session.lab.trainer.epoch == epoch + 2


def test_a_whole_lesson_with_a_median_over_seeds():
    result = check_lesson(load(LESSON))
    assert result.passed, result.to_wire()
    seeded = result.steps[2].checks[0]
    assert seeded.seeds == [1, 2, 3] and len(seeded.per_seed) == 3
    ratios = sorted(m["grad_norm(0) / grad_norm(-1)"] for m in seeded.per_seed)
    assert seeded.measured["grad_norm(0) / grad_norm(-1)"] == ratios[1]
    assert len(set(ratios)) == 3  # three different draws
    assert result.steps[0].stopped_by == "until"


def test_a_combination_the_lab_refuses_names_the_step_and_line():
    text = LESSON.replace("settings: {dataset: circle, hidden_sizes: [4]}",
                          "settings: {dataset: plane, loss: cross_entropy}")
    lesson = load(text)  # each setting is allowed alone: the lab refuses the pair
    session = headless_session()
    with pytest.raises(StepError) as caught:
        open_step(session, lesson, 2)
    p = caught.value.problem
    assert (p.step, p.field) == (3, "settings.loss") and p.line == text.splitlines().index(
        "    settings: {dataset: plane, loss: cross_entropy}") + 1
    assert "Cross-entropy needs a classification dataset" in p.message
    result = check_lesson(lesson)
    assert not result.passed and "step 3" in result.error
