"""The JSON API for editing the point registers (groups, premises, incidents). Officers
(and admins) only: anonymous callers get 401, other roles 403.

Routes (``<register>`` is groups, premises or incidents)
---------------------------------------------------------
``POST   /api/<register>``              create: 201, ``Location`` and the record
``GET    /api/<register>/<id>``         the full record (contacts included), its
                                        ``version`` and ``ETag: "v<version>"``
``PATCH  /api/<register>/<id>``         change fields; say which version you edited
                                        with ``If-Match: "v3"`` or a ``version`` member
``POST   /api/<register>/<id>/verify``  confirm it: stamps last_verified (not incidents)
``DELETE /api/<register>/<id>``         retire it (off the maps, kept in the database)

Bodies are JSON objects of fields (:data:`mapper.editing.EDITABLE_FIELDS`); the point is
placed by ``lat``/``lon`` (WGS84), ``x``/``y`` (EPSG:27700) or a new ``postcode``.

Answers: a missing version is 428; a stale one 409 ``{"error", "changed",
"current_version", "changed_by", "changed_at"}``; invalid fields 400 ``{"error",
"problems": [{"field", "value", "expected"}]}`` listing every problem; a body that is
not a JSON object 400 saying why; an unknown id 404. Like every state-changing request,
these need the session's CSRF token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, jsonify, request, url_for

from mapper import editing, registers
from mapper.appdb import Conflict
from mapper.errors import DataValidationError
from mapper.web import data
from mapper.web.auth import require_role
from mapper.web.data import open_workspace
from mapper.web.records import NOUNS, actor, find, lonlat
from mapper.web.responses import not_modified, record_etag, record_version
from mapper.web.security import never_cached

bp = Blueprint("edit_api", __name__, url_prefix="/api")
never_cached(bp)  # its pages show personal data

#: registers whose records have a last_verified date to confirm
VERIFIABLE = ("groups", "premises")


# -- answers ------------------------------------------------------------------------------


def record_json(register: str, record_id: str, record: dict, version: int,
                retired: bool) -> dict:
    """A record as the API answers it: its fields, x/y, lat/lon, version and retired."""
    out = {col: record.get(col) for col in registers.columns(register)}
    out[registers.ID_COLUMN[register]] = record_id
    out["x"], out["y"] = record.get("x"), record.get("y")
    point = lonlat(record.get("x"), record.get("y"))
    out["lon"], out["lat"] = point if point else (None, None)
    out["version"], out["retired"] = version, bool(retired)
    return out


def _answer(register: str, record_id: str, status: int = 200, **headers):
    record, version, retired = find(open_workspace(), register, record_id)
    response = jsonify(record_json(register, record_id, record, version, retired))
    response.status_code = status
    response.headers["ETag"] = record_etag(version)
    response.headers["Cache-Control"] = "no-store"  # personal data: never cached
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _conflict(error: Conflict):
    response = jsonify(error=str(error), changed=list(error.changed),
                       current_version=error.current, changed_by=error.by,
                       changed_at=error.at)
    response.status_code = 409
    response.headers["ETag"] = record_etag(error.current)
    return response


def _invalid(error: DataValidationError):
    problems = [{"field": p.column, "value": p.value,
                 "expected": p.message.removeprefix("expected ")} for p in error.problems]
    summary = str(error).split(":\n", 1)[0]
    detail = "; ".join(
        (f"{p['field']}={p['value']!r}: " if p["value"] not in (None, "") else
         f"{p['field']}: ") + f"expected {p['expected']}" for p in problems)
    return jsonify(error=f"{summary}: {detail}", problems=problems), 400


# -- reading the request ----------------------------------------------------------------


def _example_postcode() -> str:
    return data.example_postcode() or "AB1 2CD"


def _body(*, required: bool = True) -> dict:
    """The JSON object sent (400 saying why when it is not one; {} when optional and
    empty)."""
    raw = request.get_data(cache=True, as_text=False)
    if not raw.strip():
        if required:
            abort(400, description="The request has no body: send a JSON object of fields, "
                  'for example {"name": "Riverside Food Bank", "category": "food", '
                  '"postcode": "' + _example_postcode() + '"}.')
        return {}
    if request.mimetype != "application/json":
        abort(415, description=f"Send the body as JSON with 'Content-Type: application/json' "
              f"(got {request.mimetype or 'no content type'!r}).")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        abort(400, description="The body is not valid JSON: it is not UTF-8 text.")
    except ValueError as error:
        abort(400, description=f"The body is not valid JSON: {error}.")
    if not isinstance(body, dict):
        abort(400, description=f"The body must be a JSON object of fields, not a JSON "
              f"{_json_type(body)}.")
    return body


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _json_type(value) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), "value")


def _expected_version(body: dict) -> int:
    """The version the client edited: If-Match "v3" or the body's version (428 if none)."""
    header = request.headers.get("If-Match")
    from_header = from_body = None
    if header is not None:
        from_header = record_version(header)
        if from_header is None:
            abort(400, description=f"If-Match: {header!r}: expected the ETag of the version "
                  'you edited, as the GET answered it, for example "v3".')
    if "version" in body:
        value = body.pop("version")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            abort(400, description=f"version={value!r}: expected the whole number the GET "
                  "answered (1 or more)")
        from_body = value
    if from_header is not None and from_body is not None and from_header != from_body:
        abort(400, description=f"If-Match says version {from_header} but the body says "
              f"version {from_body}: send one.")
    version = from_header if from_header is not None else from_body
    if version is None:
        abort(428, description='Say which version you edited: send If-Match: "v<version>" '
              "(the ETag the GET answered) or a 'version' member, so that nobody's changes "
              "are overwritten unseen.")
    return version


