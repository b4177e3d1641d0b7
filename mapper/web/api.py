"""The JSON API under ``/api``: wards, neighbourhoods, the registers and nearest groups.

Every list answer is a GeoJSON FeatureCollection in WGS84 longitude/latitude (coordinates
rounded to 6 decimals, about 0.1 m) carrying top-level ``attribution``, ``licences``,
``synthetic``, ``study_area`` and the normalised ``query`` it answered. Personal data
(:data:`mapper.registers.PERSONAL_COLUMNS`: contact names, phones, e-mails, websites,
details found in free text) is part of an answer only for a signed-in user allowed to see
it (:mod:`mapper.web.contacts`): a ``contact`` member on the group's properties, in
/api/nearest and /api/groups.

Parameters are checked before anything is looked up and *every* problem is reported in one
400 answer, ``{"error": "k='0': expected a whole number from 1 to 100; ..."}``, each naming
the parameter, the value seen and what was expected. Multi-valued parameters may be
repeated (``category=faith&category=food``) or comma-separated (``category=faith,food``).
Unknown parameters are an error too (a typo must not silently widen a search); ``_``, the
cache-buster some HTTP clients add, is ignored.

Answers are fast because each layer is turned into feature text once per version of the
workspace (through :func:`mapper.web.data.cached`) and a request only filters rows and
joins the texts; nearest-group queries use the cached k-d trees of
:func:`mapper.web.data.nearest_index`.

The endpoints, their parameters and responses are described once, in :data:`ENDPOINTS`,
from which both ``/api/openapi.json`` and the ``/api/docs`` page are generated and against
which each request's parameter names are checked.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import quote, urlencode

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, abort, current_app, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, NotFound

from mapper import __version__, geojson
from mapper.analysis import indicators
from mapper.analysis.incidents import incident_type_lookup
from mapper.analysis.nearest import K_DEFAULT, K_MAX, MAX_OUTSIDE_M, parse_capabilities
from mapper.can_history import id_order, resolve_id
from mapper.errors import MapperError
from mapper.geo import CRS_ANALYSIS, UK_LONLAT_BOUNDS, grid_from_lonlat, to_display
from mapper.postcodes import normalise_postcode, postcode_point, postcode_table
from mapper.registers import (
    EMERGENCY_OFFERS,
    GROUP_CATEGORIES,
    PREMISES_TYPES,
    STATUSES,
)
from mapper.sources.codes import CODE_PATTERNS  # what a GSS code of each kind looks like
from mapper.web import data
from mapper.web.layers import (  # the layers' feature texts, shared with web/features.py
    COORD_DECIMALS,
    OFFSET_MAX,
    PAGE_LIMIT_MAX,
    Table,
    incidents_in_box,
    parse_bbox,
)
from mapper.web.layers import collection_head as _collection_head
from mapper.web.layers import contacts_of as _contacts
from mapper.web.layers import features as _features
from mapper.web.layers import groups_table as _groups_table
from mapper.web.layers import incidents_table as _incidents_table
from mapper.web.layers import neighbourhoods_table as _neighbourhoods_table
from mapper.web.layers import premises_table as _premises_table
from mapper.web.layers import wards_table as _wards_table
from mapper.web.layers import with_contacts as _with_contacts

bp = Blueprint("api", __name__, url_prefix="/api")

RADIUS_MAX_M = 50_000
#: list answers (wards, neighbourhoods, groups, premises, incidents) come in pages of at
#: most PAGE_LIMIT_MAX features (the default; web/layers.py, shared with /ogc), a page
#: ending early before its features pass PAGE_MAX_BYTES; ``next`` is the following page
PAGE_MAX_BYTES = 4_000_000
Q_MAX_CHARS = 200
LON_MIN, LAT_MIN, LON_MAX, LAT_MAX = UK_LONLAT_BOUNDS
#: query parameters ignored everywhere (the cache-buster of jQuery and others)
IGNORED_PARAMETERS = ("_",)
GEOJSON = "application/geo+json"

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


# == what the API offers: one description feeding validation, OpenAPI and the docs page ====


@dataclass(frozen=True)
class Endpoint:
    """One GET endpoint: what it answers, its query parameters and example queries."""

    summary: str
    description: str
    parameters: tuple[dict, ...] = ()
    examples: tuple[str, ...] = ()
    response: str = "FeatureCollection"
    members: dict = field(default_factory=dict)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(p["name"] for p in self.parameters)


def _param(name: str, description: str, schema: dict, *, many: bool = False) -> dict:
    """An OpenAPI query parameter; `many`: repeatable or comma-separated."""
    if many:
        description += " Repeat the parameter or separate values with commas."
        schema = {"type": "array", "items": schema}
    spec = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    if many:
        spec |= {"style": "form", "explode": True}
    return spec


_CODE = {"type": "string"}
P_BOROUGH = _param(
    "borough",
    "Only these local authority districts (GSS codes: E06, E07, E08 or E09 in England, "
    "W06 in Wales).",
    {**_CODE, "pattern": f"^(?:{CODE_PATTERNS['lad']})$"},
    many=True,
)
P_WARD = _param(
    "ward",
    "Only these wards (GSS codes: E05 in England, W05 in Wales).",
    {**_CODE, "pattern": f"^(?:{CODE_PATTERNS['ward']})$"},
    many=True,
)
P_CAN = _param(
    "can_id",
    "Only the wards of these Community Action Neighbourhoods.",
    {**_CODE, "pattern": "^CAN-[0-9]+$"},
    many=True,
)
P_GEOMETRY = _param(
    "geometry",
    "false: features with null geometry (for tables).",
    {"type": "boolean", "default": True},
)
P_CATEGORY = _param(
    "category",
    "Only groups of these categories.",
    {"type": "string", "enum": list(GROUP_CATEGORIES)},
    many=True,
)
P_Q = _param(
    "q",
    "Case-insensitive text search: every word must appear in the name or description.",
    {"type": "string", "maxLength": Q_MAX_CHARS},
)
P_LAT = _param(
    "lat",
    "Latitude of the origin, decimal degrees (WGS84). Give lat and lon, or postcode.",
    {"type": "number", "minimum": LAT_MIN, "maximum": LAT_MAX},
)
P_LON = _param(
    "lon",
    "Longitude of the origin, decimal degrees (WGS84).",
    {"type": "number", "minimum": LON_MIN, "maximum": LON_MAX},
)
P_POSTCODE = _param(
    "postcode",
    "Origin at this postcode's centroid (any case and spacing); instead of lat and lon.",
    {"type": "string"},
)
P_K = _param(
    "k",
    "How many groups, at most.",
    {"type": "integer", "minimum": 1, "maximum": K_MAX, "default": K_DEFAULT},
)
P_RADIUS = _param(
    "radius_m",
    "Only groups within this straight-line distance in metres (a group on the circle counts).",
    {"type": "number", "exclusiveMinimum": 0, "maximum": RADIUS_MAX_M},
)
P_OFFER = _param(
    "offer",
    "Only groups offering all of these in an emergency.",
    {"type": "string", "examples": list(EMERGENCY_OFFERS)},
    many=True,
)
P_STATUS = _param(
    "status",
    "Only records of these statuses (closed records are listed, marked, unless left out "
    "here; they never appear in nearest answers).",
    {"type": "string", "enum": list(STATUSES)},
    many=True,
)
P_PREMISES_TYPE = _param(
    "type",
    "Only premises of these types.",
    {"type": "string", "enum": list(PREMISES_TYPES)},
    many=True,
)
P_INCIDENT_TYPE = _param(
    "type",
    "Only incidents of these types: the incident-type vocabulary (police.uk crime types "
    "and tension-monitoring categories, e.g. Burglary, Hate incident; case-insensitive; "
    "other spellings of mapper/mappings/incident_types.csv such as ASB also match).",
    {"type": "string"},
    many=True,
)
P_FROM = _param(
    "from",
    "First month, inclusive.",
    {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2024-06"]},
)
P_TO = _param(
    "to",
    "Last month, inclusive.",
    {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2025-05"]},
)
P_LIMIT = _param(
    "limit",
    f"Features in this page, at most {PAGE_LIMIT_MAX:,}; a page also ends before its "
    f"features pass {PAGE_MAX_BYTES / 1e6:g} MB. Follow `next` for the rest.",
    {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT_MAX, "default": PAGE_LIMIT_MAX},
)
P_BBOX = _param(
    "bbox",
    "Only features whose geometry meets this box: west,south,east,north in WGS84 "
    "degrees (longitude, latitude), e.g. -0.2,51.4,0.1,51.6. A map asks for what is in "
    "its view this way instead of for everything.",
    {"type": "string", "pattern": "^[-+0-9.eE]+(,[-+0-9.eE]+){3}$"},
)
P_OFFSET = _param(
    "offset",
    "Matches to skip before this page (the `next` link sets it).",
    {"type": "integer", "minimum": 0, "maximum": OFFSET_MAX, "default": 0},
)
#: members of every paged answer
PAGE_MEMBERS = {
    "total": {"type": "integer", "description": "every match, in all pages"},
    "offset": {"type": "integer"},
    "returned": {"type": "integer", "description": "features in this page"},
    "truncated": {"type": "boolean", "description": "more matches follow this page"},
    "next": {"type": ["string", "null"], "description": "the URL of the next page"},
    "numberMatched": {"type": "integer", "description": "total, as OGC API Features says it"},
    "numberReturned": {"type": "integer", "description": "returned, as OGC API Features "
                       "says it"},
}

P_Q_PLACE = _param(
    "q",
    "A ward, borough or CAN name or code, or a postcode (any case and spacing).",
    {"type": "string", "minLength": 1, "maxLength": 100},
)

ENDPOINTS: dict[str, Endpoint] = {
    "/api/wards": Endpoint(
        "Wards with their need and asset measures",
        "One feature per ward from the analysis (ward_summary), or the bare ward boundaries "
        "when the workspace has not been analysed. Properties: ward_code, ward_name, "
        "borough_code, borough_name, population, imd_score, unmet_need, can_id (null "
        "outside a Community Action Neighbourhood) and every other measure of the "
        "analysis, each described in the WardProperties schema (from the indicator "
        "registry; the README's indicator table says the same); missing values are null. "
        "unavailable_measures names the deprivation measures the workspace's IoD data "
        "cannot give (null in every feature), each with the reason.",
        (P_BOROUGH, P_CAN, P_BBOX, P_GEOMETRY, P_LIMIT, P_OFFSET),
        ("", "geometry=false", "borough={borough}", "can_id={can_id}", "bbox={bbox}"),
        members={"layer": {"type": "string", "enum": ["ward_summary", "wards"]},
                 "features": {"type": "array", "items": {"allOf": [
                     {"$ref": "#/components/schemas/Feature"},
                     {"type": "object", "properties": {
                         "properties": {"$ref": "#/components/schemas/WardProperties"}}}]}},
                 "unavailable_measures": {
                     "type": "object", "additionalProperties": {"type": "string"},
                     "description": "measure -> why it was not computed (for example IoD "
                     "File 1 has ranks but no scores)"},
                 **PAGE_MEMBERS},
    ),
    "/api/neighbourhoods": Endpoint(
        "Community Action Neighbourhoods, in rank order",
        "One feature per CAN (dissolved outline) with its summary: can_id, rank, name, "
        "wards, ward_codes, boroughs, population, unmet_need, groups_total, premises_total, "
        "incidents, imd_score, top_drivers, reasons (why chosen: the indicators on which "
        "the CAN stands out, with values), reason_keys, stability (share of perturbed "
        "re-runs that find it again) and stability_label (robust, moderate, marginal).",
        (P_GEOMETRY, P_LIMIT, P_OFFSET),
        ("", "geometry=false"),
        members=PAGE_MEMBERS,
    ),
    "/api/nearest": Endpoint(
        "The VCS groups nearest a point or postcode",
        "Groups ordered by straight-line distance (ties by group_id), each with distance_m "
        "(whole metres) and the group's public record: group_id, name, category, "
        "description, emergency_offer, offer_source, languages, communities_served, "
        "opening_hours, last_verified, status, address, postcode, location_note (set when "
        "the point is far from its own postcode: check the location), ward_code, "
        "borough_code, duplicate_of... Closed groups are never listed. Contact "
        "details (a 'contact' member) only for signed-in officers and administrators, and "
        "partners for groups in the wards granted to them; never for anonymous requests. "
        "Top-level origin {lat, lon, postcode?} is the point measured from. An unknown "
        "postcode answers 404.",
        (P_LAT, P_LON, P_POSTCODE, P_K, P_CATEGORY, P_OFFER, P_RADIUS),
        (
            "lat={lat}&lon={lon}",
            "postcode={postcode}&k=5",
            "lat={lat}&lon={lon}&category=faith&offer=rest centre&radius_m=2000",
        ),
        members={
            "origin": {
                "type": "object",
                "properties": {
                    "lat": {"type": "number"},
                    "lon": {"type": "number"},
                    "postcode": {"type": "string"},
                },
            }
        },
    ),
    "/api/groups": Endpoint(
        "VCS groups (without personal data)",
        "Every group of the register: group_id, name, category, description, "
        "communities_served, faith, languages, address, postcode, opening_hours, "
        "emergency_offer and offer_source (where each capability came from), "
        "charity_number, last_verified, status and status_source (open, temporarily "
        "closed, closed or unknown, and where that came from), the source fields (with "
        "location_note when the point needs checking), areas "
        "and duplicate_of/duplicate_reason (likely duplicates are included, flagged).",
        (P_BOROUGH, P_WARD, P_CATEGORY, P_STATUS, P_Q, P_BBOX, P_GEOMETRY, P_LIMIT,
         P_OFFSET),
        ("", "category=faith,food", "borough={borough}&q=centre", "status=open,unknown",
         "limit=100&offset=100"),
        members=PAGE_MEMBERS,
    ),
    "/api/premises": Endpoint(
        "Community premises",
        "Every premises record: premises_id, name, type, religion, address, postcode, "
        "capacity, step_free, owning_group_id, last_verified, status, status_source, "
        "sources, areas, duplicates.",
        (P_BOROUGH, P_WARD, P_PREMISES_TYPE, P_STATUS, P_Q, P_BBOX, P_GEOMETRY, P_LIMIT,
         P_OFFSET),
        ("", "type=place of worship", "ward={ward}"),
        members=PAGE_MEMBERS,
    ),
    "/api/incidents": Endpoint(
        "Incidents, newest first",
        "Incident records: incident_id, date, month, type, severity, description, "
        "location_description, outcome, sources, areas, duplicates.",
        (P_BOROUGH, P_WARD, P_INCIDENT_TYPE, P_FROM, P_TO, P_BBOX, P_LIMIT, P_OFFSET,
         P_GEOMETRY),
        ("limit=100", "from={month}&to={month}&type={incident_type}", "ward={ward}&geometry=false"),
        members=PAGE_MEMBERS,
    ),
    "/api/search": Endpoint(
        "Find a ward, borough, CAN or postcode (the map pages' search box)",
        "Places whose code, id or postcode is the query, or whose name is it, starts with it "
        "or holds every word of it, best first (at most 8): one Point feature each (the "
        "middle of the place) with properties kind (ward, borough, neighbourhood, "
        "postcode), kind_label, id, name, detail (a ward's borough), label (for a list) and "
        "bbox [west, south, east, north] to fit a map to. No match is not an error: "
        "features is empty and message says so. Only area names, codes and postcode "
        "centroids are searched: never a group or its contacts.",
        (P_Q_PLACE,),
        ("q={ward_name}", "q={borough}", "q={postcode}"),
        members={"message": {"type": ["string", "null"],
                             "description": "set when nothing matches"}},
    ),
    "/api/openapi.json": Endpoint("This API as an OpenAPI 3.1 document", "", response="OpenAPI"),
    "/api/docs": Endpoint("This API as a web page", "", response="HTML"),
}


# == checking the query string ===========================================================


class Args:
    """The query string of the current request, checked against an endpoint's parameters.

    Problems are collected, not raised one at a time: :meth:`finish` answers 400 naming
    every one.
    """

    def __init__(self, path: str):
        self.args = request.args
        self.problems: list[str] = []
        known = ENDPOINTS[path].names
        for name in self.args:
            if name not in known and name not in IGNORED_PARAMETERS:
                takes = ", ".join(known) or "no parameters"
                self.problem(name, self.args.get(name), f"unknown parameter ({path} takes {takes})")

    def problem(self, name: str, value: object, expected: str) -> None:
        message = f"{name}={value!r}: {expected}" if value is not None else f"{name}: {expected}"
        if message not in self.problems:
            self.problems.append(message)

    def given(self, name: str) -> bool:
        return any(v.strip() for v in self.args.getlist(name))

    def one(self, name: str) -> str | None:
        """The parameter's value, stripped; None when absent or blank."""
        values = [v.strip() for v in self.args.getlist(name) if v.strip()]
        if len(values) > 1:
            self.problem(name, values, "give this parameter once")
        return values[0] if values else None

    def many(self, name: str) -> list[str]:
        """Every value, from repeats and comma lists, stripped, blanks and repeats dropped."""
        values = (v.strip() for raw in self.args.getlist(name) for v in raw.split(","))
        return list(dict.fromkeys(v for v in values if v))

    def number(self, name: str, expected: str) -> float | None:
        text = self.one(name)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.problem(name, text, expected)
            return None
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        text = self.one(name)
        if text is None:
            return default
        if not re.fullmatch(r"[+-]?\d+", text) or not low <= int(text) <= high:
            self.problem(name, text, f"expected a whole number from {low:,} to {high:,}")
            return default
        return int(text)

    def flag(self, name: str, default: bool) -> bool:
        text = self.one(name)
        if text is None:
            return default
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        self.problem(name, text, "expected true or false")
        return default

    def choices(self, name: str, valid: Mapping[str, str], what: str,
                key: Callable[[str], str] = str.lower) -> list[str]:
        """Values matched case-blind against `valid` (key: `key` of the value, lower case
        by default; value: as shown)."""
        chosen = []
        for value in self.many(name):
            key_ = key(value)
            if key_ in valid:
                chosen.append(valid[key_])
            else:
                shown = ", ".join(dict.fromkeys(valid.values())) or "none in this workspace"
                self.problem(name, value, f"unknown {what}; expected one of: {shown}")
        return list(dict.fromkeys(chosen))

    def month(self, name: str) -> str | None:
        text = self.one(name)
        if text is not None and not _MONTH.match(text):
            self.problem(name, text, "expected a month as YYYY-MM (for example 2024-06)")
            return None
        return text

    def bbox(self) -> tuple[float, float, float, float] | None:
        """The checked ``bbox``: west, south, east, north in WGS84 degrees."""
        text = self.one("bbox")
        if text is None:
            return None
        box, problem = parse_bbox(text)
        if problem:
            self.problem("bbox", text, problem)
        return box

    def finish(self) -> None:
        if self.problems:
            abort(400, description="; ".join(self.problems))


