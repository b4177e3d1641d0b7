"""Neighbourhood and ward pages for Joint Action Boards: one page per area with its
profile against its borough and the study area, deprivation domains, the incident
trend, and every group and premises on a map and in a filterable, sortable table, with
CSV and GeoJSON exports.

Routes
------
``/neighbourhoods``
    every Community Action Neighbourhood (CAN) and a ward search (``?q=`` name or code)
``/neighbourhood/<can_id>``, ``/ward/<ward_code>``
    the area's page; ``?category=`` and ``?q=`` filter the asset table and ``?sort=``
    sorts it (``name``, ``kind``, ``category``, ``address``, ``offer``, ``verified``;
    a leading ``-`` reverses), so the page works without JavaScript
``/neighbourhood/<can_id>/assets.csv|.geojson``, ``/ward/<ward_code>/assets.csv|.geojson``
    the area's assets (same filters), with source, licence and attribution, never
    personal data
``/neighbourhoods/boundaries.geojson|.gpkg|.csv``, ``/neighbourhood/<can_id>/boundary.<fmt>``
    the CANs' boundaries (every CAN, those touching ``?borough=``, or one CAN) as GeoJSON
    or GeoPackage, or their wards as CSV, with provenance and the filters of the page the
    link was on (``indicator``, ``incidents_from``/``to``, ``incident_type`` ... : an
    ``indicator`` adds its ward values to the CSV) (:mod:`mapper.web.downloads`)

All data is read through :mod:`mapper.web.data`. A neighbourhood's figures combine its
wards by each indicator's rule in the registry (:func:`mapper.analysis.indicators.combine`:
summed, population- or LSOA-weighted); a borough's come from ``borough_summary`` where it
has them (deprivation, from whole LSOAs) and otherwise from its wards; the study area's
combine every ward.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
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

from mapper import geojson, registers
from mapper.analysis import verification
from mapper.analysis.indicators import (
    COMPONENTS,
    DOMAIN_LABELS,
    combine,
    driver_label,
    format_value,
    indicator,
)
from mapper.analysis.need import grouped_need, national_lsoas_of
from mapper.config import Settings
from mapper.exports import spreadsheet_csv
from mapper.geo import to_display
from mapper.maps import map_parts
from mapper.maps.neighbourhood import KIND_LABELS, Bar, asset_map, domain_chart, trend_chart
from mapper.missing import is_missing
from mapper.web import basemap, data, downloads, identity
from mapper.web.contacts import contacts_for, may_list
from mapper.web.data import SOURCE_COLUMNS
from mapper.web.due import due_count

bp = Blueprint("neighbourhoods", __name__)


# -- what the page shows -------------------------------------------------------------------


#: the profile table's figures, in order: each an entry of the indicator registry (label,
#: help, how a figure combines over wards, how it is written)
FIGURES = tuple(indicator(column) for column in (
    "population", "imd_score", "imd_avg_rank", "imd_extent", "imd_local_concentration",
    "imd_most_deprived_10_share", "imd_most_deprived_20_share", "income_scale",
    "employment_scale", "groups_total", "groups_total_per_1000",
    "groups_total_per_1000_eb", "premises_total", "premises_total_per_1000", "incidents",
    "incidents_per_1000", "incidents_per_1000_eb", "uncovered_share", "unmet_need",
))

#: IoD domains shown in the domain chart: registry entries (a proportion of people, like
#: income, is written as a share; the others as scores)
DOMAINS = tuple(indicator(f"{name}_score") for name in DOMAIN_LABELS)

#: columns of the asset table and exports, in order (never a personal-data column)
ASSET_COLUMNS = [
    "kind",
    "asset_id",
    "name",
    "category",
    "description",
    "communities_served",
    "faith_or_religion",
    "languages",
    "address",
    "postcode",
    "opening_hours",
    "emergency_offer",
    "offer_source",
    "capacity",
    "step_free",
    "charity_number",
    "owning_group_id",
    "last_verified",
    "verified_over_12_months_ago",
    "status",
    "status_source",
    "ward_code",
    "ward_name",
    "borough_code",
    "duplicate_of",
    "duplicate_reason",
    "source",
    "source_id",
    "source_file",
    "source_row",
    "location_source",
    "location_note",
    "licence",
    "attribution",
]
#: register column -> asset column, per register (missing ones become blank)
_RENAMES = {
    "groups": {"group_id": "asset_id", "faith": "faith_or_religion"},
    "premises": {"premises_id": "asset_id", "type": "category", "religion": "faith_or_religion"},
}
#: text searched by the asset search (the same in static/neighbourhood.js via data-search)
SEARCHED = [
    "name",
    "category",
    "description",
    "communities_served",
    "faith_or_religion",
    "languages",
    "address",
    "postcode",
    "emergency_offer",
    "ward_name",
]
#: ?sort= keys of the asset table -> column heading (what each compares: _sort_key)
SORTS = {
    "name": "Name",
    "kind": "Kind",
    "category": "Category or type",
    "address": "Address",
    "offer": "Emergency offer",
    "verified": "Last verified",
}


@dataclass(frozen=True)
class Area:
    """A page's area: a CAN or a ward, with its wards' ward_summary rows."""

    kind: str  # "neighbourhood" or "ward"
    id: str
    name: str
    wards: gpd.GeoDataFrame
    summary: dict | None = None  # the neighbourhoods row, for a CAN

    @property
    def ward_codes(self) -> list[str]:
        return list(self.wards["ward_code"])

    @property
    def borough_codes(self) -> list[str]:
        return list(dict.fromkeys(self.wards["borough_code"]))

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}" if self.kind == "neighbourhood" else self.name


# -- reading the workspace ------------------------------------------------------------


def _ward_summary() -> gpd.GeoDataFrame:
    table = data.layer("ward_summary", required=False)
    if table is None:
        abort(
            404,
            description=(
                "The workspace has not been analysed yet, so there are no neighbourhood or ward "
                "profiles. Run 'mapper analyse' (or 'mapper demo' for the synthetic demo area) "
                "and reload this page."
            ),
        )
    return table


def _neighbourhoods() -> gpd.GeoDataFrame | None:
    cans = data.layer("neighbourhoods", required=False)
    if cans is None or len(cans) == 0:
        return None
    return cans.sort_values("rank", kind="stable")


def _settings() -> Settings:
    try:
        return Settings.from_json(data.meta().get("analysis_settings"))
    except (TypeError, ValueError):
        return Settings()


def _study_area() -> str:
    return data.meta().get("study_area") or "Study area"


def _synthetic() -> bool:
    return str(data.meta().get("synthetic", "")).lower() == "yes"


def find_neighbourhood(can_id: str) -> Area:
    """The CAN `can_id`; 404 listing every CAN when there is no such one."""
    wards = _ward_summary()
    cans = _neighbourhoods()
    known = [] if cans is None else list(cans["can_id"])
    if can_id not in known:
        if cans is None:
            listed = "This analysis found no Community Action Neighbourhoods."
        else:
            listed = (
                "The neighbourhoods are: "
                + "; ".join(f"{row.can_id} ({row.name})" for row in cans.itertuples())
                + "."
            )
        retired = identity.retired_note(can_id)
        if retired:
            listed = f"{retired} {listed}"
        abort(
            404,
            description=(
                f"There is no Community Action Neighbourhood '{can_id}'. {listed} "
                "See the list at /neighbourhoods."
            ),
        )
    assert cans is not None  # can_id is one of them (checked above)
    row = cans[cans["can_id"] == can_id].iloc[0]
    members = wards[wards["can_id"].astype("string").eq(can_id).fillna(False).to_numpy()]
    if members.empty:  # fall back on the neighbourhood's own list of wards
        codes = [c.strip() for c in str(row["ward_codes"]).split(";") if c.strip()]
        members = wards[wards["ward_code"].isin(codes)]
    members = members.sort_values(["unmet_need", "ward_code"], ascending=[False, True])
    summary = row.drop(labels="geometry").to_dict()
    return Area("neighbourhood", can_id, str(row["name"]), members, summary)


def find_ward(ward_code: str) -> Area:
    """The ward `ward_code`; 404 listing close matches and every ward code when unknown."""
    wards = _ward_summary()
    rows = wards[wards["ward_code"] == ward_code]
    if rows.empty:
        names = dict(zip(wards["ward_code"], wards["ward_name"], strict=True))
        close = difflib.get_close_matches(ward_code.upper(), list(names), n=3, cutoff=0.6)
        hint = (
            " Did you mean " + " or ".join(f"{c} ({names[c]})" for c in close) + "?"
            if close
            else ""
        )
        listed = ", ".join(f"{code} ({name})" for code, name in sorted(names.items()))
        abort(
            404,
            description=(
                f"There is no ward with the code '{ward_code}'.{hint} Search wards by name at "
                f"/neighbourhoods. The {len(names):,} ward codes are: {listed}."
            ),
        )
    return Area("ward", ward_code, str(rows.iloc[0]["ward_name"]), rows)


# -- profile figures ------------------------------------------------------------------


def comparators(area: Area, wards: pd.DataFrame, view: tuple = ()) -> list[dict]:
    """The columns of the profile table: the area, its borough(s), the study area.

    Each has a ``key``, a ``label`` and a ``kind`` for the table's heading, a ``short``
    label for charts, its ``wards`` and (boroughs) its ``borough_summary`` ``row``, and the
    ``view`` its wards' figures come from: () for the analysis's own, an incident filter's
    (start, end, type) for figures recounted under it, so a remembered borough or study
    area value (:func:`value_for`) is never one counted under another filter.
    """
    boroughs = data.layer("borough_summary", required=False)
    this = "This neighbourhood" if area.kind == "neighbourhood" else "This ward"
    out = [
        {"key": "area", "label": this, "kind": "", "short": this, "wards": area.wards,
         "row": None, "view": view}
    ]
    several = len(area.borough_codes) > 1
    for code in area.borough_codes:
        in_borough = wards[wards["borough_code"] == code]
        row = None
        if boroughs is not None:
            match = boroughs[boroughs["borough_code"] == code]
            row = match.iloc[0] if len(match) else None
        name = str(in_borough["borough_name"].iloc[0]) if len(in_borough) else code
        out.append(
            {
                "key": f"borough:{code}",
                "label": name,
                "kind": "borough",
                "short": name if several else "Borough",
                "wards": in_borough,
                "row": row,
                "view": view,
            }
        )
    out.append(
        {
            "key": "study",
            "label": _study_area(),
            "kind": f"study area, {len(wards)} wards",
            "short": "Study area",
            "wards": wards,
            "row": None,
            "view": view,
        }
    )
    return out


def value_for(comparator: dict, column: str, how: str | None = None) -> float:
    """A comparator's value: the borough summary's own figure when it has one (deprivation
    measures from whole LSOAs), else combined from its wards. A borough's and the study
    area's are the same on every page of a workspace version: made once, then remembered
    (:func:`_comparator_values`)."""
    if comparator["key"] == "area":
        return _value_for(comparator, column, how)
    remembered = _comparator_values()
    key = (comparator["key"], comparator.get("view", ()), column, how)
    value = remembered.get(key)
    if value is None:
        value = remembered[key] = _value_for(comparator, column, how)
    return value


def _comparator_values() -> dict:
    """(comparator key, column, how) -> a borough's or the study area's value, for this
    workspace version (analysis results, which edits do not change). The one cache that
    grows after it is made: each value the first page to need it adds, the same value
    whichever page (a race adds the same value twice)."""
    return data.cached("neighbourhoods:comparator-values", lambda _workspace: {})


def _value_for(comparator: dict, column: str, how: str | None) -> float:
    row = comparator["row"]
    if row is not None and column in row.index and pd.notna(row[column]):
        return float(row[column])
    how = how or indicator(column).aggregate
    if how == "none" and column in GROUPED and len(comparator["wards"]) > 1:
        return grouped_value(comparator["wards"], column)
    return combine(comparator["wards"], column, how)


#: measures that do not combine across wards but are computed for several wards together
#: from their small areas (:func:`grouped_value`)
GROUPED = frozenset({"imd_local_concentration"})


def grouped_value(wards: pd.DataFrame, column: str) -> float:
    """A deprivation measure that does not combine across wards, computed for `wards`
    taken together from their LSOA parts (:func:`mapper.analysis.need.grouped_need`);
    NaN without the layers it needs."""
    codes = tuple(sorted(wards["ward_code"].astype(str)))

    def build(_workspace) -> pd.DataFrame | None:
        deprivation = data.layer("deprivation", required=False)
        weights = data.layer("lsoa_ward_weights", required=False)
        if deprivation is None or weights is None:
            return None
        national, _ = national_lsoas_of(data.provenance())
        return grouped_need(deprivation, weights, {"area": list(codes)},
                            national_lsoas=national)

    found = data.cached("grouped_need", build, variant=codes)
    if found is None or column not in found.columns:
        return float("nan")
    return float(found[column].iloc[0])


def fmt(value: float, kind: str) -> str:
    """A figure written for people in a table ('–' when missing): the registry's one
    formatter (:func:`mapper.analysis.indicators.format_value`)."""
    return format_value(value, kind, missing="–")


def profile_rows(area: Area, columns: list[dict]) -> list[dict]:
    """The area profile table: each figure for the area and each comparator column."""
    rows = []
    for figure in FIGURES:
        if figure.column not in area.wards.columns:
            continue
        cells = []
        for comparator in columns:
            value = value_for(comparator, figure.column, figure.aggregate)
            cells.append({"value": value, "text": fmt(value, figure.kind)})
        rows.append({"figure": figure, "cells": cells})
    return rows


def domain_rows(area: Area, columns: list[dict]) -> list[dict]:
    """The deprivation domain table: each domain's value for the area and its comparators."""
    rows = []
    for domain in DOMAINS:
        column, label, unit = domain.column, domain.short, domain.kind
        if column not in area.wards.columns:
            continue
        values = [value_for(c, column, domain.aggregate) for c in columns]
        texts = [fmt(v, domain.kind) for v in values]
        rows.append(
            {"column": column, "label": label, "unit": unit, "values": values, "texts": texts}
        )
    return rows


