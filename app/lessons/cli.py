"""``nnplayground lessons``: list the lessons; ``--check [NAME …] [--json]`` runs them headless and reports.

With ``--json`` the last line of stdout is a JSON list of ``{name, concept, passed, checks: [{text, measured,
passed}]}`` (each check also has ``that`` and ``step``; a lesson that could not run has ``error``). The exit
status is 1 when a lesson failed or a file has a problem, 2 for an unknown name.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from .loader import LESSONS_DIR, LessonError, load_all, load_file
from .measures import MEASURES


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nnplayground lessons",
                                     description="List the lessons, or run their checks headless (docs/lessons.md).")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="lessons to check (a name in lessons/, or the path of a .yaml file); default: all")
    parser.add_argument("--check", action="store_true", help="run each lesson's steps and checks, report measured "
                                                             "numbers")
    parser.add_argument("--json", action="store_true", help="with --check: the results as JSON on the last line")
    parser.add_argument("--measures", action="store_true", help="list the measures a condition may name")
    parser.add_argument("--dir", type=Path, default=LESSONS_DIR, help="the lessons folder (default: lessons/)")
    return parser.parse_args(argv)


def select(names: list[str], folder: Path):
    """The lessons named (all when none), or SystemExit naming the unknown ones."""
    paths = [Path(n) for n in names if n.endswith((".yaml", ".yml"))]
    named = [n for n in names if not n.endswith((".yaml", ".yml"))]
    lessons = load_all(folder) if named or not names else []
    by_name = {lesson.name: lesson for lesson in lessons}
    unknown = [n for n in named if n not in by_name]
    if unknown:
        print(f"nnplayground lessons: no lesson {', '.join(unknown)}; the lessons are: {', '.join(by_name)}",
              file=sys.stderr)
        raise SystemExit(2)
    chosen = [by_name[n] for n in named] if names else lessons
    return chosen + [load_file(p.resolve()) for p in paths]


def _number(value) -> str:
    if isinstance(value, str):
        return value
    if value == 0 or math.isnan(value) or math.isinf(value):
        return f"{value:g}"
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.3e}"


def main(argv=None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.measures:
        for m in MEASURES.values():
            labs = f" [{', '.join(m.labs)}]" if m.labs else ""
            print(f"{m.signature():34s}{labs} {m.doc}")
        return
    try:
        lessons = select(args.names, args.dir)
    except LessonError as error:
        print(f"nnplayground lessons: {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        if args.json:
            print(json.dumps([{"error": p.to_wire()} for p in error.problems]))
        raise SystemExit(1)
    if not args.check:
        concept = None
        for lesson in lessons:
            if lesson.concept != concept:
                concept = lesson.concept
                print(concept)
            print(f"  {lesson.name:28s} {lesson.title} ({len(lesson.steps)} steps)")
        return
    from .runner import check_lesson

    results = []
    for lesson in lessons:
        start = time.perf_counter()
        result = check_lesson(lesson)
        seconds = time.perf_counter() - start
        results.append(result)
        print(f"{'PASS' if result.passed else 'FAIL'} {lesson.name} — {lesson.title} ({seconds:.1f} s)")
        if result.error:
            print(f"    error: {result.error}")
        for step in result.steps:
            for c in step.checks:
                measured = ", ".join(f"{k} = {_number(v)}" for k, v in c.to_wire()["measured"].items())
                seeds = f" (median over seeds {', '.join(map(str, c.seeds))})" if c.seeds else ""
                print(f"    {'ok  ' if c.passed else 'FAIL'} step {step.index + 1}: {c.text} — {c.that}: "
                      f"{measured}{seeds}" + (f" [{c.error}]" if c.error else ""))
    failed = [r.name for r in results if not r.passed]
    print(f"{len(results) - len(failed)} of {len(results)} lessons passed" + (f"; failed: {', '.join(failed)}"
                                                                                 if failed else ""))
    if args.json:
        print(json.dumps([r.to_wire() for r in results]))
    if failed:
        raise SystemExit(1)
