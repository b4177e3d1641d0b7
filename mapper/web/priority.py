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
    columns, with provenance and attribution.
``GET /priority/decision-record``
    a printable record of the selection: data releases, settings, date, CANs.
``GET /priority/layers/<layer>.json``
    the map's heavy layers (groups, premises, incidents, gaps), fetched by the page
    when a layer is first switched on (the groups while the page loads), so the page
    itself stays light; gzipped, with an ETag, kept by browsers until the data changes.
    Point layers come in pages (``limit``, ``offset``, ``next``:
    :func:`mapper.web.overview.rows_page`), which the map fetches in turn.

All workspace data is read through :mod:`mapper.web.data` (cached per workspace version).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import shapely
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from mapper.analysis import indicators as indicators_registry
from mapper.analysis.indicators import driver_label
from mapper.analysis.neighbourhoods import stability_method
from mapper.analysis.reasons import reasons_method
from mapper.analysis.record import read_selection, selection, selection_changes
from mapper.config import Settings, describe
from mapper.errors import MapperError
from mapper.exports import guard_formulas
from mapper.geo import to_display
from mapper.maps.assets import map_parts
from mapper.maps.base import display_tolerance
from mapper.maps.classify import SCHEMES, palette
from mapper.maps.points import point_rows
from mapper.maps.priority import (
    DEFAULT_INDICATOR,
    GapsLayer,
    PointLayer,
    class_labels,
    classify_wards,
    format_value,
    gap_collection,
    indicator_groups,
    indicator_kind,
    indicator_label,
    indicators,
    priority_map,
)
from mapper.maps.selection_svg import selection_svg
from mapper.web import data, open_workspace
from mapper.web.auth import app_db, current_user, require_role
from mapper.web.overview import rows_page, rows_page_args, versioned_json

bp = Blueprint("priority", __name__)

#: numbers of classes offered (the palette has 1-9; 3-7 read well on a map)
CLASS_CHOICES = tuple(range(3, 8))
DEFAULT_SCHEME, DEFAULT_CLASSES = "quantiles", 5
#: the classification schemes as the page names them (short: they sit in a narrow box)
SCHEME_LABELS = {"quantiles": "Quantiles (same number of wards in each)",
                 "equal": "Equal intervals (same width each)",
                 "natural": "Natural breaks (Jenks)"}
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

#: the ward table's sort keys -> the column sorted on ("value" = the indicator)
SORTS = {
    "value": None,
    "ward": "ward_name",
    "borough": "borough_name",
    "unmet_need": "unmet_need",
    "population": "population",
    "can": "can_id",
    "stability": "stability",
}
DEFAULT_SORT = "-value"

#: the settings the page lets officers change, with the label their field shows
EDITABLE: dict[str, str] = {
    "weight_need": "Weight of need (deprivation: IMD score, else average rank)",
    "weight_supply": "Weight of low supply (few VCS groups per resident)",
    "weight_incidents": "Weight of incident pressure (incidents per resident)",
    "can_top_share": "Share of wards considered (highest unmet need first)",
    "can_supply_below_median": "Only wards with fewer groups per resident than the median",
    "can_max_imd_decile": "Only wards in the most deprived national IMD deciles",
    "can_min_population": "Smallest CAN (residents)",
    "can_max_population": "Largest CAN (residents)",
    "can_split": "How a CAN that is too large is split",
    "can_cross_borough": "A CAN may cross a borough boundary",
    "coverage_radius_m": "Coverage radius (metres)",
}
#: the settings form's sections: (legend, hint, settings)
FIELDSETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("How unmet need is weighted",
     "Each ward's unmet-need index adds up its deprivation, its lack of VCS groups and its "
     "incidents, each compared with the other wards. The weights say how much each counts; "
     "they are scaled to add up to 1, so 0.5, 0.3 and 0.2 mean half, 30% and 20%.",
     ("weight_need", "weight_supply", "weight_incidents")),
    ("Which wards can join a CAN", "A ward must meet every condition.",
     ("can_top_share", "can_supply_below_median", "can_max_imd_decile")),
    ("How big a CAN can be", "CANs are groups of neighbouring wards that meet the conditions.",
     ("can_min_population", "can_max_population", "can_split", "can_cross_borough")),
    ("Coverage gaps", "", ("coverage_radius_m",)),
)
#: how error messages name each editable setting
ERROR_NOUNS: dict[str, str] = {
    "weight_need": "the weight of need",
    "weight_supply": "the weight of low supply",
    "weight_incidents": "the weight of incident pressure",
    "can_top_share": "the share of wards considered",
    "can_supply_below_median": "the 'fewer groups than the median' condition",
    "can_max_imd_decile": "the IMD decile",
    "can_min_population": "the smallest CAN",
    "can_max_population": "the largest CAN",
    "can_split": "the way a CAN is split",
    "can_cross_borough": "the cross-borough setting",
    "coverage_radius_m": "the coverage radius",
}
#: the layers of the map fetched on demand
LAZY_LAYERS = ("groups", "premises", "incidents", "gaps")
#: columns of the ward exports, after the indicator and its class
EXPORT_COLUMNS = (
    "population", "imd_score", "unmet_need", "unmet_need_rank", "contrib_need",
    "contrib_supply", "contrib_incidents", "groups_total", "groups_total_per_1000",
    "premises_total", "incidents", "incident_months", "incidents_counted",
    "incidents_per_1000", "groups_total_per_1000_eb", "incidents_per_1000_eb",
    "uncovered_share", "candidate", "can_id", "stability",
    "unreliable", "unreliable_reason",
)