def domain_svg(rows: list[dict], columns: list[dict], area: Area) -> str:
    """The deprivation domains as a grouped bar chart (SVG), one bar per comparator."""
    groups = [
        (
            row["label"],
            [
                Bar(c["short"], row["values"][i], row["texts"][i], series=i)
                for i, c in enumerate(columns)
            ],
        )
        for row in rows
    ]
    return domain_chart(
        groups,
        title=f"Deprivation domain scores: {area.label} compared "
        "with its borough and the study area; higher = more deprived",
    )


# -- incident trend -------------------------------------------------------------------


def incident_coverage_plan(settings: Settings):
    """The analysis's incident coverage (:func:`mapper.analysis.incidents.incident_coverage`)
    and the monthly counts of its types per ward; once per workspace version and settings.
    None without incidents."""
    from mapper import incident_types
    from mapper.analysis.incidents import incident_coverage, monthly_counts

    def build(_workspace):
        incidents = data.counted_incidents()  # the database's summary of a large layer
        if incidents is None or len(incidents) == 0:
            return None
        plan = incident_coverage(incidents, _ward_summary()[["ward_code", "borough_code"]],
                                 window_months=settings.incident_months,
                                 types=incident_types.parse_setting(settings.incident_types))
        counted = incidents[plan.from_covering(incidents).to_numpy()]
        monthly = monthly_counts(counted, list(_ward_summary()["ward_code"]),
                                 types=list(plan.types))
        return plan, monthly

    return data.cached("neighbourhoods:coverage", build,
                       variant=(settings.incident_types, settings.incident_months))


