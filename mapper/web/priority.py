"""The priority areas page: choose Community Action Neighbourhoods (CANs) and record why.

Routes
------
``GET /priority``
    the map of wards shaded by an indicator, the ranked CANs, the settings that chose
    them and a table of the wards. Query parameters: ``indicator`` (a numeric
    ward_summary column), ``scheme`` (quantiles, equal, natural), ``classes`` (3-7),
    ``borough`` (a borough code: only its wards), ``incidents_from`` / ``incidents_to``
    (``YYYY-MM``: the incidents layer's months), ``sort`` (the ward table's order).
``POST /priority/recompute``
    re-run the analysis with new CAN settings, then back to the page (POST-redirect-GET);
    invalid settings give the page again with the problems listed (400).
``GET /priority/export.csv``, ``GET /priority/export.geojson``
    the wards shown (same query parameters) with the indicator, its class and the CAN
    columns, with provenance, attribution and the page's filters
    (:mod:`mapper.web.downloads`).
``GET /priority/decision-record``
    a printable record of the selection: data releases, settings, date, CANs.
``GET /priority/wards/<z>/<x>/<y>.json``
    the map's wards meeting one tile (same query parameters as the page), when the
    page is too large to embed them (:mod:`mapper.web.wardtiles`).
``GET /priority/layers/<layer>.json``
    the map's heavy layers (groups, premises, incidents, gaps), fetched by the page
    when a layer is first switched on (the groups while the page loads), so the page
    itself stays light; gzipped, with an ETag, kept by browsers until the data changes.
    Point layers come in pages (``limit``, ``offset``, ``next``:
    :func:`mapper.web.responses.rows_page`), which the map fetches in turn.

All workspace data is read through :mod:`mapper.web.data` (cached per workspace version).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict

from mapper import geojson
from mapper.analysis import indicators as indicators_registry
from mapper.analysis.incidents import IncidentFilter
from mapper.analysis.neighbourhoods import stability_method
from mapper.analysis.reasons import reasons_method
from mapper.analysis.record import read_selection, selection, selection_changes
from mapper.config import Settings, describe
from mapper.errors import MapperError
from mapper.geo import to_display
from mapper.maps.base import area_label_sets, display_tolerance
from mapper.maps.points import POINT_KINDS, point_rows, ward_count_rows
from mapper.maps.priority import (
    class_labels,
    classify_wards,
    format_value,
    gap_collection,
    indicator_kind,
    indicator_label,
    ward_feature_properties,
)
from mapper.maps.selection_svg import selection_svg
from mapper.web import data, downloads, wardtiles
from mapper.web.auth import current_user, require_role
from mapper.web.data import open_workspace
from mapper.web.layers import parse_bbox, register_in_box
from mapper.web.priority_page import (
    EDITABLE,
    EXPORT_COLUMNS,
    LAZY_LAYERS,
    View,
    borough_names,
    can_rows,
    cans_table,
    counted_text,
    current_settings,
    field_errors,
    in_borough,
    incident_window,
    layer_credits,
    parse_view,
    plain_text,
    render_page,
    setting_assignments,
    setting_text,
    shown_wards,
    source_rows,
    when_text,
)
from mapper.web.responses import json_document, rows_page, rows_page_args, versioned_json

bp = Blueprint("priority", __name__)

@bp.get("/priority")
def page():
    """The priority areas page."""
    view = parse_view(request.args, data.layer("ward_summary"))
    return render_page(view)


def prepare() -> None:
    """Make the page as first shown (its map, months and types, and the ward layer's
    shapes when it loads them for the view) now, not on the first request (call in a
    request context)."""
    if data.layer("ward_summary", required=False) is not None:
        wardtiles.prepare()
        wardtiles.prepare_outlines()
        page()
        _prepare_fetched()


@bp.get("/priority/wards/<int:z>/<int:x>/<int:y>.json")
def ward_tiles(z: int, x: int, y: int):
    """The wards of tile z/x/y for the map of the view in the query (the page's
    parameters): GeoJSON (:mod:`mapper.web.wardtiles`), when the page loads its wards
    for the view."""
    view = parse_view(request.args, data.layer("ward_summary"))

    def properties():
        wards = shown_wards(view)
        classification = classify_wards(wards, view.indicator, view.scheme, view.classes)
        return wardtiles.properties_by_row(
            wards, ward_feature_properties(wards, classification, view.indicator))

    return wardtiles.tile_response("priority", z, x, y,
                                   json.dumps(view.map_query, sort_keys=True), properties)


@bp.get("/priority/outlines/<kind>/<int:z>/<int:x>/<int:y>.json")
def outline_tiles(kind: str, z: int, x: int, y: int):
    """The borough or CAN outlines (`kind`: ``boroughs``, ``cans``) of tile z/x/y for the
    map of the view in the query, when the page loads its wards for the view
    (:mod:`mapper.web.wardtiles`)."""
    view = parse_view(request.args, data.layer("ward_summary"))
    return wardtiles.outline_response("priority", kind, z, x, y,
                                      json.dumps(view.map_query, sort_keys=True),
                                      lambda: shown_wards(view) if kind == "cans" else None)


@bp.get("/priority/labels.json")
def labels_json():
    """The ward and borough names the map of the view in the query writes when zoomed
    in (:func:`mapper.maps.base.area_label_sets`), for a map loading its wards for the
    view (a small map embeds them)."""
    view = parse_view(request.args, data.layer("ward_summary"))

    def make():
        return {"sets": area_label_sets(shown_wards(view),
                                        data.layer("boroughs", required=False))}

    return versioned_json("priority:labels", make,
                          variant=json.dumps(view.map_query, sort_keys=True))


@bp.post("/priority/recompute")
@require_role("admin")
def recompute():
    """Re-run the analysis with the settings posted, then show the page again.

    It changes what everyone sees, so only administrators may (CSRF-checked like every
    POST). The run is audited under the administrator's name (see
    :func:`mapper.analysis_run.analyse`).
    """
    view = parse_view(request.form, data.layer("ward_summary"))
    values = {name: request.form.get(name, "") for name in EDITABLE if name in request.form}
    try:
        settings = current_settings().updated(setting_assignments(request.form))
    except MapperError as error:
        by_field, general = field_errors(str(error))
        return render_page(view, values=values, errors=by_field, general_errors=general,
                            status=400)
    try:
        from mapper.analysis_run import analyse

        analyse(open_workspace(), settings, actor=current_user().username,
                via="Priority areas page, recompute (web)")
    except MapperError as error:
        return render_page(view, values=values, general_errors=[str(error)], status=400)
    return redirect(url_for("priority.page", **view.query(), recomputed="1") + "#cans", 303)


# -- exports --------------------------------------------------------------------------


def _export_frame(view: View):
    """The wards shown, with the indicator, its class and the CAN columns."""
    wards = shown_wards(view)
    classification = classify_wards(wards, view.indicator, view.scheme, view.classes)
    kind = indicator_kind(view.indicator)
    table = wards[["ward_code", "ward_name", "borough_code", "borough_name"]].copy()
    table[view.indicator] = wards[view.indicator]
    table["map_class"] = (classification.classes + 1).astype("Int64")
    table["map_class_range"] = class_labels(classification, kind).to_numpy()
    cans = cans_table()
    names = dict(zip(cans["can_id"], cans["name"], strict=True)) if len(cans) else {}
    for column in EXPORT_COLUMNS:
        if column in wards and column not in table:
            table[column] = wards[column]
    table["can_name"] = wards["can_id"].map(names)
    return table, wards.geometry, classification


#: the export's own columns (not ward_summary's): column -> description
_EXPORT_OWN = {
    "map_class": "the class of that value on the map (1 = lowest)",
    "map_class_range": "the class's range",
    "can_name": "the name of the ward's Community Action Neighbourhood",
}


def export_columns(columns) -> dict[str, str]:
    """Column -> description (from the indicator registry) of a ward export's columns."""
    return {str(c): _EXPORT_OWN.get(str(c)) or indicators_registry.resolve(str(c)).description
            for c in columns}