# -- the query ------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What the page shows, parsed from the query string."""

    indicator: str = DEFAULT_INDICATOR
    scheme: str = DEFAULT_SCHEME
    classes: int = DEFAULT_CLASSES
    borough: str = ""
    incidents_from: str = ""
    incidents_to: str = ""
    sort: str = DEFAULT_SORT
    incident_type: str = ""

    def query(self, **changes) -> dict:
        """Query parameters of this view (with `changes`), defaults left out."""
        values = asdict(replace(self, **changes))
        defaults = asdict(View())
        return {k: v for k, v in values.items() if v != defaults[k] and v not in ("", None)}

    @property
    def map_query(self) -> dict:
        return {k: v for k, v in self.query().items() if k != "sort"}


def _months() -> list[str]:
    """The months of the incidents register, oldest first ([] without incidents)."""

    def build(_workspace):
        incidents = data.layer("incidents", required=False)
        if incidents is None or len(incidents) == 0:
            return []
        return sorted(incidents["month"].dropna().astype(str).unique())

    return data.cached("priority:months", build)


def _types() -> list[str]:
    """The incident types of the incidents register (vocabulary names), sorted."""

    def build(_workspace):
        incidents = data.layer("incidents", required=False)
        if incidents is None or len(incidents) == 0:
            return []
        return sorted(incidents["type"].dropna().astype(str).unique())

    return data.cached("priority:types", build)


def _incident_type(value: str, problems: list[str]) -> str:
    """The incident type asked for, as stored (other spellings of the vocabulary match)."""
    from mapper.incident_types import key, normalise_names

    if not value:
        return ""
    types = _types()
    wanted = key(normalise_names([value])[0]) if value.strip() else ""
    found = [t for t in types if key(t) == wanted]
    if not found:
        problems.append(f"incident_type '{value}' is not a type of the incident data; choose "
                        f"one of {', '.join(types) or 'none (the workspace has no incidents)'}")
        return ""
    return found[0]


def _settings() -> Settings:
    return Settings.from_json(data.meta().get("analysis_settings"))


def _default_window(months: list[str], settings: Settings) -> tuple[str, str]:
    """The analysis's incident window: the last `incident_months` months of the data."""
    if not months:
        return "", ""
    end = months[-1]
    if not settings.incident_months:
        return months[0], end
    start = (pd.Period(end, "M") - (settings.incident_months - 1)).strftime("%Y-%m")
    return max(start, months[0]), end