def incident_trend(area: Area, settings: Settings) -> dict | None:
    """Monthly incident counts of the area and its recent months against its baseline,
    over the types and months that cover it (:func:`mapper.analysis.incidents.area_trend`);
    None when the workspace has no incidents."""
    from mapper.analysis.incidents import area_trend

    found = incident_coverage_plan(settings)
    if found is None:
        return None
    plan, monthly = found
    wards = _ward_summary().set_index("ward_code")
    out = area_trend(monthly, wards["borough_code"], area.ward_codes, plan,
                     recent_months=settings.trend_recent_months,
                     baseline_months=settings.trend_baseline_months)
    if out["recent_total"] is not None:
        (recent_first, recent_last), (first, last) = (out["recent_period"],
                                                      out["baseline_period"])
        out.update(recent_label=f"{month_label(recent_first)} to {month_label(recent_last)}",
                   baseline_label=f"{month_label(first)} to {month_label(last)}")
    return out


def month_label(month: str) -> str:
    """'2026-04' -> 'Apr 2026' (other text unchanged)."""
    try:
        return pd.Period(month, "M").strftime("%b %Y")
    except (ValueError, TypeError):
        return month


def trend_svg(trend: dict, area: Area) -> str:
    """The incident trend chart (SVG): monthly counts, the recent months against the baseline."""
    return trend_chart(
        trend["months"],
        trend["counts"],
        recent=trend["recent"],
        baseline_months=trend["baseline"],
        baseline_mean=trend["baseline_mean"],
        title=f"Incidents a month in {area.label}, {trend['months'][0]} to {trend['months'][-1]}"
        if trend["months"]
        else f"Incidents in {area.label}",
    )


# -- assets ---------------------------------------------------------------------------


def area_assets(area: Area) -> gpd.GeoDataFrame:
    """Every group and premises in the area's wards, personal data left out.

    Columns :data:`ASSET_COLUMNS` plus ``verified`` (a Timestamp or NaT) and geometry
    (EPSG:27700), ordered by name.
    """
    provenance = data.provenance()
    parts = []
    for register, kind in (("groups", "group"), ("premises", "premises")):
        frame = data.layer(register, required=False)
        if frame is None or len(frame) == 0:
            continue
        chosen = frame[frame["ward_code"].isin(area.ward_codes).to_numpy()]
        chosen = chosen.drop(columns=[c for c in registers.PERSONAL_COLUMNS if c in chosen])
        chosen = chosen.rename(columns=_RENAMES[register])
        part = pd.DataFrame(
            {
                c: chosen[c]
                if c in chosen
                else pd.Series(pd.NA, index=chosen.index, dtype="object")
                for c in ASSET_COLUMNS
            }
        )
        part["kind"] = kind
        licences = _provenance_of(provenance, register)
        part["licence"] = part["source_file"].map(licences["licence"])
        part["attribution"] = part["source_file"].map(licences["attribution"])
        part["geometry"] = chosen.geometry
        parts.append(part)
    if not parts:
        return gpd.GeoDataFrame(
            columns=[*ASSET_COLUMNS, "verified", "geometry"],
            geometry="geometry",
            crs=area.wards.crs,
        )
    assets = pd.concat(parts, ignore_index=True)
    names = dict(zip(area.wards["ward_code"], area.wards["ward_name"], strict=True))
    assets["ward_name"] = assets["ward_code"].map(names)
    assets["verified"] = verification.checked_dates(assets["last_verified"])
    # the one rule (mapper.analysis.verification); the column keeps its exported name
    assets["verified_over_12_months_ago"] = verification.due_mask(
        assets["last_verified"], verification.today())
    assets = gpd.GeoDataFrame(assets, geometry="geometry", crs=area.wards.crs)
    return sort_assets(assets, "name")


