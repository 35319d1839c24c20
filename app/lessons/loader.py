"""Read and check lesson files: YAML → app.lessons.format's models → every step checked against its lab.

Every problem is a ``Problem`` naming the file, the step (1-based, with its title), the field (a dotted path
inside the step, e.g. ``settings.learning_rate``) and the line of the file; ``load`` raises ``LessonError``
with all of them. Nothing in a lesson is executed: settings and events are validated by the lab's own strict
models (the `set` path the page drives), conditions are parsed by app.lessons.conditions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from app.labs import DEFAULT_LAB, LABS
from app.server import messages
from app.server.errors import ControlError
from app.server.config import ROOT  # a checkout, or an installed wheel's copy (setup.py: PAGE_FOLDERS)

from .conditions import Condition, ConditionError
from .format import Lesson

LESSONS_DIR = ROOT / "lessons"
RACE_LAB = "search"  # the lab whose run is a race of samplers (run: {race: true})
SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 200_000
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Loader(yaml.SafeLoader):
    """YAML 1.2's booleans: only true/false. (YAML 1.1 reads `clipping: off` as False, which no teacher means.)"""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    step: int | None      # 1-based
    step_title: str | None
    field: str            # dotted path inside the step (or the lesson, outside any step)
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        step = f" step {self.step}" + (f" ({self.step_title!r})" if self.step_title else "") if self.step else ""
        fieldname = f" {self.field}:" if self.field else ""
        return f"{where}:{step}{fieldname} {self.message}".replace(": :", ":")

    def to_wire(self) -> dict:
        return {"file": self.file, "line": self.line, "step": self.step, "step_title": self.step_title,
                "field": self.field, "message": self.message, "text": str(self)}


class LessonError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class LoadedStep:
    index: int            # 0-based
    lab: str
    spec: object          # format.Step
    settings: dict        # every setting the lessons' steps set so far (this one's last)
    until: Condition | None
    checks: list[Condition]


@dataclass
class LoadedLesson:
    name: str
    file: str
    lesson: Lesson
    steps: list[LoadedStep]
    lines: dict = field(repr=False, default_factory=dict)
    source: str = field(repr=False, default="")  # the file's text (a worker process loads it again)

    @property
    def title(self) -> str:
        return self.lesson.title

    @property
    def concept(self) -> str:
        return self.lesson.concept

    def line_of(self, path: tuple) -> int | None:
        return _line_of(self.lines, path)

    def problem(self, step: int | None, field_path: str, message: str) -> Problem:
        """A problem found later (applying a step to a live lab), located like the loader's."""
        path = (("steps", step) if step is not None else ()) + tuple(_path_parts(field_path))
        title = self.lesson.steps[step].title if step is not None else None
        return Problem(self.file, self.line_of(path), None if step is None else step + 1, title, field_path, message)


# --- the files
def lesson_files(folder: Path = LESSONS_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in SUFFIXES and p.is_file()) if folder.is_dir() else []


def load_all(folder: Path = LESSONS_DIR) -> list[LoadedLesson]:
    """Every lesson of ``folder``, in menu order (``order``, then title). Raises LessonError naming every problem."""
    loaded, problems = [], []
    for path in lesson_files(folder):
        try:
            loaded.append(load_file(path))
        except LessonError as error:
            problems += error.problems
    if problems:
        raise LessonError(problems)
    return sorted(loaded, key=lambda s: (s.lesson.order, s.title))


def load_file(path: Path) -> LoadedLesson:
    data = path.read_bytes()
    shown = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    return load_text(data, path.stem, shown)


