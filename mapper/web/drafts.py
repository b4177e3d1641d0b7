"""Officers' what-ifs (drafts) and the published versions of the CAN selection.

Routes
------
``POST /priority/drafts``
    (officers) compute the selection the posted settings give, as a private draft named
    ``draft_name``, then show it (POST-redirect-GET); invalid settings give the priority
    page again with the problems listed (400). The published results are untouched.
``GET /priority/drafts``
    (officers) your drafts (administrators: everyone's).
``GET /priority/drafts/<id>``
    (the draft's owner and administrators; anyone else 404) the draft beside the
    published selection: a map of the wards in both, only in the draft, only in the
    published selection, a table of those wards and one of the CANs changed.
``POST /priority/drafts/<id>/publish``
    (administrators) publish the draft: an audited re-run with its settings, recorded as
    a new version.
``GET /priority/versions``
    (signed in) every published version: date, who, how, settings changed.
``GET /priority/versions/<n>``
    (signed in) the decision record of version n, from the snapshot stored when it was
    published (every ward of every CAN, reasons, settings).

The logic (computing, comparing, who may see a draft, publishing) is in
:mod:`mapper.analysis.drafts` and :mod:`mapper.analysis.selections`.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)

from mapper.analysis import drafts as domain
from mapper.analysis.selections import WARD_STATUS
from mapper.config import Settings, describe
from mapper.errors import MapperError
from mapper.maps.assets import map_parts
from mapper.maps.compare import STATUS_STYLES, comparison_map
from mapper.maps.priority import format_value
from mapper.web import basemap, data
from mapper.web.auth import app_db, current_user, require_role
from mapper.web.data import open_workspace
from mapper.web.priority_page import (
    EDITABLE,
    current_settings,
    field_errors,
    parse_view,
    render_page,
    setting_assignments,
    setting_text,
    when_text,
    why_text,
)

bp = Blueprint("drafts", __name__)


def _label(name: str) -> str:
    return EDITABLE.get(name, name.replace("_", " ").capitalize())


def _setting_rows(settings_json: str, against_json: str | None) -> list[dict]:
    """Every setting of `settings_json`, with the value of `against_json` beside it."""
    settings = Settings.from_json(settings_json)
    against = Settings.from_json(against_json) if against_json else None
    rows = []
    for name, default, _text in describe():
        value = getattr(settings, name)
        other = getattr(against, name) if against is not None else default
        rows.append({"name": name, "label": _label(name), "value": setting_text(value),
                     "other": setting_text(other), "changed": value != other})
    return rows


@bp.post("/priority/drafts")
@require_role("officer")
def create():
    """Save the posted settings as a private draft and show it beside the published."""
    view = parse_view(request.form, data.layer("ward_summary"))
    values = {name: request.form.get(name, "") for name in EDITABLE if name in request.form}
    try:
        settings = current_settings().updated(setting_assignments(request.form))
        draft_id = domain.create_draft(open_workspace(), settings,
                                       owner=current_user().username,
                                       name=request.form.get("draft_name", ""))
    except MapperError as error:
        by_field, general = field_errors(str(error))
        return render_page(view, values=values, errors=by_field, general_errors=general,
                            status=400)
    return redirect(url_for("drafts.draft", draft_id=draft_id), 303)


@bp.get("/priority/drafts")
@require_role("officer")
def index():
    """The officer's drafts (an admin sees everyone's), newest first."""
    user = current_user()
    rows = app_db().drafts(None if user.role == "admin" else user.username)
    for row in rows:
        row["created_text"] = when_text(row["created"])
    return render_template("drafts.html", drafts=rows, everyone=user.role == "admin")


def _visible(draft_id: int) -> dict:
    user = current_user()
    draft = app_db().draft(draft_id)
    if draft is None or not domain.may_see(draft, user.username, user.role):
        # someone else's draft is not there for you: the same answer as no draft
        abort(404, description=f"There is no draft {draft_id} of yours.")
    return draft


@bp.get("/priority/drafts/<int:draft_id>")
@require_role("officer")
def draft(draft_id: int):
    """The draft beside the published selection: map and tables."""
    found = _visible(draft_id)
    workspace = open_workspace()
    published, proposed, comparison = domain.draft_comparison(workspace, found)
    wards = data.layer("ward_summary")[["ward_code", "ward_name", "geometry"]]
    status = {w["code"]: w["status"] for w in comparison.wards}
    shown = wards.assign(status=wards["ward_code"].map(status).fillna(""))
    parts = map_parts(comparison_map(shown, tiles=basemap.map_tiles(),
                                     context_layers=basemap.context_overlay(),
                                     asset_base_url=f"{request.script_root}/vendor"))
    settings_rows = [r for r in _setting_rows(found["settings"], published["settings"])
                     if r["changed"]]
    return render_template(
        "draft.html",
        draft=found | {"created_text": when_text(found["created"])},
        map=parts,
        legend=[{"status": key, "label": WARD_STATUS[key], "style": style,
                 "count": comparison.count(key)} for key, style in STATUS_STYLES.items()],
        wards=comparison.wards,
        cans=comparison.cans,
        changed_cans=[c for c in comparison.cans if c["change"] != "kept"],
        draft_cans=_can_rows(proposed),
        published_count=len(published["cans"]),
        settings_rows=settings_rows,
        may_publish=current_user().role == "admin" and not found["published_version"],
        data_changed=domain.data_changed(workspace, found),
    )


def _can_rows(selection: dict) -> list[dict]:
    return [{"can_id": can["can_id"], "name": can["name"],
             "wards": [w["name"] for w in can["wards"]],
             "boroughs": sorted({w["borough"] for w in can["wards"] if w["borough"]}),
             "population": format_value(can["population"], "count"),
             "unmet_need": format_value(can["unmet_need"], "index"),
             "stability": format_value(can["stability"], "share"),
             "drivers": why_text(can)} for can in selection["cans"]]


@bp.post("/priority/drafts/<int:draft_id>/publish")
@require_role("admin")
def publish(draft_id: int):
    """Publish a draft: re-run the analysis with its settings (audited, ids kept)."""
    found = _visible(draft_id)
    try:
        domain.publish_draft(open_workspace(), found, actor=current_user().username)
    except MapperError as error:
        abort(409, description=str(error))
    data.forget_version()
    return redirect(url_for("drafts.versions"), 303)


@bp.get("/priority/versions")
@require_role("partner")
def versions():
    """Every published version of the selection, newest first."""
    rows = app_db().versions()
    for i, row in enumerate(rows):
        before = rows[i + 1]["settings"] if i + 1 < len(rows) else None
        row["when"] = when_text(row["at"])
        row["changed"] = [r for r in _setting_rows(row["settings"], before) if r["changed"]]
    return render_template("versions.html", versions=rows)


@bp.get("/priority/versions/<int:version>")
@require_role("partner")
def version_record(version: int):
    """The decision record of one published version, as it was published."""
    found = app_db().version(version)
    if found is None:
        abort(404, description=f"There is no published version {version}; see "
              "the list of versions.")
    snapshot = found["snapshot"]
    settings = Settings.from_json(found["settings"])
    total = sum(settings.weights().values()) or 1.0
    in_cans = [w for can in snapshot["cans"] for w in can["wards"]]
    latest = app_db().versions()
    return render_template(
        "version_record.html",
        version=found | {"when": when_text(found["at"])},
        latest=latest[0]["version"] if latest else version,
        snapshot=snapshot,
        cans=_can_rows(snapshot),
        settings_rows=_setting_rows(found["settings"], None),
        weights=[{"label": EDITABLE[f"weight_{name}"], "value": f"{value:g}",
                  "share": f"{value / total:.0%}"}
                 for name, value in settings.weights().items()],
        can_ward_count=len(in_cans),
        can_population=format_value(sum(w["population"] or 0 for w in in_cans), "count"),
        population=format_value(snapshot.get("population"), "count"),
        notes=snapshot.get("notes", []),
        unavailable=snapshot.get("unavailable", {}),
    )