def _provenance_of(provenance: pd.DataFrame, register: str) -> pd.DataFrame:
    rows = provenance[provenance["layer"] == register]
    return rows.drop_duplicates("source_file", keep="last").set_index("source_file")[
        ["licence", "attribution"]
    ]


def _sort_key(assets: pd.DataFrame, key: str) -> pd.Series:
    def text(column):
        return assets[column].fillna("").astype(str).str.strip().str.lower()

    if key == "verified":
        return assets["verified"]
    if key == "address":
        return text("postcode") + " " + text("address")
    if key == "offer":
        return text("emergency_offer")
    return text(key)


def parse_sort(value: str | None) -> tuple[str, bool]:
    """``?sort=`` -> (key, descending); unknown keys sort by name."""
    value = (value or "name").strip()
    descending = value.startswith("-")
    key = value.lstrip("-")
    return (key, descending) if key in SORTS else ("name", False)


def sort_assets(assets: gpd.GeoDataFrame, key: str, *, descending: bool = False):
    """`assets` sorted by one of :data:`SORTS` (ties by name, then id); blanks last,
    except missing verification dates, which count as the oldest."""
    if len(assets) == 0:
        return assets
    frame = assets.assign(
        _key=_sort_key(assets, key),
        _name=_sort_key(assets, "name"),
        _id=assets["asset_id"].astype(str),
    )
    if key == "verified":
        frame["_key"] = frame["_key"].fillna(pd.Timestamp.min)
    else:
        blanks = frame["_key"].eq("")
        frame["_key"] = frame["_key"].where(~blanks, "\uffff" if not descending else "")
    frame = frame.sort_values(
        ["_key", "_name", "_id"], ascending=[not descending, True, True], kind="stable"
    )
    return frame.drop(columns=["_key", "_name", "_id"])


def search_text(assets: pd.DataFrame) -> pd.Series:
    """What the text search looks through, lower-cased, one string per asset."""
    texts = [assets[c].fillna("").astype(str) for c in SEARCHED if c in assets]
    texts.append(assets["kind"].map(KIND_LABELS).fillna(""))
    joined = texts[0]
    for more in texts[1:]:
        joined = joined + " " + more
    return joined.str.lower().str.split().str.join(" ")


def asset_filter_key(assets: pd.DataFrame) -> pd.Series:
    """``<kind>:<category>`` of each asset (the values of the category filter)."""
    return assets["kind"] + ":" + assets["category"].fillna("").astype(str)


def matches(assets: pd.DataFrame, category: str, query: str) -> pd.Series:
    """Which assets pass the category filter and the text search (every word must occur).

    `category` is '' (all), ``kind:group``, ``kind:premises`` or ``<kind>:<category>``.
    """
    keep = pd.Series(True, index=assets.index)
    if category:
        if category.startswith("kind:"):
            keep &= assets["kind"].eq(category[5:])
        else:
            keep &= asset_filter_key(assets).eq(category)
    words = query.lower().split()
    if words:
        text = search_text(assets)
        for word in words:
            keep &= text.str.contains(word, regex=False)
    return keep


def category_options(assets: pd.DataFrame) -> list[dict]:
    """The category filter's choices, with counts, in the registers' order."""
    keys = asset_filter_key(assets).value_counts()
    kinds = assets["kind"].value_counts()
    options = [{"value": "", "label": f"All groups and premises ({len(assets)})", "group": ""}]
    for kind, vocabulary in (
        ("group", registers.GROUP_CATEGORIES),
        ("premises", registers.PREMISES_TYPES),
    ):
        heading = "VCS groups" if kind == "group" else "Premises"
        options.append(
            {
                "value": f"kind:{kind}",
                "label": f"All {heading.lower()} ({int(kinds.get(kind, 0))})",
                "group": heading,
            }
        )
        present = [k.split(":", 1)[1] for k in keys.index if k.startswith(f"{kind}:")]
        ordered = [c for c in vocabulary if c in present] + sorted(
            c for c in present if c not in vocabulary
        )
        for name in ordered:
            options.append(
                {
                    "value": f"{kind}:{name}",
                    "label": f"{name or 'uncategorised'} ({int(keys[f'{kind}:{name}'])})",
                    "group": heading,
                }
            )
    return options


def asset_rows(assets: gpd.GeoDataFrame, keep: pd.Series,
               texts: pd.Series | None = None) -> list[dict]:
    """Table rows; groups carry ``contact`` when the signed-in user may see it
    (`texts`: :func:`search_text` of the assets, by index, when already made)."""
    texts = search_text(assets) if texts is None else texts.loc[assets.index]
    group_ids = assets.loc[assets["kind"] == "group", "asset_id"].tolist() if len(assets) else []
    contacts = contacts_for(group_ids)
    rows = []
    for i, record in enumerate(assets.drop(columns="geometry").to_dict("records")):
        record["contact"] = contacts.get(str(record["asset_id"])) if record[
            "kind"] == "group" else None
        verified = record["verified"]
        record.update(
            shown=bool(keep.iloc[i]),
            search=texts.iloc[i],
            kind_label=KIND_LABELS[record["kind"]],
            verified_sort=verified.strftime("%Y-%m-%d") if pd.notna(verified) else "",
            stale=bool(record["verified_over_12_months_ago"]),
        )
        rows.append({k: ("" if is_missing(v) else v) for k, v in record.items()})
    return rows


# -- views ------------------------------------------------------------------------------


@bp.get("/neighbourhoods")
def index():
    """Every CAN, and a ward search by name or code."""
    wards = _ward_summary()
    query = request.args.get("q", "").strip()
    if query:
        exact = wards[
            (wards["ward_code"].str.lower() == query.lower())
            | (wards["ward_name"].str.lower() == query.lower())
        ]
        if len(exact) == 1:
            return redirect(url_for(".ward", ward_code=exact.iloc[0]["ward_code"]))
    table = wards.drop(columns="geometry").sort_values(["ward_name", "ward_code"])
    text = (table["ward_name"] + " " + table["ward_code"] + " " + table["borough_name"]).str.lower()
    shown = pd.Series(True, index=table.index)
    for word in query.lower().split():
        shown &= text.str.contains(word, regex=False)
    ward_rows = [
        {**_ward_row(row), "search": text[i], "shown": bool(shown[i])}
        for i, row in table.iterrows()
    ]
    cans = _neighbourhoods()
    return render_template(
        "neighbourhood.html",
        page="index",
        title=f"Neighbourhoods and wards – {_study_area()}",
        study_area=_study_area(),
        synthetic=_synthetic(),
        cans=[] if cans is None else _can_rows(cans),
        retired=identity.retired_rows(),
        wards=ward_rows,
        ward_count=len(ward_rows),
        shown_count=int(shown.sum()),
        query=query,
        settings=_settings(),
        unavailable_measures=data.unavailable_measures(),
        **_footer(),
    )


