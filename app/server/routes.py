"""HTTP routes: the page, a health check, vendored scripts (no CDN), and model download/upload."""

from __future__ import annotations

from pathlib import Path

import plotly
from flask import (Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, send_file,
                   url_for)

from app.sessions.classroom import TooManyWrongCodes, qr_svg

from .errors import ControlError

bp = Blueprint("playground", __name__)


@bp.get("/")
def index():
    return render_template("index.html", labs=current_app.extensions["nnplayground"].lab_list(),
                           public_url=current_app.config["PUBLIC_URL"])


# --- classes (app.sessions.classroom): the join form, a follower's page, the QR code of a join URL
@bp.get("/join")
def join_form():
    code = request.args.get("code")
    if code is not None:  # the form's submission: to the class's page, or the form again saying why not
        classroom, refusal = _class_of(code)
        return refusal or redirect(url_for("playground.join", code=classroom.code))
    return render_template("join.html", code="", problem=None)


def _class_of(code: str):
    """(the class of ``code``, None), or (None, the join form saying why not: 404, or 429 after many wrong codes
    from this address)."""
    try:
        classroom = current_app.extensions["classrooms"].by_join_code(code, request.remote_addr or "")
    except TooManyWrongCodes as error:
        return None, (render_template("join.html", code=code, problem=f"Too many wrong codes from this device: "
                                      f"wait {error.wait:.0f} seconds, then try again."), 429)
    if classroom is None:
        return None, (render_template("join.html", code=code, problem=(
            f"No class has the code {code.strip()[:32]!r} now: check it on the teacher's screen (codes change when "
            "the teacher makes a new one, and stop when the class ends).")), 404)
    return classroom, None


@bp.get("/join/<code>")
def join(code):
    """A follower's page: the playground, read-only, watching the class of ``code``."""
    classroom, refusal = _class_of(code)
    if refusal:
        return refusal
    if classroom.code != code:  # typed in lower case, with a dash...: the canonical link
        return redirect(url_for("playground.join", code=classroom.code))
    return render_template("index.html", labs=current_app.extensions["nnplayground"].lab_list(),
                           public_url=current_app.config["PUBLIC_URL"], join_code=classroom.code)


@bp.get("/join/<code>/qr.svg")
def join_qr(code):
    """The QR code of the class's join URL (only while ``code`` is the class's code)."""
    classroom, refusal = _class_of(code)
    if refusal or classroom.code != code:
        abort(refusal[1] if refusal else 404, description="no class has this code now")
    return Response(qr_svg(classroom.join_url), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.get("/healthz")
def healthz():
    return "ok", 200, {"Content-Type": "text/plain"}


@bp.get("/vendor/plotly.min.js")
def plotly_js():
    return send_file(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", mimetype="text/javascript")


@bp.get("/vendor/socket.io.esm.min.js")
def socketio_js():
    path = Path(current_app.config["NODE_MODULES"]) / "socket.io-client" / "dist" / "socket.io.esm.min.js"
    if not path.is_file():
        return (f"{path} is missing: run `make setup` (npm ci installs socket.io-client)", 500,
                {"Content-Type": "text/plain"})
    return send_file(path, mimetype="text/javascript")


def _session(token: str):
    session = current_app.extensions["nnplayground"].get(token)
    if session is None:
        abort(404, description="no such session (it may have expired)")
    return session


def _model_io(session):
    """The shown lab's model files (app.labs.base.Lab.model_io), or 404 for a lab without them."""
    model_io = session.lab.model_io
    if model_io is None:
        abort(404, description=f"the {session.lab.name} lab has no model files")
    return model_io


def _download(token: str, format: str, mimetype: str, filename: str) -> Response:
    session = _session(token)
    with session.lock:
        model_io = _model_io(session)
        serialize = getattr(model_io, f"to_{format}", None)
        if serialize is None:
            abort(404, description=f"the {session.lab.name} lab has no {format} export")
        try:
            if hasattr(model_io, "check_exportable"):  # a lab with files to load back refuses non-finite ones
                model_io.check_exportable(session.lab)
        except ControlError as error:
            return jsonify({"ok": False, "error": error.to_wire("save_model")}), 409
        body = serialize(session.lab)
    return _attachment(body, mimetype, filename)


def _attachment(body, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


@bp.get("/api/session/<token>/model.py")
def model_py(token):
    """The network as a PyTorch script (docs/protocol.md, "HTTP routes")."""
    return _download(token, "py", "text/x-python", "nnplayground_model.py")


@bp.get("/api/session/<token>/data.csv")
def data_csv(token):
    """The lab's 2-D dataset as CSV, for labs that have one (the MLP lab's data_csv)."""
    session = _session(token)
    with session.lock:
        lab = session.lab
        if not hasattr(lab, "data_csv"):
            abort(404, description=f"the {lab.name} lab has no 2-D data to download")
        try:
            body = lab.data_csv()
        except ControlError as error:  # an image dataset: no points
            abort(404, description=error.text())
    return _attachment(body, "text/csv", f"nnplayground-{lab.settings.get('dataset', 'data')}.csv")


@bp.get("/api/session/<token>/model.npz")
def model_npz(token):
    return _download(token, "npz", "application/octet-stream", "nnplayground-model.npz")


@bp.get("/api/session/<token>/model.json")
def model_json(token):
    return _download(token, "json", "application/json", "nnplayground-model.json")


@bp.post("/api/session/<token>/model")
def load_model(token):
    from .events import broadcast_state

    session = _session(token)
    try:
        lab = session.lab
        model_io = _model_io(session)
        if not hasattr(model_io, "parse"):
            abort(404, description=f"the {lab.name} lab has no model files to load")
        parsed = model_io.parse(request.get_data(cache=False))
        with session.controlled():
            if session.lab is not lab:
                raise ControlError("lab", lab.name, f'"{session.lab.name}" (the lab shown now)',
                                   "the session switched labs while the model loaded; nothing was applied")
            lab.load_model(*parsed)
            version = session.config_version
    except ControlError as error:
        return jsonify({"ok": False, "error": error.to_wire("load_model")}), 400
    current_app.extensions["nnplayground"].scheduler.wake()
    broadcast_state(session)
    return jsonify({"ok": True, "config_version": version})