def _lookup(values: Iterable[str]) -> dict[str, str]:
    return {str(v).strip().lower(): str(v) for v in values if isinstance(v, str) and v.strip()}


def _areas(args: Args, *, wards: bool = True) -> dict[str, list[str]]:
    """The checked ``borough`` (and ``ward``) filters: codes of this workspace."""
    areas = _area_codes()
    chosen = {}
    boroughs = areas["boroughs"]
    picked = []
    for value in args.many("borough"):
        if value.upper() in boroughs:
            picked.append(value.upper())
        else:
            listed = ", ".join(f"{code} ({name})" for code, name in boroughs.items())
            args.problem(
                "borough",
                value,
                "not a borough of this workspace; expected a "
                f"borough code, one of: {listed or 'none'}",
            )
    chosen["borough"] = picked
    if wards:
        picked = []
        for value in args.many("ward"):
            if value.upper() in areas["wards"]:
                picked.append(value.upper())
            else:
                example = next(iter(areas["wards"]), "E05000001")
                args.problem(
                    "ward",
                    value,
                    "not a ward of this workspace; expected a ward "
                    f"code such as {example} ({len(areas['wards']):,} wards: see "
                    "/api/wards?geometry=false)",
                )
        chosen["ward"] = picked
    return chosen



def _required(table: Table | None, layer: str) -> Table:
    if table is None:
        data.layer(layer)  # 404 naming the layers present
        raise NotFound()  # not reached: the layer appeared between two reads
    return table