def _ward_row(row) -> dict:
    return {
        "ward_code": row["ward_code"],
        "ward_name": row["ward_name"],
        "borough_name": row["borough_name"],
        "population": fmt(row.get("population", np.nan), "count"),
        "imd_score": fmt(row.get("imd_score", np.nan), "score"),
        "unmet_need": fmt(row.get("unmet_need", np.nan), "index"),
        "can_id": "" if is_missing(row.get("can_id")) else str(row["can_id"]),
    }


def _can_rows(cans: pd.DataFrame) -> list[dict]:
    return [
        {
            "can_id": row["can_id"],
            "rank": int(row["rank"]),
            "name": row["name"],
            "wards": int(row["wards"]),
            "boroughs": row["boroughs"],
            "population": fmt(row["population"], "count"),
            "unmet_need": fmt(row["unmet_need"], "index"),
            "groups_total": fmt(row["groups_total"], "count"),
            "premises_total": fmt(row["premises_total"], "count"),
            "incidents": fmt(row["incidents"], "count"),
            "top_drivers": "; ".join(
                driver_label(d.strip())
                for d in str(row["top_drivers"] or "").split(";")
                if d.strip()
            ),
        }
        for _, row in cans.iterrows()
    ]


@bp.get("/neighbourhood/<can_id>")
def neighbourhood(can_id: str):
    """A Community Action Neighbourhood's page (a retired id says what replaced it; an id
    written otherwise, ``can-1`` or ``CAN-001``, redirects to the id as issued)."""
    moved = _canonical(".neighbourhood", can_id)
    if moved is not None:
        return moved
    cans = _neighbourhoods()
    if cans is None or can_id not in set(cans["can_id"]):
        retired = identity.retired_page(can_id)  # a retired id: say what replaced it
        if retired is not None:
            return retired
    return _area_page(find_neighbourhood(can_id))


def _canonical(endpoint: str, can_id: str, **values):
    """The permanent redirect of a CAN id written otherwise than issued, or None."""
    cans = _neighbourhoods()
    current = [] if cans is None else cans["can_id"].astype(str)
    return identity.canonical_redirect(endpoint, can_id, current, **values)


@bp.get("/ward/<ward_code>")
def ward(ward_code: str):
    """A ward's page."""
    if ward_code != ward_code.upper():
        args: dict[str, Any] = request.args.to_dict()
        return redirect(url_for(".ward", ward_code=ward_code.upper(), **args))
    return _area_page(find_ward(ward_code))


@bp.get("/neighbourhood/<can_id>/assets.<fmt_name>")
def neighbourhood_export(can_id: str, fmt_name: str):
    """A neighbourhood's groups and premises as a download (CSV, GeoJSON ...)."""
    moved = _canonical(".neighbourhood_export", can_id, fmt_name=fmt_name)
    if moved is not None:
        return moved
    return _export(find_neighbourhood(can_id), fmt_name)


@bp.get("/ward/<ward_code>/assets.<fmt_name>")
def ward_export(ward_code: str, fmt_name: str):
    """A ward's groups and premises as a download (CSV, GeoJSON ...)."""
    return _export(find_ward(ward_code), fmt_name)


def _area_page(area: Area):
    chosen = data.chosen_incident_filter(request.args)
    fixed = area_parts(area)
    if chosen is not None:  # the incident figures of the filter, the rest as stored
        fixed = {**fixed, **filtered_parts(area, chosen)}
    base = fixed["assets"]
    category = request.args.get("category", "")
    query = request.args.get("q", "").strip()
    sort_key, descending = parse_sort(request.args.get("sort"))
    assets = base if (sort_key, descending) == ("name", False) else sort_assets(
        base, sort_key, descending=descending)
    keep = matches(assets, category, query)
    return render_template(
        "neighbourhood.html",
        page="area",
        title=f"{area.label} – {_study_area()}",
        area=area,
        study_area=_study_area(),
        synthetic=_synthetic(),
        unavailable_measures=data.unavailable_measures(),
        **{k: v for k, v in fixed.items() if k not in ("assets", "texts", "incidents_counted")},
        assets=asset_rows(assets, keep, texts=fixed["texts"]),
        asset_count=len(assets),
        shown_count=int(keep.sum()),
        verification_months=verification.VERIFICATION_MONTHS,
        recheck=_recheck_link(area),
        category=category,
        query=query,
        sort_key=sort_key,
        descending=descending,
        sorts=SORTS,
        export_urls=_export_urls(area, category, query),
        boundary_urls=({f: url_for(".boundary_export", can_id=area.id, fmt_name=f,
                                   **incident_args(chosen))
                        for f in BOUNDARY_FORMATS} if area.kind == "neighbourhood" else {}),
        incident_filter=chosen,
        incident_args=incident_args(chosen),
        incident_months=data.incident_months(),
        incident_types=data.incident_types(),
        incidents_counted=fixed.get("incidents_counted", ""),
        contact_list_url=_contact_list_url(area),
        today=date.today().isoformat(),
        **_footer(),
    )


