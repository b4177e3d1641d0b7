"""Editing the point registers in the browser: list, add, correct, confirm and retire
groups, premises and incidents. Officers (and admins) only.

Routes
------
``GET /register``                              the groups register (the header link)
``GET /register/<register>``                   the searchable, paginated list
                                               (``q`` words, ``ward`` code, ``retired=1``,
                                               ``page``)
``GET/POST /register/<register>/new``          the form to add a record
``GET/POST /register/<register>/<id>``         the form to correct a record
``POST /register/<register>/<id>/verify``      "still right": stamps last_verified today
``GET/POST /register/<register>/<id>/retire``  asks, then takes the record off the maps

The form places the point by a click on the map (``static/editor.js`` writes the lat and
lon fields) or by postcode. Every form carries the version it was opened at: saving over
a newer version answers 409 with who changed what and when, their values next to yours,
and a form that re-applies only the fields you changed. Validation problems answer 400
with a summary listing every one, each linking to its field, the values kept. Success
redirects (POST-redirect-GET) to the record with "Saved version N".

Contact details (:data:`mapper.registers.PERSONAL_COLUMNS`) are shown to officers in the
form but never logged: the audit trail (written by :mod:`mapper.editing`) names fields,
never values, and nothing here logs a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from mapper import editing, overlay, registers
from mapper.appdb import Conflict
from mapper.errors import DataValidationError, MapperError, Problem
from mapper.web import basemap, data
from mapper.web.auth import require_role
from mapper.web.data import open_workspace
from mapper.web.records import NOUNS, actor, find, lonlat, shown, version_data
from mapper.web.security import never_cached

bp = Blueprint("editor", __name__)
never_cached(bp)  # its pages show personal data

#: the registers in URLs; anything else is a 404
REGISTER = "<any(groups, premises, incidents):register>"
PAGE_SIZE = 50
Q_MAX_CHARS = 200

TITLES = {"groups": "Voluntary and community groups", "premises": "Community premises",
          "incidents": "Incidents"}
ADD_LABELS = {"groups": "Add a group", "premises": "Add premises",
              "incidents": "Add an incident"}


# -- the fields of each register's form ---------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One form field: its label, help text and kind of control."""

    name: str
    label: str
    hint: str = ""
    kind: str = "text"  # text, textarea, select, offers, checkboxes, yesno, date, number,
    # email, tel, url
    choices: tuple = ()
    autocomplete: str = "off"
    required: bool = False
    personal: bool = False

    @property
    def anchor(self) -> str:
        """The id of the control an error links to (the first box of a group)."""
        return f"field-{self.name}" + ("-0" if self.kind in ("offers", "checkboxes", "yesno")
                                       else "")