def _download_name(view: View, suffix: str) -> str:
    area = view.borough or "all"
    return f"priority-wards-{area}-{view.indicator}.{suffix}"


@bp.get("/priority/export.csv")
def export_csv():
    """The wards shown as CSV, with licence and attribution columns."""
    view = parse_view(request.args, data.layer("ward_summary"))
    table, _geometry, _classes = _export_frame(view)
    info = downloads.about(f"Wards: {indicator_label(view.indicator)}", _filters(view))
    return downloads.csv_response(table, info, _download_name(view, "csv"))


def _filters(view: View) -> dict:
    """The page's filters, recorded in its downloads (defaults included: a file read
    later must say which indicator and classes it holds)."""
    return {"indicator": view.indicator, "scheme": view.scheme, "classes": view.classes,
            "borough": view.borough, "incidents_from": view.incidents_from,
            "incidents_to": view.incidents_to, "incident_type": view.incident_type,
            "incidents_counted": counted_text(view)}


@bp.get("/priority/export.geojson")
def export_geojson():
    """The wards shown as GeoJSON (WGS84), with provenance as top-level members."""
    view = parse_view(request.args, data.layer("ward_summary"))
    table, geometry, classification = _export_frame(view)
    attribution, licences = layer_credits()
    shown = gpd.GeoDataFrame(pd.DataFrame(table), geometry=to_display(geometry).array)
    features = geojson.encode_features(shown, placeholders=True)  # 6 decimals, NaN -> null
    meta = data.meta()
    members = {
        "name": "priority_wards",
        "indicator": view.indicator,
        "indicator_label": indicator_label(view.indicator),
        "classification": {"scheme": view.scheme, "classes": classification.k,
                           "edges": [float(e) for e in classification.edges]},
        "borough": view.borough or None,
        "filters": downloads.about("", _filters(view))["filters"],
        "study_area": meta.get("study_area", ""),
        "synthetic": meta.get("synthetic") == "yes",
        "analysis_settings": json.loads(current_settings().to_json()),
        "analysed_at": meta.get("analysed_at", ""),
        "attribution": attribution,
        "licences": licences,
        "provenance": _provenance_records(),
        "exported_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "columns": export_columns(table.columns),
    }
    return Response(geojson.collection(features, members), mimetype=geojson.MEDIA_TYPE,
                    headers={"Content-Disposition":
                             f'attachment; filename="{_download_name(view, "geojson")}"'})