def area_parts(area: Area) -> dict:
    """What an area's page shows whatever the request asks (profile, domains, trend, the
    map, its assets by name): made once per workspace version (and day: the re-checking
    flags), not on every request."""
    tiles = basemap.map_tiles()
    context_layers = basemap.context_overlay()
    asset_base_url = f"{request.script_root}/vendor"

    def build(_workspace) -> dict:
        wards = _ward_summary()
        settings = _settings()
        columns = comparators(area, wards)
        domains = domain_rows(area, columns)
        trend = incident_trend(area, settings)
        assets = area_assets(area)
        parts = map_parts(_map(area, assets, wards, settings, tiles=tiles,
                               context_layers=context_layers,
                               asset_base_url=asset_base_url))
        return {
            "area_wards": [_ward_row(row) for _, row in area.wards.iterrows()],
            "can": _can_of(area),
            "settings": settings,
            "columns": columns,
            "profile": profile_rows(area, columns),
            "domains": domains,
            "domain_chart": domain_svg(domains, columns, area) if domains else "",
            "trend": trend,
            "trend_chart": trend_svg(trend, area) if trend else "",
            "map": parts,
            "assets": assets,
            "texts": search_text(assets),
            "stale_count": int(assets["verified_over_12_months_ago"].sum())
            if len(assets) else 0,
            "categories": category_options(assets),
            "drivers": _drivers(area),
            "why": _why(area),
            "care": _care(area),
            "ranks": _ranks(area, wards),
        }

    variant = (area.kind, area.id, repr(tiles), asset_base_url, verification.today(),
               context_layers)
    if area.kind == "neighbourhood":  # every CAN's page is warmed at start: all kept
        cans = _neighbourhoods()
        return data.cached(CAN_PAGES, build, variant=variant,
                           keep=data.VARIANTS_PER_KIND + (0 if cans is None else len(cans)))
    return data.cached(WARD_PAGES, build, variant=variant)  # the 16 last visited


#: the cache kinds of the CAN pages' parts (one per CAN, all warmed at start and kept)
#: and of the ward pages' parts (made on a ward page's first visit, the last 16 kept)
CAN_PAGES = "neighbourhoods:can-page"
WARD_PAGES = "neighbourhoods:page"


def incident_args(chosen) -> dict[str, Any]:
    """The query parameters of an incident filter (none for None), for the page's links
    and forms."""
    if chosen is None:
        return {}
    out: dict[str, Any] = {"incidents_from": chosen.start, "incidents_to": chosen.end}
    if chosen.kind:
        out["incident_type"] = chosen.kind
    return out


def filtered_parts(area: Area, chosen) -> dict:
    """The parts of an area's page an incident filter changes: the profile (its incident
    rows, with the borough and study area, from
    :func:`mapper.web.data.filtered_ward_summary`), the trend (the filter's type; every
    month the sources cover, so recent months compare with a baseline) and what is
    counted, in words ("burglary, Sep 2024 - Feb 2025, 12 incidents")."""

    def build(_workspace) -> dict:
        wards = data.filtered_ward_summary(chosen)
        mine = wards[wards["ward_code"].isin(set(area.ward_codes))]
        here = Area(area.kind, area.id, area.name, mine, area.summary)
        columns = comparators(here, wards, view=(chosen.start, chosen.end, chosen.kind))
        settings = _settings()
        if chosen.kind:
            settings = replace(settings, incident_types=chosen.kind)
        trend = incident_trend(area, settings)
        total = mine["incidents"].sum(min_count=1)
        return {
            "columns": columns,
            "profile": profile_rows(here, columns),
            "trend": trend,
            "trend_chart": trend_svg(trend, area) if trend else "",
            "incidents_counted": chosen.words(None if pd.isna(total) else int(total)),
        }

    return data.cached("neighbourhoods:filtered", build,
                       variant=(area.kind, area.id, chosen.start, chosen.end, chosen.kind))


def prepare() -> None:
    """Make what the neighbourhood and ward pages share (the ward and borough summaries,
    the incident trend's counts, the layers grouped deprivation is made from) and the
    first CAN's page now, not on the first request (call in a request context); the
    other CANs' pages are :func:`prepare_all`'s."""
    if data.layer("ward_summary", required=False) is None:
        return
    cans = _neighbourhoods()
    incident_coverage_plan(_settings())
    data.layer("borough_summary", required=False)
    data.layer("deprivation", required=False)  # grouped_value's, for every CAN page
    data.layer("lsoa_ward_weights", required=False)
    if cans is not None:
        area_parts(find_neighbourhood(str(cans["can_id"].iloc[0])))


def prepare_all() -> Iterator[str]:
    """Make every CAN's page parts, in rank order, yielding each CAN's id once made, then
    each borough's comparator values (what its ward pages share), yielding its code (the
    server's background warm-up, after :func:`prepare`, pauses between steps while
    requests are answered; call in a request context). A request for a CAN not warmed yet
    makes it itself, or waits for the warm-up making it."""
    cans = _neighbourhoods()
    if data.layer("ward_summary", required=False) is None or cans is None:
        return
    for can_id in cans["can_id"].astype(str):
        area_parts(find_neighbourhood(can_id))
        yield can_id
    wards = _ward_summary()  # what every ward page of a borough shares: its comparators
    for _code, in_borough in wards.groupby("borough_code", sort=True):
        area = find_ward(str(in_borough["ward_code"].iloc[0]))
        columns = comparators(area, wards)
        profile_rows(area, columns)
        domain_rows(area, columns)
        yield str(_code)


def _contact_list_url(area: Area) -> str:
    """The area's contact list, for users who may see any of its contacts; else ""."""
    if not may_list(area.ward_codes):
        return ""
    scope: dict[str, Any] = {area.kind: area.id}
    return url_for("contact_lists.page", **scope)


def _recheck_link(area: Area) -> dict | None:
    """For users who may review it: how many of the area's open records are due for
    re-checking, and the list's address (None for everyone else)."""
    count = due_count(area.ward_codes)
    if count is None:
        return None
    if area.kind == "neighbourhood":
        url = url_for("recheck.neighbourhood", can_id=area.id)
    else:
        url = url_for("recheck.ward", ward_code=area.id)
    return {"count": count, "url": url}


def _export_urls(area: Area, category: str, query: str) -> dict[str, str]:
    args: dict[str, Any] = {k: v for k, v in (("category", category), ("q", query)) if v}
    if area.kind == "neighbourhood":
        return {
            f: url_for(".neighbourhood_export", can_id=area.id, fmt_name=f, **args)
            for f in EXPORT_FORMATS
        }
    return {
        f: url_for(".ward_export", ward_code=area.id, fmt_name=f, **args) for f in EXPORT_FORMATS
    }


def _drivers(area: Area) -> list[str]:
    """What pushes the area's unmet-need index up, largest first."""
    if area.summary is not None and not is_missing(area.summary.get("top_drivers")):
        names = [d.strip() for d in str(area.summary["top_drivers"]).split(";") if d.strip()]
    else:
        contributions = {
            name: combine(area.wards, f"contrib_{name}") for name in COMPONENTS
        }
        names = [
            n
            for n, v in sorted(contributions.items(), key=lambda kv: -kv[1])
            if np.isfinite(v) and v > 0
        ][:2]
    # need was measured by the IMD average rank when the deprivation data has no scores
    by_rank = "imd_score" not in area.wards or not area.wards["imd_score"].notna().any()
    return [driver_label(n, need_by_rank=by_rank) for n in names]


