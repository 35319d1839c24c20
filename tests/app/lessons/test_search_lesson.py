"""The search lab in lessons: a race as a step's run (run: {race: true}), measured by the race's own trials."""

import math

import pytest

from app.lessons.loader import LessonError, load_text
from app.lessons.runner import check_lesson

RACE = """
title: A tiny race
concept: Hyperparameter search
steps:
  - title: Race
    text: Grid against random.
    lab: search
    settings: {dataset: circle, params: [learning_rate, width], trials: 4, epochs: 1, samplers: [grid, random],
               seed: 3}
    run: {race: true}
    check:
      - that: distinct_values(grid, learning_rate) == 2
        text: a 2 x 2 grid tries two learning rates
      - that: distinct_values(random, learning_rate) == 4
        text: random tries four
      - that: trials_done(grid) + trials_done(random) == 8
        text: every trial ran
      - that: trials_to_within(grid, grid, 0) <= 4
        text: grid reaches its own best within its budget
      - that: trials_to_within(random, random, 0) <= 4
        text: so does random
"""


def problems(text):
    with pytest.raises(LessonError) as caught:
        load_text(text, "tiny", "tiny.yaml")
    return caught.value.problems


def test_a_race_step_runs_headless_and_its_measures_read_its_trials():
    result = check_lesson(load_text(RACE, "tiny", "tiny.yaml"))
    assert result.passed, result.to_wire()
    step = result.steps[0]
    assert (step.stopped_by, step.steps_trained) == ("race", 8)


def test_trials_to_within_counts_to_the_first_trial_near_the_reference_best():
    from app.lessons.measures import MEASURES
    from app.lessons.runner import headless_session, play_through

    loaded = load_text(RACE, "tiny", "tiny.yaml")
    session = headless_session()
    play_through(session, loaded, 0)
    lab = session.lab
    grid = sorted(lab.race.logs["grid"].finished, key=lambda t: t["number"])
    values = [t["value"] for t in grid]
    best = min(values)
    read = lambda name, *args: MEASURES[name].read(lab, args)  # noqa: E731
    assert read("best_value", "grid") == best
    assert read("trials_to_within", "grid", "grid", 0) == values.index(best) + 1
    assert read("trials_to_within", "grid", "grid", 1e9) == 1  # anything is within a huge margin
    never = read("trials_to_within", "grid", "grid", -50)  # "within -50 %": better than the best itself
    assert never == 5  # the budget + 1: never
    assert math.isfinite(read("best_value", "random"))


def test_the_race_measures_name_what_is_missing():
    from app.lessons.measures import MEASURES, MeasureError
    from app.lessons.runner import headless_session, open_step

    loaded = load_text(RACE, "tiny", "tiny.yaml")
    session = headless_session()
    open_step(session, loaded, 0)
    with pytest.raises(MeasureError, match="no race has run"):
        MEASURES["best_value"].read(session.lab, ("grid",))
    session.lab.race_here()
    with pytest.raises(MeasureError, match="no tpe sampler"):
        MEASURES["best_value"].read(session.lab, ("tpe",))
    with pytest.raises(MeasureError, match="did not search depth"):
        MEASURES["distinct_values"].read(session.lab, ("grid", "depth"))


@pytest.mark.parametrize("change, field, complaint", [
    ("run: {race: true}", "run", "the search lab's run is a race"),  # replaced below for the mlp case
    ("run: {steps: 10}", "run", "the search lab's run is a race"),
    ("run: {race: true, until: 'trials_done(grid) >= 2'}", "run", "no until"),
    ("run: {race: true, steps: 5}", "run", "exactly one of steps"),
    ("run: {race: false}", "run.race", "True"),
])
def test_a_race_run_is_the_search_labs_only(change, field, complaint):
    text = RACE.replace("run: {race: true}", change)
    if change == "run: {race: true}":
        text = text.replace("lab: search", "lab: mlp").replace(
            "settings: {dataset: circle, params: [learning_rate, width], trials: 4, epochs: 1, samplers: [grid, random],\n"
            "               seed: 3}", "settings: {}").split("    check:")[0]
        complaint = "run: {race: true} is the search lab's"
    found = problems(text)
    assert any(p.field == field and complaint in p.message for p in found), found


def test_a_lessons_race_runs_one_worker_per_sampler():
    found = problems(RACE.replace("seed: 3}", "seed: 3, workers: 2}"))
    assert any(p.field == "settings.workers" and "one worker per sampler" in p.message for p in found), found