@data.memoised("api:areas")
def _area_codes(workspace) -> dict[str, dict[str, str]]:
    """Borough code -> name and ward code -> name, from the wards layer (sorted by code)."""
    wards = data.layer("wards", required=False)
    if wards is None:
        return {"boroughs": {}, "wards": {}}
    boroughs = wards[["borough_code", "borough_name"]].drop_duplicates("borough_code")
    return {
        "boroughs": dict(
            sorted(zip(boroughs["borough_code"], boroughs["borough_name"], strict=True))
        ),
        "wards": dict(sorted(zip(wards["ward_code"], wards["ward_name"], strict=True))),
    }


def _vocabulary() -> dict[str, dict[str, str]]:
    """Valid filter values (lower case -> as shown): categories, offers, types."""
    return {
        "category": _lookup(GROUP_CATEGORIES),
        "offer": _lookup([*EMERGENCY_OFFERS, *_used_values("groups")]),
        "premises_type": _lookup([*PREMISES_TYPES, *_used_values("premises")]),
        "incident_type": incident_type_lookup(_used_values("incidents")),
    }


def _used_values(register: str) -> list[str]:
    """The emergency offers (groups) or types (premises, incidents) a register uses,
    sorted; made again only when that register's edits change."""

    def build() -> list[str]:
        if register != "groups" and data.large_in_database(register):  # found by the database
            edited = [r.data.get("type") for r in data.overlay(register).values()]
            stored = data.open_workspace().distinct_values(register, "type")
            return sorted({str(v) for v in [*stored, *edited] if v is not None})
        frame = data.layer(register, required=False)
        if frame is None:
            return []
        if register == "groups":
            return sorted({o for value in frame["emergency_offer"].tolist()
                           for o in parse_capabilities(value)})
        return sorted(set(frame["type"].dropna().astype(str)))

    return data.with_overlay(f"api:values:{register}", register, build, lambda *_: None)