def _why(area: Area) -> dict | None:
    """A neighbourhood's reasons (mapper.analysis.reasons) and stability, or None."""
    summary = area.summary
    if area.kind != "neighbourhood" or summary is None or is_missing(summary.get("reasons")):
        return None
    stability = summary.get("stability")
    return {"reasons": str(summary["reasons"]),
            "stability": None if stability is None or is_missing(stability)
            else fmt(float(stability), "share"),
            "label": "" if is_missing(summary.get("stability_label"))
            else str(summary["stability_label"])}


def _care(area: Area) -> list[dict]:
    """The area's wards whose figures are to be read with care, and why
    (``unreliable_reason`` of the analysis; none from an analysis stored before it)."""
    if "unreliable_reason" not in area.wards:
        return []
    reasons = area.wards["unreliable_reason"].fillna("").astype(str)
    flagged = area.wards[reasons != ""]
    return [{"ward_name": str(row["ward_name"]), "reason": reasons[index]}
            for index, row in flagged.iterrows()]


def _ranks(area: Area, wards: pd.DataFrame) -> dict:
    """For a ward: its rank in the study area by IMD score and by unmet need."""
    out: dict[str, object] = {"wards": len(wards)}
    if area.kind == "neighbourhood":
        cans = _neighbourhoods()
        out["cans"] = 0 if cans is None else len(cans)
        out["rank"] = int(area.summary["rank"]) if area.summary else None
        return out
    row = area.wards.iloc[0]
    for column in ("imd_rank_in_area", "unmet_need_rank"):
        value = row.get(column)
        out[column] = None if is_missing(value) else int(value)
    for column in ("candidate", "stability"):
        out[column] = None if is_missing(row.get(column)) else row.get(column)
    return out


def ordinal(number: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th'."""
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number:,}{suffix}"


@bp.app_template_filter("nb_ordinal")
def _ordinal_filter(number) -> str:
    return ordinal(int(number))


def _can_of(area: Area) -> dict | None:
    """For a ward: the CAN it belongs to (id and name), if any."""
    if area.kind != "ward":
        return None
    can_id = area.wards.iloc[0].get("can_id")
    if is_missing(can_id):
        return None
    cans = _neighbourhoods()
    name = ""
    if cans is not None and (cans["can_id"] == can_id).any():
        name = str(cans.loc[cans["can_id"] == can_id, "name"].iloc[0])
    return {"can_id": str(can_id), "name": name}


def _map(area: Area, assets: gpd.GeoDataFrame, wards: gpd.GeoDataFrame, settings: Settings,
         *, tiles: basemap.Tiles, context_layers, asset_base_url: str):
    outline = area.wards[["ward_code", "ward_name", "borough_name", "geometry"]]
    if area.kind == "neighbourhood":
        outline = outline.dissolve().assign(ward_name=area.label)[outline.columns]
    around = area.wards.geometry.union_all().buffer(400)
    context = wards[~wards["ward_code"].isin(area.ward_codes) & wards.geometry.intersects(around)]
    gaps = data.layer("coverage_gaps", required=False)
    if gaps is not None and "ward_code" in gaps:
        gaps = gaps[gaps["ward_code"].isin(area.ward_codes)]
    category = settings.coverage_category or "any group"
    return asset_map(
        outline,
        assets,
        wards=area.wards if area.kind == "neighbourhood" else None,
        context=context,
        gaps=gaps,
        gap_label=f"Homes more than {settings.coverage_radius_m:,.0f} m from {category}",
        tiles=tiles,
        context_layers=context_layers,
        asset_base_url=asset_base_url,
    )


def _footer() -> dict:
    provenance = data.provenance()
    shown = [c for c in SOURCE_COLUMNS if c in provenance.columns]
    return {
        "sources": provenance[shown].fillna("").astype(str).to_dict("records"),
        "source_columns": SOURCE_COLUMNS,
        "tiles": basemap.kind(),
    }


# -- exports --------------------------------------------------------------------------

EXPORT_FORMATS = ("csv", "geojson")


def _export(area: Area, fmt_name: str):
    if fmt_name not in EXPORT_FORMATS:
        abort(
            404,
            description=(
                f"No export as '.{fmt_name}': the assets can be exported as "
                + " or ".join(f"assets.{f}" for f in EXPORT_FORMATS)
                + "."
            ),
        )
    assets = area_assets(area)
    category = request.args.get("category", "")
    query = request.args.get("q", "").strip()
    assets = assets[matches(assets, category, query).to_numpy()]
    stem = f"{area.id}-assets"
    body: bytes | str
    if fmt_name == "csv":
        body, mimetype = export_csv(assets), "text/csv"
    else:
        body, mimetype = (
            export_geojson(assets, area, {"category": category, "q": query}),
            ("application/geo+json"),
        )
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt_name}"'},
    )


def _export_table(assets: gpd.GeoDataFrame) -> pd.DataFrame:
    table = pd.DataFrame(assets[ASSET_COLUMNS]).copy()
    table["verified_over_12_months_ago"] = table["verified_over_12_months_ago"].map(
        {True: "yes", False: "no"}
    )
    return table.astype(object).where(table.notna(), None)


def export_csv(assets: gpd.GeoDataFrame) -> bytes:
    """The assets as CSV: WGS84 and British National Grid coordinates, source, licence and
    attribution on every row."""
    table = _export_table(assets)
    if len(assets):
        shown = to_display(assets.geometry)
        table["longitude"], table["latitude"] = shown.x.round(6), shown.y.round(6)
        table["easting"], table["northing"] = assets.geometry.x.round(1), assets.geometry.y.round(1)
    else:
        for column in ("longitude", "latitude", "easting", "northing"):
            table[column] = []
    return spreadsheet_csv(table)  # BOM for Excel; no cell runs as a formula


