"""The priority areas page as the priority blueprint (:mod:`mapper.web.priority`) and the
draft selections (:mod:`mapper.web.drafts`) both render it: the view a query asks for,
the CAN settings form, the map, the tables, and their credits. Not a blueprint.

All workspace data is read through :mod:`mapper.web.data` (cached per workspace version).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from flask import (
    abort,
    render_template,
    request,
    url_for,
)

from mapper.analysis.incidents import IncidentFilter
from mapper.analysis.indicators import driver_label
from mapper.analysis.neighbourhoods import stability_method
from mapper.analysis.reasons import reasons_method
from mapper.config import Settings, describe
from mapper.maps.assets import map_parts
from mapper.maps.classify import SCHEMES, palette
from mapper.maps.priority import (
    DEFAULT_INDICATOR,
    GapsLayer,
    HeatLayer,
    PointLayer,
    classify_wards,
    format_value,
    indicator_groups,
    indicator_kind,
    indicator_label,
    indicators,
    priority_map,
)
from mapper.web import basemap, data, wardtiles
from mapper.web.auth import app_db

#: numbers of classes offered (the palette has 1-9; 3-7 read well on a map)
CLASS_CHOICES = tuple(range(3, 8))
DEFAULT_SCHEME, DEFAULT_CLASSES = "quantiles", 5
#: the classification schemes as the page names them (short: they sit in a narrow box)
SCHEME_LABELS = {"quantiles": "Quantiles (same number of wards in each)",
                 "equal": "Equal intervals (same width each)",
                 "natural": "Natural breaks (Jenks)"}

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
    return data.incident_months()


def _types() -> list[str]:
    """The incident types of the incidents register (vocabulary names), sorted."""
    return data.incident_types()


def current_settings() -> Settings:
    """The CAN settings the stored analysis was run with."""
    return Settings.from_json(data.meta().get("analysis_settings"))


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
    boroughs = borough_names(wards)
    if borough and borough not in boroughs:
        listed = ", ".join(f"{code} ({name})" for code, name in boroughs.items())
        problems.append(f"borough '{borough}' is not in the study area; choose one of {listed}")
    start, end, incident_type, more = data.incident_filter_args(args)
    problems += more
    sort = args.get("sort", DEFAULT_SORT) or DEFAULT_SORT
    if sort.lstrip("-") not in SORTS:
        problems.append(f"sort '{sort}' is unknown; choose one of {', '.join(SORTS)} "
                        "(with a leading '-' for descending order)")
    if problems:
        abort(400, description="This page cannot be shown: " + "; ".join(problems) + ".")
    return View(indicator, scheme, classes, borough, start, end, sort, incident_type)


def incident_window(view: View) -> tuple[str, str]:
    """The months of the incidents layer: those asked for, else the analysis's window
    (:func:`mapper.web.data.filled_window`)."""
    return data.filled_window(view.incidents_from, view.incidents_to)


def borough_names(wards: pd.DataFrame) -> dict[str, str]:
    """Borough code -> name, by name."""
    pairs = wards[["borough_code", "borough_name"]].drop_duplicates("borough_code")
    pairs = pairs.sort_values(["borough_name", "borough_code"])
    return dict(zip(pairs["borough_code"], pairs["borough_name"], strict=True))


def incident_filter(view: View) -> IncidentFilter | None:
    """What the view's incident filters count (the months of :func:`incident_window` and
    the type), or None when the view sets none (or there are no incidents): the ward
    figures are then the analysis's."""
    if not (view.incidents_from or view.incidents_to or view.incident_type):
        return None
    if not data.has_incidents():
        return None
    start, end = incident_window(view)
    return IncidentFilter(start, end, view.incident_type)


def counted_text(view: View) -> str:
    """What the incident layers and figures of `view` count, in words with the total of
    the wards shown: 'burglary, Sep 2024 - Feb 2025, 1,234 incidents' ('' without
    incidents)."""
    if not data.has_incidents():
        return ""
    chosen = incident_filter(view) or IncidentFilter(*incident_window(view))
    figures = data.ward_incidents(chosen)
    codes = shown_wards(View(borough=view.borough))["ward_code"].astype(str)
    total = figures["incidents"].reindex(codes).sum()
    return chosen.words(int(total))


def shown_wards(view: View):
    """The ward summary rows the view shows (one borough's, or all), with the incident
    figures of its filters (:func:`incident_filter`)."""
    chosen = incident_filter(view)
    wards = data.layer("ward_summary") if chosen is None else data.filtered_ward_summary(chosen)
    if view.borough:
        wards = wards[wards["borough_code"] == view.borough]
    return wards


def in_borough(frame, borough: str):
    """The rows of `frame` in `borough` (all of them without a borough, or when the
    frame has no borough_code)."""
    if not borough or frame is None or "borough_code" not in frame:
        return frame
    return frame[frame["borough_code"] == borough]


def cans_table(borough: str = "") -> pd.DataFrame:
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
    names = borough_names(wards)
    codes = table["boroughs"].fillna("").astype(str).str.split("; ")
    table["borough_names"] = [", ".join(names.get(c, c) for c in cs if c) for cs in codes]
    if borough:
        table = table[[borough in cs for cs in codes]]
    return table.sort_values("rank").reset_index(drop=True)


