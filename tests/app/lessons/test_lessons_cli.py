"""`nnplayground lessons`: the list, --check with measured numbers, --json's last line, exit statuses."""

import json
import subprocess
import sys

import pytest

from app.cli import main
from app.lessons.loader import ROOT

BROKEN = """\
title: Broken
concept: Testing
steps:
  - title: Impossible
    text: x
    settings: {learning_rate: 50}
"""

FAILING = """\
title: Failing
concept: Testing
steps:
  - title: Expect too much
    text: x
    settings: {dataset: circle, hidden_sizes: [2], seed: 1}
    run: {steps: 20}
    check:
      - that: test_accuracy >= 0.999
        text: perfect at once
"""


def test_the_list_groups_lessons_by_concept(capsys):
    main(["lessons"])
    out = capsys.readouterr().out
    assert "learning-rate" in out and "A learning rate too large diverges" in out
    assert "Gradient descent\n" in out


def test_check_json_is_the_last_line(capsys):
    main(["lessons", "--check", "learning-rate", "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("PASS learning-rate")
    results = json.loads(lines[-1])
    assert [r["name"] for r in results] == ["learning-rate"]
    r = results[0]
    assert r["passed"] is True and r["concept"] == "Gradient descent"
    assert {"text", "measured", "passed"} <= set(r["checks"][0])
    diverged = next(c for c in r["checks"] if c["that"] == "diverged == 1")
    assert diverged["measured"] == {"diverged": 1.0} and diverged["passed"]


def test_a_failing_lesson_exits_1_with_its_numbers(tmp_path, capsys):
    path = tmp_path / "failing.yaml"
    path.write_text(FAILING)
    with pytest.raises(SystemExit) as caught:
        main(["lessons", "--check", str(path), "--json"])
    assert caught.value.code == 1
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])[0]
    assert result["passed"] is False
    check = result["checks"][0]
    assert check["passed"] is False and 0 <= check["measured"]["test_accuracy"] < 0.999
    assert "FAIL step 1: perfect at once — test_accuracy >= 0.999: test_accuracy = " in out


def test_a_broken_file_names_its_line_and_unknown_names_exit_2(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(SystemExit) as caught:
        main(["lessons", "--check", str(path)])
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert "broken.yaml:6: step 1 ('Impossible') settings.learning_rate:" in err and "50 is too large" in err
    with pytest.raises(SystemExit) as caught:
        main(["lessons", "--check", "no-such-lesson"])
    assert caught.value.code == 2 and "no lesson no-such-lesson" in capsys.readouterr().err


def test_the_installed_command_runs_it():
    done = subprocess.run([sys.executable, "-m", "app", "lessons", "--check", "a-neuron", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])[0]["name"] == "a-neuron"
