"""Records due for re-checking, per neighbourhood, with a one-click "Confirmed today".

A group or premises is due when it is open (not closed) and nobody has confirmed it for
longer than the verification period (the one rule: :mod:`mapper.analysis.verification`).
Signed-in officers and administrators see every area; partners see the wards granted to
them. Confirming is an officer's edit, the same as the register's "Confirm it is still
right" and ``POST /api/<register>/<id>/verify``: :func:`mapper.editing.verify_record`
stamps ``last_verified`` with today's date and writes the audit row.

Routes
------
``GET /due``
    how many records are due in each Community Action Neighbourhood (CAN), and in each
    ward outside any CAN (wards with none due are left out)
``GET /due/neighbourhood/<can_id>``, ``GET /due/ward/<ward_code>``
    the area's records due, oldest check first, with when each was last checked, the
    contacts the user may see (:func:`mapper.web.contacts.contacts_for`) and, for
    officers, a "Confirmed today" button
``POST /due/confirm/<register>/<id>``
    officers: a form (CSRF token, the ``version`` the list showed, ``next``) that confirms
    the record and redirects back with a message; asked for JSON (``Accept:
    application/json``, as ``static/recheck.js`` does) it answers ``{"message",
    "last_verified", "version"}`` instead, so the row updates in place. A record changed
    since the list was opened is not confirmed (409): check it first.
"""

from __future__ import annotations

import pandas as pd
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from mapper import editing
from mapper.analysis import verification
from mapper.appdb import Conflict
from mapper.errors import MapperError
from mapper.missing import is_missing
from mapper.web import data, identity
from mapper.web.auth import current_user, require_role
from mapper.web.contacts import contacts_for
from mapper.web.data import open_workspace
from mapper.web.due import allowed_wards, due_records, ward_table
from mapper.web.records import actor, find, shown
from mapper.web.security import never_cached

bp = Blueprint("recheck", __name__)
never_cached(bp)  # the lists show contact details

REGISTER = "<any(groups, premises):register>"
#: (one, label) of each register in the list
KINDS = {"groups": "Group", "premises": "Premises"}
#: which contact details the list shows of a group (when the user may see them)
CONTACT_FIELDS = ("contact_name", "phone", "email")


def checked_text(last_verified, checked, months) -> str:
    """When a record was last checked, in words: "never checked", "14 months ago, 3 Sep
    2025", "3 years ago, 1 May 2023"."""
    if is_missing(checked):
        stored = shown(last_verified).strip()
        return f"never checked (date not readable: {stored})" if stored else "never checked"
    day = checked.date() if hasattr(checked, "date") else checked
    months = int(months)
    ago = f"{months} months ago" if months < 24 else f"{months // 12} years ago"
    return f"{ago}, {day.day} {day:%b %Y}"


# -- views --------------------------------------------------------------------------------


@bp.get("/due")
@require_role("partner")
def index():
    """How many records are due in each neighbourhood, and in wards outside any."""
    allowed = allowed_wards()
    wards = ward_table()
    if allowed is not None:
        wards = wards[wards["ward_code"].isin(allowed)]
    due = due_records(None if allowed is None else set(wards["ward_code"]))
    counts = _ward_counts(due)
    in_no_ward = int((~due["ward_code"].isin(wards["ward_code"])).sum())
    return render_template("recheck.html", page="index", **_context(),
                           neighbourhoods=_can_sections(wards, counts),
                           wards=_ward_sections(wards, counts), total=len(due),
                           in_no_ward=in_no_ward, partner=allowed is not None,
                           no_wards=allowed == set())


@bp.get("/due/neighbourhood/<can_id>")
@require_role("partner")
def neighbourhood(can_id: str):
    """The records of a neighbourhood due for re-checking (partners and up)."""
    cans = _cans()
    moved = identity.canonical_redirect(".neighbourhood", can_id, cans)  # can-1, CAN-001
    if moved is not None:
        return moved
    if can_id not in cans:
        abort(404, description=f"There is no Community Action Neighbourhood '{can_id}'"
              + (f"; the neighbourhoods are {', '.join(cans)}." if cans else
                 ": the analysis found none.") + " See the list at /due.")
    wards = ward_table()
    members = wards[wards["can_id"].astype("string").eq(can_id).fillna(False).to_numpy()]
    return _area_page(f"{cans[can_id]} ({can_id})", "neighbourhood", members,
                      page_url=url_for(".neighbourhood", can_id=can_id),
                      area_url=url_for("neighbourhoods.neighbourhood", can_id=can_id))