def _provenance_records() -> list[dict]:
    prov = data.provenance()
    columns = [c for c in ("layer", "kind", "source_file", "vintage", "licence", "attribution",
                           "imported_at", "source_sha256") if c in prov]
    rows = prov[columns].astype(object)
    return rows.where(rows.notna(), None).to_dict("records")


# -- the decision record --------------------------------------------------------------


@bp.get("/priority/decision-record")
def decision_record():
    """A printable record of the CAN selection: data, settings, date, CANs."""
    wards_all = data.layer("ward_summary")
    borough = request.args.get("borough", "") or ""
    boroughs = borough_names(wards_all)
    if borough and borough not in boroughs:
        abort(400, description=f"borough '{borough}' is not in the study area; choose one of "
              + ", ".join(f"{c} ({n})" for c, n in boroughs.items()))
    meta = data.meta()
    settings = current_settings()
    wards = wards_all[wards_all["borough_code"] == borough] if borough else wards_all
    cans = cans_table(borough)
    in_cans = wards[wards["can_id"].notna()]
    described = {name: text for name, _default, text in describe()}
    setting_rows = [
        {"name": name, "label": EDITABLE.get(name, name.replace("_", " ").capitalize()),
         "value": setting_text(getattr(settings, name)), "help": described[name],
         "default": setting_text(default),
         "changed": getattr(settings, name) != default}
        for name, default, plain_text in describe()
    ]
    attribution, licences = layer_credits()
    signed_in = current_user().signed_in
    return render_template(
        "decision_record.html",
        stability_method=stability_method(settings.stability_draws, settings.stability_spread),
        reasons_method=reasons_method(),
        can_wards=_can_wards(in_cans, cans),
        selection_map=_selection_map(wards, area_name=boroughs.get(
            borough, meta.get("study_area") or "the study area")),
        analysed_by=_who(meta.get("analysed_by", ""), meta.get("analysed_via", ""),
                         signed_in),
        changes=_changes(meta, wards_all, signed_in),
        study_area=meta.get("study_area") or "Study area",
        area_name=boroughs.get(borough, meta.get("study_area") or "the study area"),
        borough=borough,
        synthetic=meta.get("synthetic", "").lower() == "yes",
        produced_at=datetime.now(UTC).strftime("%-d %B %Y at %H:%M UTC"),
        analysed_at=when_text(meta.get("analysed_at", "")),
        analysis_method=meta.get("analysis_method", ""),
        need_measure=meta.get("need_measure", "imd_score"),
        unavailable_measures=data.unavailable_measures(),
        analysis_notes=data.analysis_notes(),
        weights=_weights(settings),
        settings_rows=setting_rows,
        cans=can_rows(cans),
        ward_count=len(wards),
        can_ward_count=len(in_cans),
        can_population=format_value(in_cans["population"].sum(), "count"),
        population=format_value(wards["population"].sum(), "count"),
        sources=source_rows(),
        attribution=attribution,
        licences=licences,
        page_query={"borough": borough} if borough else {},
    )