def load_text(data: bytes | str, name: str, file: str) -> LoadedLesson:
    """Parse and check one lesson's text (``file`` is what errors call it)."""
    def fail(message, line=None, field_path=""):
        raise LessonError([Problem(file, line, None, None, field_path, message)])

    if not NAME.match(name):
        fail(f"the lesson's name {name!r} must be 1-64 lowercase letters, digits, - or _ (it is the file's name "
             f"and the page's ?lesson=)")
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_FILE_BYTES:
        fail(f"a lesson file has at most {MAX_FILE_BYTES:,} bytes; this one has {len(data):,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        fail(f"not UTF-8 text (byte {error.start})")
    try:
        node = yaml.compose(text, Loader=_Loader)
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        fail(f"not valid YAML: {problem}", mark.line + 1 if mark else None)
    if not isinstance(document, dict):
        fail("a lesson is a YAML mapping: title, concept, steps (docs/lessons.md)", 1)
    lines: dict = {}
    duplicates: list[Problem] = []
    _walk(node, (), lines, duplicates, file)
    if duplicates:
        raise LessonError(duplicates)
    try:
        lesson = Lesson.model_validate(document)
    except ValidationError as error:
        raise LessonError([_shape_problem(file, lines, document, e) for e in error.errors()]) from None
    loaded = LoadedLesson(name, file, lesson, [], lines, text)
    problems = _check_steps(loaded)
    if problems:
        raise LessonError(problems)
    return loaded


# --- lines: every path of the YAML document -> the line it starts on (1-based)
def _walk(node, path: tuple, lines: dict, duplicates: list, file: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            k = key.value
            if k in seen:
                duplicates.append(Problem(file, key.start_mark.line + 1, None, None, ".".join(map(str, path + (k,))),
                                          f"{k!r} is given twice"))
            seen.add(k)
            lines[path + (k,)] = key.start_mark.line + 1
            _walk(value, path + (k,), lines, duplicates, file)
            lines[path + (k,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, duplicates, file)


def _line_of(lines: dict, path: tuple) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _path_parts(dotted: str) -> list:
    return [int(p) if p.isdigit() else p for p in dotted.split(".") if p]


def _shape_problem(file: str, lines: dict, document: dict, e: dict) -> Problem:
    loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-", "constrained-"))))
    step = None
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step = loc[1]
    inner = loc[2:] if step is not None else loc
    title = None
    if step is not None:
        steps = document.get("steps")
        if isinstance(steps, list) and step < len(steps) and isinstance(steps[step], dict):
            title = steps[step].get("title") if isinstance(steps[step].get("title"), str) else None
    message = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r}" + (" (docs/lessons.md lists the fields)")
    elif e["type"] == "missing":
        message = f"{loc[-1]!r} is required"
    elif "input" in e and e["type"] not in ("model_type",):
        message += f" (got {_short(e['input'])})"
    return Problem(file, _line_of(lines, loc), None if step is None else step + 1, title,
                   ".".join(map(str, inner)), message)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


# --- each step against its lab
@cache
def page_ids() -> frozenset[str]:
    """Every element id the page's HTML declares (templates/ and each lab's views.html): what `highlight` may
    name with "#"."""
    ids = set()
    for path in [*(ROOT / "templates").glob("*.html"), *(ROOT / "static").rglob("*.html")]:
        ids.update(re.findall(r'\bid="([A-Za-z][\w-]*)"', path.read_text(encoding="utf-8")))
    return frozenset(ids)


def _check_steps(loaded: LoadedLesson) -> list[Problem]:
    problems: list[Problem] = []
    lab_name = DEFAULT_LAB
    settings: dict = {}

    def problem(k: int, field_path: str, message: str) -> None:
        problems.append(loaded.problem(k, field_path, message))

    for k, step in enumerate(loaded.lesson.steps):
        if step.lab is not None and step.lab != lab_name:
            if step.lab not in LABS:
                problem(k, "lab", f"no lab {step.lab!r}; the labs are: {', '.join(LABS)}")
                continue
            lab_name, settings = step.lab, {}
        lab = LABS[lab_name]
        models = lab.event_models()
        try:
            messages.validate("set", (step.settings,), models)
        except ControlError as error:
            problem(k, f"settings.{error.field}" if error.field else "settings", _control_message(error))
        for i, item in enumerate(step.do):
            (event, payload), = item.items()
            if event not in lab.events:
                problem(k, f"do.{i}.{event}", f"{event!r} is not an event of the {lab_name} lab; its events are: "
                                              f"{', '.join(lab.events)}")
                continue
            try:
                messages.validate(event, (payload,), models)
            except ControlError as error:
                problem(k, f"do.{i}.{event}" + (f".{error.field}" if error.field else ""), _control_message(error))
        controls = {c.name for c in lab.controls}
        for i, target in enumerate(step.highlight):
            if target.startswith("#"):
                if target[1:] not in page_ids():
                    problem(k, f"highlight.{i}", f"no element {target} on the page (name a control, or a view's "
                                                 f"id such as #boundary-view)")
            elif target not in controls:
                problem(k, f"highlight.{i}", f"{target!r} is not a control of the {lab_name} lab (controls: "
                                             f"{', '.join(sorted(controls))}; a view is named by its #id)")
        if step.run is not None and (step.run.race is not None) != (lab_name == RACE_LAB):
            problem(k, "run", f"the {RACE_LAB} lab's run is a race (run: {{race: true}}); other labs' runs are steps "
                              f"or epochs" if lab_name == RACE_LAB else
                    f"run: {{race: true}} is the {RACE_LAB} lab's; the {lab_name} lab runs steps or epochs")
        if step.run is not None and step.run.race and {**settings, **step.settings}.get("workers", 1) != 1:
            problem(k, "settings.workers", "a lesson's race runs one worker per sampler, so the trials the page "
                                           "shows are the ones --check measures (more workers share them by timing)")
        until = _condition(step.run.until, lab_name, k, "run.until", problem) if step.run and step.run.until else None
        checks = [_condition(c.that, lab_name, k, f"check.{i}.that", problem) for i, c in enumerate(step.check)]
        for i, c in enumerate(step.check):
            if c.seeds and "seed" not in controls:
                problem(k, f"check.{i}.seeds", f"the {lab_name} lab has no seed control to vary")
        if step.check and step.run is None and step.start == "fresh" and not step.do:
            pass  # a check on the fresh network itself (e.g. its parameter count) is fine
        settings = {**settings, **step.settings}
        loaded.steps.append(LoadedStep(k, lab_name, step, settings, until, checks))
    return problems


def _condition(text: str, lab_name: str, k: int, field_path: str, problem) -> Condition | None:
    try:
        condition = Condition(text)
    except ConditionError as error:
        column = f" (column {error.column})" if error.column else ""
        problem(k, field_path, f"{error}{column}: {text!r}")
        return None
    labs = condition.labs()
    if labs is not None and lab_name not in labs:
        names = ", ".join(sorted({n for n, _ in condition.measures()}))
        problem(k, field_path, f"{names} cannot be read in the {lab_name} lab (only in: {', '.join(sorted(labs))})")
        return None
    return condition


def _control_message(error: ControlError) -> str:
    return error.explanation or error.detail or f"got {error.received}; allowed: {error.allowed}"