def export_geojson(assets: gpd.GeoDataFrame, area: Area, filters: dict) -> bytes:
    """The assets as GeoJSON (WGS84) with top-level attribution, licences and provenance."""
    shown = gpd.GeoDataFrame(_export_table(assets), geometry=to_display(assets.geometry).array)
    features = geojson.encode_features(shown, placeholders=True)
    provenance = data.provenance()
    used = provenance[
        provenance["layer"].isin(["groups", "premises"])
        & provenance["source_file"].isin(set(assets["source_file"].dropna()))
    ]
    used = used[
        [
            c
            for c in ("layer", "source_file", "vintage", "licence", "attribution", "imported_at")
            if c in used
        ]
    ]
    meta = data.meta()
    members = {
        "name": f"{area.id} assets",
        "area": {
            "kind": area.kind,
            "id": area.id,
            "name": area.name,
            "ward_codes": area.ward_codes,
        },
        "filters": {k: v for k, v in filters.items() if v},
        "attribution": " ".join(dict.fromkeys(used["attribution"].astype(str))),
        "licences": sorted(set(used["licence"].astype(str))),
        "provenance": used.astype(str).to_dict("records"),
        "study_area": meta.get("study_area", ""),
        "synthetic": str(meta.get("synthetic", "")).lower() == "yes",
        "personal_data": "left out: contact details are shown only to signed-in partners",
        "exported_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    return geojson.collection(features, members)


# -- CAN boundaries -------------------------------------------------------------------

#: the formats of the CAN boundary downloads, and what each holds
BOUNDARY_FORMATS = {"geojson": "the CAN boundaries as GeoJSON (WGS84)",
                    "gpkg": "the CAN boundaries and their wards as a GeoPackage "
                            "(British National Grid)",
                    "csv": "the wards of each CAN as CSV"}
#: the filters of the pages linking here, recorded in the file (query parameter names)
BOUNDARY_FILTERS = ("borough", "indicator", "scheme", "classes", "incidents_from",
                    "incidents_to", "incident_type")
#: columns of the CAN layer the boundary downloads carry, in order (those present)
CAN_COLUMNS = ("can_id", "rank", "name", "wards", "ward_codes", "boroughs", "population",
               "unmet_need", "imd_score", "groups_total", "premises_total", "incidents",
               "top_drivers", "stability", "stability_label", "reasons")


@bp.get("/neighbourhoods/boundaries.<fmt_name>")
def boundaries_export(fmt_name: str):
    """Every CAN's boundary (or those touching ``?borough=``) as a download."""
    cans = _neighbourhoods()
    borough = request.args.get("borough", "")
    if cans is not None and borough:
        boroughs = set(_ward_summary()["borough_code"].astype(str))
        if borough not in boroughs:
            abort(400, description=f"borough '{borough}' is not in the study area; choose "
                  f"one of {', '.join(sorted(boroughs))}")
        cans = cans[[borough in str(b).split("; ") for b in cans["boroughs"]]]
    stem = f"cans-{borough}" if borough else "cans"
    return _boundaries(cans, fmt_name, stem, "Community Action Neighbourhoods")


@bp.get("/neighbourhood/<can_id>/boundary.<fmt_name>")
def boundary_export(can_id: str, fmt_name: str):
    """One CAN's boundary (GeoJSON, GeoPackage) or its wards (CSV)."""
    moved = _canonical(".boundary_export", can_id, fmt_name=fmt_name)
    if moved is not None:
        return moved
    area = find_neighbourhood(can_id)
    cans = _neighbourhoods()
    assert cans is not None  # find_neighbourhood answered 404 otherwise
    return _boundaries(cans[cans["can_id"] == area.id], fmt_name, f"{area.id}-boundary",
                       f"Community Action Neighbourhood {area.label}")


def _boundaries(cans: gpd.GeoDataFrame | None, fmt_name: str, stem: str, title: str):
    if fmt_name not in BOUNDARY_FORMATS:
        abort(404, description=f"No download as '.{fmt_name}': the boundaries come as "
              + ", ".join(f"boundaries.{f} ({text})" for f, text in BOUNDARY_FORMATS.items())
              + ".")
    wards = _ward_summary()
    chosen = data.chosen_incident_filter(request.args)
    if chosen is not None:  # the incident figures count what the page's filter counts
        wards = data.filtered_ward_summary(chosen)
    indicator_column = request.args.get("indicator", "")
    if indicator_column and indicator_column not in wards:
        abort(400, description=f"indicator '{indicator_column}' is not a ward figure of "
              "this analysis")
    if cans is None:
        cans = gpd.GeoDataFrame({c: [] for c in CAN_COLUMNS}, geometry=[], crs=wards.crs)
    shown = cans[[c for c in CAN_COLUMNS if c in cans] + [cans.geometry.name]]
    filters = {k: request.args.get(k, "") for k in BOUNDARY_FILTERS}
    if chosen is not None and "incidents" in shown:
        from mapper.analysis.incidents import incidents_by

        counts = incidents_by(wards, "can_id")
        shown = shown.assign(incidents=shown["can_id"].map(counts))
        filters["incidents_counted"] = chosen.words(int(counts.reindex(
            shown["can_id"]).sum()))
    info = downloads.about(title, filters, layers=("wards", "boroughs", "neighbourhoods",
                                                   "ward_summary", "deprivation",
                                                   "population", "groups", "premises",
                                                   "incidents"))
    name = f"{stem}.{fmt_name}"
    if fmt_name == "geojson":
        return downloads.geojson_response(shown, info, name)
    can_wards = _can_wards(shown, wards, indicator_column)
    if fmt_name == "csv":
        return downloads.csv_response(can_wards, info, name)
    return downloads.gpkg_response({"cans": shown.to_crs(wards.crs) if shown.crs else shown,
                                    "can_wards": can_wards}, info, name)


def _can_wards(cans: pd.DataFrame, wards: pd.DataFrame, indicator_column: str) -> pd.DataFrame:
    """One row per ward of each CAN in `cans`: the CAN (id, rank, name), the ward (code,
    name, borough) and the indicator's value when one is asked for; by CAN rank, then
    ward name."""
    columns = ["ward_code", "ward_name", "borough_code", "borough_name"]
    if indicator_column and indicator_column not in columns:
        columns.append(indicator_column)
    inside = wards[wards["can_id"].isin(set(cans["can_id"]))]
    table = pd.DataFrame(inside[["can_id", *columns]])
    heads = pd.DataFrame(cans[["can_id", "rank", "name"]]).rename(columns={"name": "can_name",
                                                                           "rank": "can_rank"})
    table = heads.merge(table, on="can_id", how="inner")
    return table.sort_values(["can_rank", "ward_name", "ward_code"],
                             kind="stable").reset_index(drop=True)