def _can_wards(in_cans: pd.DataFrame, cans: pd.DataFrame) -> list[dict]:
    """Every ward of every CAN shown: CAN id and name, then its wards (name, code,
    borough), by name."""
    out = []
    for can in cans.to_dict("records"):
        wards = in_cans[in_cans["can_id"] == can["can_id"]].sort_values(
            ["ward_name", "ward_code"])
        out.append({"can_id": can["can_id"], "name": can["name"],
                    "wards": [{"name": w["ward_name"], "code": w["ward_code"],
                               "borough": plain_text(w.get("borough_name"))}
                              for w in wards.to_dict("records")]})
    return out


def _selection_map(wards, *, area_name: str):
    """The inline SVG map of the selection (cached per workspace version and area)."""
    from markupsafe import Markup

    codes = ",".join(sorted(wards["ward_code"].astype(str)))

    def build(_workspace):
        title = f"Map of the Community Action Neighbourhoods in {area_name}"
        return selection_svg(wards[["ward_code", "geometry"]],
                             wards.set_index("ward_code")["can_id"], title=title)

    return Markup(data.cached("priority:selection-svg", build, variant=codes))


def _who(actor: str, via: str, signed_in: bool) -> str:
    """Who ran the analysis and how, as the record says it (the name only to signed-in
    users)."""
    if not actor:
        return "not recorded (an analysis run before this was recorded)"
    how = f" ({via})" if via else ""
    return f"{actor}{how}" if signed_in else f"sign in to see who{how}"


def _changes(meta: dict, wards_all: pd.DataFrame, signed_in: bool) -> dict | None:
    """What changed since the previous selection, for the record; None when no earlier
    selection is recorded."""
    previous = read_selection(meta.get("previous_selection"))
    if previous is None:
        return None
    current = selection(wards_all.set_index("ward_code")["can_id"])
    diff = selection_changes(previous["cans"], current)
    names = dict(zip(wards_all["ward_code"].astype(str), wards_all["ward_name"], strict=True))

    def named(codes):
        return [f"{names.get(c, c)} ({c})" for c in codes]

    return {
        "when": when_text(previous.get("analysed_at", "")) or "date not recorded",
        "who": _who(previous.get("analysed_by", ""), previous.get("analysed_via", ""),
                    signed_in),
        "count": len(previous["cans"]),
        "wards_in": named(diff["wards_in"]), "wards_out": named(diff["wards_out"]),
        "changed": [{"can_id": c["can_id"], "previous_id": c["previous_id"],
                     "added": named(c["added"]), "removed": named(c["removed"])}
                    for c in diff["changed"]],
        "new": diff["new"], "gone": diff["gone"], "unchanged": diff["unchanged"],
    }


def _weights(settings: Settings) -> list[dict]:
    total = sum(settings.weights().values()) or 1.0
    return [{"name": name, "label": EDITABLE[f"weight_{name}"], "value": f"{value:g}",
             "share": f"{value / total:.0%}"} for name, value in settings.weights().items()]


# -- the map's layers, on demand ------------------------------------------------------



@bp.get("/priority/counts/<kind>.json")
def counts_json(kind: str):
    """The counts per ward of register `kind` (``groups``, ``premises``, ``incidents``:
    those of the months and type in the query) that a map loading its wards for the view
    shows zoomed out, fetched the first time they show: ``{"rows": [[lat, lon, ward
    name, count], ...]}`` (:func:`mapper.maps.points.ward_count_rows`)."""
    have = _registers()
    if kind not in have:
        abort(404, description=f"No counts of '{kind}' (have: {', '.join(have)}).")
    borough, start, end, incident_type = _area_and_filter()
    make, variant = _counts(kind, borough, start, end, incident_type)
    return versioned_json(f"priority:counts:{kind}", make, variant=variant)