@bp.get("/due/ward/<ward_code>")
@require_role("partner")
def ward(ward_code: str):
    """The records of a ward due for re-checking (partners and up)."""
    wards = ward_table()
    rows = wards[wards["ward_code"] == ward_code]
    if rows.empty:
        abort(404, description=f"There is no ward with the code '{ward_code}'. See the "
              "list of areas at /due.")
    name = shown(rows.iloc[0]["ward_name"]) or ward_code
    has_profile = data.layer("ward_summary", required=False) is not None
    return _area_page(f"{name} ward", "ward", rows,
                      page_url=url_for(".ward", ward_code=ward_code),
                      area_url=url_for("neighbourhoods.ward", ward_code=ward_code)
                      if has_profile else "")


@bp.post(f"/due/confirm/{REGISTER}/<path:record_id>")
@require_role("officer")
def confirm(register: str, record_id: str):
    """Confirm a record is still right today (the register's verify, audited)."""
    workspace = open_workspace()
    record, _, _ = find(workspace, register, record_id)
    back = _safe_next(request.form.get("next"))
    expected = _version_sent()
    name = shown(record.get("name")) or record_id
    try:
        new_version = editing.verify_record(workspace, register, record_id, expected,
                                            actor=actor())
    except Conflict as conflict:
        message = (f"{name} was changed by {conflict.by} since this list was opened "
                   f"(version {conflict.current}, you saw {conflict.expected}), so it was not "
                   "confirmed. Check the record, then confirm it.")
        return _answer(message, back, status=409, category="error")
    except MapperError as error:  # retired meanwhile
        return _answer(f"{name} was not confirmed: {error}.", back, status=409,
                       category="error")
    stamped = shown(find(workspace, register, record_id)[0].get("last_verified"))
    day = verification.checked_date(stamped)
    when = f" ({day.day} {day:%b %Y})" if day else ""
    message = f"Confirmed {name} as still right today{when}."
    return _answer(message, back, status=200, category="success", last_verified=stamped,
                   version=new_version)


# -- helpers ------------------------------------------------------------------------------


def _context() -> dict:
    meta = data.meta()
    return {"study_area": meta.get("study_area") or "Study area",
            "synthetic": str(meta.get("synthetic", "")).lower() == "yes",
            "months": verification.VERIFICATION_MONTHS,
            "may_confirm": current_user().at_least("officer")}


def _cans() -> dict[str, str]:
    """can_id -> name, by rank."""
    cans = data.layer("neighbourhoods", required=False)
    if cans is None or len(cans) == 0:
        return {}
    cans = cans.sort_values("rank", kind="stable")
    return {str(row.can_id): shown(row.name) or str(row.can_id) for row in cans.itertuples()}


def _counts(due: pd.DataFrame) -> dict:
    groups = int((due["register"] == "groups").sum())
    return {"groups": groups, "premises": len(due) - groups, "total": len(due)}


def _ward_counts(due: pd.DataFrame) -> pd.DataFrame:
    """groups and premises due, per ward_code (wards with none due absent)."""
    counts = pd.crosstab(due["ward_code"], due["register"])
    return counts.reindex(columns=list(verification.ID_COLUMNS), fill_value=0)


def _summed(counts: pd.DataFrame, ward_codes) -> dict:
    here = counts[counts.index.isin(list(ward_codes))].sum()
    groups, premises = int(here.get("groups", 0)), int(here.get("premises", 0))
    return {"groups": groups, "premises": premises, "total": groups + premises}


def _can_sections(wards: pd.DataFrame, counts: pd.DataFrame) -> list[dict]:
    sections = []
    can_of = wards["can_id"].astype("string")
    for can_id, name in _cans().items():
        members = wards.loc[can_of.eq(can_id).fillna(False).to_numpy(), "ward_code"]
        if members.empty:
            continue  # none of its wards granted to this partner
        sections.append({"id": can_id, "name": name, "wards": len(members),
                         "url": url_for(".neighbourhood", can_id=can_id),
                         **_summed(counts, members)})
    return sections


