"""Lesson files: a lesson that asks something impossible is refused naming the file, the step, the field and the
line; YAML a teacher writes reads as they mean it."""

import json
import textwrap

import pytest

from app.lessons.loader import LessonError, load_text

GOOD = """\
title: Test lesson
concept: Testing
steps:
  - title: First
    text: Some $x^2$ text.
    lab: mlp
    settings: {dataset: circle, learning_rate: 0.03, clipping: off}
    highlight: [learning_rate, "#boundary-view"]
    predict:
      question: Which?
      choices: [a, b]
      answer: b
    run: {steps: 20, until: test_accuracy >= 0.9, every: 5}
    check:
      - that: grad_norm(0) / grad_norm(-1) <= 100
        text: ratio
  - title: Second
    text: More.
    start: continue
    do:
      - edit_bias: {layer: 0, neuron: 0, value: 1}
"""


def load(text, name="sample"):
    return load_text(textwrap.dedent(text), name, f"lessons/{name}.yaml")


def problems(text):
    with pytest.raises(LessonError) as caught:
        load(text)
    return caught.value.problems


def only(text):
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_good_lesson_loads_with_its_settings_accumulated():
    lesson = load(GOOD)
    assert lesson.title == "Test lesson" and lesson.concept == "Testing"
    assert [s.lab for s in lesson.steps] == ["mlp", "mlp"]
    assert lesson.steps[0].settings["clipping"] == "off"  # YAML 1.1 would have made it False
    assert lesson.steps[1].settings == lesson.steps[0].settings
    assert lesson.steps[0].until.text == "test_accuracy >= 0.9"


def test_an_impossible_setting_names_file_step_field_and_line():
    text = GOOD.replace("learning_rate: 0.03", "learning_rate: 50")
    p = only(text)
    assert (p.file, p.step, p.step_title, p.field) == ("lessons/sample.yaml", 1, "First", "settings.learning_rate")
    assert p.line == line_of(text, "learning_rate: 50")
    assert "50 is too large" in p.message
    assert str(p).startswith(f"lessons/sample.yaml:{p.line}: step 1 ('First') settings.learning_rate:")


def test_an_unknown_setting_and_a_wrong_type_are_both_named():
    text = GOOD.replace("clipping: off", "clipping: off, hidden_layers: 3").replace(
        "  - title: Second\n    text: More.\n", "  - title: Second\n    text: More.\n    settings: {seed: 1.5}\n")
    found = problems(text)
    fields = {(p.step, p.field) for p in found}
    assert (1, "settings.hidden_layers") in fields and (2, "settings.seed") in fields
    assert next(p for p in found if p.step == 2).line == line_of(text, "seed: 1.5")


def test_a_shape_problem_names_the_line_inside_the_step():
    text = GOOD.replace("      answer: b", "      answer: c")
    p = only(text)
    assert (p.step, p.field, p.line) == (1, "predict", line_of(text, "predict:"))
    assert "answer must be one of the choices" in p.message
    text = GOOD.replace("    run: {steps: 20,", "    run: {")
    p = only(text)
    assert (p.step, p.field, p.line) == (1, "run", line_of(text, "run: {"))
    text = GOOD.replace("    text: More.", "    text: More.\n    colour: red")
    p = only(text)
    assert (p.step, p.field, p.line) == (2, "colour", line_of(text, "colour: red"))
    assert "unknown field 'colour'" in p.message


def test_a_missing_title_is_named():
    p = only(GOOD.replace("title: Test lesson\n", ""))
    assert p.step is None and p.field == "title" and "required" in p.message


def test_events_are_checked_by_the_labs_own_models():
    text = GOOD.replace("edit_bias: {layer: 0, neuron: 0, value: 1}", "edit_bias: {layer: 0, neuron: 0, value: 500}")
    p = only(text)
    assert (p.step, p.field, p.line) == (2, "do.0.edit_bias.value", line_of(text, "value: 500"))
    text = GOOD.replace("edit_bias:", "play:")
    p = only(text)
    assert p.field == "do.0.play" and "not an event of the mlp lab" in p.message


def test_highlights_name_controls_or_page_ids():
    text = GOOD.replace('"#boundary-view"', '"#no-such-view"')
    p = only(text)
    assert (p.field, p.line) == ("highlight.1", line_of(text, "#no-such-view"))
    p = only(GOOD.replace("highlight: [learning_rate", "highlight: [learningrate"))
    assert p.field == "highlight.0" and "not a control of the mlp lab" in p.message


@pytest.mark.parametrize("condition, complaint", [
    ("__import__('os').system('true') == 0", "not a measure"),
    ("test_accuracy.real >= 0.9", "not a measure"),
    ("accuracy >= 0.9", "unknown measure 'accuracy'"),
    ("grad_norm() > 1", "takes 1 argument"),
    ("grad_norm(layer=0) > 1", "by position"),
    ("grad_norm('0') > 1", "layer is a number"),
    ("grad_norm(grid) > 1", "layer is a number; grid is not"),
    ("distinct_values(lasso, learning_rate) > 1", "sampler is one of grid, random, tpe, gp; lasso is not"),
    ("distinct_values(grid, 3) > 1", "param is one of"),
    ("test_accuracy", "a condition compares"),
    ("test_accuracy >= 0.9 and step > 3", "a condition compares"),
    ("test_accuracy >=", "not a comparison"),
    ("[1] == [1]", "not a measure"),
    ("True == 1", "only numbers"),
])
def test_conditions_outside_the_vocabulary_are_refused(condition, complaint):
    text = GOOD.replace("grad_norm(0) / grad_norm(-1) <= 100", json.dumps(condition))
    p = only(text)
    assert p.field == "check.0.that" and complaint in p.message, p.message
    assert p.line == line_of(text, "- that:")


def test_yaml_errors_and_duplicate_keys_name_the_line():
    text = GOOD.replace("    text: More.", "    text: More.\n   bad indent: [")
    p = only(text)
    assert p.line is not None and "not valid YAML" in p.message
    text = GOOD.replace("    text: More.", "    text: More.\n    text: Again.")
    p = only(text)
    assert p.line == line_of(text, "text: Again.") and "given twice" in p.message


def test_an_unknown_lab_and_a_lab_measure_mismatch():
    p = only(GOOD.replace("lab: mlp", "lab: gan"))
    assert p.field == "lab" and "no lab 'gan'" in p.message
    text = GOOD.replace("lab: mlp", "lab: rnn").replace(
        "settings: {dataset: circle, learning_rate: 0.03, clipping: off}", "settings: {}").replace(
        'highlight: [learning_rate, "#boundary-view"]', "highlight: []").replace(
        "run: {steps: 20, until: test_accuracy >= 0.9, every: 5}", "run: {steps: 20}").replace(
        "      - edit_bias: {layer: 0, neuron: 0, value: 1}", "      []").replace("    do:\n      []\n", "")
    p = only(text)
    assert p.field == "check.0.that" and "cannot be read in the rnn lab" in p.message


def test_names_and_sizes_are_bounded():
    with pytest.raises(LessonError, match="name"):
        load(GOOD, name="../etc")
    with pytest.raises(LessonError, match="at most 200,000 bytes"):
        load(GOOD + "#" * 200_001)
    with pytest.raises(LessonError, match="a YAML mapping"):
        load("- just\n- a list\n")