def filtered_cans(cans: pd.DataFrame, view: View) -> pd.DataFrame:
    """`cans` with their incidents counted by the view's incident filter (the sum of
    their wards' filtered figures, :func:`mapper.analysis.incidents.incidents_by`);
    unchanged when the view sets no filter."""
    from mapper.analysis.incidents import incidents_by

    chosen = incident_filter(view)
    if chosen is None or "incidents" not in cans:
        return cans
    counts = incidents_by(data.filtered_ward_summary(chosen), "can_id")
    return cans.assign(incidents=cans["can_id"].map(counts))


def _drivers(text) -> str:
    parts = [p.strip() for p in str(text or "").split(";") if p.strip()]
    text = "; ".join(driver_label(p) for p in parts)
    return text[:1].upper() + text[1:] if text else "–"


def plain_text(value) -> str:
    """A stored text value, '' when missing."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) \
        or pd.isna(value) else str(value)


def why_text(can: dict) -> str:
    """The CAN's reasons (mapper.analysis.reasons), capitalised; the index components
    that drive it for an analysis stored before reasons existed."""
    reasons = plain_text(can.get("reasons"))
    if not reasons:
        return _drivers(can.get("top_drivers"))
    return reasons[:1].upper() + reasons[1:]


def can_rows(cans: pd.DataFrame, view: View | None = None) -> list[dict]:
    """The ranked CANs as the page's table shows them; their links keep the incident
    filter of `view`, so a CAN's page counts what the table counted."""
    from urllib.parse import urlencode

    rows = []
    chosen = incident_filter(view) if view is not None else None
    keep = ("?" + urlencode({k: v for k, v in (("incidents_from", chosen.start),
                                               ("incidents_to", chosen.end),
                                               ("incident_type", chosen.kind)) if v})
            if chosen is not None else "")
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
            "drivers": why_text(can),
            "stability": format_value(can.get("stability"), "share"),
            "stability_label": plain_text(can.get("stability_label")),
            "url": f"{request.script_root}/neighbourhood/{can['can_id']}{keep}",
        })
    return rows


# -- the map --------------------------------------------------------------------------


def _layer_url(name: str, view: View, **extra) -> str:
    """The layer's URL, naming the workspace version (``v``): browsers keep the answer
    (see :func:`mapper.web.responses.versioned_json`) until the data changes."""
    area: dict[str, Any] = {"borough": view.borough} if view.borough else {}
    return url_for("priority.layer_json", layer=name, **area, **extra, v=data.version_tag())


def _counts_url(kind: str, view: View, **extra) -> str:
    """The URL of the counts per ward of register `kind` (as :func:`_layer_url`)."""
    area: dict[str, Any] = {"borough": view.borough} if view.borough else {}
    return url_for("priority.counts_json", kind=kind, **area, **extra, v=data.version_tag())


def ward_tiles_url(view: View) -> str:
    """The URL of the ward layer's tiles for `view` (``{z}/{x}/{y}`` left to the
    browser), naming the workspace version so browsers keep the answers."""
    query = urlencode({**view.map_query, "v": data.version_tag()})
    return f"{request.script_root}/priority/wards/{{z}}/{{x}}/{{y}}.json?{query}"


def outline_tiles_url(view: View, kind: str) -> str:
    """The URL of the outline layer `kind`'s tiles (``boroughs``, ``cans``) for `view`,
    as :func:`ward_tiles_url`."""
    query = urlencode({**view.map_query, "v": data.version_tag()})
    return f"{request.script_root}/priority/outlines/{kind}/{{z}}/{{x}}/{{y}}.json?{query}"


def _month_label(month: str) -> str:
    return pd.Period(month, "M").strftime("%b %Y") if month else ""