@data.memoised("api:can_ids")
def _can_ids(workspace) -> dict[str, str] | None:
    """CAN ids of the analysis (upper case -> as stored), None when not analysed."""
    summary = data.layer("ward_summary", required=False)
    if summary is None or "can_id" not in summary.columns:
        return None
    ids = sorted(set(summary["can_id"].dropna().astype(str)), key=id_order)
    return {i.upper(): i for i in ids}


@data.memoised("api:postcodes")
def _postcode_points(workspace) -> pd.DataFrame:
    """Postcode centroids indexed by postcode: x, y (EPSG:27700) and lon, lat
    (:func:`mapper.postcodes.postcode_table`)."""
    table = postcode_table(data.layer("postcodes"))
    shown = to_display(gpd.GeoSeries(gpd.points_from_xy(table["x"], table["y"]),
                                     crs=CRS_ANALYSIS))
    return table[["x", "y"]].assign(lon=shown.x.to_numpy(), lat=shown.y.to_numpy())


# == answers =============================================================================



def _head(layers: Iterable[str]) -> bytes:
    """The :func:`_collection_head` of `layers`, once per workspace version."""
    chosen = tuple(sorted(set(layers)))
    return data.cached(f"api:head:{','.join(chosen)}", lambda _: _collection_head(chosen))


def _answer(payload_members: dict, features: list[bytes], *, layers: Iterable[str] = (),
            head: bytes | None = None):
    """A FeatureCollection response (:func:`mapper.geojson.collection`) from ready
    features, opening with `head` (the :func:`_collection_head` of `layers`, looked up
    when not given), then `payload_members`."""
    if head is None:
        head = _head(layers)
    body = geojson.collection(features, head, payload_members)
    return current_app.response_class(body, mimetype=GEOJSON)



def _page_args(args: Args) -> tuple[int, int]:
    """The checked ``limit`` and ``offset`` of a list answer."""
    return (args.integer("limit", PAGE_LIMIT_MAX, 1, PAGE_LIMIT_MAX),
            args.integer("offset", 0, 0, OFFSET_MAX))


