"""Uploads of point-register files by officers: check first, then import or discard.

Routes (all need the officer role; every POST carries the CSRF token)
---------------------------------------------------------------------
``GET  /uploads``                      the upload form: formats, limits, register choice
``POST /uploads``                      multipart (``file``, ``register``, and optionally
                                       ``category`` and ``map``: lines ``FIELD=COLUMN``,
                                       as ``mapper import --category/--map``): the check's report
                                       page, or 400/413 with the reason the whole file
                                       cannot be used
``GET  /uploads/<token>``              the report of an upload still waiting
``POST /uploads/<token>/commit``       ``mode=all`` (every row valid) or ``mode=valid`` (only
                                       the valid rows): imports it, atomically
``POST /uploads/<token>/discard``      throws it away
``POST /api/uploads``                  as ``POST /uploads``, answering the report as JSON
                                       (200), or ``{"error": ..., "problems": [...]}`` (4xx)
``POST /api/uploads/<token>/commit``   ``skip_invalid`` (form field or JSON member, default
                                       false): ``{"imported": {...}}``
``POST /api/uploads/<token>/discard``  ``{"discarded": token}``

Configuration keys (defaults in :data:`DEFAULTS`): ``UPLOAD_MAX_BYTES`` (50 MB; also sets
Flask's ``MAX_CONTENT_LENGTH`` to it plus room for the form, unless that is set),
``UPLOAD_PARSE_SECONDS`` (30), ``UPLOAD_TTL_S`` (3600) and ``UPLOAD_IN_PROCESS`` (False:
files are read in a child process killed at the time limit; True only for tests).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mapper import registers
from mapper.errors import DataValidationError, MapperError
from mapper.sources.choices import parse_map
from mapper.uploads import (
    FORMATS,
    MAX_LISTED,
    MB,
    Limits,
    Report,
    UploadError,
    commit_upload,
    discard_upload,
    human_size,
    inspect_upload,
    load_report,
    problem_dict,
)
from mapper.web.auth import current_user, require_role
from mapper.web.data import open_workspace
from mapper.web.security import never_cached

bp = Blueprint("uploads", __name__)
never_cached(bp)  # its pages show personal data

DEFAULTS = {
    "UPLOAD_MAX_BYTES": 50 * MB,
    "UPLOAD_PARSE_SECONDS": 30,
    "UPLOAD_TTL_S": 3600,
    "UPLOAD_IN_PROCESS": False,
}
#: room for the multipart form around the file, in MAX_CONTENT_LENGTH
FORM_OVERHEAD = 1 * MB
#: rows of each table the report page shows (JSON answers list up to MAX_LISTED)
SHOWN_ROWS = 500
REGISTER_LABELS = {
    "auto": "Decide from the file (its columns, values and name)",
    "groups": "VCS groups",
    "premises": "Community premises",
    "incidents": "Incidents",
}


@bp.record_once
def _configure(state) -> None:
    config = state.app.config
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)
    if not config.get("MAX_CONTENT_LENGTH"):
        config["MAX_CONTENT_LENGTH"] = int(config["UPLOAD_MAX_BYTES"]) + FORM_OVERHEAD


def limits() -> Limits:
    config = current_app.config
    return Limits(
        max_bytes=int(config["UPLOAD_MAX_BYTES"]),
        parse_seconds=float(config["UPLOAD_PARSE_SECONDS"]),
        ttl_s=int(config["UPLOAD_TTL_S"]),
        in_process=bool(config["UPLOAD_IN_PROCESS"]),
    )


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _form_page(*, error: UploadError | None = None, notice: str = "", status: int = 200):
    body = render_template(
        "upload.html",
        error=error,
        notice=notice,
        limits=limits(),
        formats=sorted(set(FORMATS.values())),
        registers=REGISTER_LABELS,
        chosen=_chosen_register(),
        categories={"VCS group categories": registers.GROUP_CATEGORIES,
                     "Premises types": registers.PREMISES_TYPES},
        chosen_category=_form_value("category"),
        chosen_map=_form_value("map"),
    )
    return body, status


def _form_value(name: str) -> str:
    try:
        return request.form.get(name, "")[:2000] if request.method == "POST" else ""
    except HTTPException:  # the form itself was too large to read
        return ""


def _chosen_register() -> str:
    try:
        chosen = request.form.get("register", "auto") if request.method == "POST" else "auto"
    except HTTPException:  # the form itself was too large to read
        return "auto"
    return chosen if chosen in REGISTER_LABELS else "auto"


def _report_page(report: Report, *, error: str = "", problems=(), status: int = 200):
    body = render_template(
        "upload_report.html",
        report=report,
        error=error,
        problems=list(problems),
        shown=SHOWN_ROWS,
        registers=REGISTER_LABELS,
    )
    return body, status


# -- errors: a readable reason, as a page or as JSON ---------------------------------------


@bp.errorhandler(UploadError)
def _upload_error(error: UploadError):
    if _is_api():
        return jsonify(error=error.reason, problems=error.problems), error.status
    return _form_page(error=error, status=error.status)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_: RequestEntityTooLarge):
    limit = int(current_app.config["UPLOAD_MAX_BYTES"])
    return _upload_error(UploadError(
        f"The upload is larger than the limit of {human_size(limit)} per file.", status=413,
    ))


def _validation_error(exc: MapperError) -> UploadError:
    if isinstance(exc, DataValidationError):
        count = len(exc.problems)
        return UploadError(
            f"{count:,} problem{'s' if count != 1 else ''}: nothing was imported",
            [problem_dict(p) for p in exc.problems[:MAX_LISTED]],
        )
    return UploadError(str(exc))


# -- pages ----------------------------------------------------------------------------------


def _inspect() -> Report:
    workspace = open_workspace()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise UploadError("Choose a file to upload (CSV, GeoJSON, GeoPackage or zipped "
                          "Shapefile).")
    data = upload.read(int(current_app.config["UPLOAD_MAX_BYTES"]) + 1)
    register = request.form.get("register") or None
    try:
        mapping = parse_map([line for line in request.form.get("map", "").splitlines()
                             if line.strip()])
    except MapperError as exc:
        raise UploadError(f"Column mapping: {str(exc).removeprefix('--map: ')}") from None
    return inspect_upload(upload.filename, data, workspace, register, limits(),
                          owner=current_user().username, mapping=mapping,
                          category=request.form.get("category") or None)


@bp.get("/uploads")
@require_role("officer")
def form():
    """The upload form."""
    return _form_page()


@bp.post("/uploads")
@require_role("officer")
def upload():
    """Check an uploaded file and show what importing it would do."""
    return _report_page(_inspect())


@bp.get("/uploads/<token>")
@require_role("officer")
def report(token: str):
    """The report of an upload still waiting to be imported or discarded."""
    return _report_page(load_report(token, open_workspace(), current_user().username,
                                    limits()))


@bp.post("/uploads/<token>/commit")
@require_role("officer")
def commit(token: str):
    """Import a waiting upload: every row (``mode=all``) or only the valid ones."""
    workspace = open_workspace()
    user = current_user().username
    mode = request.form.get("mode", "all")
    if mode not in ("all", "valid"):
        raise UploadError(f"unknown import mode {mode[:20]!r}: expected 'all' or 'valid'")
    waiting = load_report(token, workspace, user, limits())
    try:
        result = commit_upload(token, workspace, user, skip_invalid=mode == "valid",
                               limits=limits())
    except UploadError:
        raise
    except MapperError as exc:
        failed = _validation_error(exc)
        return _report_page(waiting, error=failed.reason, problems=failed.problems,
                            status=400)
    return render_template("upload_done.html", result=result, registers=REGISTER_LABELS)


@bp.post("/uploads/<token>/discard")
@require_role("officer")
def discard(token: str):
    """Throw a waiting upload away."""
    waiting = load_report(token, open_workspace(), current_user().username, limits())
    discard_upload(token, open_workspace(), current_user().username, limits())
    return _form_page(notice=f"{waiting.file} was discarded; nothing was imported.")


# -- JSON -----------------------------------------------------------------------------------


@bp.post("/api/uploads")
@require_role("officer")
def api_upload():
    """Check an uploaded file: the report as JSON."""
    return jsonify(_inspect().as_json())


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@bp.post("/api/uploads/<token>/commit")
@require_role("officer")
def api_commit(token: str):
    """Import a waiting upload; ``skip_invalid`` imports only its valid rows."""
    body = request.get_json(silent=True) if request.is_json else None
    skip = body.get("skip_invalid") if isinstance(body, dict) else request.form.get(
        "skip_invalid", request.args.get("skip_invalid", ""))
    try:
        result = commit_upload(token, open_workspace(), current_user().username,
                               skip_invalid=skip is True or _flag(skip), limits=limits())
    except UploadError:
        raise
    except MapperError as exc:
        raise _validation_error(exc) from None
    return jsonify(imported=result.as_json())


@bp.post("/api/uploads/<token>/discard")
@require_role("officer")
def api_discard(token: str):
    """Throw a waiting upload away."""
    discard_upload(token, open_workspace(), current_user().username, limits())
    return jsonify(discarded=token)


def openapi_paths() -> dict:
    """The OpenAPI path items of the upload routes (officers only)."""
    csrf = {"name": "X-CSRF-Token", "in": "header", "required": True,
            "description": "The session's CSRF token (from <meta name='csrf-token'>).",
            "schema": {"type": "string"}}
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "The token of a waiting upload, from its report."}
    errors = {
        "400": {"description": "The file or request was refused: {error, problems}."},
        "401": {"description": "Not signed in."},
        "403": {"description": "Signed in without the officer role."},
        "404": {"description": "No such waiting upload (expired, or someone else's)."},
    }
    officers = "Officers only: sign in at /signin and send the CSRF token."
    return {
        "/api/uploads": {"post": {
            "summary": "Check a file of groups, premises or incidents before importing it",
            "operationId": "inspect_upload", "description": officers + (
                " multipart/form-data with 'file' (CSV, GeoJSON, GeoPackage or zipped "
                "Shapefile) and optional 'register', 'category' and 'map' (lines "
                "FIELD=COLUMN), saved for files with the same columns when imported. "
                "Answers the validation report: "
                "accepted, rejected rows with reasons, likely duplicates, warnings and "
                "the token to commit it."),
            "parameters": [csrf],
            "responses": {"200": {"description": "The validation report."}, **errors,
                          "413": {"description": "The file is larger than the limit."}},
        }},
        "/api/uploads/{token}/commit": {"post": {
            "summary": "Import a checked upload (atomically)", "operationId": "commit_upload",
            "description": officers + " JSON {skip_invalid: true} imports only valid rows.",
            "parameters": [token, csrf],
            "responses": {"200": {"description": "What was imported."}, **errors},
        }},
        "/api/uploads/{token}/discard": {"post": {
            "summary": "Throw a checked upload away", "operationId": "discard_upload",
            "description": officers, "parameters": [token, csrf],
            "responses": {"200": {"description": "Discarded."}, **errors},
        }},
    }


__all__ = ["bp", "limits", "openapi_paths"]