def _ward_sections(wards: pd.DataFrame, counts: pd.DataFrame) -> list[dict]:
    outside = wards[wards["can_id"].map(is_missing).astype(bool).to_numpy()]
    outside = outside[outside["ward_code"].isin(counts.index)]
    outside = outside.assign(borough_label=outside["borough_name"].map(shown),
                             ward_label=outside["ward_name"].map(shown))
    sections = []
    for row in outside.sort_values(["borough_label", "ward_label", "ward_code"]).itertuples():
        groups = int(counts.at[row.ward_code, "groups"])
        premises = int(counts.at[row.ward_code, "premises"])
        sections.append({"id": row.ward_code, "name": row.ward_label or row.ward_code,
                         "borough": row.borough_label,
                         "url": url_for(".ward", ward_code=row.ward_code),
                         "groups": groups, "premises": premises, "total": groups + premises})
    return sections


def _area_page(label: str, kind: str, wards: pd.DataFrame, *, page_url: str, area_url: str):
    allowed = allowed_wards()
    codes = set(wards["ward_code"])
    if allowed is not None:
        codes &= allowed
        if not codes:
            abort(403, description=f"None of the wards of {label} are granted to your "
                  "account. Ask an administrator if you need them.")
    due = due_records(codes)
    names = dict(zip(wards["ward_code"], wards["ward_name"].map(shown), strict=True))
    return render_template("recheck.html", page="area", **_context(), label=label,
                           kind=kind, rows=_rows(due, names, page_url), page_url=page_url,
                           area_url=area_url, counts=_counts(due),
                           partial=allowed is not None and codes != set(wards["ward_code"]))


def _rows(due: pd.DataFrame, ward_names: dict, page_url: str) -> list[dict]:
    group_ids = due.loc[due["register"] == "groups", "record_id"].tolist()
    contacts = contacts_for(group_ids) if group_ids else {}
    versions = {register: {rid: r.version for rid, r in data.overlay(register).items()}
                for register in verification.ID_COLUMNS}
    rows = []
    for record in due.to_dict("records"):
        register, record_id = record["register"], record["record_id"]
        contact = contacts.get(record_id) if register == "groups" else None
        rows.append({
            "register": register,
            "record_id": record_id,
            "kind": KINDS[register],
            "name": shown(record["name"]) or "name not recorded",
            "category": shown(record["category"]) or "not recorded",
            "status": _status_note(record["status"]),
            "ward": ward_names.get(record["ward_code"]) or shown(record["ward_code"]),
            "checked": checked_text(record["last_verified"], record["checked"],
                                    record["months_since"]),
            "checked_iso": "" if is_missing(record["checked"]) else
            record["checked"].date().isoformat(),
            "contact": [shown(contact.get(f)) for f in CONTACT_FIELDS
                        if contact and shown(contact.get(f))] if contact else [],
            "has_contact_rights": contact is not None,
            "version": versions[register].get(record_id, 1),
            "confirm_url": url_for(".confirm", register=register, record_id=record_id),
            "edit_url": url_for("editor.edit", register=register, record_id=record_id),
            "anchor": f"due-{register}-{record_id}",
        })
    return rows


def _status_note(status) -> str:
    """A note for records open with a caveat ("temporarily closed"); '' when open."""
    text = shown(status).strip().lower()
    return {"": "", "open": "", "unknown": "status unknown"}.get(text, text)


def _version_sent() -> int:
    try:
        version = int(request.form.get("version", ""))
        if version < 1:
            raise ValueError
        return version
    except ValueError:
        abort(400, description="The form does not say which version of the record it "
              "confirms (the 'version' field). Reload the list and try again.")


def _safe_next(target: str | None) -> str:
    """Back to a re-checking page of this site (the list when `target` is anything else)."""
    if target and target.startswith("/due") and "//" not in target and "\\" not in target:
        return target
    return url_for(".index")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _answer(message: str, back: str, *, status: int, category: str, **extra):
    if _wants_json():
        return jsonify(message=message, **extra), status
    flash(message, category)
    return redirect(back, 303)