_PERSONAL_HINT = "Personal data: shown only to officers, never written to logs."
_SPECS: dict[str, dict[str, dict]] = {
    "groups": {
        "name": {"label": "Name", "hint": "The name people know the group by."},
        "category": {"label": "Category", "kind": "select",
                     "choices": registers.GROUP_CATEGORIES,
                     "hint": "The one that fits best."},
        "description": {"label": "What the group does", "kind": "textarea",
                        "hint": "A sentence or two: activities, who comes, when."},
        "communities_served": {"label": "Communities served",
                               "hint": "Separate them with ';', for example: older "
                                       "people; Somali community."},
        "faith": {"label": "Faith", "hint": "For faith groups, for example Christian, "
                                            "Muslim, Sikh."},
        "languages": {"label": "Languages spoken", "hint": "Separate them with ';'."},
        "address": {"label": "Address", "hint": "Building and street, without the postcode.",
                    "autocomplete": "street-address"},
        "postcode": {"label": "Postcode",
                     "hint": "A new postcode moves the point to the postcode's centre, "
                             "unless you also click the map."},
        "contact_name": {"label": "Contact name", "hint": _PERSONAL_HINT},
        "phone": {"label": "Phone", "kind": "tel", "hint": _PERSONAL_HINT},
        "email": {"label": "E-mail", "kind": "email", "hint": _PERSONAL_HINT},
        "website": {"label": "Website", "kind": "url",
                    "hint": "Starting http:// or https://. " + _PERSONAL_HINT},
        "contact_role": {"label": "Contact role", "kind": "checkboxes",
                         "choices": registers.CONTACT_ROLES,
                         "hint": "What the council calls this group's contact for; contact "
                                 "lists can be filtered by it. Select all that apply. "
                                 + _PERSONAL_HINT},
        "emergency_consent": {"label": "Agreed to be contacted in an emergency",
                              "kind": "yesno",
                              "hint": "The group's own answer. Changing it records today as "
                                      "the day it was confirmed, unless you give the date "
                                      "below. " + _PERSONAL_HINT},
        "consent_confirmed": {"label": "Date the group last confirmed this", "kind": "date",
                              "hint": "As YYYY-MM-DD, for example 2026-11-03. "
                                      + _PERSONAL_HINT},
        "opening_hours": {"label": "Opening hours",
                          "hint": "For example: Mo-Fr 09:00-17:00; Sa 10:00-12:00."},
        "emergency_offer": {"label": "What it can offer in an emergency", "kind": "offers",
                            "choices": registers.EMERGENCY_OFFERS,
                            "hint": "Officers search for these during an incident. "
                                    "Select all that apply."},
        "charity_number": {"label": "Registered charity number",
                           "hint": "If it is a registered charity."},
        "status": {"label": "Status", "kind": "select", "choices": registers.STATUSES,
                   "hint": "Closed records stay in the register, marked, but are left out "
                           "of nearest answers, call sheets and figures. Your change is "
                           "recorded with your name and the date."},
    },
    "premises": {
        "name": {"label": "Name", "hint": "The name on the building or booking sheet."},
        "type": {"label": "Type", "kind": "select", "choices": registers.PREMISES_TYPES},
        "religion": {"label": "Religion", "hint": "For places of worship."},
        "address": {"label": "Address", "hint": "Building and street, without the postcode."},
        "postcode": {"label": "Postcode",
                     "hint": "A new postcode moves the point to the postcode's centre, "
                             "unless you also click the map."},
        "capacity": {"label": "Capacity", "kind": "number",
                     "hint": "How many people it holds: a whole number."},
        "step_free": {"label": "Step-free access", "kind": "yesno",
                      "hint": "Can a wheelchair user get in without help?"},
        "owning_group_id": {"label": "Group that runs it",
                            "hint": "The group's id in the register, for example demo-g020."},
        "status": {"label": "Status", "kind": "select", "choices": registers.STATUSES,
                   "hint": "Closed records stay in the register, marked, but are left out "
                           "of nearest answers, call sheets and figures. Your change is "
                           "recorded with your name and the date."},
    },
    "incidents": {
        "date": {"label": "Date", "kind": "date", "hint": "As YYYY-MM-DD, not in the future."},
        "type": {"label": "Type", "hint": "For example Burglary, Anti-social behaviour, "
                                          "Community tension."},
        "severity": {"label": "Severity", "kind": "select",
                     "choices": editing.INCIDENT_SEVERITIES,
                     "hint": "1 (least serious) to 5 (most serious)."},
        "description": {"label": "Description", "kind": "textarea"},
        "location_description": {"label": "Where exactly",
                                 "hint": "For example: outside the library on the high "
                                         "street."},
        "outcome": {"label": "Outcome", "hint": "What happened next, if known."},
    },
}


def fields(register: str) -> tuple[Field, ...]:
    """The form fields of a register, in :data:`mapper.editing.EDITABLE_FIELDS` order."""
    out = []
    for name in editing.EDITABLE_FIELDS[register]:
        spec = _SPECS[register][name]
        out.append(Field(name, required=name in editing.REQUIRED_FIELDS[register],
                         personal=name in registers.PERSONAL_COLUMNS, **spec))
    return tuple(out)


#: where the placing fields' problems link to
LOCATION_PROBLEMS = ("lat/lon", "lat", "lon", "x/y", "location", "place_postcode")


def page_context(register: str) -> dict:
    """What every register page shows: names of things, the study area, the demo flag."""
    meta = data.meta()
    one, many = NOUNS[register]
    return {"register": register, "one": one, "many": many, "titles": TITLES,
            "add_label": ADD_LABELS[register],
            "study_area": meta.get("study_area") or "Study area",
            "example": data.example_place(),
            "synthetic": str(meta.get("synthetic", "")).lower() == "yes"}


@data.memoised("editor:ward_names")
def ward_names(workspace) -> dict[str, str]:
    wards = data.layer("wards", required=False)
    if wards is None or "ward_code" not in wards.columns:
        return {}
    names = wards["ward_name"] if "ward_name" in wards.columns else wards["ward_code"]
    return dict(zip(wards["ward_code"].astype(str), names.astype(str), strict=True))


# -- the list -----------------------------------------------------------------------------


