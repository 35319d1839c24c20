"""HTTP routes of the lesson panel (static/lessons/): the lessons, a teacher's own lesson file, and a step opened,
run and checked on the session a page shows (its token, as the model routes take it).

    GET  /api/lessons                                  the menu: [{name, title, concept, summary, steps}]
    GET  /api/lessons/<name>?token=                    one lesson for the panel (a session's uploaded ones too)
    POST /api/session/<token>/lessons                  upload a lesson file (its text): checked, kept for the session
    POST /api/session/<token>/lesson/<name>/<k>/open   step k's lab, settings, network and events (1-based k)
    POST /api/session/<token>/lesson/<name>/<k>/run    play the step's run: the scheduler stops it where --check does
    POST /api/session/<token>/lesson/<name>/<k>/check  the step's checks on the live numbers (and the run's end)

Every change goes through the session's lock and is followed by a `state` to every viewer, like a control.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_file

from app.server.errors import ControlError
from app.server.routes import _session
from app.sessions.classroom import set_lesson_step

from .loader import MAX_FILE_BYTES, NAME, LessonError, LoadedLesson, load_all, load_text

from .runner import LiveRun, OverBudget, StepError, catch_up, check_step, open_step, steps_done

bp = Blueprint("lessons", __name__)

MAX_UPLOADS = 8  # a session keeps its newest uploaded lessons
# Checks over seeds train fresh headless runs: in a worker process (training in a request thread would hold the
# GIL the scheduler needs for every session's frames), one such check at a time, each given at most this long, so
# an uploaded lesson asking for 9 seeds of long runs cannot take the server from the others.
SEEDED_SECONDS = 60.0
_seeded = threading.Semaphore(1)
_seeded_worker: list = []  # the one ProcessPoolExecutor, started on first use


def _seeded_checks(source: str, name: str, file: str, index: int, seconds: float) -> list:
    """In the worker process: the lesson's step ``index`` checks over seeds, within ``seconds``."""
    from .loader import load_text as load

    return check_step(None, load(source, name, file), index, seeded=True, deadline=time.perf_counter() + seconds)