def _paged(table: Table, rows: np.ndarray, page: tuple[int, int], *, geometry: bool,
           contacts: bool = False) -> tuple[list[bytes], dict]:
    """The features of one page of `rows` (a group's ``contact`` where the signed-in user
    may see it) and the members saying where it is: ``total``, ``offset``, ``returned``,
    ``truncated`` and ``next`` (the URL of the next page, with the same parameters)."""
    limit, offset = page
    chosen = rows[offset:offset + limit].tolist()
    features = _features(table, chosen, geometry=geometry)
    size, returned = 0, 0
    for text in features:  # a page ends before its features pass PAGE_MAX_BYTES
        size += len(text) + 1
        if returned and size > PAGE_MAX_BYTES:
            break
        returned += 1
    chosen = chosen[:returned]
    if contacts:
        features = _features(table, chosen, geometry=geometry,
                             extra=_with_contacts(table, chosen))
    end = offset + returned
    following = None
    if end < len(rows):
        kept = [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
        following = (f"{request.script_root}{request.path}?"
                     + urlencode([*kept, ("offset", end)]))
    return features[:returned], {"total": int(len(rows)), "offset": offset,
                                 "returned": returned, "truncated": following is not None,
                                 "next": following, "numberMatched": int(len(rows)),
                                 "numberReturned": returned}


def _register_mask(table: Table, areas: dict, kinds: list[str], words: list[str],
                   statuses: list[str] | None = None):
    frame = table.frame
    mask = np.ones(len(frame), dtype=bool)
    if statuses:
        mask &= frame["status"].isin(statuses).to_numpy()
    if areas.get("borough"):
        mask &= frame["borough_code"].isin(areas["borough"]).to_numpy()
    if areas.get("ward"):
        mask &= frame["ward_code"].isin(areas["ward"]).to_numpy()
    if kinds:
        mask &= frame["kind"].isin([k.lower() for k in kinds]).to_numpy()
    for word in words:
        mask &= frame["text"].str.contains(word, regex=False).to_numpy()
    return mask


def _in_box(table: Table, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """Which rows of `table` have a geometry meeting `box` (every row without a box)."""
    if box is None:
        return np.ones(len(table.ids), dtype=bool)
    return shapely.intersects(table.shapes, shapely.box(*box))


def _search_words(args: Args) -> list[str]:
    q = args.one("q")
    if q is None:
        return []
    if len(q) > Q_MAX_CHARS:
        args.problem("q", q[:40] + "...", f"expected at most {Q_MAX_CHARS} characters")
        return []
    return q.lower().split()


@bp.get("/wards")
def wards():
    """Wards with their measures (GeoJSON), filtered by borough and CAN."""
    args = Args("/api/wards")
    areas = _areas(args, wards=False)
    can_ids = _can_choices(args)
    box = args.bbox()
    geometry = args.flag("geometry", True)
    page = _page_args(args)
    args.finish()
    table = _wards_table()
    mask = _in_box(table, box)
    if areas["borough"]:
        mask &= table.frame["borough_code"].isin(areas["borough"]).to_numpy()
    if can_ids:
        mask &= table.frame["can_id"].isin([c.upper() for c in can_ids]).to_numpy()
    query = {"borough": areas["borough"], "can_id": can_ids, "bbox": box,
             "geometry": geometry}
    features, paging = _paged(table, np.flatnonzero(mask), page, geometry=geometry)
    return _answer({"layer": table.layers[0], "query": query,
                    "unavailable_measures": data.unavailable_measures(), **paging},
                   features, layers=table.layers)


def _can_choices(args: Args) -> list[str]:
    wanted = args.many("can_id")
    if not wanted:
        return []
    known = _can_ids()
    if known is None:
        args.problem(
            "can_id",
            wanted[0],
            "the workspace has not been analysed, so it has no "
            "Community Action Neighbourhoods (run 'mapper analyse')",
        )
        return []
    chosen = []
    for value in wanted:
        if (found := resolve_id(value, known.values())) is not None:  # can-1, CAN-001
            chosen.append(found)
        else:
            args.problem(
                "can_id",
                value,
                "unknown Community Action Neighbourhood; expected "
                f"one of: {', '.join(known.values()) or 'none (no ward qualified)'}",
            )
    return chosen


@bp.get("/neighbourhoods")
def neighbourhoods():
    """Community Action Neighbourhoods in rank order (GeoJSON)."""
    args = Args("/api/neighbourhoods")
    geometry = args.flag("geometry", True)
    page = _page_args(args)
    args.finish()
    table = _neighbourhoods_table()
    features, paging = _paged(table, np.arange(len(table.ids)), page, geometry=geometry)
    return _answer({"query": {"geometry": geometry}, **paging}, features, layers=table.layers)


@dataclass(frozen=True)
class Origin:
    """Where a nearest-groups search starts: grid and lon/lat point, and the postcode if given."""

    x: float
    y: float
    lat: float
    lon: float
    postcode: str | None = None

    def member(self) -> dict:
        out = {"lat": round(self.lat, COORD_DECIMALS), "lon": round(self.lon, COORD_DECIMALS)}
        return out | ({"postcode": self.postcode} if self.postcode else {})


def _coordinates(args: Args) -> tuple[float, float] | None:
    """The checked lat and lon, or None (with every problem recorded)."""
    lat = args.number("lat", f"expected a latitude in decimal degrees ({LAT_MIN:g} to "
                      f"{LAT_MAX:g} in the UK)")
    lon = args.number("lon", f"expected a longitude in decimal degrees ({LON_MIN:g} to "
                      f"{LON_MAX:g} in the UK)")
    for name in ("lat", "lon"):
        if not args.given(name):
            args.problem(name, None, "missing: give lat and lon together (or postcode)")
    if (
        lat is not None
        and lon is not None
        and LAT_MIN <= lon <= LAT_MAX
        and LON_MIN <= lat <= LON_MAX
    ):
        args.problem(
            "lat",
            args.one("lat"),
            f"expected a latitude from {LAT_MIN:g} to "
            f"{LAT_MAX:g} and lon from {LON_MIN:g} to {LON_MAX:g} (in the UK); lon="
            f"{args.one('lon')!r} looks like a latitude: lat and lon swapped?",
        )
        return None
    if lat is not None and not LAT_MIN <= lat <= LAT_MAX:
        args.problem(
            "lat",
            args.one("lat"),
            f"expected a latitude from {LAT_MIN:g} to {LAT_MAX:g} (in the UK)",
        )
        lat = None
    if lon is not None and not LON_MIN <= lon <= LON_MAX:
        args.problem(
            "lon",
            args.one("lon"),
            f"expected a longitude from {LON_MIN:g} to {LON_MAX:g} (in the UK)",
        )
        lon = None
    return None if lat is None or lon is None else (lat, lon)


def _origin(args: Args) -> Origin | str | None:
    """Where a nearest query starts: a point, a postcode to look up, or None (problems)."""
    postcode = args.one("postcode")
    if postcode is not None and (args.given("lat") or args.given("lon")):
        args.problem("postcode", postcode, "give either postcode or lat and lon, not both")
        return None
    if postcode is None:
        if not (args.given("lat") or args.given("lon")):
            args.problem(
                "lat", None, "missing: give lat and lon (decimal degrees, WGS84) or postcode"
            )
            return None
        coordinates = _coordinates(args)
        if coordinates is None:
            return None
        lat, lon = coordinates
        return Origin(*grid_from_lonlat(lon, lat), lat, lon)
    if normalise_postcode(postcode) is None:
        like = _postcode_example().get("postcode", "AB1 2CD")
        args.problem("postcode", postcode, f"not shaped like a UK postcode (for example {like})")
        return None
    return postcode  # looked up once every parameter has passed its checks


def _locate_postcode(postcode: str) -> Origin:
    points = _postcode_points()
    try:
        x, y = postcode_point(postcode, points)
    except MapperError as error:
        abort(404, description=str(error))  # "postcode 'ZZ99 9ZZ' is not in ..."
    key = normalise_postcode(postcode)
    return Origin(x, y, float(points.at[key, "lat"]), float(points.at[key, "lon"]), key)


@dataclass(frozen=True)
class _NearestSetup:
    """What every ``/api/nearest`` answer of one workspace version needs, looked up once."""

    categories: dict[str, str]
    offers: dict[str, str]
    table: Table | None
    index: object
    #: the study area (searches far beyond it are refused), or None without boundaries
    area: object
    #: the answer's opening members, for a point and for a postcode (its layer credited)
    heads: dict[bool, bytes]


@data.memoised("api:nearest")
def _nearest_setup(workspace) -> _NearestSetup:
    vocabulary = _vocabulary()
    return _NearestSetup(
        categories=vocabulary["category"],
        offers=vocabulary["offer"],
        table=_groups_table(),
        index=data.nearest_index(),
        area=data.study_area(),
        heads={False: _collection_head(("groups",)),
               True: _collection_head(("groups", "postcodes"))},
    )


def prepare() -> None:
    """Make what ``/api/nearest`` answers from (the groups' index, feature texts and the
    study area), the docs page and the wards list now, not on the first request (call in
    a request context)."""
    setup = _nearest_setup()
    if setup.table is not None:
        setup.table.halves  # noqa: B018 - computed once, kept
    # and what the docs page's examples, area filters and postcode searches read
    _area_codes()
    _can_ids()
    if data.layer("postcodes", required=False) is not None:
        _postcode_points()
    docs()
    if data.layer("ward_summary", required=False) is not None:
        wards()
    from mapper.web import places

    places.prepare()  # the map pages' search box (/api/search)
    _head(("wards", "postcodes"))


@bp.get("/nearest")
def nearest():
    """The groups nearest a point or postcode, by straight-line distance (GeoJSON)."""
    args = Args("/api/nearest")
    origin = _origin(args)
    k = args.integer("k", K_DEFAULT, 1, K_MAX)
    setup = _nearest_setup()
    categories = args.choices("category", setup.categories, "category")
    offers = args.choices("offer", setup.offers, "emergency offer")
    radius = args.number("radius_m", f"expected a positive number of metres up to {RADIUS_MAX_M:,}")
    if radius is not None and not 0 < radius <= RADIUS_MAX_M:
        args.problem(
            "radius_m",
            args.one("radius_m"),
            f"expected a positive number of metres up to {RADIUS_MAX_M:,}",
        )
    args.finish()
    if isinstance(origin, str):
        origin = _locate_postcode(origin)
    where = (f"postcode {origin.postcode}" if origin.postcode
             else f"lat {origin.lat}, lon {origin.lon}")
    refused = setup.area and setup.area.refuse(origin.x, origin.y, where)
    if refused:
        abort(400, description=refused)
    ids, distances = setup.index.query_ids(
        origin.x,
        origin.y,
        k=k,
        category=categories or None,
        capabilities=offers,
        radius_m=radius,
    )
    if origin.postcode is not None:
        query = {"postcode": origin.postcode}
    else:
        query = {"lat": origin.lat, "lon": origin.lon}
    query |= {"k": k, "category": categories, "offer": offers, "radius_m": radius}
    return _answer(
        {"origin": origin.member(), "query": query},
        _nearest_features(setup.table, ids.tolist(), distances.tolist()),
        head=setup.heads[origin.postcode is not None],
    )


def _nearest_features(table: Table | None, ids: list, distances: list[float]) -> list[bytes]:
    """The features of the groups `ids`, each with its ``distance_m`` (whole metres) first
    and its ``contact`` when the signed-in user may see it."""
    if table is None or not ids:
        return []
    rows = [table.positions[i] for i in ids]
    shown = _contacts(table, rows)
    members = [{"distance_m": round(d), "contact": shown[r]} if r in shown
               else {"distance_m": round(d)} for r, d in zip(rows, distances, strict=True)]
    return geojson.join_rows(table.halves, rows, members)


@bp.get("/groups")
def groups():
    """The VCS groups register without personal data (GeoJSON)."""
    return _register_answer("groups", "category", "category", "category", _groups_table)


@bp.get("/premises")
def premises():
    """The community premises register (GeoJSON)."""
    return _register_answer("premises", "type", "premises_type", "premises type",
                            _premises_table)


def _register_answer(layer: str, parameter: str, vocabulary: str, label: str, table_of):
    """One register filtered by area, `parameter` (its category or type) and text words."""
    args = Args(f"/api/{layer}")
    areas = _areas(args)
    chosen = args.choices(parameter, _vocabulary()[vocabulary], label)
    statuses = args.choices("status", _lookup(STATUSES), "status")
    words = _search_words(args)
    box = args.bbox()
    geometry = args.flag("geometry", True)
    page = _page_args(args)
    args.finish()
    table = _required(table_of(), layer)
    mask = _register_mask(table, areas, chosen, words, statuses) & _in_box(table, box)
    query = {**areas, parameter: chosen, "status": statuses, "q": " ".join(words) or None,
             "bbox": box, "geometry": geometry}
    features, paging = _paged(table, np.flatnonzero(mask), page, geometry=geometry,
                              contacts=layer == "groups")
    return _answer({"query": query, **paging}, features, layers=table.layers)


@bp.get("/incidents")
def incidents():
    """Incidents, newest first, filtered by area, type and months (GeoJSON)."""
    args = Args("/api/incidents")
    areas = _areas(args)
    from mapper.analysis.incidents import check_incident_filter

    given_first, given_last, types, problems = check_incident_filter(
        args.one("from"), args.one("to"), args.many("type"), _used_values("incidents"),
        names=("from", "to", "type"))
    args.problems += [p for p in problems if p not in args.problems]
    first, last = given_first or None, given_last or None
    box = args.bbox()
    geometry = args.flag("geometry", True)
    page = _page_args(args)
    args.finish()
    # a national incident layer in PostgreSQL: only the box's rows are read
    table = incidents_in_box(box) or _required(_incidents_table(), "incidents")
    mask = _register_mask(table, areas, types, []) & _in_box(table, box)
    if first:
        mask &= (table.frame["month"] >= first).to_numpy()
    if last:
        mask &= (table.frame["month"] <= last).to_numpy() & (table.frame["month"] != "")
    rows = np.flatnonzero(mask)
    query = {
        **areas,
        "type": types,
        "from": first,
        "to": last,
        "bbox": box,
        "limit": page[0],
        "geometry": geometry,
    }
    features, paging = _paged(table, rows, page, geometry=geometry)
    return _answer({"query": query, **paging}, features, layers=table.layers)


@bp.get("/search")
def search():
    """Places matching ``q`` (:func:`mapper.web.places.search`), for the map pages' search
    box. The query is never logged: a person may type anything into it."""
    from mapper.web import places

    args = Args("/api/search")
    q = (args.one("q") or "").strip()
    if not q:
        args.problem("q", None, "missing: give a ward, borough or CAN name or code, or a "
                     "postcode")
    args.finish()
    found = places.search(q)
    members = {"query": {"q": places.shown_query(q)},
               "message": None if found else places.no_match_message(q)}
    features = [geojson.dumps(place.feature()) for place in found]
    return _answer(members, features, layers=("wards", "postcodes"))


# == the description of the API: OpenAPI and a page ======================================

_ERROR = {"$ref": "#/components/schemas/Error"}


#: ``app.extensions`` key: functions giving the OpenAPI paths of other blueprints
#: (``{path: {method: operation}}``), merged into :func:`openapi_document`
OPENAPI_PATHS = "mapper.openapi_paths"


def openapi_document() -> dict:
    """The OpenAPI 3.1 description of every endpoint of this blueprint and of those
    other blueprints listed under :data:`OPENAPI_PATHS` (needs an app context)."""
    paths = {}
    for path, endpoint in ENDPOINTS.items():
        paths[path] = {
            "get": {
                "summary": endpoint.summary,
                "description": endpoint.description,
                "operationId": path.removeprefix("/api/").replace(".", "_"),
                "parameters": list(endpoint.parameters),
                "responses": _responses(endpoint),
            }
        }
    # the other blueprints' routes (editing, uploads: officers), as create_app gathered them
    for more in current_app.extensions.get(OPENAPI_PATHS, ()):
        for path, item in more().items():
            paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Neighbourhood needs and asset mapper API",
            "version": __version__,
            "description": (
                "JSON for the workspace's wards, Community Action Neighbourhoods, "
                "VCS groups, premises and incidents; signed-in officers also edit the "
                "registers and upload files. Geometry is WGS84 longitude/latitude "
                "rounded to 6 decimals. Every FeatureCollection carries attribution, "
                "licences and synthetic (true for the demo). Personal data (contact names, "
                "phones, e-mails, websites, and contact_notes: details found in free text "
                "and charity correspondence addresses, which public text shows as "
                "'[contact details hidden]') is included only for signed-in users allowed "
                "to see it (officers; partners for their granted wards). Errors are "
                '{"error": "..."} with a 4xx status naming the parameter, the value and '
                "what was expected; unknown parameters are errors."
            ),
        },
        "servers": [{"url": request.script_root or "/"}],
        "paths": paths,
        "components": {"schemas": _schemas()},
    }