@bp.get("/register")
@require_role("officer")
def index():
    """The header link: the groups register, or the first register the workspace has."""
    present = [r for r in NOUNS if _everything(r) is not None]
    return redirect(url_for("editor.records", register=(present or ["groups"])[0]))


def _no_register(register: str):
    """404 for a register the workspace does not have, in words an officer can act on."""
    others = [TITLES[r].lower() for r in NOUNS if r != register and _everything(r) is not None]
    also = f" The workspace has registers of {' and '.join(others)}." if others else ""
    abort(404, description=f"This workspace has no register of {TITLES[register].lower()} "
          "yet: an administrator imports one (mapper import FILE, or the Upload page), and "
          f"officers then keep it up to date here.{also}")


def _everything(register: str):
    """The register with retired records (cached per workspace version), or None."""

    def build(workspace):
        if not workspace.has_layer(register):
            return None
        frame = pd.DataFrame(overlay.read_layer(workspace, register, include_retired=True)
                             .drop(columns="geometry"))
        id_col = registers.ID_COLUMN[register]
        text_columns = [c for c in (id_col, "name", "type", "category", "description",
                                    "address", "postcode", "location_description")
                        if c in frame.columns]
        text = pd.Series("", index=frame.index, dtype="string")
        for column in text_columns:
            text = text + " " + frame[column].astype("string").fillna("")
        frame["_text"] = text.str.lower()
        frame["_retired"] = frame["retired"].eq(True)
        order = ["date", id_col] if register == "incidents" else ["name", id_col]
        key = frame[order[0]].astype("string").fillna("")
        frame["_key"] = key if register == "incidents" else key.str.lower()
        frame = frame.sort_values(["_key", id_col], ascending=[register != "incidents", True],
                                  kind="stable")
        return frame.reset_index(drop=True)

    return data.cached(f"editor:list:{register}", build)


def _page_number(text: str | None) -> int:
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