def parse_view(args, wards: pd.DataFrame) -> View:
    """The view asked for in `args`; 400 listing every problem and the valid choices."""
    problems = []
    indicator = args.get("indicator", DEFAULT_INDICATOR) or DEFAULT_INDICATOR
    choices = indicators(wards)
    if indicator not in choices:
        problems.append(f"indicator '{indicator}' is not a numeric ward column; choose one "
                        f"of {', '.join(choices)}")
    scheme = args.get("scheme", DEFAULT_SCHEME) or DEFAULT_SCHEME
    if scheme not in SCHEMES:
        problems.append(f"scheme '{scheme}' is unknown; choose one of {', '.join(SCHEMES)}")
    raw_classes = args.get("classes", str(DEFAULT_CLASSES)) or str(DEFAULT_CLASSES)
    classes = int(raw_classes) if raw_classes.isdigit() else -1
    if classes not in CLASS_CHOICES:
        problems.append(f"classes '{raw_classes}' must be a whole number from "
                        f"{CLASS_CHOICES[0]} to {CLASS_CHOICES[-1]}")
    borough = args.get("borough", "") or ""
    boroughs = _boroughs(wards)
    if borough and borough not in boroughs:
        listed = ", ".join(f"{code} ({name})" for code, name in boroughs.items())
        problems.append(f"borough '{borough}' is not in the study area; choose one of {listed}")
    start, end = (args.get(k, "") or "" for k in ("incidents_from", "incidents_to"))
    for name, value in (("incidents_from", start), ("incidents_to", end)):
        if value and not MONTH.match(value):
            problems.append(f"{name} '{value}' must be a month written YYYY-MM, e.g. 2024-06")
    if start and end and MONTH.match(start) and MONTH.match(end) and start > end:
        problems.append(f"incidents_from ({start}) must not be after incidents_to ({end})")
    incident_type = _incident_type(args.get("incident_type", "") or "", problems)
    sort = args.get("sort", DEFAULT_SORT) or DEFAULT_SORT
    if sort.lstrip("-") not in SORTS:
        problems.append(f"sort '{sort}' is unknown; choose one of {', '.join(SORTS)} "
                        "(with a leading '-' for descending order)")
    if problems:
        abort(400, description="This page cannot be shown: " + "; ".join(problems) + ".")
    return View(indicator, scheme, classes, borough, start, end, sort, incident_type)


def incident_window(view: View) -> tuple[str, str]:
    """The months of the incidents layer: those asked for, else the analysis's window."""
    default_start, default_end = _default_window(_months(), _settings())
    return view.incidents_from or default_start, view.incidents_to or default_end


def _boroughs(wards: pd.DataFrame) -> dict[str, str]:
    pairs = wards[["borough_code", "borough_name"]].drop_duplicates("borough_code")
    pairs = pairs.sort_values(["borough_name", "borough_code"])
    return dict(zip(pairs["borough_code"], pairs["borough_name"], strict=True))


def _shown_wards(view: View):
    wards = data.layer("ward_summary")
    if view.borough:
        wards = wards[wards["borough_code"] == view.borough]
    return wards


def _in_borough(frame, borough: str):
    if not borough or frame is None or "borough_code" not in frame:
        return frame
    return frame[frame["borough_code"] == borough]


def _cans(borough: str = "") -> pd.DataFrame:
    """The CANs (ranked), with their wards' mean stability and borough names; only those
    touching `borough` when given."""
    cans = data.layer("neighbourhoods", required=False)
    if cans is None or len(cans) == 0:
        return pd.DataFrame(columns=["can_id", "rank", "name"])
    wards = data.layer("ward_summary")
    table = pd.DataFrame(cans.drop(columns=cans.geometry.name)).copy()
    if "stability" not in table:  # an analysis from before CANs had their own stability
        stability = wards.dropna(subset=["can_id"]).groupby("can_id")["stability"].mean()
        table["stability"] = table["can_id"].map(stability)
    names = _boroughs(wards)
    codes = table["boroughs"].fillna("").astype(str).str.split("; ")
    table["borough_names"] = [", ".join(names.get(c, c) for c in cs if c) for cs in codes]
    if borough:
        table = table[[borough in cs for cs in codes]]
    return table.sort_values("rank").reset_index(drop=True)


def _drivers(text) -> str:
    parts = [p.strip() for p in str(text or "").split(";") if p.strip()]
    text = "; ".join(driver_label(p) for p in parts)
    return text[:1].upper() + text[1:] if text else "–"