# -- routes -------------------------------------------------------------------------------


@require_role("officer")
def create(register: str):
    """Create a record: 201 with Location and the record."""
    workspace = open_workspace()
    if not workspace.has_layer(register):
        abort(404, description=f"The workspace has no '{register}' layer to add to. Rebuild "
              "it with 'mapper build --from DIR' or 'mapper demo'.")
    body = _body()
    body.pop("version", None)
    try:
        record_id, _ = editing.save_record(workspace, register, body, actor=actor())
    except DataValidationError as error:
        return _invalid(error)
    location = url_for(f"edit_api.record_{register}", **{_id_arg(register): record_id})
    return _answer(register, record_id, 201, Location=location)


@require_role("officer")
def read(register: str, **ids):
    """The full record (contacts included) with its version and ETag."""
    record_id = ids[_id_arg(register)]
    record, version, _ = find(open_workspace(), register, record_id)
    if not_modified(record_etag(version)):
        response = _answer(register, record_id)
        response.status_code, response.data = 304, b""
        return response
    return _answer(register, record_id)


@require_role("officer")
def update(register: str, **ids):
    """Change some fields of the version the client edited."""
    record_id = ids[_id_arg(register)]
    workspace = open_workspace()
    find(workspace, register, record_id)
    body = _body()
    expected = _expected_version(body)
    try:
        editing.save_record(workspace, register, body, actor=actor(), record_id=record_id,
                            expected_version=expected)
    except DataValidationError as error:
        return _invalid(error)
    except Conflict as error:
        return _conflict(error)
    return _answer(register, record_id)


@require_role("officer")
def verify(register: str, **ids):
    """Confirm the record: last_verified becomes today."""
    return _change(editing.verify_record, register, ids)


@require_role("officer")
def retire(register: str, **ids):
    """Retire the record: off the maps and searches, kept with its history."""
    return _change(editing.retire_record, register, ids)


def _change(change, register: str, ids: dict):
    """Apply `change` (verify or retire) at the version the client names."""
    record_id = ids[_id_arg(register)]
    workspace = open_workspace()
    find(workspace, register, record_id)
    expected = _expected_version(_body(required=False))
    try:
        change(workspace, register, record_id, expected, actor=actor())
    except Conflict as error:
        return _conflict(error)
    return _answer(register, record_id)


def _id_arg(register: str) -> str:
    return registers.ID_COLUMN[register]


for _register in registers.REGISTERS:
    _path = f"/{_register}/<path:{_id_arg(_register)}>"
    _defaults = {"register": _register}
    bp.add_url_rule(f"/{_register}", f"create_{_register}", create, methods=["POST"],
                    defaults=_defaults)
    bp.add_url_rule(_path, f"record_{_register}", read, methods=["GET"], defaults=_defaults)
    bp.add_url_rule(_path, f"update_{_register}", update, methods=["PATCH"],
                    defaults=_defaults)
    bp.add_url_rule(_path, f"retire_{_register}", retire, methods=["DELETE"],
                    defaults=_defaults)
    if _register in VERIFIABLE:
        bp.add_url_rule(f"{_path}/verify", f"verify_{_register}", verify, methods=["POST"],
                        defaults=_defaults)


# -- the OpenAPI description (merged into /api/openapi.json by mapper.web.api) -----------

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON_ERROR = {"content": {"application/json": {"schema": _ERROR}}}
_PROBLEMS = {
    "type": "object",
    "required": ["error", "problems"],
    "properties": {
        "error": {"type": "string"},
        "problems": {"type": "array", "items": {
            "type": "object",
            "properties": {"field": {"type": ["string", "null"]},
                           "value": {"type": ["string", "null"]},
                           "expected": {"type": "string"}}}},
    },
}
_CONFLICT = {
    "type": "object",
    "required": ["error", "changed", "current_version", "changed_by", "changed_at"],
    "properties": {
        "error": {"type": "string"},
        "changed": {"type": "array", "items": {"type": "string"},
                    "description": "fields changed since the version you edited"},
        "current_version": {"type": "integer"},
        "changed_by": {"type": "string"},
        "changed_at": {"type": "string", "format": "date-time"},
    },
}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
             "description": 'The ETag of the version you edited, e.g. "v3" (or send a '
                            "'version' member in the body). Without either: 428.",
             "schema": {"type": "string", "pattern": '^"v[0-9]+"$'}}