def _over_seeds(lesson: LoadedLesson, index: int) -> list:
    import concurrent.futures
    import multiprocessing

    if not _seeded_worker:
        _seeded_worker.append(concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")))  # never fork a threaded server
    future = _seeded_worker[0].submit(_seeded_checks, lesson.source, lesson.name, lesson.file, index, SEEDED_SECONDS)
    return future.result(timeout=SEEDED_SECONDS + 60)  # + starting the worker
# The browser libraries the panel loads (npm's, from node_modules: no CDN). Only these may be served.
VENDOR_PREFIXES = ("katex/dist/", "markdown-it/dist/markdown-it.min.js", "markdown-it-texmath/texmath.js",
                   "markdown-it-texmath/css/texmath.css")

_uploads: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # session -> OrderedDict(name -> lesson)
_runs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()     # session -> (name, k, LiveRun | None):
                                                                     # the lesson step last opened on it
REPLAY_SECONDS = 20.0  # catching up the steps a `continue` step builds on, at most
_lock = threading.Lock()
_folder_cache: dict = {}


def _folder_lessons() -> dict[str, LoadedLesson]:
    """The lessons/ folder, read again when a file changed (a teacher editing a lesson sees it on reload)."""
    from .loader import lesson_files

    files = lesson_files()
    key = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    with _lock:
        if _folder_cache.get("key") != key:
            try:
                lessons = load_all()
                problems = []
            except LessonError as error:  # a broken file: the others still load, the menu says which is broken
                lessons, problems = [], error.problems
                for path in files:
                    try:
                        lessons.append(load_text(path.read_bytes(), path.stem, f"lessons/{path.name}"))
                    except LessonError:
                        pass
                lessons.sort(key=lambda s: (s.lesson.order, s.title))
            _folder_cache.update(key=key, lessons={s.name: s for s in lessons}, problems=problems)
        return _folder_cache["lessons"]


def _lesson(name: str, session=None) -> LoadedLesson:
    if session is not None:
        with _lock:
            uploaded = _uploads.get(session, {}).get(name)
        if uploaded is not None:
            return uploaded
    lesson = _folder_lessons().get(name)
    if lesson is None:
        abort(404, description=f"no lesson {name!r}")
    return lesson


def lesson_wire(lesson: LoadedLesson, uploaded: bool = False) -> dict:
    """What the panel shows of a lesson: its steps as written (text, highlight, predict, run, check texts)."""
    steps = []
    for step in lesson.steps:
        s = step.spec
        steps.append({
            "title": s.title, "text": s.text, "lab": step.lab, "start": s.start, "highlight": list(s.highlight),
            "predict": s.predict.model_dump() if s.predict else None,
            "run": s.run.model_dump() if s.run else None,
            "check": [{"text": c.text, "that": c.that, "explain": c.explain, "seeds": c.seeds} for c in s.check],
        })
    return {"name": lesson.name, "title": lesson.title, "concept": lesson.concept,
            "summary": lesson.lesson.summary, "file": lesson.file, "uploaded": uploaded, "steps": steps}


def _summary(lesson: LoadedLesson, uploaded: bool = False) -> dict:
    return {"name": lesson.name, "title": lesson.title, "concept": lesson.concept,
            "summary": lesson.lesson.summary, "steps": len(lesson.steps), "uploaded": uploaded}


@bp.get("/api/lessons")
def lessons_menu():
    lessons = [_summary(s) for s in _folder_lessons().values()]
    token = request.args.get("token")
    session = current_app.extensions["nnplayground"].get(token) if token else None
    if session is not None:
        with _lock:
            lessons += [_summary(s, True) for s in _uploads.get(session, {}).values()]
    problems = [p.to_wire() for p in _folder_cache.get("problems", [])]
    return jsonify({"lessons": lessons, "problems": problems})


def _class_session(code):
    """The teacher's session of the class with join code ``code`` (a follower's page asks with it), or None."""
    classrooms = current_app.extensions.get("classrooms")
    classroom = classrooms.by_join_code(code) if classrooms is not None and code else None
    return classroom.session if classroom is not None else None


@bp.get("/api/lessons/<name>")
def lesson(name):
    token = request.args.get("token")
    session = current_app.extensions["nnplayground"].get(token) if token else _class_session(request.args.get("join"))
    found = _lesson(name, session)
    with _lock:
        uploaded = session is not None and found is _uploads.get(session, {}).get(name)
    return jsonify(lesson_wire(found, uploaded))


@bp.post("/api/session/<token>/lessons")
def upload(token):
    """A teacher's own lesson file: the body is its text; ?name= (the file's name) names it."""
    session = _session(token)
    raw_name = Path(request.args.get("name", "my-lesson.yaml")).name
    stem = Path(raw_name).stem.lower().replace(" ", "-")
    if request.content_length is not None and request.content_length > MAX_FILE_BYTES:
        problem = {"file": raw_name, "line": None, "step": None, "step_title": None, "field": "",
                   "message": f"a lesson file has at most {MAX_FILE_BYTES:,} bytes",
                   "text": f"{raw_name}: a lesson file has at most {MAX_FILE_BYTES:,} bytes"}
        return jsonify({"ok": False, "problems": [problem]}), 413
    data = request.get_data(cache=False)
    try:
        if not NAME.match(stem):
            stem = "my-lesson"
        loaded = load_text(data, stem, raw_name)
    except LessonError as error:
        return jsonify({"ok": False, "problems": [p.to_wire() for p in error.problems]}), 400
    with _lock:
        kept = _uploads.setdefault(session, OrderedDict())
        kept.pop(loaded.name, None)
        kept[loaded.name] = loaded
        while len(kept) > MAX_UPLOADS:
            kept.popitem(last=False)
    return jsonify({"ok": True, "lesson": lesson_wire(loaded, True)})


def _step_index(lesson: LoadedLesson, k: int) -> int:
    if not 1 <= k <= len(lesson.steps):
        abort(404, description=f"lesson {lesson.name!r} has steps 1 to {len(lesson.steps)}; no step {k}")
    return k - 1


def _changed(session):
    from app.server.events import broadcast_state

    current_app.extensions["nnplayground"].scheduler.wake()
    broadcast_state(session)


def _left_where_next_continues(session, lesson: LoadedLesson, index: int) -> bool:
    """Whether step ``index`` - 1 of ``lesson`` was the last opened on ``session`` and is done (run to its end,
    or it has no run): where a `continue` step takes over."""
    with _lock:
        last = _runs.get(session)
    if last is None or last[0] != lesson.name or last[1] != index - 1:
        return False
    plan = last[2]
    return lesson.steps[index - 1].spec.run is None or (plan is not None and plan.stopped_by is not None)


@bp.post("/api/session/<token>/lesson/<name>/<int:k>/open")
def open_lesson_step(token, name, k):
    session = _session(token)
    lesson = _lesson(name, session)
    index = _step_index(lesson, k)
    before = session.lab
    replayed: list[int] = []
    try:
        if lesson.steps[index].spec.start == "continue" and index and not _left_where_next_continues(
                session, lesson, index):
            replayed = catch_up(session, lesson, index, time.perf_counter() + REPLAY_SECONDS)
        with session.controlled():
            open_step(session, lesson, index)
            version = session.config_version
            schema = session.schema() if session.lab is not before else None
    except StepError as error:
        return jsonify({"ok": False, "problem": error.problem.to_wire()}), 400
    except OverBudget as error:
        return jsonify({"ok": False, "error": str(error)}), 400
    with _lock:
        _runs[session] = (name, index, None)
    set_lesson_step(session, name, k)  # a class following this session shows the same step
    if schema is not None:  # the step switched labs: every viewer rebuilds its controls, as after set_lab
        current_app.extensions["nnplayground"].server.emit("schema", schema, to=session.token, namespace="/")
    _changed(session)
    return jsonify({"ok": True, "config_version": version, "replayed": [j + 1 for j in replayed]})


@bp.post("/api/session/<token>/lesson-closed")
def lesson_closed(token):
    """The teacher closed the lesson panel: so does a class following the session."""
    set_lesson_step(_session(token), None, None)
    return jsonify({"ok": True})


def _elsewhere(session, step, k: int):
    """409: the session switched to another lab since the step opened (someone chose another lab)."""
    return jsonify({"ok": False, "error": f"the session shows the {session.lab.name} lab; step {k} is in the "
                                          f"{step.lab} lab: open the step again"}), 409


@bp.post("/api/session/<token>/lesson/<name>/<int:k>/run")
def run_lesson_step(token, name, k):
    session = _session(token)
    lesson = _lesson(name, session)
    index = _step_index(lesson, k)
    step = lesson.steps[index]
    if step.spec.run is None:
        abort(400, description=f"step {k} of {name!r} has no run")
    with session.controlled():
        lab = session.lab
        if lab.name != step.lab:
            return _elsewhere(session, step, k)
        if lab.status == "diverged":
            return jsonify({"ok": False, "error": "the run has diverged: open the step again to start over"}), 409
        try:
            lab.play()  # the search lab: starts the race (refused when the server runs too many searches)
        except ControlError as error:
            return jsonify({"ok": False, "error": error.detail or str(error)}), 409
        plan = LiveRun(lab, step)
        lab.run_plan = plan
        version = session.config_version
    with _lock:
        _runs[session] = (name, index, plan)
    _changed(session)
    return jsonify({"ok": True, "config_version": version})


@bp.post("/api/session/<token>/lesson/<name>/<int:k>/check")
def check_lesson_step(token, name, k):
    session = _session(token)
    lesson = _lesson(name, session)
    index = _step_index(lesson, k)
    with session.controlled():
        if session.lab.name != lesson.steps[index].lab:
            return _elsewhere(session, lesson.steps[index], k)
        live = check_step(session, lesson, index, seeded=False)
        status, step_now = session.lab.status, steps_done(session.lab)
    # Checks over seeds train fresh headless sessions: outside the live session's lock, one request at a time.
    over_seeds = []
    if any(c.seeds for c in lesson.steps[index].spec.check):
        if not _seeded.acquire(timeout=SEEDED_SECONDS):
            return jsonify({"ok": False, "error": "the server is busy with another check over seeds; try again"}), 429
        try:
            over_seeds = _over_seeds(lesson, index)
        finally:
            _seeded.release()
    results = [(over_seeds if c.seeds else live).pop(0) for c in lesson.steps[index].spec.check]
    with _lock:
        run = _runs.get(session)
    run_wire = run[2].to_wire() if run and run[0] == name and run[1] == index and run[2] is not None else None
    return jsonify({"ok": True, "passed": all(r.passed for r in results), "status": status, "step": step_now,
                    "run": run_wire, "checks": [r.to_wire() for r in results]})


@bp.get("/vendor/npm/<path:path>")
def vendor(path):
    """KaTeX, markdown-it and its math plugin, from npm's node_modules (see VENDOR_PREFIXES)."""
    if ".." in Path(path).parts or not path.startswith(VENDOR_PREFIXES):
        abort(404)
    full = Path(current_app.config["NODE_MODULES"]) / path
    if not full.is_file():
        abort(404, description=f"{path} is missing: run `make setup` (npm ci)")
    return send_file(full, max_age=3600)