def _build_map(view: View):
    """The rendered map (MapParts) of `view`, cached per workspace version and view."""
    tiles = basemap.map_tiles()
    base = f"{request.script_root}/vendor"
    context_layers = basemap.context_overlay()
    key = json.dumps([view.map_query, repr(tiles), base, request.script_root,
                      repr(context_layers), wardtiles.limits()], sort_keys=True)

    def build(_workspace):
        wards = shown_wards(view)
        boroughs = data.layer("boroughs", required=False)
        settings = current_settings()
        points = []
        heat = None
        for kind in ("groups", "premises"):
            if data.layer(kind, required=False) is not None:
                points.append(PointLayer(kind, url=_layer_url(kind, view),
                                         counts_url=_counts_url(kind, view)))
        if data.has_incidents():
            start, end = incident_window(view)
            window = {"incidents_from": start, "incidents_to": end}
            if view.incident_type:
                window["incident_type"] = view.incident_type
            note = counted_text(view)
            url = _layer_url("incidents", view, **window)
            # counts per ward of the same months and type as the markers
            counts = data.ward_incidents(IncidentFilter(start, end, view.incident_type))
            points.append(PointLayer("incidents", url=url, note=note,
                                     counts=counts["incidents"],
                                     counts_url=_counts_url("incidents", view, **window)))
            heat = HeatLayer(url=url, note=note)
        gaps = None
        if data.layer("coverage_gaps", required=False) is not None:
            gaps = GapsLayer(url=_layer_url("gaps", view), radius_m=settings.coverage_radius_m)
        m = priority_map(
            wards, indicator=view.indicator, scheme=view.scheme, classes=view.classes,
            boroughs=boroughs, cans=data.layer("neighbourhoods", required=False), gaps=gaps,
            points=points, tiles=tiles, context_layers=context_layers, asset_base_url=base,
            scheme_name=SCHEMES[view.scheme].split(" (")[0],
            ward_url=f"{request.script_root}/ward/",
            heat=heat, counted=counted_text(view),
            inview_url=ward_tiles_url(view) if wardtiles.in_view(wards) else None,
            outline_urls={**{kind: outline_tiles_url(view, kind)
                             for kind in wardtiles.OUTLINES},
                          "labels": url_for("priority.labels_json", **view.map_query,
                                            v=data.version_tag())},
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


#: rows of one page of the ward table when the map loads its wards for the view (the
#: size rule of :mod:`mapper.web.wardtiles`): England's 7,000 rows would be 90,000 elements
WARD_TABLE_PAGE = 500


def _table_page(rows: list[dict], view: View, large: bool) -> tuple[list[dict], dict | None]:
    """The rows of the ward table to show, and where they are among all (None: all of
    them): on a large map, page ``wards_page`` (from 1) of :data:`WARD_TABLE_PAGE` rows."""
    if not large or len(rows) <= WARD_TABLE_PAGE:
        return rows, None
    pages = -(-len(rows) // WARD_TABLE_PAGE)
    text = request.args.get("wards_page", "") or "1"
    number = min(max(int(text), 1), pages) if text.isdigit() else 1
    start = (number - 1) * WARD_TABLE_PAGE

    def link(n: int) -> str | None:
        if not 1 <= n <= pages:
            return None
        return url_for("priority.page", **view.query(), wards_page=n) + "#wards"

    return rows[start:start + WARD_TABLE_PAGE], {
        "number": number, "pages": pages, "first": start + 1,
        "last": min(start + WARD_TABLE_PAGE, len(rows)),
        "previous": link(number - 1), "next": link(number + 1)}


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


def source_rows() -> list[dict]:
    """The provenance rows the page's data sources table shows."""
    prov = data.provenance()
    columns = ["layer", "kind", "source_file", "vintage", "rows_imported", "licence",
               "attribution", "imported_at", "source_sha256"]
    rows = prov[[c for c in columns if c in prov]].astype(object)
    rows = rows.where(rows.notna(), "")
    out = rows.to_dict("records")
    for row in out:
        row["source_sha256"] = str(row.get("source_sha256", ""))[:12]
    return out


def layer_credits() -> tuple[str, list[str]]:
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


def field_errors(message: str) -> tuple[dict[str, str], list[str]]:
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


def setting_assignments(form) -> list[str]:
    """``name=value`` of each CAN setting the form sent (thousands separators taken out
    of numbers), for :meth:`mapper.config.Settings.updated`."""
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


def render_page(view: View, *, values=None, errors=None, general_errors=(), status=200):
    """The priority page for `view`; `values` and `errors` refill the settings form with
    the problems found (and `status` 400), as the recompute and draft forms need."""
    wards_all = data.layer("ward_summary")
    wards = shown_wards(view)
    meta = data.meta()
    settings = current_settings()
    cans = filtered_cans(cans_table(view.borough), view)
    boroughs = borough_names(wards_all)
    months = _months()
    error_list = [(f"#setting-{name}", message) for name, message in (errors or {}).items()]
    error_list += [("#settings", message) for message in general_errors]
    in_cans = wards[wards["can_id"].notna()]
    ward_rows, class_count = _ward_rows(wards, view)
    ward_rows, table_page = _table_page(ward_rows, view, wardtiles.in_view(wards))
    body = render_template(
        "priority.html",
        view=view,
        map=_build_map(view),
        study_area=meta.get("study_area") or "Study area",
        synthetic=meta.get("synthetic", "").lower() == "yes",
        analysed_at=when_text(meta.get("analysed_at", "")),
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
        counted=counted_text(view),
        cans=can_rows(cans, view),
        can_count=len(cans),
        can_ward_count=len(in_cans),
        can_population=format_value(in_cans["population"].sum(), "count"),
        population_share=format_value(
            in_cans["population"].sum() / wards["population"].sum()
            if wards["population"].sum() else np.nan, "share"),
        ward_count=len(wards),
        care_count=int((_care(wards) != "").sum()),
        wards=ward_rows,
        table_page=table_page,
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
        sources=source_rows(),
        tiles=basemap.kind(),
    )
    return body, status


def when_text(stamp: str) -> str:
    """An ISO time stamp as "3 November 2026 at 14:05 UTC" (as given when unreadable)."""
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


def setting_text(value) -> str:
    """A CAN setting's value as the page writes it (yes/no, 1,000, '')."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,g}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"'{value}'" if value == "" else str(value)