_CSRF = {"name": "X-CSRF-Token", "in": "header", "required": True,
         "description": "The session's CSRF token (the csrf-token meta tag of any page).",
         "schema": {"type": "string"}}


def _record_schema(register: str) -> dict:
    editable = ", ".join(editing.EDITABLE_FIELDS[register])
    return {"type": "object", "additionalProperties": True,
            "description": f"Every column of the {register} register ({editable}; the "
                           "source, area and duplicate columns), contact details included, "
                           "with x/y (EPSG:27700), lat/lon (WGS84), version and retired."}


def _body_schema(register: str) -> dict:
    editable = editing.EDITABLE_FIELDS[register]
    required = ", ".join(editing.REQUIRED_FIELDS[register])
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "description": f"Fields to set: any of {', '.join(editable)}; place the point with "
                       "lat and lon (WGS84), x and y (EPSG:27700) or a new postcode. A new "
                       f"record needs {required} and a point.",
        "propertyNames": {"enum": [*editable, "lat", "lon", "x", "y", "version"]},
    }}}}


def _responses(register: str, ok: str, *, body: bool, versioned: bool) -> dict:
    noun = NOUNS[register][0]
    out = {ok: {"description": f"The {noun} as it now stands (ETag: its version).",
                "content": {"application/json": {"schema": _record_schema(register)}}},
           "401": {"description": "Not signed in.", **_JSON_ERROR},
           "403": {"description": "Signed in without the officer role.", **_JSON_ERROR},
           "404": {"description": f"No such {noun}.", **_JSON_ERROR}}
    if body:
        out["400"] = {"description": "The body is not a JSON object, or fields are invalid "
                                     "(every problem listed).",
                      "content": {"application/json": {"schema": _PROBLEMS}}}
    else:
        out["400"] = {"description": "A malformed version.", **_JSON_ERROR}
    if versioned:
        out["409"] = {"description": "The record changed since the version you edited.",
                      "content": {"application/json": {"schema": _CONFLICT}}}
        out["428"] = {"description": "No version given.", **_JSON_ERROR}
    return out


def openapi_paths() -> dict:
    """The OpenAPI path items of the editing routes."""
    paths: dict[str, dict] = {}
    for register in registers.REGISTERS:
        noun = NOUNS[register][0]
        id_name = _id_arg(register)
        id_param = {"name": id_name, "in": "path", "required": True,
                    "description": f"The {noun}'s {id_name} (may contain '/').",
                    "schema": {"type": "string"}}
        security = f"Officers only: sign in at /signin; send the CSRF token as {_CSRF['name']}."
        paths[f"/api/{register}"] = {"post": {
            "summary": f"Add a {noun}", "operationId": f"create_{register}",
            "description": security, "parameters": [_CSRF],
            "requestBody": _body_schema(register),
            "responses": _responses(register, "201", body=True, versioned=False),
        }}
        item = {
            "get": {"summary": f"One {noun}, contacts included, with its version",
                    "operationId": f"get_{noun.replace(' ', '_')}",
                    "description": "Officers only. The ETag header is the version to send "
                                   "back in If-Match.",
                    "parameters": [id_param],
                    "responses": _responses(register, "200", body=False, versioned=False)},
            "patch": {"summary": f"Change fields of a {noun}",
                      "operationId": f"update_{noun.replace(' ', '_')}",
                      "description": security, "parameters": [id_param, _IF_MATCH, _CSRF],
                      "requestBody": _body_schema(register),
                      "responses": _responses(register, "200", body=True, versioned=True)},
            "delete": {"summary": f"Retire a {noun}",
                       "operationId": f"retire_{noun.replace(' ', '_')}",
                       "description": security + " Needs the version (If-Match).",
                       "parameters": [id_param, _IF_MATCH, _CSRF],
                       "responses": _responses(register, "200", body=False, versioned=True)},
        }
        paths[f"/api/{register}/{{{id_name}}}"] = item
        if register in VERIFIABLE:
            paths[f"/api/{register}/{{{id_name}}}/verify"] = {"post": {
                "summary": f"Confirm a {noun} is still right (last_verified = today)",
                "operationId": f"verify_{noun.replace(' ', '_')}",
                "description": security + " Needs the version (If-Match).",
                "parameters": [id_param, _IF_MATCH, _CSRF],
                "responses": _responses(register, "200", body=False, versioned=True)}}
    return paths


__all__ = ["bp", "openapi_paths", "record_json"]