def _area_and_filter() -> tuple[str, str, str, str]:
    """The query's checked borough and incident filter (start, end, type) of a map layer
    or its counts; 400 naming a bad one."""
    wards = data.layer("ward_summary")  # (404 before an analysis)
    borough = request.args.get("borough", "") or ""
    if borough and borough not in borough_names(wards):
        abort(400, description=f"borough '{borough}' is not in the study area")
    start, end, incident_type, problems = data.incident_filter_args(request.args)
    if problems:
        abort(400, description="; ".join(problems))
    return borough, start, end, incident_type


def _registers() -> list[str]:
    """The point registers the workspace has (the incidents without reading them)."""
    return [k for k in POINT_KINDS
            if (data.has_incidents() if k == "incidents"
                else data.layer(k, required=False) is not None)]


def _counts(kind: str, borough: str, start: str, end: str, incident_type: str):
    """The maker and cache variant of :func:`counts_json`'s document."""
    def make():
        shown = shown_wards(View(borough=borough))
        counts = None
        if kind == "incidents":
            counts = data.ward_incidents(IncidentFilter(start, end, incident_type))["incidents"]
        return {"kind": kind, "rows": ward_count_rows(shown, kind, counts)}

    return make, json.dumps([borough, start, end, incident_type])


def _prepare_fetched() -> None:
    """Make the area names and the counts per ward the page as first shown fetches, when
    it loads its wards for the view (the first visitor to zoom in then waits for
    nothing)."""
    wards = data.layer("ward_summary")
    if not wardtiles.in_view(wards):
        return
    labels_json()
    first, last = incident_window(View())
    for kind in _registers():
        # the query the page's URL for them has (priority_page._counts_url)
        query = MultiDict({"incidents_from": first, "incidents_to": last}
                          if kind == "incidents" else {})
        start, end, incident_type, _problems = data.incident_filter_args(query)
        make, variant = _counts(kind, "", start, end, incident_type)
        json_document(f"priority:counts:{kind}", make, variant=variant)


@bp.get("/priority/layers/<layer>.json")
def layer_json(layer: str):
    """One heavy layer of the map: point rows of a register, or the coverage gaps."""
    if layer not in LAZY_LAYERS:
        abort(404, description=f"No map layer '{layer}' (have: {', '.join(LAZY_LAYERS)}).")
    borough, start, end, kind = _area_and_filter()
    limit, offset = rows_page_args()
    box = None
    if request.args.get("bbox"):  # a large map's markers: only those in (and about) view
        box, problem = parse_bbox(request.args["bbox"])
        if problem or layer == "gaps":
            abort(400, description=f"bbox={request.args['bbox']!r}: "
                  f"{problem or 'the coverage gaps come whole (bbox is for point layers)'}")
    key = json.dumps([borough, start, end, kind, limit, offset, box])

    def make():
        attribution, licences = layer_credits()
        if layer == "gaps":
            shown = shown_wards(View(borough=borough))
            gaps = data.layer("coverage_gaps")
            gaps = gaps[gaps["ward_code"].isin(set(shown["ward_code"]))]
            names = shown.set_index("ward_code")["ward_name"]
            doc = gap_collection(gaps, display_tolerance(shown), names)
            return doc | {"attribution": attribution, "licences": licences}
        frame = in_borough(data.layer(layer, required=False) if box is None
                           else register_in_box(layer, box), borough)
        if layer == "incidents" and frame is not None and len(frame):
            month = frame["month"].astype(str)
            keep = pd.Series(True, index=frame.index)
            if start:
                keep &= month >= start
            if end:
                keep &= month <= end
            if kind:
                keep &= frame["type"].astype(str) == kind
            frame = frame[keep]
        rows = point_rows(frame, layer) if frame is not None else []
        return rows_page({"layer": layer, "rows": rows, "attribution": attribution,
                          "licences": licences}, limit, offset)

    return versioned_json(f"priority:layer:{layer}", make, variant=key,
                          mimetype="application/geo+json" if layer == "gaps"
                          else "application/json")