def _text(value) -> str:
    """A stored text value, '' when missing."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) \
        or pd.isna(value) else str(value)


def _why(can: dict) -> str:
    """The CAN's reasons (mapper.analysis.reasons), capitalised; the index components
    that drive it for an analysis stored before reasons existed."""
    reasons = _text(can.get("reasons"))
    if not reasons:
        return _drivers(can.get("top_drivers"))
    return reasons[:1].upper() + reasons[1:]


def _can_rows(cans: pd.DataFrame) -> list[dict]:
    rows = []
    for can in cans.to_dict("records"):
        rows.append({
            "rank": int(can["rank"]),
            "can_id": can["can_id"],
            "name": can["name"],
            "boroughs": can.get("borough_names", ""),
            "wards": int(can["wards"]),
            "population": format_value(can["population"], "count"),
            "unmet_need": format_value(can["unmet_need"], "index"),
            "groups": format_value(can.get("groups_total"), "count"),
            "premises": format_value(can.get("premises_total"), "count"),
            "incidents": format_value(can.get("incidents"), "count"),
            "drivers": _why(can),
            "stability": format_value(can.get("stability"), "share"),
            "stability_label": _text(can.get("stability_label")),
            "url": f"{request.script_root}/neighbourhood/{can['can_id']}",
        })
    return rows


# -- the map --------------------------------------------------------------------------


def _layer_url(name: str, view: View, **extra) -> str:
    """The layer's URL, naming the workspace version (``v``): browsers keep the answer
    (see :func:`mapper.web.overview.versioned_json`) until the data changes."""
    area = {"borough": view.borough} if view.borough else {}
    return url_for("priority.layer_json", layer=name, **area, **extra, v=data.version_tag())


def _month_label(month: str) -> str:
    return pd.Period(month, "M").strftime("%b %Y") if month else ""


def _build_map(view: View):
    """The rendered map (MapParts) of `view`, cached per workspace version and view."""
    tiles = current_app.config["TILES"]
    base = f"{request.script_root}/vendor"
    key = json.dumps([view.map_query, tiles, base, request.script_root], sort_keys=True)

    def build(_workspace):
        wards = _shown_wards(view)
        boroughs = data.layer("boroughs", required=False)
        settings = _settings()
        points = []
        for kind in ("groups", "premises"):
            if data.layer(kind, required=False) is not None:
                points.append(PointLayer(kind, url=_layer_url(kind, view)))
        if data.layer("incidents", required=False) is not None:
            start, end = incident_window(view)
            window = {"incidents_from": start, "incidents_to": end}
            if view.incident_type:
                window["incident_type"] = view.incident_type
            note = " to ".join(_month_label(m) for m in (start, end) if m)
            note = f"{view.incident_type or 'all types'}, {note}" if note else note
            points.append(PointLayer("incidents", url=_layer_url("incidents", view, **window),
                                     note=note))
        gaps = None
        if data.layer("coverage_gaps", required=False) is not None:
            gaps = GapsLayer(url=_layer_url("gaps", view), radius_m=settings.coverage_radius_m)
        m = priority_map(
            wards, indicator=view.indicator, scheme=view.scheme, classes=view.classes,
            boroughs=boroughs, cans=data.layer("neighbourhoods", required=False), gaps=gaps,
            points=points, tiles=tiles, asset_base_url=base,
            scheme_name=SCHEMES[view.scheme].split(" (")[0],
            ward_url=f"{request.script_root}/ward/",
        )
        return map_parts(m)

    return data.cached("priority:map", build, variant=key)


# -- tables ---------------------------------------------------------------------------


def _ward_rows(wards, view: View) -> tuple[list[dict], int]:
    """The ward table, sorted as asked, and the number of classes."""
    classification = classify_wards(wards, view.indicator, view.scheme, view.classes)
    kind = indicator_kind(view.indicator)
    colours = palette(classification.k)
    table = pd.DataFrame({
        "ward_code": wards["ward_code"], "ward_name": wards["ward_name"],
        "borough_name": wards["borough_name"], "value": wards[view.indicator],
        "class": classification.classes,
        "unmet_need": wards["unmet_need"], "population": wards["population"],
        "can_id": wards["can_id"], "stability": wards["stability"],
        "care": _care(wards),
    })
    key = view.sort.lstrip("-")
    column = SORTS[key] or "value"
    table = table.sort_values([column, "ward_name", "ward_code"],
                              ascending=[not view.sort.startswith("-"), True, True],
                              na_position="last", kind="stable")
    rows = []
    for row in table.to_dict("records"):
        cls = row["class"]
        rows.append({
            "ward_code": row["ward_code"], "ward_name": row["ward_name"],
            "borough_name": row["borough_name"],
            "value": format_value(row["value"], kind),
            "class_number": "" if pd.isna(cls) else int(cls) + 1,
            "colour": "" if pd.isna(cls) else colours[int(cls)],
            "unmet_need": format_value(row["unmet_need"], "index"),
            "population": format_value(row["population"], "count"),
            "can_id": "" if pd.isna(row["can_id"]) else row["can_id"],
            "stability": format_value(row["stability"], "share"),
            "care": row["care"],
        })
    return rows, classification.k


def _care(wards: pd.DataFrame) -> pd.Series:
    """Why each ward's figures are to be read with care ("" for none; an analysis stored
    before the reasons existed has none)."""
    if "unreliable_reason" not in wards:
        return pd.Series("", index=wards.index)
    return wards["unreliable_reason"].fillna("").astype(str)


def _sort_links(view: View) -> dict[str, dict]:
    """For each sortable column: the URL sorting by it and the current order."""
    links = {}
    for key in SORTS:
        current = view.sort.lstrip("-") == key
        descending = view.sort.startswith("-")
        # first click: descending for numbers, ascending for names
        if current:
            new = key if descending else f"-{key}"
        else:
            new = key if key in ("ward", "borough", "can") else f"-{key}"
        order = ("descending" if descending else "ascending") if current else "none"
        links[key] = {"url": url_for("priority.page", **view.query(sort=new)) + "#wards",
                      "aria_sort": order}
    return links


def _source_rows() -> list[dict]:
    prov = data.provenance()
    columns = ["layer", "kind", "source_file", "vintage", "rows_imported", "licence",
               "attribution", "imported_at", "source_sha256"]
    rows = prov[[c for c in columns if c in prov]].astype(object)
    rows = rows.where(rows.notna(), "")
    out = rows.to_dict("records")
    for row in out:
        row["source_sha256"] = str(row.get("source_sha256", ""))[:12]
    return out


def _attribution() -> tuple[str, list[str]]:
    """One attribution text for everything a page or export is derived from, and the
    licences involved."""
    prov = data.provenance()
    texts = [t for t in dict.fromkeys(prov.get("attribution", pd.Series(dtype=str)).fillna(""))
             if t]
    licences = sorted({t for t in prov.get("licence", pd.Series(dtype=str)).fillna("") if t})
    return " ".join(texts), licences


# -- the settings form ----------------------------------------------------------------


def _setting_fields(settings: Settings, values: dict | None = None,
                    errors: dict | None = None) -> list[dict]:
    """The editable settings as form fields (value, help text, kind, error)."""
    help_text = {name: (default, text) for name, default, text in describe()}
    choices = {name: meta.metadata.get("choices")
               for name, meta in Settings.__dataclass_fields__.items()}
    fields = []
    for name, label in EDITABLE.items():
        default, text = help_text[name]
        current = getattr(settings, name)
        if values is not None and name in values:
            value = values[name]
        elif isinstance(current, bool):
            value = "true" if current else "false"
        else:
            value = f"{current:g}" if isinstance(current, float) else str(current)
        kind = ("yesno" if isinstance(default, bool) else "choice" if choices.get(name)
                else "number")
        fields.append({
            "name": name, "label": label, "help": text, "value": value, "kind": kind,
            "choices": choices.get(name) or (), "default": default,
            "error": (errors or {}).get(name, ""),
            "inputmode": "numeric" if isinstance(default, int) and kind == "number"
            else "decimal",
        })
    return fields


def _fieldsets(fields: list[dict]) -> list[tuple[str, str, list[dict]]]:
    by_name = {f["name"]: f for f in fields}
    return [(legend, hint, [by_name[n] for n in names]) for legend, hint, names in FIELDSETS]


def _field_errors(message: str) -> tuple[dict[str, str], list[str]]:
    """Problems of a settings MapperError, each attributed to the setting it names first
    (problems about the weights together go to the first weight)."""
    text = message.split(":", 1)[1] if message.startswith("bad setting") else message
    problems = [p.strip(" -") for p in re.split(r"\n\s*-\s*|;\s+", text) if p.strip(" -")]
    by_field: dict[str, str] = {}
    general = []
    for problem in problems:
        found = sorted((m.start(), name) for name in EDITABLE
                       if (m := re.search(rf"\b{name}\b", problem)))
        name = found[0][1] if found else ("weight_need" if "weight" in problem else None)
        if name and name not in by_field:
            by_field[name] = _readable(problem, name)
        else:
            general.append(_readable(problem, None))
    return by_field, general


#: Settings.updated()'s parse errors, as the page words them
_EXPECTED = {
    "expected a number": "must be a number",
    "expected a whole number": "must be a whole number",
    "expected true or false": "must be yes or no",
    "expected one of": "must be one of",
}


def _readable(problem: str, name: str | None) -> str:
    """'weight_need must be 0 or more' -> 'Weight of need (...) must be 0 or more'."""
    typed = re.match(r"^'(\w+)=([^']*)':\s*(.*)$", problem)
    if typed:
        name, value, rest = typed.groups()
        for old, new in _EXPECTED.items():
            rest = rest.replace(old, new)
        problem = f"{name} {rest} (you typed '{value}')" if value else f"{name} {rest}"
    for other in EDITABLE:
        problem = re.sub(rf"\b{other}\b", _short_label(other), problem)
    return problem[:1].upper() + problem[1:]


def _short_label(name: str) -> str:
    return ERROR_NOUNS[name]


def _assignments(form) -> list[str]:
    out = []
    for name in EDITABLE:
        if name not in form:
            continue
        value = form.get(name, "").strip()
        if isinstance(Settings.__dataclass_fields__[name].default, (int, float)) and not \
                isinstance(Settings.__dataclass_fields__[name].default, bool):
            value = value.replace(",", "").replace("_", "").replace(" ", "")
        out.append(f"{name}={value}")
    return out


# -- pages ----------------------------------------------------------------------------


def _render_page(view: View, *, values=None, errors=None, general_errors=(), status=200):
    wards_all = data.layer("ward_summary")
    wards = _shown_wards(view)
    meta = data.meta()
    settings = _settings()
    cans = _cans(view.borough)
    boroughs = _boroughs(wards_all)
    months = _months()
    error_list = [(f"#setting-{name}", message) for name, message in (errors or {}).items()]
    error_list += [("#settings", message) for message in general_errors]
    in_cans = wards[wards["can_id"].notna()]
    ward_rows, class_count = _ward_rows(wards, view)
    body = render_template(
        "priority.html",
        view=view,
        map=_build_map(view),
        study_area=meta.get("study_area") or "Study area",
        synthetic=meta.get("synthetic", "").lower() == "yes",
        analysed_at=_when(meta.get("analysed_at", "")),
        area_name=boroughs.get(view.borough, meta.get("study_area") or "the study area"),
        boroughs=boroughs,
        indicator_groups=indicator_groups([c for c in indicators(wards_all)
                                           if c not in data.unavailable_measures()]),
        unavailable_measures=data.unavailable_measures(),
        analysis_notes=data.analysis_notes(),
        indicator_label=indicator_label(view.indicator),
        schemes=SCHEME_LABELS,
        class_choices=CLASS_CHOICES,
        months=months,
        incident_types=_types(),
        window=incident_window(view),
        cans=_can_rows(cans),
        can_count=len(cans),
        can_ward_count=len(in_cans),
        can_population=format_value(in_cans["population"].sum(), "count"),
        population_share=format_value(
            in_cans["population"].sum() / wards["population"].sum()
            if wards["population"].sum() else np.nan, "share"),
        ward_count=len(wards),
        care_count=int((_care(wards) != "").sum()),
        wards=ward_rows,
        class_count=class_count,
        can_base=f"{request.script_root}/neighbourhood/",
        sort_links=_sort_links(view),
        settings_fieldsets=_fieldsets(_setting_fields(settings, values, errors)),
        settings=settings,
        stability_method=stability_method(settings.stability_draws, settings.stability_spread),
        reasons_method=reasons_method(),
        error_list=error_list,
        recomputed=request.args.get("recomputed") == "1",
        last_run=_last_run() if request.args.get("recomputed") == "1" else "",
        sources=_source_rows(),
        tiles=current_app.config["TILES"],
    )
    return body, status


def _when(stamp: str) -> str:
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return moment.strftime("%-d %B %Y at %H:%M %Z").strip()


def _last_run() -> str:
    """The audit line of the last analysis run (the settings changed, the CANs kept,
    changed, new and retired), or ""."""
    rows = app_db().read_audit(register="analysis", limit=1)
    return rows[0]["detail"] if rows else ""


@bp.get("/priority")
def page():
    """The priority areas page."""
    view = parse_view(request.args, data.layer("ward_summary"))
    return _render_page(view)


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
        settings = _settings().updated(_assignments(request.form))
    except MapperError as error:
        by_field, general = _field_errors(str(error))
        return _render_page(view, values=values, errors=by_field, general_errors=general,
                            status=400)
    try:
        from mapper.analysis_run import analyse

        analyse(open_workspace(), settings, actor=current_user().username,
                via="Priority areas page, recompute (web)")
    except MapperError as error:
        return _render_page(view, values=values, general_errors=[str(error)], status=400)
    return redirect(url_for("priority.page", **view.query(), recomputed="1") + "#cans", 303)


# -- exports --------------------------------------------------------------------------


def _export_frame(view: View):
    """The wards shown, with the indicator, its class and the CAN columns."""
    wards = _shown_wards(view)
    classification = classify_wards(wards, view.indicator, view.scheme, view.classes)
    kind = indicator_kind(view.indicator)
    table = wards[["ward_code", "ward_name", "borough_code", "borough_name"]].copy()
    table[view.indicator] = wards[view.indicator]
    table["map_class"] = (classification.classes + 1).astype("Int64")
    table["map_class_range"] = class_labels(classification, kind).to_numpy()
    cans = _cans()
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
    attribution, licences = _attribution()
    table = table.copy()
    table["licence"] = "; ".join(licences)
    table["attribution"] = attribution
    table = guard_formulas(table.astype(object).where(table.notna(), None))
    out = io.StringIO()
    table.to_csv(out, index=False, quoting=csv.QUOTE_MINIMAL)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{_download_name(view, "csv")}"'})


@bp.get("/priority/export.geojson")
def export_geojson():
    """The wards shown as GeoJSON (WGS84), with provenance as top-level members."""
    view = parse_view(request.args, data.layer("ward_summary"))
    table, geometry, classification = _export_frame(view)
    attribution, licences = _attribution()
    shapes = shapely.set_precision(to_display(geometry).array, 1e-6)
    records = json.loads(pd.DataFrame(table).to_json(orient="records", force_ascii=False))
    features = [
        {"type": "Feature", "properties": props,
         "geometry": json.loads(text) if text is not None else None}
        for props, text in zip(records, shapely.to_geojson(np.asarray(shapes)), strict=True)
    ]
    meta = data.meta()
    document = {
        "type": "FeatureCollection",
        "name": "priority_wards",
        "indicator": view.indicator,
        "indicator_label": indicator_label(view.indicator),
        "classification": {"scheme": view.scheme, "classes": classification.k,
                           "edges": [float(e) for e in classification.edges]},
        "borough": view.borough or None,
        "study_area": meta.get("study_area", ""),
        "synthetic": meta.get("synthetic") == "yes",
        "analysis_settings": json.loads(_settings().to_json()),
        "analysed_at": meta.get("analysed_at", ""),
        "attribution": attribution,
        "licences": licences,
        "provenance": _provenance_records(),
        "exported_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "columns": export_columns(table.columns),
        "features": features,
    }
    return Response(json.dumps(document, ensure_ascii=False, allow_nan=False),
                    mimetype="application/geo+json",
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
    boroughs = _boroughs(wards_all)
    if borough and borough not in boroughs:
        abort(400, description=f"borough '{borough}' is not in the study area; choose one of "
              + ", ".join(f"{c} ({n})" for c, n in boroughs.items()))
    meta = data.meta()
    settings = _settings()
    wards = wards_all[wards_all["borough_code"] == borough] if borough else wards_all
    cans = _cans(borough)
    in_cans = wards[wards["can_id"].notna()]
    described = {name: text for name, _default, text in describe()}
    setting_rows = [
        {"name": name, "label": EDITABLE.get(name, name.replace("_", " ").capitalize()),
         "value": _setting_text(getattr(settings, name)), "help": described[name],
         "default": _setting_text(default),
         "changed": getattr(settings, name) != default}
        for name, default, _text in describe()
    ]
    attribution, licences = _attribution()
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
        analysed_at=_when(meta.get("analysed_at", "")),
        analysis_method=meta.get("analysis_method", ""),
        need_measure=meta.get("need_measure", "imd_score"),
        unavailable_measures=data.unavailable_measures(),
        analysis_notes=data.analysis_notes(),
        weights=_weights(settings),
        settings_rows=setting_rows,
        cans=_can_rows(cans),
        ward_count=len(wards),
        can_ward_count=len(in_cans),
        can_population=format_value(in_cans["population"].sum(), "count"),
        population=format_value(wards["population"].sum(), "count"),
        sources=_source_rows(),
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
                               "borough": _text(w.get("borough_name"))}
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
        "when": _when(previous.get("analysed_at", "")) or "date not recorded",
        "who": _who(previous.get("analysed_by", ""), previous.get("analysed_via", ""),
                    signed_in),
        "count": len(previous["cans"]),
        "wards_in": named(diff["wards_in"]), "wards_out": named(diff["wards_out"]),
        "changed": [{"can_id": c["can_id"], "previous_id": c["previous_id"],
                     "added": named(c["added"]), "removed": named(c["removed"])}
                    for c in diff["changed"]],
        "new": diff["new"], "gone": diff["gone"], "unchanged": diff["unchanged"],
    }


def _setting_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,g}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"'{value}'" if value == "" else str(value)


def _weights(settings: Settings) -> list[dict]:
    total = sum(settings.weights().values()) or 1.0
    return [{"name": name, "label": EDITABLE[f"weight_{name}"], "value": f"{value:g}",
             "share": f"{value / total:.0%}"} for name, value in settings.weights().items()]


# -- the map's layers, on demand ------------------------------------------------------



@bp.get("/priority/layers/<layer>.json")
def layer_json(layer: str):
    """One heavy layer of the map: point rows of a register, or the coverage gaps."""
    if layer not in LAZY_LAYERS:
        abort(404, description=f"No map layer '{layer}' (have: {', '.join(LAZY_LAYERS)}).")
    wards = data.layer("ward_summary")
    borough = request.args.get("borough", "") or ""
    if borough and borough not in _boroughs(wards):
        abort(400, description=f"borough '{borough}' is not in the study area")
    start, end = (request.args.get(k, "") or "" for k in ("incidents_from", "incidents_to"))
    for value in (start, end):
        if value and not MONTH.match(value):
            abort(400, description=f"'{value}' is not a month written YYYY-MM")
    kind = request.args.get("incident_type", "") or ""
    if kind and layer == "incidents":
        problems: list[str] = []
        kind = _incident_type(kind, problems)
        if problems:
            abort(400, description=problems[0])
    limit, offset = rows_page_args()
    key = json.dumps([borough, start, end, kind, limit, offset])

    def make():
        attribution, licences = _attribution()
        if layer == "gaps":
            shown = _shown_wards(View(borough=borough))
            gaps = data.layer("coverage_gaps")
            gaps = gaps[gaps["ward_code"].isin(set(shown["ward_code"]))]
            names = shown.set_index("ward_code")["ward_name"]
            doc = gap_collection(gaps, display_tolerance(shown), names)
            return doc | {"attribution": attribution, "licences": licences}
        frame = _in_borough(data.layer(layer, required=False), borough)
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