@bp.get(f"/register/{REGISTER}")
@require_role("officer")
def records(register: str):
    """A searchable, paginated list of one register's records."""
    frame = _everything(register)
    if frame is None:
        _no_register(register)
    q = (request.args.get("q") or "").strip()[:Q_MAX_CHARS]
    ward = (request.args.get("ward") or "").strip()
    with_retired = request.args.get("retired") in ("1", "on", "yes", "true")
    has_status = "status" in frame.columns
    status = (request.args.get("status") or "").strip().lower()
    if status not in registers.STATUSES or not has_status:
        status = ""
    mask = np.ones(len(frame), dtype=bool)
    if not with_retired:
        mask &= ~frame["_retired"].to_numpy()
    for word in q.lower().split():
        mask &= frame["_text"].str.contains(word, regex=False).to_numpy()
    if ward:
        mask &= (frame["ward_code"].astype("string").fillna("") == ward).to_numpy()
    if status:  # records without a status read as unknown (mapper/sources/status.py)
        mask &= (frame["status"].astype("string").fillna("unknown") == status).to_numpy()
    chosen = frame[mask]
    total = len(chosen)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(_page_number(request.args.get("page")), pages)
    rows = chosen.iloc[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    names = ward_names()
    id_col = registers.ID_COLUMN[register]
    items = []
    for row in rows.to_dict("records"):
        items.append({
            "id": str(row[id_col]),
            "title": shown(row.get("name")) if register != "incidents" else (
                incident_title(row, "Incident")),
            "kind": shown(row.get("category") if register == "groups" else row.get("type")),
            "ward": names.get(shown(row.get("ward_code")), shown(row.get("ward_code"))),
            "last_verified": shown(row.get("last_verified")),
            "severity": shown(row.get("severity")),
            "version": int(row.get("version") or 1),
            "source": shown(row.get("source")),
            "retired": bool(row["_retired"]),
            "status": shown(row.get("status")) or "unknown",
            "status_source": shown(row.get("status_source")),
        })
    query = {"q": q, "ward": ward, "status": status, "retired": "1" if with_retired else ""}
    query = {k: v for k, v in query.items() if v}

    def page_url(number: int) -> str:
        return url_for("editor.records", register=register) + "?" + urlencode(
            query | ({"page": number} if number > 1 else {}))

    used = set(frame["ward_code"].dropna().astype(str))
    ward_choices = sorted(((code, names.get(code, code)) for code in used),
                          key=lambda pair: pair[1].lower())
    return render_template(
        "register_list.html", **page_context(register), items=items,
        total=total, page=page, pages=pages, q=q, ward=ward, with_retired=with_retired,
        status=status, statuses=registers.STATUSES if has_status else (),
        ward_choices=ward_choices, first=(page - 1) * PAGE_SIZE + 1,
        previous_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
    )


# -- the form -----------------------------------------------------------------------------


@dataclass
class FormState:
    """What the form shows: values as text, errors, the point and the version."""

    values: dict
    offers: list
    lat: str = ""
    lon: str = ""
    place_postcode: str = ""
    errors: dict | None = None
    summary: list | None = None


def _state_of(register: str, record: dict | None) -> FormState:
    record = record or {}
    values = {f.name: shown(record.get(f.name)) for f in fields(register)}
    offers = _offers(record.get("emergency_offer"))
    return FormState(values, offers)


def _offers(value) -> list[str]:
    return [o.strip() for o in shown(value).split(";") if o.strip()]


def _submitted(register: str) -> tuple[dict, FormState]:
    """(values for :func:`mapper.editing.save_record`, the form as sent)."""
    values, text = {}, {}
    offers: list[str] = []
    form = request.form
    for f in fields(register):
        if f.name not in form:
            continue  # not on the form that was sent: left as it is
        if f.kind == "offers":
            offers = [o.strip() for o in form.getlist(f.name) if o.strip()]
            values[f.name] = text[f.name] = "; ".join(offers)
        elif f.kind == "checkboxes":
            values[f.name] = text[f.name] = "; ".join(
                o.strip() for o in form.getlist(f.name) if o.strip())
        else:
            # browsers send CRLF line ends from text areas: keep the stored form
            value = form.get(f.name, "").replace("\r\n", "\n").strip()
            values[f.name] = text[f.name] = value
    lat, lon = form.get("lat", "").strip(), form.get("lon", "").strip()
    if lat or lon:
        values["lat"], values["lon"] = lat, lon
    state = FormState(text, offers, lat, lon, form.get("place_postcode", "").strip())
    return values, state


def _place_by_postcode(workspace, state: FormState) -> tuple[dict, list[Problem]]:
    """x/y of the incident form's "place at postcode" (incidents have no postcode field)."""
    if not state.place_postcode or state.lat or state.lon:
        return {}, []
    from mapper.postcodes import postcode_point

    where = "incidents record"
    if not workspace.has_layer("postcodes"):
        return {}, [Problem(where, "expected a point on the map (this workspace has no "
                            "postcodes)", column="place_postcode", value=state.place_postcode)]
    try:
        x, y = postcode_point(state.place_postcode, data.layer("postcodes"))
    except MapperError as error:
        return {}, [Problem(where, str(error), column="place_postcode",
                            value=state.place_postcode)]
    return {"x": x, "y": y}, []


def _problem_text(problem: Problem) -> str:
    """What is wrong, with the value seen (never a personal value: editing masks them)."""
    message = problem.message
    message = message[:1].upper() + message[1:]
    value = problem.value
    if value not in (None, "") and not str(value).startswith("(not shown"):
        return f"{message} (you gave '{value}')"
    return message


def _with_errors(register: str, state: FormState, problems: list[Problem]) -> FormState:
    by_name = {f.name: f for f in fields(register)}
    errors: dict[str, str] = {}
    summary: list[tuple[str, str]] = []
    for problem in problems:
        name = problem.column or ""
        if name in by_name:
            key, anchor, label = name, by_name[name].anchor, by_name[name].label
        elif name == "place_postcode":
            key, anchor, label = name, "field-place_postcode", "Postcode to place it at"
        elif name in LOCATION_PROBLEMS:
            key, anchor, label = "location", "lat", "Location"
        else:
            key, anchor, label = name, "record-form", name or "Record"
        text = _problem_text(problem)
        errors.setdefault(key, text)
        summary.append((anchor, f"{label}: {text[:1].lower()}{text[1:]}"))
    state.errors, state.summary = errors, summary
    return state


def _form_page(register: str, state: FormState, *, record_id: str | None = None,
               record: dict | None = None, version: int | None = None,
               retired: bool = False, conflict: dict | None = None, status: int = 200):
    workspace = open_workspace()
    record = record or {}
    point = lonlat(record.get("x"), record.get("y"))
    stored = workspace.appdb.get_record(register, record_id) if record_id else None
    names = ward_names()
    tiles = basemap.editor_tiles()
    types = _incident_types() if register == "incidents" else []
    body = render_template(
        "register_form.html", **page_context(register), fields=fields(register),
        state=state, record_id=record_id, record=record,
        version=version, retired=retired, conflict=conflict, point=point,
        ward_name=names.get(shown(record.get("ward_code")), shown(record.get("ward_code"))),
        stored=stored, tiles=tiles, incident_types=types,
        context_layers=found.options() if (found := basemap.context_overlay()) else None,
        heading=_title(register, record) if record_id else None,
        has_postcodes=workspace.has_layer("postcodes"),
    )
    return body, status


@data.memoised("editor:incident_types")
def _incident_types(workspace) -> list[str]:
    from mapper.incident_types import vocabulary

    frame = data.layer("incidents", required=False)
    used = ([] if frame is None or "type" not in frame.columns
            else sorted(frame["type"].dropna().astype(str).unique().tolist()))
    return list(dict.fromkeys([*vocabulary().types, *used]))[:500]


def _expected_version() -> int:
    try:
        version = int(request.form.get("version", ""))
        if version < 1:
            raise ValueError
        return version
    except ValueError:
        abort(400, description="The form does not say which version of the record it "
              "edits (the 'version' field). Reload the record and try again.")


def _saved_message(record: dict, version: int, *, prefix: str = "") -> str:
    ward = ward_names().get(shown(record.get("ward_code")))
    where = f" It is in {ward} ward." if ward else ""
    return f"{prefix}Saved version {version}.{where}"


@bp.route(f"/register/{REGISTER}/new", methods=["GET", "POST"])
@require_role("officer")
def new(register: str):
    """The form to add a record; POST saves it."""
    workspace = open_workspace()
    if _everything(register) is None:
        _no_register(register)
    if request.method == "GET":
        return _form_page(register, _state_of(register, None))
    values, state = _submitted(register)
    located, problems = _place_by_postcode(workspace, state) if register == "incidents" \
        else ({}, [])
    try:
        if problems:
            _raise_with(register, values, problems, workspace, previous=None)
        record_id, version = editing.save_record(workspace, register, values | located,
                                                 actor=actor())
    except DataValidationError as error:
        return _form_page(register, _with_errors(register, state, error.problems),
                          status=400)
    record, _, _ = find(workspace, register, record_id)
    flash(_saved_message(record, version,
                         prefix=f"{NOUNS[register][0].capitalize()} added. "), "success")
    return redirect(url_for("editor.edit", register=register, record_id=record_id), 303)


def _raise_with(register: str, values: dict, problems: list[Problem], workspace, *,
                previous: dict | None) -> None:
    """Raise DataValidationError with `problems` and every other problem of `values`."""
    try:
        editing.validate(register, values, workspace=workspace, previous=previous)
    except DataValidationError as error:
        problems = problems + [p for p in error.problems if p.column != "location"]
    raise DataValidationError(problems)


@bp.route(f"/register/{REGISTER}/<path:record_id>", methods=["GET", "POST"])
@require_role("officer")
def edit(register: str, record_id: str):
    """The form to correct a record; POST saves it over the version it was opened at."""
    workspace = open_workspace()
    record, version, retired = find(workspace, register, record_id)
    if request.method == "GET":
        return _form_page(register, _state_of(register, record), record_id=record_id,
                          record=record, version=version, retired=retired)
    expected = _expected_version()
    values, state = _submitted(register)
    located, problems = _place_by_postcode(workspace, state) if register == "incidents" \
        else ({}, [])
    try:
        if problems and expected == version:
            _raise_with(register, values, problems, workspace, previous=record)
        _, new_version = editing.save_record(workspace, register, values | located,
                                             actor=actor(), record_id=record_id,
                                             expected_version=expected)
    except DataValidationError as error:
        return _form_page(register, _with_errors(register, state, error.problems),
                          record_id=record_id, record=record, version=version,
                          retired=retired, status=400)
    except Conflict as conflict:
        return _conflict_page(register, record_id, conflict, state, expected)
    record, _, _ = find(workspace, register, record_id)
    flash(_saved_message(record, new_version), "success")
    return redirect(url_for("editor.edit", register=register, record_id=record_id), 303)


def _conflict_page(register: str, record_id: str, conflict: Conflict,
                   state: FormState | None, expected: int, *, doing: str = "save"):
    """409: who changed the record, when, which fields (then, now and yours), and the form
    of the current version with only *your* changes laid over it, to re-apply."""
    workspace = open_workspace()
    record, version, retired = find(workspace, register, record_id)
    opened = version_data(workspace, register, record_id, expected) or {}
    current = _state_of(register, record)
    by_name = {f.name: f for f in fields(register)}
    yours: dict[str, str] = {}
    if state is not None:
        for name, value in state.values.items():
            before = shown(opened.get(name))
            if name == "emergency_offer":
                before = "; ".join(_offers(opened.get(name)))
            if value != before:
                yours[name] = value
        current.values |= yours
        if "emergency_offer" in yours:
            current.offers = list(state.offers)
        current.lat, current.lon = state.lat, state.lon
        current.place_postcode = state.place_postcode
    rows = []
    names = ward_names()
    for name in conflict.changed:
        if name in by_name:
            rows.append({"label": by_name[name].label, "was": shown(opened.get(name)),
                         "now": shown(record.get(name)),
                         "yours": yours.get(name) if name in yours else None,
                         "field": name})
        elif name == "x" or (name == "y" and "x" not in conflict.changed):
            def where(r):
                ward = names.get(shown(r.get("ward_code")), shown(r.get("ward_code")))
                point = lonlat(r.get("x"), r.get("y"))
                return f"{ward} ({point[1]:.5f}, {point[0]:.5f})" if point else ""

            mine = f"{state.lat}, {state.lon}" if state is not None and state.lat else None
            rows.append({"label": "Location", "was": where(opened), "now": where(record),
                         "yours": mine, "field": "location"})
        elif name == "last_verified":
            rows.append({"label": "Last verified", "was": shown(opened.get(name)),
                         "now": shown(record.get(name)), "yours": None, "field": name})
    changed = {row["field"] for row in rows}
    info = {"by": conflict.by, "at": conflict.at, "expected": conflict.expected,
            "at_text": str(conflict.at).replace("T", " ").replace("+00:00", " UTC"),
            "current": conflict.current, "changed": changed, "rows": rows,
            "doing": doing, "yours": sorted(yours),
            "your_labels": [by_name[n].label for n in by_name if n in yours]}
    return _form_page(register, current, record_id=record_id, record=record,
                      version=version, retired=retired, conflict=info, status=409)


@bp.post(f"/register/{REGISTER}/<path:record_id>/verify")
@require_role("officer")
def verify(register: str, record_id: str):
    """Confirm the record is still right: stamps last_verified with today's date."""
    workspace = open_workspace()
    find(workspace, register, record_id)
    expected = _expected_version()
    try:
        version = editing.verify_record(workspace, register, record_id, expected,
                                        actor=actor())
    except Conflict as conflict:
        return _conflict_page(register, record_id, conflict, None, expected, doing="confirm")
    record, _, _ = find(workspace, register, record_id)
    flash(f"Confirmed as still right: last verified {shown(record.get('last_verified'))}, "
          f"saved version {version}.", "success")
    return redirect(url_for("editor.edit", register=register, record_id=record_id), 303)


@bp.route(f"/register/{REGISTER}/<path:record_id>/retire", methods=["GET", "POST"])
@require_role("officer")
def retire(register: str, record_id: str):
    """Ask whether to retire the record (GET); retire it (POST)."""
    workspace = open_workspace()
    record, version, retired = find(workspace, register, record_id)
    if request.method == "POST":
        expected = _expected_version()
        try:
            new_version = editing.retire_record(workspace, register, record_id, expected,
                                                actor=actor())
        except Conflict as conflict:
            return _conflict_page(register, record_id, conflict, None, expected,
                                  doing="retire")
        flash(f"Retired {_title(register, record)} ({record_id}): saved version "
              f"{new_version}. It no longer shows on maps, searches or the nearest-groups "
              "list.", "success")
        return redirect(url_for("editor.records", register=register), 303)
    return render_template("register_retire.html", **page_context(register), record=record,
                           record_id=record_id, version=version, retired=retired,
                           title=_title(register, record))


def _title(register: str, record: dict) -> str:
    if register == "incidents":
        return incident_title(record, "incident")
    return shown(record.get("name")) or "this record"


def incident_title(record: dict, kind: str) -> str:
    """An incident in words: its type and date; police.uk gives only the month ("Public
    order in March 2024"); neither: "date not recorded"."""
    what = shown(record.get("type")) or kind
    if shown(record.get("date")):
        return f"{what} on {shown(record.get('date'))}"
    month = shown(record.get("month"))
    if month:
        try:
            month = pd.Period(month, freq="M").strftime("%B %Y")
        except ValueError:
            pass
        return f"{what} in {month}"
    return f"{what}, date not recorded"


__all__ = ["bp", "fields", "shown", "lonlat", "find", "version_data"]