def _responses(endpoint: Endpoint) -> dict:
    errors = {
        "400": {
            "description": "A parameter is missing, malformed or out of range (for "
            "nearest: a point or postcode more than "
            f"{MAX_OUTSIDE_M / 1000:g} km outside the study area).",
            "content": {"application/json": {"schema": _ERROR}},
        },
        "404": {
            "description": "No workspace, a layer it needs is missing, or (nearest) "
            "the postcode is unknown.",
            "content": {"application/json": {"schema": _ERROR}},
        },
    }
    if endpoint.response == "HTML":
        return {"200": {"description": "An HTML page.", "content": {"text/html": {}}}}
    if endpoint.response == "OpenAPI":
        return {
            "200": {
                "description": "This document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }
    schema: dict[str, list[dict]] = {
        "allOf": [{"$ref": "#/components/schemas/FeatureCollection"}]}
    if endpoint.members:
        schema["allOf"].append({"type": "object", "properties": endpoint.members})
    return {
        "200": {
            "description": "A GeoJSON FeatureCollection.",
            "content": {GEOJSON: {"schema": schema}},
        },
        **errors,
    }


def _schemas() -> dict:
    return {
        "WardProperties": {
            "type": "object",
            "description": "The properties of a ward (ward_summary) feature: every indicator "
            "of the registry (mapper/analysis/indicators.py), with its label, unit and "
            "direction; families of columns (one per category, type or domain) by pattern.",
            "properties": indicators.schema_properties(),
            "patternProperties": indicators.schema_patterns(),
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "Feature": {
            "type": "object",
            "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"const": "Feature"},
                "id": {"type": ["string", "number"]},
                "geometry": {
                    "type": ["object", "null"],
                    "description": "GeoJSON geometry, WGS84; null with geometry=false",
                },
                "properties": {"type": "object"},
            },
        },
        "FeatureCollection": {
            "type": "object",
            "required": ["type", "features", "attribution", "licences", "synthetic"],
            "properties": {
                "type": {"const": "FeatureCollection"},
                "attribution": {"type": "array", "items": {"type": "string"}},
                "licences": {"type": "array", "items": {"type": "string"}},
                "synthetic": {"type": "boolean"},
                "study_area": {"type": ["string", "null"]},
                "query": {"type": "object", "description": "the parameters as understood"},
                "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    """This API as an OpenAPI 3.1 document."""
    Args("/api/openapi.json").finish()
    return current_app.response_class(
        json.dumps(openapi_document(), indent=1), mimetype="application/json"
    )


def _examples() -> dict[str, str]:
    """Example values taken from the workspace, so every example link answers something
    (an example needing a value the workspace lacks is left out: never another place's)."""
    values: dict[str, str] = {}
    for find in (
        _place_example,
        _area_examples,
        _can_example,
        _group_example,
        _incident_examples,
        _postcode_example,
    ):
        try:
            values |= find()
        except HTTPException:  # no workspace or a missing layer: the defaults will do
            pass
    if "lat" in values and "lon" in values:  # a box of about 3 km round the example place
        lat, lon = float(values["lat"]), float(values["lon"])
        values["bbox"] = f"{lon - 0.02:.4f},{lat - 0.015:.4f},{lon + 0.02:.4f},{lat + 0.015:.4f}"
    return values


def _area_examples() -> dict[str, str]:
    areas = _area_codes()
    if not areas["wards"]:
        return {}
    ward = next(iter(areas["wards"]))
    return {"borough": next(iter(areas["boroughs"])), "ward": ward,
            "ward_name": areas["wards"][ward]}


def _can_example() -> dict[str, str]:
    can_ids = _can_ids()
    return {"can_id": next(iter(can_ids.values()))} if can_ids else {}


def _place_example() -> dict[str, str]:
    """lat/lon of the workspace's example postcode (a group's point, when there are
    groups, replaces it): a workspace without groups shows its own area, not the default."""
    place = data.example_place()
    return {k: place[k] for k in ("lat", "lon") if k in place}


def _group_example() -> dict[str, str]:
    groups = _groups_table()
    point = json.loads(groups.geometry[0]) if groups is not None and groups.ids else None
    if not point:
        return {}
    lon, lat = point["coordinates"]
    return {"lon": f"{lon:.4f}", "lat": f"{lat:.4f}"}


def _incident_examples() -> dict[str, str]:
    incidents = _incidents_table()
    if incidents is None or not incidents.ids:
        return {}
    first = json.loads(incidents.properties[0])
    return {
        k: str(first[c]) for k, c in (("month", "month"), ("incident_type", "type")) if first.get(c)
    }


def _postcode_example() -> dict[str, str]:
    """The workspace's example postcode (the one nearest the middle), or {} without any."""
    example = data.example_postcode()
    return {"postcode": example} if example else {}


def _schema_text(schema: dict) -> str:
    if schema.get("type") == "array":
        return "list of " + _schema_text(schema["items"])
    parts = [str(schema.get("type", ""))]
    if "enum" in schema:
        parts.append("one of: " + ", ".join(map(str, schema["enum"])))
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    if low is not None or "maximum" in schema:
        above = "above " if "exclusiveMinimum" in schema else ""
        parts.append(
            f"{above}{low if low is not None else ''} to {schema.get('maximum', '')}".strip()
        )
    if "default" in schema:
        parts.append(f"default {schema['default']}")
    if "pattern" in schema:
        parts.append(f"pattern {schema['pattern']}")
    if "examples" in schema:
        parts.append("e.g. " + ", ".join(map(str, schema["examples"])))
    return "; ".join(p for p in parts if p)


def _endpoint_html(path: str, endpoint: Endpoint, examples: dict[str, str]) -> str:
    anchor = path.removeprefix("/api/").replace(".", "-")
    html = [
        f'<section id="{anchor}"><h2><code>GET {escape(path)}</code></h2>',
        f"<p><strong>{escape(endpoint.summary)}.</strong> {escape(endpoint.description)}</p>",
    ]
    if endpoint.parameters:
        html.append(
            "<table><caption>Query parameters</caption><thead><tr><th scope=col>"
            "Name</th><th scope=col>Type and range</th><th scope=col>What</th>"
            "</tr></thead><tbody>"
        )
        for p in endpoint.parameters:
            html.append(
                f"<tr><td><code>{escape(p['name'])}</code></td>"
                f"<td>{escape(_schema_text(p['schema']))}</td>"
                f"<td>{escape(p['description'])}</td></tr>"
            )
        html.append("</tbody></table>")
    links = []
    base = url_for(f"api.{_VIEWS[path]}")
    for example in endpoint.examples or ("",):
        try:
            query = example.format(**examples)
        except KeyError:  # the workspace has nothing this example needs
            continue
        shown = base + ("?" + query if query else "")
        href = base + ("?" + quote(query, safe="=&,") if query else "")
        links.append(f'<li><a href="{escape(href)}"><code>{escape(shown)}</code></a></li>')
    if links:
        html.append("<p>Examples:</p><ul>" + "".join(links) + "</ul></section>")
    else:
        html.append("<p>No example: this workspace has none of the data it answers "
                    "from.</p></section>")
    return "".join(html)


#: view function name of each path (for links on the docs page)
_VIEWS = {
    "/api/wards": "wards",
    "/api/neighbourhoods": "neighbourhoods",
    "/api/nearest": "nearest",
    "/api/groups": "groups",
    "/api/premises": "premises",
    "/api/incidents": "incidents",
    "/api/search": "search",
    "/api/openapi.json": "openapi",
    "/api/docs": "docs",
}


@bp.get("/docs")
def docs():
    """The API described on one page, inside the site's layout: endpoints, parameters and
    example links taken from this workspace."""
    Args("/api/docs").finish()
    examples = _examples()
    sections = "".join(_endpoint_html(p, e, examples) for p, e in ENDPOINTS.items())
    toc = [{"anchor": p.removeprefix("/api/").replace(".", "-"), "path": p,
            "summary": e.summary} for p, e in ENDPOINTS.items()]
    try:
        meta = data.meta()
    except HTTPException:  # no workspace: the page still describes the API
        meta = {}
    return render_template(
        "api_docs.html", toc=toc, sections=Markup(sections),  # noqa: S704 - escaped above
        study_area=meta.get("study_area") or "this workspace",
        synthetic=str(meta.get("synthetic", "")).lower() == "yes")
